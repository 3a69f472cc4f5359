"""Liveness and readiness probes."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

pytestmark = pytest.mark.django_db

# Nothing listens on port 1: connecting fails at once, a real broken backend.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def broken_cache(settings):
    original = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
        }
    }
    yield
    # Restored before the autouse fixture clears the cache on teardown.
    settings.CACHES = original


def test_healthz_is_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_naming_the_cache_when_the_cache_is_down(client, broken_cache):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["cache"]
    assert body["status"] == "unavailable"


def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker deployment: jobs go to the broker
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs a reachable Redis: set REDIS_URL")
def test_readyz_asks_a_reachable_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = django_settings.REDIS_URL
    assert client.get("/readyz").status_code == 200


def test_healthz_stays_200_when_the_cache_is_down(client, broken_cache):
    assert client.get("/healthz").status_code == 200


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(tmp_path):
    # A separate process whose database file lives in a directory that does not exist.
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/readyz')\n"
        "print(json.dumps([response.status_code, response.json()]))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "medappt.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}",
        "LOG_LEVEL": "CRITICAL",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 503
    assert body["failed"] == ["database"]


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_answer_whatever_the_host_header(client, url):
    response = client.get(url, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200


def test_other_paths_still_refuse_an_unknown_host(client):
    assert client.get("/api/v1/doctors/", HTTP_HOST="evil.example").status_code == 400


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_are_not_redirected_to_https(client, settings, url):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(url)
    assert response.status_code == 200


def test_other_paths_are_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/api/v1/doctors/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/doctors/"


def test_probes_are_not_redirected_even_with_an_unknown_host(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/readyz", HTTP_HOST="10.1.2.3").status_code == 200

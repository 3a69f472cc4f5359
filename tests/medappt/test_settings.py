"""Settings from the environment: secure by default, clear start-up failures (docs/operations.md).

Start-up is checked in a separate interpreter with a controlled environment, since the test
process has its settings loaded (and overridden) already.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connection

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x7Gq-not-a-real-secret-but-long-and-random-enough-for-check-deploy-9f2K",
    "ALLOWED_HOSTS": "clinic.example.com",
    "AUDIT_CHAIN_KEY": "audit-chain-key-for-tests",
    "EMAIL_URL": "smtp+tls://mailer:password@mail.example.com:587",
    "PUBLIC_BASE_URL": "https://clinic.example.com",
    # The broker alone: REDIS_URL would also choose the cache (tested separately below).
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
}


@pytest.fixture
def run_django(tmp_path):
    """Run a snippet after django.setup() (or manage.py arguments) with exactly this env."""
    if (django_settings.BASE_DIR / ".env").exists():
        pytest.skip("a .env file next to manage.py would fill in the variables left out here")

    def run(env: dict[str, str], *, code: str = "", manage: list[str] | None = None):
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "medappt.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **env,
        }
        if manage is not None:
            command = [sys.executable, "manage.py", *manage]
        else:
            command = [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"]
        return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            command,
            cwd=django_settings.BASE_DIR,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


REQUIRED = ["SECRET_KEY", "AUDIT_CHAIN_KEY", "EMAIL_URL", "PUBLIC_BASE_URL", "CELERY_BROKER_URL"]


@pytest.mark.parametrize("missing", REQUIRED)
def test_start_up_without_debug_fails_naming_the_missing_variable(run_django, missing):
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != missing}
    result = run_django(env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert missing in last_line


@pytest.mark.parametrize("missing", REQUIRED)
def test_empty_variable_counts_as_missing(run_django, missing):
    result = run_django({**PRODUCTION_ENV, missing: ""})
    assert result.returncode != 0
    assert missing in result.stderr.strip().splitlines()[-1]


def test_start_up_with_the_required_variables_succeeds(run_django):
    result = run_django(PRODUCTION_ENV, code="print('ok')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_debug_needs_none_of_the_secrets(run_django):
    code = (
        "from django.conf import settings\n"
        "print(settings.EMAIL_BACKEND)\n"
        "print(bool(settings.SECRET_KEY and settings.AUDIT_CHAIN_KEY))\n"
    )
    result = run_django({"DEBUG": "true"}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.console.EmailBackend", "True"]


def test_deploy_check_is_clean_with_only_the_documented_variables(run_django):
    result = run_django(PRODUCTION_ENV, manage=["check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_defaults_are_secure(run_django):
    code = (
        "import json\n"
        "from django.conf import settings as s\n"
        "from django.contrib.auth.hashers import get_hasher\n"
        "print(json.dumps({\n"
        "    'hashers': s.PASSWORD_HASHERS,\n"
        "    'default_hasher': get_hasher().algorithm,\n"
        "    'debug': s.DEBUG,\n"
        "    'ssl_redirect': s.SECURE_SSL_REDIRECT,\n"
        "    'hsts': s.SECURE_HSTS_SECONDS,\n"
        "    'session_cookie_secure': s.SESSION_COOKIE_SECURE,\n"
        "    'csrf_cookie_secure': s.CSRF_COOKIE_SECURE,\n"
        "    'email_backend': s.EMAIL_BACKEND,\n"
        "    'cache': s.CACHES['default']['BACKEND'],\n"
        "    'trusted_proxies': s.TRUSTED_PROXY_COUNT,\n"
        "    'nosniff': s.SECURE_CONTENT_TYPE_NOSNIFF,\n"
        "    'referrer_policy': s.SECURE_REFERRER_POLICY,\n"
        "    'frame_options': s.X_FRAME_OPTIONS,\n"
        "    'cors_origins': s.CORS_ALLOWED_ORIGINS,\n"
        "    'cors_all': getattr(s, 'CORS_ALLOW_ALL_ORIGINS', False),\n"
        "}))\n"
    )
    result = run_django(PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["hashers"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert values["default_hasher"] == "argon2"
    assert values["debug"] is False
    assert values["ssl_redirect"] is True
    assert values["hsts"] >= 31536000
    assert values["session_cookie_secure"] is True
    assert values["csrf_cookie_secure"] is True
    assert values["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["trusted_proxies"] == 0
    assert values["nosniff"] is True
    assert values["referrer_policy"] == "same-origin"
    assert values["frame_options"] == "DENY"
    assert values["cors_origins"] == []
    assert values["cors_all"] is False


def test_redis_url_selects_the_shared_redis_cache_with_short_socket_timeouts(run_django):
    code = (
        "import json\n"
        "from django.conf import settings\n"
        "from django.core.cache import cache\n"
        "pool = cache._cache._get_connection_pool(write=True)\n"
        "print(json.dumps({\n"
        "    'backend': settings.CACHES['default']['BACKEND'],\n"
        "    'location': settings.CACHES['default']['LOCATION'],\n"
        "    'connect_timeout': pool.connection_kwargs['socket_connect_timeout'],\n"
        "    'timeout': pool.connection_kwargs['socket_timeout'],\n"
        "}))\n"
    )
    result = run_django({**PRODUCTION_ENV, "REDIS_URL": "redis://cache.internal:6379/1"}, code=code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["backend"] == "core.cache.RedisCache"
    assert values["location"] == "redis://cache.internal:6379/1"
    # A dead Redis must cost a request about a second, not the kernel's TCP timeout.
    assert 0 < values["connect_timeout"] <= 2
    assert 0 < values["timeout"] <= 2


@pytest.mark.parametrize(
    ("extra", "seconds"),
    [
        ({}, 0),  # local memory: each worker would miss the others' invalidations
        ({"REDIS_URL": "redis://cache.internal:6379/1"}, 10),
        ({"REDIS_URL": "redis://cache.internal:6379/1", "PUBLIC_CACHE_SECONDS": "0"}, 0),
        ({"PUBLIC_CACHE_SECONDS": "30"}, 30),
    ],
)
def test_public_reads_are_cached_by_default_only_with_a_shared_cache(run_django, extra, seconds):
    code = "from django.conf import settings\nprint(settings.PUBLIC_CACHE_SECONDS)\n"
    result = run_django({**PRODUCTION_ENV, **extra}, code=code)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == seconds


def test_deploy_check_is_clean_with_redis_too(run_django):
    env = {**PRODUCTION_ENV, "REDIS_URL": "redis://cache.internal:6379/1"}
    result = run_django(env, manage=["check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_sqlite_runs_immediate_transactions_with_a_busy_timeout_and_wal(run_django, tmp_path):
    code = (
        "import json\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA journal_mode')\n"
        "    mode = cursor.fetchone()[0]\n"
        "print(json.dumps({'options': connection.settings_dict['OPTIONS'], 'mode': mode}))\n"
    )
    result = run_django({"DEBUG": "true"}, code=code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["options"]["transaction_mode"] == "IMMEDIATE"
    assert values["options"]["timeout"] >= 5
    assert values["mode"] == "wal"


def test_the_live_sqlite_connection_uses_the_same_options():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite options; this run uses PostgreSQL")
    options = connection.settings_dict["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 5
    assert "journal_mode=WAL" in options["init_command"]
    assert connection.transaction_mode == "IMMEDIATE"


@pytest.mark.django_db
def test_the_live_sqlite_database_is_in_wal_mode_unless_in_memory():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite journal mode; this run uses PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    # The test database is in memory, where SQLite has no WAL; a file database must be WAL.
    expected = "memory" if connection.is_in_memory_db() else "wal"
    assert mode == expected


def test_postgresql_keeps_connections_and_checks_their_health(run_django):
    code = (
        "from django.db import connection\n"
        "s = connection.settings_dict\n"
        "print(s['ENGINE'], s['CONN_MAX_AGE'], s['CONN_HEALTH_CHECKS'])\n"
    )
    result = run_django(
        {"DEBUG": "true", "DATABASE_URL": "postgres://medappt@db.internal:5432/medappt"},
        code=code,
    )
    assert result.returncode == 0, result.stderr
    engine, max_age, health_checks = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert int(max_age) > 0
    assert health_checks == "True"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "true"}, "http://127.0.0.1:8000"),
        (
            {**PRODUCTION_ENV, "PUBLIC_BASE_URL": "https://clinic.example/"},
            "https://clinic.example",
        ),
    ],
)
def test_public_base_url_defaults(run_django, env, expected):
    code = "from django.conf import settings\nprint(settings.PUBLIC_BASE_URL)\n"
    result = run_django(env, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_reset_links_default_to_the_portal_under_public_base_url(run_django):
    code = "from django.conf import settings\nprint(settings.PASSWORD_RESET_URL)\n"
    result = run_django(PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "https://clinic.example.com/portal/password/reset/{uid}/{token}/"
    )

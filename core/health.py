"""Liveness and readiness probes for load balancers."""

from __future__ import annotations

import uuid

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process is up."""
    return JsonResponse({"status": "ok"})


def _broker_answers() -> bool:
    """The broker (Redis) answers a PING within a second; true when there is none to ask
    (in-process jobs: DEBUG without a broker, and tests)."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        return True
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=1.0, socket_timeout=1.0
    )
    try:
        return bool(client.ping())
    finally:
        client.close()


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the cache and the job broker answer, else 503 naming what
    failed."""
    failed = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        failed.append("database")
    try:
        probe_key = f"readyz:{uuid.uuid4().hex}"
        cache.set(probe_key, "1", timeout=5)
        if cache.get(probe_key) != "1":
            raise RuntimeError("cache did not return the probe value")
        cache.delete(probe_key)
    except Exception:
        failed.append("cache")
    try:
        if not _broker_answers():
            raise RuntimeError("the broker did not answer")
    except Exception:
        failed.append("broker")
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ok"})

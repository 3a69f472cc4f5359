"""The project package: settings, URLs, the API router, the admin site, WSGI and Celery."""

from medappt.celery import app as celery_app

__all__ = ["celery_app"]

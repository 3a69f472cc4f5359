"""The Celery app: settings under the CELERY namespace, tasks found in every app's tasks.py.

Run a worker and the one beat with `make worker`; see README "Background jobs".
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medappt.settings")

app = Celery("medappt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

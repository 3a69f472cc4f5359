"""Field history (django-auditlog): each app registers its own models in its ready().

Only concrete fields are recorded; clinical free text is masked completely
(AUDITLOG_MASK_CALLABLE) and secrets are never recorded (docs/architecture.md, audit rules).
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.db import models


def record_field_history(
    model: type[models.Model], *, exclude: tuple[str, ...] = (), mask: tuple[str, ...] = ()
) -> None:
    """Register a model's concrete fields (less `exclude`) for field history; `mask` fields
    are stored fully masked."""
    fields = [f.name for f in model._meta.concrete_fields if f.name not in exclude]
    auditlog.register(model, include_fields=fields, mask_fields=list(mask))

"""Field history (django-auditlog): each app registers its own models in its ready().

Only concrete fields are recorded; clinical free text is masked completely
(AUDITLOG_MASK_CALLABLE) and secrets are never recorded (docs/architecture.md, audit rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from auditlog.context import disable_auditlog
from auditlog.registry import auditlog
from django.db import models


def record_field_history(
    model: type[models.Model], *, exclude: tuple[str, ...] = (), mask: tuple[str, ...] = ()
) -> None:
    """Register a model's concrete fields (less `exclude`) for field history; `mask` fields
    are stored fully masked."""
    fields = [f.name for f in model._meta.concrete_fields if f.name not in exclude]
    auditlog.register(model, include_fields=fields, mask_fields=list(mask))


@contextmanager
def without_field_history() -> Iterator[None]:
    """Bulk writes (DESIGN-R2 R2-0): no per-row django-auditlog entry inside; the caller
    records one audit event for the whole operation instead."""
    with disable_auditlog():
        yield

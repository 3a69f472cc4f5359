"""Recording audit events inside the caller's transaction, and sealing them into the chain."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection, models, transaction

from audit import sealing
from audit.models import AuditEvent
from audit.selectors import chain_head
from core.context import current_context
from core.idempotency import note_viewed

logger = logging.getLogger(__name__)

# The actor is taken from the request context unless the caller names one (or None).
FROM_CONTEXT: Any = object()


def _target_type(target: models.Model) -> str:
    return {
        "user": "user",
        "doctorprofile": "doctor_profile",
        "timeblock": "time_block",
        "appointment": "appointment",
        "review": "review",
    }.get(target._meta.model_name, target._meta.model_name)


SYSTEM_ACTOR: dict[str, Any] = {"actor_id": None, "actor_role": "system", "actor_label": "system"}


def _actor_fields(actor: Any) -> dict[str, Any]:
    ctx = current_context()
    if actor is FROM_CONTEXT:
        if ctx.actor_id is None:  # a command, cron job or other code outside an API request
            return dict(SYSTEM_ACTOR)
        return {
            "actor_id": ctx.actor_id,
            "actor_role": ctx.actor_role,
            "actor_label": ctx.actor_label,
        }
    if actor is None:
        return dict(SYSTEM_ACTOR)
    return {"actor_id": actor.pk, "actor_role": actor.role, "actor_label": actor.email}


def _with_client_request_id(data: dict[str, Any], client_request_id: str) -> dict[str, Any]:
    """The client's own X-Request-ID rides in data (sealed with the row); request_id is ours."""
    if not client_request_id:
        return data
    return {**data, "client_request_id": client_request_id}


def _build_event(
    *,
    action: str,
    target: models.Model | None,
    target_type: str,
    target_id: Any,
    data: dict[str, Any] | None,
    actor: Any,
) -> AuditEvent:
    ctx = current_context()
    if target is not None:
        target_type = target_type or _target_type(target)
        target_id = target.pk if target_id is None else target_id
    return AuditEvent(
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
        data=_with_client_request_id(data or {}, ctx.client_request_id),
        **_actor_fields(actor),
    )


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: Any = None,
    data: dict[str, Any] | None = None,
    actor: Any = FROM_CONTEXT,
) -> AuditEvent:
    """Insert one audit event in the current transaction: it commits or rolls back with it.

    `data` holds ids and changed field names only, never free text or secrets.
    """
    event = _build_event(
        action=action,
        target=target,
        target_type=target_type,
        target_id=target_id,
        data=data,
        actor=actor,
    )
    event.save()
    return event


def audit_record_patient_views(
    *, patient_ids: Iterable[int], actor: Any = FROM_CONTEXT, data: dict[str, Any] | None = None
) -> None:
    """One `patient_record.viewed` per distinct patient someone else just read, in one insert
    (`data`: how it was read, e.g. {"via": "fhir"})."""
    ctx = current_context()
    viewer_id = ctx.actor_id if actor is FROM_CONTEXT else getattr(actor, "pk", None)
    distinct = sorted({pid for pid in patient_ids if pid is not None and pid != viewer_id})
    note_viewed(distinct)  # a keyed request's replay records them again (core/idempotency.py)
    if not distinct:
        return
    AuditEvent.objects.bulk_create(
        [
            _build_event(
                action="patient_record.viewed",
                target=None,
                target_type="user",
                target_id=pid,
                data=dict(data or {}),
                actor=actor,
            )
            for pid in distinct
        ]
    )


def record_replayed_views(patient_ids: list[int]) -> None:
    """A replayed answer (Idempotency-Key) showed these patients again: recorded as viewed."""
    audit_record_patient_views(patient_ids=patient_ids)


def field_history_bulk_created(instances: Iterable[models.Model], *, actor: Any = None) -> None:
    """django-auditlog entries for rows written by bulk_create (which sends no signals)."""
    from auditlog.cid import get_cid
    from auditlog.context import auditlog_value
    from auditlog.diff import model_instance_diff
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    instances = list(instances)
    if not instances:
        return
    try:
        request_data = auditlog_value.get()
    except LookupError:
        request_data = {}
    actor = actor or request_data.get("actor")
    content_type = ContentType.objects.get_for_model(instances[0])
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                content_type=content_type,
                object_pk=str(instance.pk),
                object_id=instance.pk,
                object_repr=str(instance),
                action=LogEntry.Action.CREATE,
                changes=model_instance_diff(None, instance),
                actor=actor,
                actor_email=getattr(actor, "email", None),
                remote_addr=current_context().ip,
                cid=get_cid(),
            )
            for instance in instances
        ]
    )


# ---------------------------------------------------------------------------
# Sealing: the one writer of seq, prev_hash and hash (audit/sealing.py defines the chain)
# ---------------------------------------------------------------------------
def _seal_batch() -> tuple[int, sealing.Head]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [sealing.SEAL_LOCK_KEY])
        head = chain_head()
        pending = list(
            AuditEvent.objects.filter(seq__isnull=True).order_by("id")[: sealing.SEAL_BATCH]
        )
        seq, prev_hash = head.seq, head.hash
        for event in pending:
            seq += 1
            event.seq = seq
            event.prev_hash = prev_hash
            event.hash = sealing.chain_hash(prev_hash, event)
            sealed = AuditEvent.objects.filter(pk=event.pk).seal_update(
                seq=event.seq, prev_hash=event.prev_hash, hash=event.hash
            )
            if sealed != 1:  # pragma: no cover - the advisory lock makes this impossible
                raise RuntimeError(f"audit event {event.pk} was sealed concurrently")
            prev_hash = event.hash
        return len(pending), sealing.Head(seq=seq, hash=prev_hash)


def audit_seal() -> tuple[int, sealing.Head]:
    """Seal every committed unsealed event; returns how many and the new head."""
    total = 0
    while True:
        count, head = _seal_batch()
        total += count
        if count < sealing.SEAL_BATCH:
            break
    logger.info("audit chain sealed %d events; head %s", total, head)
    return total, head

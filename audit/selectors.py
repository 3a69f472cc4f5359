"""Reads of the audit trail that carry rules."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import BigIntegerField, Case, OuterRef, QuerySet, Subquery, When

from audit import sealing
from audit.models import AuditEvent

PATIENT_RECORD_VIEWED = "patient_record.viewed"


def access_log_for_patient(*, patient_id: int) -> QuerySet[AuditEvent]:
    """Reads of this patient's records by anyone else, newest first."""
    return (
        AuditEvent.objects.filter(
            action=PATIENT_RECORD_VIEWED, target_type="user", target_id=str(patient_id)
        )
        .exclude(actor_id=patient_id)
        .order_by("-id")
    )


def actor_names(*, events: list[AuditEvent]) -> dict[int, str]:
    """The full names of the events' actors, by user id (one query)."""
    actor_ids = {event.actor_id for event in events if event.actor_id is not None}
    users = get_user_model().objects.filter(pk__in=actor_ids).only("first_name", "last_name")
    return {user.pk: user.full_name for user in users}


def chain_head() -> sealing.Head:
    """The last sealed event's seq and hash (0 and "" before the first seal)."""
    last = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").first()
    return sealing.Head(seq=last.seq, hash=last.hash) if last else sealing.Head(seq=0, hash="")


@dataclass(frozen=True)
class Verification:
    ok: bool
    head: sealing.Head
    message: str


def audit_verify(*, expect_head: sealing.Head | None = None) -> Verification:
    """Walk the chain by seq; report the first missing or broken link, and check the head."""
    expected_seq, prev_hash = 1, ""
    events = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=2000)
    for event in events:
        if event.seq != expected_seq:
            return Verification(
                False,
                sealing.Head(expected_seq - 1, prev_hash),
                f"seq {expected_seq} is missing: the next present event is id {event.pk} "
                f"(seq {event.seq})",
            )
        if event.prev_hash != prev_hash or event.hash != sealing.chain_hash(prev_hash, event):
            return Verification(
                False,
                sealing.Head(expected_seq - 1, prev_hash),
                f"seq {event.seq} is broken: event id {event.pk} does not match its seal",
            )
        prev_hash = event.hash
        expected_seq += 1
    head = sealing.Head(expected_seq - 1, prev_hash)
    if expect_head is not None:
        at = AuditEvent.objects.filter(seq=expect_head.seq).first()
        if head.seq < expect_head.seq:
            return Verification(
                False, head, f"the chain ends at seq {head.seq}, before the expected {expect_head}"
            )
        if at is None or at.hash != expect_head.hash:
            return Verification(
                False, head, f"seq {expect_head.seq} holds another hash than the expected head"
            )
    return Verification(True, head, f"chain intact: {head.seq} events, head {head}")


def field_history_patient() -> Case:
    """For a django-auditlog entry, the patient whose record it shows (a patient's own user
    row, or a row naming a patient such as an appointment), or None: a subquery per model."""
    from auditlog.registry import auditlog
    from django.contrib.contenttypes.models import ContentType

    user_model = get_user_model()
    cases = []
    for model in auditlog.get_models():
        if model is user_model:
            rows = model.objects.filter(pk=OuterRef("object_id"), role=user_model.Role.PATIENT)
            patient = rows.values("pk")
        elif any(field.name == "patient" for field in model._meta.concrete_fields):
            patient = model._default_manager.filter(pk=OuterRef("object_id")).values("patient_id")
        else:
            continue
        content_type = ContentType.objects.get_for_model(model)
        cases.append(When(content_type_id=content_type.pk, then=Subquery(patient.order_by()[:1])))
    return Case(*cases, default=None, output_field=BigIntegerField())


def field_history_list() -> QuerySet:
    """django-auditlog's entries, newest first, each with `patient_id` (field_history_patient)
    resolved in the same query."""
    from auditlog.models import LogEntry

    return (
        LogEntry.objects.select_related("content_type")
        .annotate(patient_id=field_history_patient())
        .order_by("-id")
    )

"""Waitlist rounds: a block that frees up is offered to the first waiting patients, who share
one hold on it until one accepts, all decline or the hold expires (DESIGN-R2 §R2-3,
docs/api-rules.md, waitlist).

Lock order (core/locking.py): users (the doctor and the candidates, shared; the accepting
patient exclusively) -> the block -> its hold -> the entries by id -> the offers by id.
Candidates are users found late, so they are picked before the transaction (step (a)) and
skipped inside it when they no longer fit (step (b)).
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext

from accounts.mails import mail_user
from accounts.models import DoctorProfile, DoctorSpecialty, User
from audit.services import audit_record
from core.exceptions import ILLEGAL_TRANSITION, OFFER_EXPIRED, OFFER_TAKEN, Conflict
from core.jobs import enqueue
from core.locking import actor_id, lock_users, service_transaction
from core.models import EmailMessage
from core.response_cache import ANY_AVAILABILITY, availability_scope, bump
from scheduling import notifications, selectors
from scheduling.models import (
    ACTIVE_STATUSES,
    OPEN_HOLD,
    Appointment,
    SlotHold,
    TimeBlock,
    WaitlistEntry,
    WaitlistOffer,
)
from scheduling.services import hold_rules
from scheduling.services.appointments import appointment_book

logger = logging.getLogger("medappt.waitlist")
PROCESS_BLOCK = "scheduling.tasks.waitlist_process_block"
OFFER_TEMPLATE = "waitlist_offer"
Entry = WaitlistEntry.Status
Offer = WaitlistOffer.Status


# ---------------------------------------------------------------------------
# Matching (step (a), no transaction)
# ---------------------------------------------------------------------------
def _zone_of(doctor: User) -> zoneinfo.ZoneInfo:
    profile = getattr(doctor, "doctor_profile", None)
    return zoneinfo.ZoneInfo(profile.timezone if profile else settings.TIME_ZONE)


def _specialties_of(doctor_id: int) -> list[str]:
    """The doctor's specialties, lower-cased (their rows, else the profile's one)."""
    names = {
        n.lower()
        for n in DoctorSpecialty.objects.filter(doctor_id=doctor_id).values_list("name", flat=True)
    }
    profile = DoctorProfile.objects.filter(pk=doctor_id).values_list("specialty", flat=True).first()
    if profile:
        names.add(profile.lower())
    return sorted(names)


def entry_fits(entry: WaitlistEntry, block: TimeBlock) -> bool:
    """The block falls on the entry's dates, weekdays and times, read in the doctor's zone
    (specialty entries: TIME_ZONE)."""
    zone = _zone_of(block.doctor) if entry.doctor_id else zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start, end = block.start.astimezone(zone), block.end.astimezone(zone)
    if not entry.date_from <= start.date() <= entry.date_to:
        return False
    if entry.weekdays and start.weekday() not in entry.weekdays:
        return False
    if entry.time_from is not None and start.time() < entry.time_from:
        return False
    # A block that runs past midnight never fits a time window ending that day.
    return entry.time_to is None or (end.date() == start.date() and end.time() <= entry.time_to)


def _block_is_free(block: TimeBlock, *, now: datetime.datetime) -> bool:
    """Bookable (the one predicate, a live hold included) and far enough ahead to offer."""
    lead = datetime.timedelta(minutes=settings.WAITLIST_MIN_LEAD_MINUTES)
    doctor = block.doctor
    if doctor.role != User.Role.DOCTOR or not doctor.can_sign_in:
        return False
    if block.start < now + lead:
        return False
    return selectors.time_block_list_bookable(start=now).filter(pk=block.pk).exists()


def waitlist_candidates(block: TimeBlock, *, now: datetime.datetime) -> list[WaitlistEntry]:
    """At most 3 x WAITLIST_OFFER_BATCH active entries, first come first served (created_at,
    id), that fit the block and were not offered it, of patients who may book and have no
    pending offer."""
    limit = 3 * settings.WAITLIST_OFFER_BATCH
    specialties = _specialties_of(block.doctor_id)
    pending = WaitlistOffer.objects.filter(status=Offer.PENDING, expires_at__gt=now)
    wanted = Q(doctor_id=block.doctor_id) | Q(doctor__isnull=True, specialty_ci__in=specialties)
    # An entry without a type takes any block; one with a type only blocks of it.
    wanted &= Q(visit_type__isnull=True) | Q(visit_type_id=block.visit_type_id)
    entries = (
        WaitlistEntry.objects.alias(specialty_ci=Lower("specialty"))
        .filter(
            wanted,
            status=Entry.ACTIVE,
            patient__role=User.Role.PATIENT,
            patient__is_active=True,
            patient__suspended_at__isnull=True,
        )
        .exclude(patient_id=block.doctor_id)
        .exclude(offers__time_block=block)
        .exclude(patient_id__in=pending.values("entry__patient_id"))
        .order_by("created_at", "id")
    )
    picked: list[WaitlistEntry] = []
    patients: set[int] = set()
    for entry in entries.iterator(chunk_size=100):
        if entry.patient_id in patients or not entry_fits(entry, block):
            continue
        picked.append(entry)
        patients.add(entry.patient_id)
        if len(picked) == limit:
            break
    return picked


# ---------------------------------------------------------------------------
# A round (step (b))
# ---------------------------------------------------------------------------
def _patient_may_take(entry: WaitlistEntry, block: TimeBlock, now: datetime.datetime) -> bool:
    patient = entry.patient
    if entry.status != Entry.ACTIVE or not entry_fits(entry, block):
        return False
    if patient.role != User.Role.PATIENT or not patient.can_sign_in:
        return False
    active = Appointment.objects.filter(patient_id=patient.pk, status__in=ACTIVE_STATUSES)
    if active.filter(start__lt=block.end, end__gt=block.start).exists():
        return False
    if active.count() >= settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT:
        return False
    return not WaitlistOffer.objects.filter(
        entry__patient_id=patient.pk, status=Offer.PENDING, expires_at__gt=now
    ).exists()


def _lock_entries(ids: list[int]) -> dict[int, WaitlistEntry]:
    rows = (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("patient")
        .filter(pk__in=ids)
        .order_by("id")
    )
    return {entry.pk: entry for entry in rows}


def _lock_offers(ids: list[int]) -> dict[int, WaitlistOffer]:
    rows = WaitlistOffer.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("id")
    return {offer.pk: offer for offer in rows}


@service_transaction
def _round_start(
    *, block_id: int, doctor_id: int, candidates: list[WaitlistEntry]
) -> list[WaitlistOffer]:
    # A block's doctor never changes: the unlocked read names the right row to lock.
    lock_users(shared=[doctor_id, *(entry.patient_id for entry in candidates)])
    block = (
        TimeBlock.objects.select_for_update(of=("self",))
        .select_related("doctor", "doctor__doctor_profile")
        .filter(pk=block_id)
        .first()
    )
    now = timezone.now()
    if block is None:
        return []
    live = hold_rules.live_hold_on(block, now=now)  # closes an expired one first
    if live is not None or not _block_is_free(block, now=now):
        return []
    # A round that ended since step (a) is closed by waitlist_round_end (its entries before
    # ours would break the lock order): the next run offers the block.
    if WaitlistOffer.objects.filter(time_block=block, status=Offer.PENDING).exists():
        return []
    entries = _lock_entries([entry.pk for entry in candidates])
    offered_here = set(
        WaitlistOffer.objects.filter(time_block=block, entry_id__in=entries).values_list(
            "entry_id", flat=True
        )
    )
    chosen = [
        entries[entry.pk]
        for entry in candidates  # FIFO order, as picked
        if entry.pk in entries
        and entry.pk not in offered_here
        and _patient_may_take(entries[entry.pk], block, now)
    ][: settings.WAITLIST_OFFER_BATCH]
    if not chosen:
        return []
    expires_at = now + datetime.timedelta(seconds=settings.WAITLIST_OFFER_TTL_SECONDS)
    try:
        with transaction.atomic():
            hold = SlotHold.objects.create(
                time_block=block, doctor_id=block.doctor_id, patient=None, expires_at=expires_at
            )
    except IntegrityError:  # slot_hold_one_open_per_block: someone holds it now
        return []
    offers = WaitlistOffer.objects.bulk_create(
        [
            WaitlistOffer(entry=entry, time_block=block, hold=hold, expires_at=expires_at)
            for entry in chosen
        ]
    )
    WaitlistEntry.objects.filter(pk__in=[entry.pk for entry in chosen]).update(
        status=Entry.OFFERED, updated_at=now
    )
    audit_record(
        action="slot_hold.created",
        target=hold,
        actor=None,
        data={"patient": None, "doctor": block.doctor_id, "time_block": block.pk},
    )
    for offer, entry in zip(offers, chosen, strict=True):
        offer.entry = entry
        audit_record(
            action="waitlist_offer.made",
            target=offer,
            actor=None,
            data={"entry": entry.pk, "patient": entry.patient_id, "time_block": block.pk},
        )
        _mail_offer(offer, block)
    bump(availability_scope(block.doctor_id), ANY_AVAILABILITY)
    return offers


def _mail_offer(offer: WaitlistOffer, block: TimeBlock) -> None:
    profile = getattr(block.doctor, "doctor_profile", None)
    mail_user(
        offer.entry.patient,
        template=OFFER_TEMPLATE,
        context={
            "offer_id": offer.pk,
            "doctor_name": block.doctor.get_full_name(),
            "location": profile.location if profile else "",
            "start": block.start.isoformat(),
            "end": block.end.isoformat(),
            "expires_at": offer.expires_at.isoformat(),
            "timezone": profile.timezone if profile else settings.TIME_ZONE,
        },
        dedupe_key=f"waitlist_offer:{offer.pk}",
    )


def offer_mail_context(message: EmailMessage) -> dict[str, str]:
    """At render time: the dates in the mail's language and the offer's link (no token: the
    patient signs in to answer)."""
    zone = zoneinfo.ZoneInfo(message.context["timezone"])
    expires = datetime.datetime.fromisoformat(message.context["expires_at"]).astimezone(zone)
    return {
        **notifications.when_context(message),
        "expires_time": expires.strftime("%H:%M"),
        "offer_url": settings.WAITLIST_OFFER_URL.format(offer_id=message.context["offer_id"]),
    }


def waitlist_process_block(*, block_id: int) -> int:
    """Offer a freed block to the first fitting waiting patients: (a) without a transaction,
    stop unless it is bookable and WAITLIST_MIN_LEAD_MINUTES ahead and pick the candidates;
    (b) in one transaction, re-check them under their locks and start a round. Returns the
    number of offers made; safe twice (a held block is never offered again)."""
    block = (
        TimeBlock.objects.select_related("doctor", "doctor__doctor_profile")
        .filter(pk=block_id)
        .first()
    )
    now = timezone.now()
    due = WaitlistOffer.objects.filter(time_block_id=block_id, status=Offer.PENDING)
    if due.filter(expires_at__lte=now).exists():
        waitlist_round_end(block_id=block_id)
    if block is None or not _block_is_free(block, now=now):
        return 0
    candidates = waitlist_candidates(block, now=now)
    if not candidates:
        return 0
    return len(_round_start(block_id=block_id, doctor_id=block.doctor_id, candidates=candidates))


# ---------------------------------------------------------------------------
# Round end: the hold expired or every offer was declined
# ---------------------------------------------------------------------------
def _rounds_end_on(block: TimeBlock, *, now: datetime.datetime) -> bool:
    """Under the block's lock: end every round on it whose hold is no longer live (pending
    offers expire, their entries miss one: back to active, or expired after
    WAITLIST_MAX_MISSED). True when some round ended."""
    pending = WaitlistOffer.objects.filter(time_block=block, status=Offer.PENDING)
    stale_holds = list(
        SlotHold.objects.filter(pk__in=pending.values("hold_id"))
        .exclude(OPEN_HOLD & Q(expires_at__gt=now))
        .values_list("pk", flat=True)
    )
    if not stale_holds:
        return False
    hold_rules_close_expired(stale_holds, now=now)
    offers = list(pending.filter(hold_id__in=stale_holds).values_list("pk", "entry_id"))
    entries = _lock_entries([entry_id for _, entry_id in offers])
    locked = _lock_offers([pk for pk, _ in offers])
    for offer in locked.values():
        if offer.status != Offer.PENDING:
            continue
        offer.status = Offer.EXPIRED
        offer.save(update_fields=["status", "updated_at"])
        entry = entries[offer.entry_id]
        if entry.status == Entry.OFFERED:
            entry.missed_offers += 1
            entry.status = (
                Entry.EXPIRED
                if entry.missed_offers >= settings.WAITLIST_MAX_MISSED
                else Entry.ACTIVE
            )
            entry.save(update_fields=["status", "missed_offers", "updated_at"])
        audit_record(
            action="waitlist_offer.expired",
            target=offer,
            actor=None,
            data={"entry": entry.pk, "missed_offers": entry.missed_offers},
        )
    return True


def hold_rules_close_expired(hold_ids: list[int], *, now: datetime.datetime) -> None:
    for hold in SlotHold.objects.filter(OPEN_HOLD, pk__in=hold_ids).order_by("id"):
        hold_rules.hold_close(hold=hold, now=now, reason=SlotHold.ReleaseReason.EXPIRED, actor=None)


@service_transaction
def waitlist_round_end(*, block_id: int) -> bool:
    """End the rounds on a block whose shared hold is no longer live; the block is then
    offered to the next patients (on commit). Safe twice: an ended round has no pending
    offer left."""
    block = TimeBlock.objects.select_for_update(of=("self",)).filter(pk=block_id).first()
    if block is None:
        return False
    now = timezone.now()
    hold_rules.live_hold_on(block, now=now)  # closes an expired hold
    ended = _rounds_end_on(block, now=now)
    if ended:
        enqueue(PROCESS_BLOCK, block.pk)
    return ended


def waitlist_process() -> tuple[int, int]:
    """The periodic rerun: end the rounds that are due (their hold expired), then offer again
    every block that had a round and is still free. Returns (rounds ended, offers made)."""
    now = timezone.now()
    due_blocks = (
        WaitlistOffer.objects.filter(status=Offer.PENDING, expires_at__lte=now)
        .values_list("time_block_id", flat=True)
        .distinct()
    )
    ended = sum(waitlist_round_end(block_id=pk) for pk in sorted(set(due_blocks)))
    lead = now + datetime.timedelta(minutes=settings.WAITLIST_MIN_LEAD_MINUTES)
    free = (
        selectors.time_block_list_bookable(start=lead)
        .filter(waitlist_offers__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    )
    made = sum(waitlist_process_block(block_id=pk) for pk in sorted(set(free)))
    return ended, made


# ---------------------------------------------------------------------------
# Answers: accept, decline
# ---------------------------------------------------------------------------
def _lock_round(offer: WaitlistOffer) -> tuple[TimeBlock, SlotHold, WaitlistOffer, list]:
    """Block -> hold -> the round's entries -> its offers, by id (after the users)."""
    block = (
        TimeBlock.objects.select_for_update(of=("self",))
        .select_related("doctor")
        .get(pk=offer.time_block_id)
    )
    hold = SlotHold.objects.select_for_update(of=("self",)).get(pk=offer.hold_id)
    round_offers = WaitlistOffer.objects.filter(hold_id=hold.pk)
    entries = _lock_entries(list(round_offers.values_list("entry_id", flat=True)))
    offers = _lock_offers(list(round_offers.values_list("pk", flat=True)))
    mine = offers[offer.pk]
    mine.entry = entries[mine.entry_id]
    others = [(o, entries[o.entry_id]) for o in offers.values() if o.pk != mine.pk]
    return block, hold, mine, others


def _check_answerable(offer: WaitlistOffer, hold: SlotHold, now: datetime.datetime) -> None:
    if offer.status == Offer.ACCEPTED:
        raise Conflict(ILLEGAL_TRANSITION, gettext("You have already accepted this offer."))
    if offer.status == Offer.DECLINED:
        raise Conflict(ILLEGAL_TRANSITION, gettext("You have declined this offer."))
    if offer.status == Offer.SUPERSEDED or hold.converted_at is not None:
        raise Conflict(OFFER_TAKEN, gettext("Another patient has taken this time."))
    if offer.status == Offer.EXPIRED or hold.released_at is not None or hold.expires_at <= now:
        raise Conflict(OFFER_EXPIRED, gettext("This offer has expired."))


@service_transaction
def waitlist_offer_accept(*, actor: User, offer: WaitlistOffer) -> Appointment:
    """Book the offered block for the offer's patient through the booking service (the
    round's hold counts as theirs and converts); the round's other offers are superseded and
    their entries wait again; this entry is booked. Taken: 409 offer_taken; the round over:
    409 offer_expired."""
    patient_id = offer.entry.patient_id
    lock_users(exclusive=[patient_id], shared=[offer.time_block.doctor_id, actor_id(actor)])
    block, hold, offer, others = _lock_round(offer)
    now = timezone.now()
    _check_answerable(offer, hold, now)
    # The shared hold becomes the patient's, so the booking converts it (and every booking
    # rule still applies: a conflict rolls this back).
    SlotHold.objects.filter(pk=hold.pk).update(patient_id=patient_id)
    hold.patient_id = patient_id
    appointment = appointment_book(
        actor=actor, patient=offer.entry.patient, time_block=block, hold=hold
    )
    offer.status = Offer.ACCEPTED
    offer.save(update_fields=["status", "updated_at"])
    offer.entry.status = Entry.BOOKED
    offer.entry.save(update_fields=["status", "updated_at"])
    for other, entry in others:
        if other.status != Offer.PENDING:
            continue
        other.status = Offer.SUPERSEDED
        other.save(update_fields=["status", "updated_at"])
        if entry.status == Entry.OFFERED:
            entry.status = Entry.ACTIVE
            entry.save(update_fields=["status", "updated_at"])
    audit_record(
        action="waitlist_offer.accepted",
        target=offer,
        actor=actor,
        data={"entry": offer.entry_id, "appointment": appointment.pk},
    )
    return appointment


@service_transaction
def waitlist_offer_decline(*, actor: User, offer: WaitlistOffer) -> WaitlistOffer:
    """Decline an offer: the entry waits again (no missed offer); when every offer of the
    round is declined, the hold is released and the block offered to the next patients.
    Again is no change; taken: 409 offer_taken; the round over: 409 offer_expired."""
    lock_users(shared=[offer.entry.patient_id, offer.time_block.doctor_id, actor_id(actor)])
    _block, hold, offer, others = _lock_round(offer)
    now = timezone.now()
    if offer.status == Offer.DECLINED:
        return offer
    _check_answerable(offer, hold, now)
    offer.status = Offer.DECLINED
    offer.save(update_fields=["status", "updated_at"])
    if offer.entry.status == Entry.OFFERED:
        offer.entry.status = Entry.ACTIVE
        offer.entry.save(update_fields=["status", "updated_at"])
    audit_record(
        action="waitlist_offer.declined",
        target=offer,
        actor=actor,
        data={"entry": offer.entry_id},
    )
    if all(other.status != Offer.PENDING for other, _ in others):
        # Closing the hold queues the block for the next patients (hold_rules.hold_close).
        hold_rules.hold_close(
            hold=hold, now=now, reason=SlotHold.ReleaseReason.RELEASED, actor=None
        )
    return offer


def waitlist_rounds_withdraw(*, block_ids: list[int]) -> int:
    """Under the blocks' locks, once their holds are closed (a leave withdrew the blocks):
    the pending offers of their rounds are superseded and their entries wait again with no
    missed offer, since nobody let them lapse. Returns the number of offers withdrawn."""
    pending = WaitlistOffer.objects.filter(time_block_id__in=block_ids, status=Offer.PENDING)
    offers = list(pending.values_list("pk", "entry_id"))
    if not offers:
        return 0
    entries = _lock_entries(sorted({entry_id for _, entry_id in offers}))
    locked = _lock_offers([pk for pk, _ in offers])
    withdrawn = 0
    for offer in locked.values():
        if offer.status != Offer.PENDING:
            continue
        offer.status = Offer.SUPERSEDED
        offer.save(update_fields=["status", "updated_at"])
        entry = entries[offer.entry_id]
        if entry.status == Entry.OFFERED:
            entry.status = Entry.ACTIVE
            entry.save(update_fields=["status", "updated_at"])
        audit_record(
            action="waitlist_offer.withdrawn",
            target=offer,
            actor=None,
            data={"entry": entry.pk, "time_block": offer.time_block_id},
        )
        withdrawn += 1
    return withdrawn

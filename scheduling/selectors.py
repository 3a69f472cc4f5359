"""Reads of scheduling that carry rules: who sees which blocks, appointments and reviews, and
the public doctor directory."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone

from accounts.models import DoctorProfile, DoctorSpecialty, User
from core.roles import CLINIC_ROLES
from scheduling.models import (
    ACTIVE_STATUSES,
    GENERAL_VISIT_TYPE,
    OPEN_HOLD,
    Appointment,
    AvailabilityTemplate,
    DoctorVisitType,
    Leave,
    Review,
    ReviewVote,
    SlotHold,
    TimeBlock,
    VisitType,
    WaitlistEntry,
    WaitlistOffer,
)

# A visit_type filter's value once resolved: a type, or GENERAL_VISIT_TYPE (untagged rows).
VisitTypeChoice = VisitType | str


def _has_active_appointment() -> Exists:
    return Exists(Appointment.objects.filter(time_block=OuterRef("pk"), status__in=ACTIVE_STATUSES))


def has_active_appointment() -> Exists:
    """An Exists() over a time block row: an active appointment takes it."""
    return _has_active_appointment()


def live_hold_q(now: datetime.datetime | None = None) -> Q:
    """A slot hold that still keeps its block: open (neither released nor converted), unexpired."""
    return OPEN_HOLD & Q(expires_at__gt=now or timezone.now())


def _has_live_hold() -> Exists:
    return Exists(SlotHold.objects.filter(live_hold_q(), time_block=OuterRef("pk")))


def active_leaves_overlapping(*, doctor_id, start, end, closures: bool = True) -> QuerySet[Leave]:
    """Active (uncancelled) leaves of the doctor, and clinic closures, that overlap [start,
    end): what keeps a block in that span unbookable. Arguments may be OuterRef()s; the
    leave_active_doctor_end_idx index serves both arms."""
    whose = Q(doctor_id=doctor_id) | Q(doctor__isnull=True) if closures else Q(doctor_id=doctor_id)
    return Leave.objects.filter(whose, cancelled_at__isnull=True, end__gt=start, start__lt=end)


def in_active_leave() -> Q:
    """A condition over a time block row: it lies (even partly) in an active leave of its
    doctor or a clinic closure. Two EXISTS, not one with an OR: each probes
    leave_active_doctor_end_idx by (doctor_id, end) or (NULL, end), however many leaves the
    clinic's history holds."""
    active = Leave.objects.filter(
        cancelled_at__isnull=True, end__gt=OuterRef("start"), start__lt=OuterRef("end")
    )
    return Q(Exists(active.filter(doctor_id=OuterRef("doctor_id")))) | Q(
        Exists(active.filter(doctor__isnull=True))
    )


def leave_spans(
    *, doctor_id: int, start: datetime.datetime, end: datetime.datetime
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """The (start, end) of every active leave of the doctor and every closure overlapping
    [start, end): what bulk block creation (and template materialisation) skips."""
    leaves = active_leaves_overlapping(doctor_id=doctor_id, start=start, end=end)
    return list(leaves.order_by("start").values_list("start", "end"))


def time_block_list_bookable(*, start: datetime.datetime) -> QuerySet[TimeBlock]:
    """The one "bookable" predicate of the public lists: unwithdrawn, starting at `start` or
    later and not inside the lead time, no active appointment, no live hold (anyone's: the
    lists are cached per URL, never per caller), not in an active leave of its doctor or a
    clinic closure. The booking services check the same rules one by one, each with its 409
    code."""
    return TimeBlock.objects.filter(
        withdrawn_at__isnull=True, start__gte=max(start, booking_opens_at())
    ).exclude(_has_active_appointment() | _has_live_hold() | in_active_leave())


def time_block_list_visible_to(*, user: User) -> QuerySet[TimeBlock]:
    """A doctor's own unwithdrawn blocks; staff and admins see every doctor's."""
    blocks = TimeBlock.objects.filter(withdrawn_at__isnull=True).annotate(
        is_booked=_has_active_appointment()
    )
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return blocks.order_by("start", "id")
    if role == User.Role.DOCTOR:
        return blocks.filter(doctor=user).order_by("start", "id")
    return blocks.none()


def booking_opens_at(now: datetime.datetime | None = None) -> datetime.datetime:
    """The earliest start a block may have to be booked now (the lead time)."""
    now = now or timezone.now()
    return now + datetime.timedelta(minutes=settings.BOOKING_MIN_LEAD_MINUTES)


def time_block_list_free(
    *,
    doctor_id: int,
    start: datetime.datetime,
    end: datetime.datetime,
    visit_type: VisitTypeChoice | None = None,
) -> QuerySet[TimeBlock]:
    """Free, unwithdrawn blocks of a doctor starting in [start, end), not before the lead time
    (of one visit type, or general ones, when given)."""
    blocks = time_block_list_bookable(start=start).filter(doctor_id=doctor_id, start__lt=end)
    return with_visit_type(blocks, visit_type).order_by("start", "id")


def doctors_with_free_blocks(
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    visit_type: VisitTypeChoice | None = None,
) -> Exists:
    """An Exists() for the doctor directory: the doctor has a free block starting in range
    (of the visit type, when given)."""
    blocks = time_block_list_bookable(start=start).filter(
        doctor_id=OuterRef("user_id"), start__lt=end
    )
    return Exists(with_visit_type(blocks, visit_type))


# ---------------------------------------------------------------------------
# Visit types
# ---------------------------------------------------------------------------
def with_visit_type(rows: QuerySet, visit_type: VisitTypeChoice | None) -> QuerySet:
    """Rows (blocks, appointments) of one visit type; GENERAL_VISIT_TYPE: untagged ones."""
    if visit_type is None:
        return rows
    if visit_type == GENERAL_VISIT_TYPE:
        return rows.filter(visit_type__isnull=True)
    return rows.filter(visit_type_id=visit_type.pk)  # type: ignore[union-attr]


def visit_type_resolve(value: str) -> VisitTypeChoice | None:
    """A visit_type filter value (an id, a slug or `general`): the type, GENERAL_VISIT_TYPE,
    or None when no type has that id or slug. Inactive types resolve too: their rows remain."""
    value = value.strip()
    if value.lower() == GENERAL_VISIT_TYPE:
        return GENERAL_VISIT_TYPE
    if value.isdigit() and len(value) <= 18:
        return VisitType.objects.filter(pk=int(value)).first()
    return VisitType.objects.filter(slug=value).first()


def visit_type_list_visible_to(*, user: User | None) -> QuerySet[VisitType]:
    """Active visit types for everyone; admins see the inactive ones too."""
    types = VisitType.objects.order_by("name", "id")
    if getattr(user, "role", None) == User.Role.ADMIN:
        return types
    return types.filter(active=True)


def visit_types_for_specialty(types: QuerySet[VisitType], name: str) -> QuerySet[VisitType]:
    """Of `types`: those a doctor of the specialty may offer (its own or any specialty's)."""
    return types.filter(Q(specialty="") | Q(specialty__iexact=name.strip()))


def _offers_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}active": True, f"{prefix}visit_type__active": True})


def visit_types_offered_by(types: QuerySet[VisitType], doctor_id: int) -> QuerySet[VisitType]:
    """Of `types`: those the doctor actively offers."""
    return types.filter(
        Exists(
            DoctorVisitType.objects.filter(
                _offers_q(), doctor_id=doctor_id, visit_type_id=OuterRef("pk")
            )
        )
    )


def doctors_offering(visit_type: VisitType) -> Exists:
    """An Exists() for the directory: the doctor actively offers the (active) type."""
    return Exists(
        DoctorVisitType.objects.filter(
            _offers_q(), doctor_id=OuterRef("user_id"), visit_type_id=visit_type.pk
        )
    )


def _offer_prefetch() -> Prefetch:
    return Prefetch(
        "user__visit_type_offers",
        queryset=DoctorVisitType.objects.filter(_offers_q()).order_by("visit_type_id"),
        to_attr="active_visit_type_offers",
    )


def visit_type_offers_prefetch(to_attr: str) -> Prefetch:
    """A doctor list's active offers of active types, each with its type, by slug."""
    return Prefetch(
        "user__visit_type_offers",
        queryset=DoctorVisitType.objects.filter(_offers_q())
        .select_related("visit_type")
        .order_by("visit_type__slug"),
        to_attr=to_attr,
    )


def doctors_offering_any(slugs: list[str]) -> Exists:
    """An Exists() over DoctorProfile rows: the doctor actively offers an active type of one
    of these slugs."""
    return Exists(
        DoctorVisitType.objects.filter(
            _offers_q(), doctor_id=OuterRef("user_id"), visit_type__slug__in=slugs
        )
    )


def offered_visit_type_ids(profile: DoctorProfile) -> list[int]:
    """The ids of the active types the doctor actively offers (prefetched in the lists)."""
    offers = getattr(profile.user, "active_visit_type_offers", None)
    if offers is None:
        offers = DoctorVisitType.objects.filter(_offers_q(), doctor_id=profile.user_id).order_by(
            "visit_type_id"
        )
    return [offer.visit_type_id for offer in offers]


# ---------------------------------------------------------------------------
# Slot holds
# ---------------------------------------------------------------------------
HOLD_LIST_HOURS = 24


def slot_hold_list_visible_to(*, user: User) -> QuerySet[SlotHold]:
    """A patient's own holds; staff and admins see every hold; anyone else none."""
    holds = SlotHold.objects.select_related("time_block")
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return holds
    if role == User.Role.PATIENT:
        return holds.filter(patient=user)
    return holds.none()


def slot_hold_list_recent(holds: QuerySet[SlotHold]) -> QuerySet[SlotHold]:
    """Of slot_hold_list_visible_to(): those made in the last 24 hours, live ones first, then
    the newest."""
    now = timezone.now()
    since = now - datetime.timedelta(hours=HOLD_LIST_HOURS)
    return (
        holds.filter(created_at__gte=since)
        .annotate(
            not_live=Case(When(live_hold_q(now), then=Value(0)), default=Value(1)),
        )
        .order_by("not_live", "-created_at", "-id")
    )


# A list row (AppointmentSerializer) shows the appointment and these columns of the people in
# it; loading them alone spares decoding two whole user rows per appointment.
LIST_ROW_RELATED_COLUMNS = (
    "patient__first_name",
    "patient__last_name",
    "doctor__first_name",
    "doctor__last_name",
    "doctor__doctor_profile__location",
    "doctor__doctor_profile__timezone",
)


def appointment_list_rows(appointments: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """Only what a list row shows, from appointment_list_visible_to()'s queryset."""
    own = [field.name for field in Appointment._meta.concrete_fields]
    return appointments.only(*own, *LIST_ROW_RELATED_COLUMNS)


def appointment_list_visible_to(*, user: User) -> QuerySet[Appointment]:
    """A patient's own, a doctor's own; staff and admins see every appointment."""
    appointments = Appointment.objects.select_related(
        "patient", "doctor", "doctor__doctor_profile"
    ).order_by("start", "id")
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return appointments
    if role == User.Role.DOCTOR:
        return appointments.filter(doctor=user)
    if role == User.Role.PATIENT:
        return appointments.filter(patient=user)
    return appointments.none()


# ---------------------------------------------------------------------------
# Reviews: ratings are derived from the visible ones, never stored
# ---------------------------------------------------------------------------
def _visible_reviews_of(doctor_ref) -> QuerySet[Review]:
    return Review.objects.filter(doctor_id=doctor_ref, hidden_at__isnull=True)


def with_ratings(doctors: QuerySet, *, doctor_field: str = "user_id") -> QuerySet:
    """Annotate rating_average and rating_count from visible reviews (no stored copy)."""
    visible = _visible_reviews_of(OuterRef(doctor_field)).order_by().values("doctor_id")
    return doctors.annotate(
        rating_average=Subquery(visible.annotate(value=Avg("rating")).values("value")[:1]),
        rating_count=Coalesce(
            Subquery(visible.annotate(value=Count("id")).values("value")[:1]),
            Value(0),
            output_field=IntegerField(),
        ),
    )


def review_list_public(*, doctor_id: int, viewer: User | None) -> QuerySet[Review]:
    """A doctor's visible reviews with helpful counts and the viewer's own vote."""
    reviews = (
        _visible_reviews_of(doctor_id)
        .select_related("author")
        .annotate(helpful_count=Count("votes", filter=Q(votes__value=1)))
        .order_by("-created_at", "id")
    )
    if viewer is not None and viewer.is_authenticated:
        reviews = reviews.annotate(
            my_vote=Subquery(
                ReviewVote.objects.filter(review=OuterRef("pk"), voter=viewer).values("value")[:1]
            )
        )
    else:
        reviews = reviews.annotate(my_vote=Value(None, output_field=IntegerField()))
    return reviews


def review_vote_summary(*, review: Review, voter: User) -> dict:
    helpful = ReviewVote.objects.filter(review=review, value=1).count()
    mine = ReviewVote.objects.filter(review=review, voter=voter).values_list("value", flat=True)
    return {"helpful_count": helpful, "my_vote": next(iter(mine), None)}


def review_list_visible_to(*, user: User) -> QuerySet[Review]:
    """Reviews a caller can see: every unhidden one, and their own even when hidden."""
    return Review.objects.filter(Q(hidden_at__isnull=True) | Q(author=user))


def appointment_list_future_active(*, user: User) -> QuerySet[Appointment]:
    """Future active appointments the user takes part in (as patient or doctor)."""
    return Appointment.objects.filter(
        Q(patient=user) | Q(doctor=user), status__in=ACTIVE_STATUSES, start__gt=timezone.now()
    )


def appointment_count_future_active(user: User) -> int:
    """How many future active appointments the user takes part in."""
    return appointment_list_future_active(user=user).count()


def patients_of(viewer: User) -> Exists | None:
    """For a doctor, an expression over a user row: the user is (or was) their patient, so
    the doctor may see their photo. None for anyone else."""
    if viewer.role != User.Role.DOCTOR:
        return None
    return Exists(Appointment.objects.filter(doctor_id=viewer.pk, patient=OuterRef("pk")))


# ---------------------------------------------------------------------------
# Periodic jobs
# ---------------------------------------------------------------------------
def appointment_reminders_due(*, now: datetime.datetime | None = None) -> list[int]:
    """Confirmed appointments starting within REMINDER_HOURS that have had no reminder."""
    now = now or timezone.now()
    horizon = now + datetime.timedelta(hours=settings.REMINDER_HOURS)
    return list(
        Appointment.objects.filter(
            status=Appointment.Status.CONFIRMED,
            reminder_sent_at__isnull=True,
            start__gt=now,
            start__lte=horizon,
        )
        .order_by("start", "id")
        .values_list("pk", flat=True)
    )


def appointment_list_to_close(*, now: datetime.datetime | None = None) -> QuerySet[Appointment]:
    """Active appointments (arrived included) that started more than CLOSE_PAST_AFTER_HOURS ago."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(hours=settings.CLOSE_PAST_AFTER_HOURS)
    return Appointment.objects.filter(status__in=ACTIVE_STATUSES, start__lt=cutoff).order_by(
        "start", "id"
    )


# ---------------------------------------------------------------------------
# The public doctor directory
# ---------------------------------------------------------------------------
def doctor_list_public(*, ratings: bool = True) -> QuerySet[DoctorProfile]:
    """Doctors the public may see: active, unsuspended users with the doctor role, with their
    rating derived from visible reviews in the same query (`ratings=False` leaves it out, for
    a mere check that a doctor is public)."""
    doctors = (
        DoctorProfile.objects.select_related("user")
        .filter(
            user__role=User.Role.DOCTOR,
            user__is_active=True,
            user__suspended_at__isnull=True,
        )
        .order_by("user__last_name", "user__first_name", "user_id")
    )
    if not ratings:
        return doctors
    return with_ratings(doctors).prefetch_related("specialty_rows", _offer_prefetch())


def doctor_profile_of(*, user: User) -> QuerySet[DoctorProfile]:
    """The doctor's own profile (whatever their status), with its rating."""
    return with_ratings(
        DoctorProfile.objects.select_related("user").filter(user=user)
    ).prefetch_related("specialty_rows", _offer_prefetch())


def doctors_with_specialty(name: str) -> Exists:
    """An Exists() for the directory: one of the doctor's specialties is `name`, in any case
    (lower(name) = ..., the doctor_specialty_name_ci_idx index)."""
    return Exists(
        DoctorSpecialty.objects.annotate(key=Lower("name")).filter(
            doctor_id=OuterRef("user_id"), key=name.strip().lower()
        )
    )


def doctors_with_specialty_containing(term: str) -> Exists:
    """An Exists() for the directory search: one of the doctor's specialties contains `term`."""
    return Exists(
        DoctorSpecialty.objects.filter(doctor_id=OuterRef("user_id"), name__icontains=term)
    )


# Featured doctors: the best rated with at least this many visible reviews.
FEATURED_MIN_REVIEWS = 3
FEATURED_DEFAULT_LIMIT = 4
FEATURED_MAX_LIMIT = 12


def doctor_list_featured(doctors: QuerySet[DoctorProfile]) -> QuerySet[DoctorProfile]:
    """From doctor_list_public() (filtered or not): those with at least FEATURED_MIN_REVIEWS
    visible reviews, best average first, then more reviews, then by id (stable)."""
    return doctors.filter(rating_count__gte=FEATURED_MIN_REVIEWS).order_by(
        F("rating_average").desc(nulls_last=True), "-rating_count", "user_id"
    )


def doctor_rating_histogram(*, doctor_id: int) -> dict[str, int]:
    """How many visible reviews of the doctor gave each rating, "1" to "5" (zeros included):
    the same reviews rating_count counts."""
    counts = dict(
        _visible_reviews_of(doctor_id)
        .order_by()
        .values_list("rating")
        .annotate(n=Count("id"))
        .values_list("rating", "n")
    )
    return {str(stars): counts.get(stars, 0) for stars in range(1, 6)}


def directory_stats() -> dict[str, int]:
    """What the public directory shows in numbers, from visible data only: public doctors,
    distinct specialties among them (every entry of their lists, compared case-insensitively),
    completed appointments, and visible reviews of public doctors."""
    public_ids = doctor_list_public(ratings=False).values("user_id")
    specialties = (
        DoctorSpecialty.objects.filter(doctor_id__in=public_ids)
        .annotate(key=Lower("name"))
        .values("key")
        .distinct()
        .count()
    )
    return {
        "doctors": public_ids.count(),
        "specialties": specialties,
        "appointments_completed": Appointment.objects.filter(
            status=Appointment.Status.COMPLETED
        ).count(),
        "reviews": Review.objects.filter(hidden_at__isnull=True, doctor_id__in=public_ids).count(),
    }


# ---------------------------------------------------------------------------
# The front desk's home in the admin: today per doctor, this week by status, pending soon.
# All days are the clinic's (TIME_ZONE), so "today" matches the wall clock at the desk.
# ---------------------------------------------------------------------------
PENDING_SOON_HOURS = 48


@dataclass
class DoctorDay:
    doctor_id: int
    doctor_name: str
    link: str
    appointments: list[Appointment] = field(default_factory=list)


def _changelist(**params) -> str:
    return f"{reverse('admin:scheduling_appointment_changelist')}?{urlencode(params)}"


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start, end


def front_desk_summary(*, now: datetime.datetime | None = None) -> dict:
    """What the desk needs at a glance, each part linking to the filtered changelist."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    day_start, day_end = _day_bounds(today)
    todays = (
        Appointment.objects.filter(start__gte=day_start, start__lt=day_end)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("doctor", "patient")
        .order_by("doctor__last_name", "doctor_id", "start")
    )
    per_doctor: dict[int, DoctorDay] = {}
    date_params = {"start__year": today.year, "start__month": today.month, "start__day": today.day}
    for appointment in todays:
        day = per_doctor.get(appointment.doctor_id)
        if day is None:
            day = per_doctor[appointment.doctor_id] = DoctorDay(
                doctor_id=appointment.doctor_id,
                doctor_name=appointment.doctor.get_full_name(),
                link=_changelist(doctor__id__exact=appointment.doctor_id, **date_params),
            )
        day.appointments.append(appointment)

    week_start_day = today - datetime.timedelta(days=today.weekday())
    week_start, _ = _day_bounds(week_start_day)
    _, week_end = _day_bounds(week_start_day + datetime.timedelta(days=6))
    counts = dict(
        Appointment.objects.filter(start__gte=week_start, start__lt=week_end)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    # Aware bounds: a bare date would be read as a naive datetime (a RuntimeWarning per query).
    week_range = {"start__gte": week_start.isoformat(), "start__lt": week_end.isoformat()}
    week = [
        {
            "status": label,
            "count": counts.get(value, 0),
            "link": _changelist(status__exact=value, **week_range),
        }
        for value, label in Appointment.Status.choices
    ]

    soon_end = now + datetime.timedelta(hours=PENDING_SOON_HOURS)
    pending_soon = list(
        Appointment.objects.filter(
            status=Appointment.Status.PENDING, start__gte=now, start__lt=soon_end
        )
        .select_related("doctor", "patient")
        .order_by("start", "id")
    )
    return {
        "today": today,
        "today_link": _changelist(**date_params),
        "doctors_today": list(per_doctor.values()),
        "week_start": week_start_day,
        "week": week,
        "pending_soon": pending_soon,
        "pending_soon_hours": PENDING_SOON_HOURS,
        "pending_soon_link": _changelist(
            status__exact=Appointment.Status.PENDING,
            start__gte=now.isoformat(),
            start__lt=soon_end.isoformat(),
        ),
    }


def waitlist_entry_list_visible_to(*, user: User) -> QuerySet[WaitlistEntry]:
    """A patient's own waitlist entries; staff and admins see every entry; anyone else none."""
    entries = WaitlistEntry.objects.order_by("created_at", "id")
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return entries
    if role == User.Role.PATIENT:
        return entries.filter(patient=user)
    return entries.none()


def waitlist_offer_list_visible_to(*, user: User) -> QuerySet[WaitlistOffer]:
    """A patient's own waitlist offers, newest first; staff and admins see every offer."""
    offers = WaitlistOffer.objects.select_related("time_block", "entry").order_by(
        "-created_at", "-id"
    )
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return offers
    if role == User.Role.PATIENT:
        return offers.filter(entry__patient=user)
    return offers.none()


def availability_template_list_visible_to(*, user: User) -> QuerySet[AvailabilityTemplate]:
    """A doctor's own templates; staff and admins see every doctor's; anyone else none."""
    templates = AvailabilityTemplate.objects.select_related("doctor", "visit_type").order_by(
        "doctor_id", "id"
    )
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return templates
    if role == User.Role.DOCTOR:
        return templates.filter(doctor=user)
    return templates.none()


def leave_list_visible_to(*, user: User) -> QuerySet[Leave]:
    """A doctor's own leaves and the clinic closures; staff and admins see every leave."""
    leaves = Leave.objects.order_by("start", "id")
    role = getattr(user, "role", None)
    if role in CLINIC_ROLES:
        return leaves
    if role == User.Role.DOCTOR:
        return leaves.filter(Q(doctor=user) | Q(doctor__isnull=True))
    return leaves.none()

"""Reads of scheduling that carry rules: who sees which blocks and appointments."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from scheduling.models import ACTIVE_STATUSES, Appointment, Review, ReviewVote, TimeBlock

STAFF_ROLES = (User.Role.STAFF, User.Role.ADMIN)


def _has_active_appointment() -> Exists:
    return Exists(Appointment.objects.filter(time_block=OuterRef("pk"), status__in=ACTIVE_STATUSES))


def time_block_list_visible_to(*, user: User) -> QuerySet[TimeBlock]:
    """A doctor's own unwithdrawn blocks; staff and admins see every doctor's."""
    blocks = TimeBlock.objects.filter(withdrawn_at__isnull=True).annotate(
        is_booked=_has_active_appointment()
    )
    role = getattr(user, "role", None)
    if role in STAFF_ROLES:
        return blocks.order_by("start", "id")
    if role == User.Role.DOCTOR:
        return blocks.filter(doctor=user).order_by("start", "id")
    return blocks.none()


def booking_opens_at(now: datetime.datetime | None = None) -> datetime.datetime:
    """The earliest start a block may have to be booked now (the lead time)."""
    now = now or timezone.now()
    return now + datetime.timedelta(minutes=settings.BOOKING_MIN_LEAD_MINUTES)


def time_block_list_free(
    *, doctor_id: int, start: datetime.datetime, end: datetime.datetime
) -> QuerySet[TimeBlock]:
    """Free, unwithdrawn blocks of a doctor starting in [start, end), not before the lead time."""
    return (
        TimeBlock.objects.filter(
            doctor_id=doctor_id,
            withdrawn_at__isnull=True,
            start__gte=max(start, booking_opens_at()),
            start__lt=end,
        )
        .exclude(_has_active_appointment())
        .order_by("start", "id")
    )


def doctors_with_free_blocks(*, start: datetime.datetime, end: datetime.datetime) -> Exists:
    """An Exists() for the doctor directory: the doctor has a free block starting in range."""
    return Exists(
        TimeBlock.objects.filter(
            doctor_id=OuterRef("user_id"),
            withdrawn_at__isnull=True,
            start__gte=max(start, booking_opens_at()),
            start__lt=end,
        ).exclude(_has_active_appointment())
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
    if role in STAFF_ROLES:
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

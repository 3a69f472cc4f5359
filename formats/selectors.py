"""Reads for calendar feeds."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from accounts.models import User
from formats.models import CalendarFeedToken
from formats.services import token_hash
from scheduling.models import Appointment


def calendar_feed_list_live(*, user: User) -> QuerySet[CalendarFeedToken]:
    """The user's own feeds that are not revoked, newest first."""
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).order_by(
        "-created_at", "-id"
    )


def calendar_feed_owner(*, token: str) -> User | None:
    """The owner of a live feed token, if they may still sign in; None otherwise (a bad token,
    a revoked one and an inactive or suspended owner are one answer). One query."""
    feed = (
        CalendarFeedToken.objects.select_related("user")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .first()
    )
    if feed is None or not feed.user.can_sign_in:
        return None
    if feed.user.role not in (User.Role.PATIENT, User.Role.DOCTOR):
        return None
    return feed.user


def appointment_list_for_feed(
    *, owner: User, start: datetime.datetime, end: datetime.datetime
) -> list[Appointment]:
    """The owner's own appointments (as patient or as doctor) starting in [start, end), by
    start: the (patient|doctor, start, id) index. One query."""
    if owner.role == User.Role.DOCTOR:
        appointments = Appointment.objects.filter(doctor=owner)
    else:
        appointments = Appointment.objects.filter(patient=owner).select_related(
            "doctor__doctor_profile"
        )
    return list(appointments.filter(start__gte=start, start__lt=end).order_by("start", "id"))

"""iCalendar: a user's appointments as a feed (RFC 5545) and the mails' invites (RFC 5546).

Built with the icalendar library's Calendar and Event, never by hand. An event says when, its
status and, to a patient, where; never a name, an email, the reason, notes or the visit type:
a feed link is a secret that is easily shared. The feed's event and every invite for the same
appointment carry one UID and the appointment's ical_sequence, so calendars update in place.
"""

from __future__ import annotations

import datetime
import hashlib
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from icalendar import Calendar, Event, vCalAddress, vText

from accounts.models import User
from core.models import EmailMessage
from scheduling.models import Appointment

Status = Appointment.Status
PRODID = "-//medappt//calendar//EN"
# The default CALENDAR_SUMMARY, so that makemessages finds it (another value: add its msgid).
DEFAULT_SUMMARY = gettext_noop("Appointment")
STATUS = {
    Status.PENDING: "TENTATIVE",
    Status.CONFIRMED: "CONFIRMED",
    Status.ARRIVED: "CONFIRMED",
    Status.COMPLETED: "CONFIRMED",
    Status.CANCELLED: "CANCELLED",
    Status.NO_SHOW: "CANCELLED",
}
REQUEST, CANCEL = "REQUEST", "CANCEL"
INVITE_TEMPLATES = {
    "appointment_booked": REQUEST,
    "appointment_confirmed": REQUEST,
    "appointment_rescheduled": REQUEST,
    "appointment_cancelled": CANCEL,
}
FEED_PAST = datetime.timedelta(days=30)
FEED_FUTURE = datetime.timedelta(days=365)


def event_uid(appointment_id: int) -> str:
    return f"appointment-{appointment_id}@{urlsplit(settings.PUBLIC_BASE_URL).hostname}"


def _summary(user: User) -> str:
    with translation.override(user.language or settings.LANGUAGE_CODE):
        return gettext(settings.CALENDAR_SUMMARY)


def _calendar(method: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method is not None:
        calendar.add("method", method)
    return calendar


def _event(
    appointment: Appointment,
    *,
    summary: str,
    location: str,
    stamp: datetime.datetime,
    status: str,
) -> Event:
    event = Event()
    event.add("uid", event_uid(appointment.pk))
    event.add("sequence", appointment.ical_sequence)
    event.add("dtstamp", stamp.astimezone(datetime.UTC))
    event.add("dtstart", appointment.start.astimezone(datetime.UTC))
    event.add("dtend", appointment.end.astimezone(datetime.UTC))
    event.add("status", status)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    return event


def _location(appointment: Appointment) -> str:
    profile = getattr(appointment.doctor, "doctor_profile", None)
    return profile.location if profile else ""


def feed_window(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The starts a feed shows: [now - 30 days, now + 365 days)."""
    return now - FEED_PAST, now + FEED_FUTURE


def feed_calendar(*, owner: User, appointments: list[Appointment]) -> bytes:
    """The owner's feed: an event per appointment, a location only for a patient. DTSTAMP is
    the appointment's last change, so an unchanged feed keeps its bytes (and its ETag)."""
    calendar = _calendar()
    summary = _summary(owner)
    for_patient = owner.role == User.Role.PATIENT
    for appointment in appointments:
        calendar.add_component(
            _event(
                appointment,
                summary=summary,
                location=_location(appointment) if for_patient else "",
                stamp=appointment.updated_at,
                status=STATUS[appointment.status],
            )
        )
    return calendar.to_ical()


def invite_calendar(*, appointment: Appointment, recipient: User, method: str) -> bytes:
    """An iTIP message for one recipient (the sole ATTENDEE) from the clinic (ORGANIZER)."""
    calendar = _calendar(method)
    status = "CANCELLED" if method == CANCEL else STATUS[appointment.status]
    for_patient = recipient.pk == appointment.patient_id
    event = _event(
        appointment,
        summary=_summary(recipient),
        location=_location(appointment) if for_patient else "",
        stamp=timezone.now(),
        status=status,
    )
    organizer = vCalAddress(f"mailto:{parseaddr(settings.DEFAULT_FROM_EMAIL)[1]}")
    organizer.params["cn"] = vText(settings.CLINIC_NAME)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{recipient.email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical()


def invite_attachment(message: EmailMessage) -> list[tuple[str, str, str]]:
    """The mail's invite.ics (core/mail.py calls this at send time): the appointment as it is
    now, for the mail's recipient; nothing when either is gone."""
    method = INVITE_TEMPLATES[message.template]
    appointment = (
        Appointment.objects.select_related("doctor__doctor_profile")
        .filter(pk=message.context.get("appointment_id"))
        .first()
    )
    recipient = User.objects.filter(pk=message.user_id).first()
    if appointment is None or recipient is None:
        return []
    body = invite_calendar(appointment=appointment, recipient=recipient, method=method)
    return [("invite.ics", body.decode(), f"text/calendar; method={method}")]


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

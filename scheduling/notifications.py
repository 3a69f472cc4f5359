"""Appointment mails, queued in the service's transaction (core/mail.py) and sent by a job:
in each recipient's language, times in the doctor's time zone.

No reason or notes text ever goes into a mail: only who, when and where. The context keeps
the times as ISO strings; `when_context` formats them when the mail is rendered, in its
language (registered for every appointment template in SchedulingConfig.ready()).
"""

from __future__ import annotations

import datetime
import uuid
import zoneinfo

from django.conf import settings
from django.utils import dateformat
from django.utils.translation import pgettext

from accounts.models import User
from core.mail import mail_queue_batch
from core.models import EmailMessage
from scheduling.models import Appointment

TEMPLATES = (
    "appointment_booked",
    "appointment_confirmed",
    "appointment_cancelled",
    "appointment_rescheduled",
    "appointment_reminder",
)


def _doctor_zone(appointment: Appointment) -> str:
    profile = getattr(appointment.doctor, "doctor_profile", None)
    return profile.timezone if profile else settings.TIME_ZONE


def _context(appointment: Appointment, recipient: User) -> dict:
    profile = getattr(appointment.doctor, "doctor_profile", None)
    return {
        "appointment_id": appointment.pk,
        "recipient_name": recipient.first_name or recipient.email,
        "doctor_name": appointment.doctor.get_full_name(),
        "patient_name": appointment.patient.get_full_name(),
        "location": profile.location if profile else "",
        "for_doctor": recipient.pk == appointment.doctor_id,
        "start": appointment.start.isoformat(),
        "end": appointment.end.isoformat(),
        "timezone": _doctor_zone(appointment),
    }


def when_context(message: EmailMessage) -> dict[str, str]:
    """The date and times of the mail's appointment, local to the doctor, in the language
    active while the mail renders."""
    zone = zoneinfo.ZoneInfo(message.context["timezone"])
    start = datetime.datetime.fromisoformat(message.context["start"]).astimezone(zone)
    end = datetime.datetime.fromisoformat(message.context["end"]).astimezone(zone)
    return {
        # The order and the words of the date are the language's ("martes 8 de diciembre").
        "date": dateformat.format(start, pgettext("date format in mails", "l d F Y")),
        "start_time": start.strftime("%H:%M"),
        "end_time": end.strftime("%H:%M"),
    }


def _queue(template: str, appointment: Appointment, recipients: list[User], key: str) -> None:
    """One INSERT and one job for the appointment's mails of this event."""
    mail_queue_batch(
        [
            {
                "template": template,
                "recipient": recipient.email,
                "user_id": recipient.pk,
                "language": recipient.language,
                "context": _context(appointment, recipient),
                "dedupe_key": f"appointment:{appointment.pk}:{key}:{recipient.pk}",
            }
            for recipient in recipients
        ]
    )


def notify_booked(appointment: Appointment) -> None:
    _queue("appointment_booked", appointment, [appointment.patient, appointment.doctor], "booked")


def notify_confirmed(appointment: Appointment) -> None:
    _queue("appointment_confirmed", appointment, [appointment.patient], "confirmed")


def notify_cancelled(appointment: Appointment, *, by: User | None) -> None:
    """The other party; both when staff, an admin or the system cancelled."""
    if by is not None and by.pk == appointment.patient_id:
        recipients = [appointment.doctor]
    elif by is not None and by.pk == appointment.doctor_id:
        recipients = [appointment.patient]
    else:
        recipients = [appointment.patient, appointment.doctor]
    _queue("appointment_cancelled", appointment, recipients, "cancelled")


def notify_rescheduled(appointment: Appointment) -> None:
    # An appointment may move several times: each move is its own mail.
    recipients = [appointment.patient, appointment.doctor]
    _queue("appointment_rescheduled", appointment, recipients, f"moved:{uuid.uuid4().hex}")


def queue_reminder(appointment: Appointment) -> None:
    """The reminder, once per claim (a reschedule clears the claim: a new one, a new mail)."""
    claim = f"{appointment.start.isoformat()}:{appointment.reminder_sent_at.isoformat()}"
    _queue("appointment_reminder", appointment, [appointment.patient], f"reminder:{claim}")

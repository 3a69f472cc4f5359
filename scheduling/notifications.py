"""Appointment emails: after commit, times in the doctor's timezone.

No reason or notes text ever goes into an email: only who, when and where.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings

from accounts.models import User
from core.emails import send_templated_email, send_templated_email_on_commit
from scheduling.models import Appointment


def _doctor_zone(appointment: Appointment) -> zoneinfo.ZoneInfo:
    profile = getattr(appointment.doctor, "doctor_profile", None)
    return zoneinfo.ZoneInfo(profile.timezone if profile else settings.TIME_ZONE)


def _when(appointment: Appointment) -> dict[str, str]:
    zone = _doctor_zone(appointment)
    start = appointment.start.astimezone(zone)
    end = appointment.end.astimezone(zone)
    return {
        "date": start.strftime("%A %d %B %Y"),
        "start_time": start.strftime("%H:%M"),
        "end_time": end.strftime("%H:%M"),
        "timezone": zone.key,
    }


def _context(appointment: Appointment, recipient: User) -> dict:
    profile = getattr(appointment.doctor, "doctor_profile", None)
    return {
        "appointment_id": appointment.pk,
        "recipient_name": recipient.first_name or recipient.email,
        "doctor_name": appointment.doctor.get_full_name(),
        "patient_name": appointment.patient.get_full_name(),
        "location": profile.location if profile else "",
        "status": appointment.get_status_display(),
        "for_doctor": recipient.pk == appointment.doctor_id,
        **_when(appointment),
    }


def _send(template: str, appointment: Appointment, recipients: list[User]) -> None:
    for recipient in recipients:
        send_templated_email_on_commit(
            template=template, to=[recipient.email], context=_context(appointment, recipient)
        )


def notify_booked(appointment: Appointment) -> None:
    _send("appointment_booked", appointment, [appointment.patient, appointment.doctor])


def notify_confirmed(appointment: Appointment) -> None:
    _send("appointment_confirmed", appointment, [appointment.patient])


def notify_cancelled(appointment: Appointment, *, by: User | None) -> None:
    """The other party; both when staff, an admin or the system cancelled."""
    if by is not None and by.pk == appointment.patient_id:
        recipients = [appointment.doctor]
    elif by is not None and by.pk == appointment.doctor_id:
        recipients = [appointment.patient]
    else:
        recipients = [appointment.patient, appointment.doctor]
    _send("appointment_cancelled", appointment, recipients)


def notify_rescheduled(appointment: Appointment) -> None:
    _send("appointment_rescheduled", appointment, [appointment.patient, appointment.doctor])


def send_reminder(appointment: Appointment) -> bool:
    """Send now (the reminder command claims first and releases when this returns False)."""
    return send_templated_email(
        template="appointment_reminder",
        to=[appointment.patient.email],
        context=_context(appointment, appointment.patient),
    )

"""The hand-written output serializers give exactly what DRF's field-by-field path gives."""

import datetime

import pytest
from rest_framework import serializers

from scheduling.models import Appointment
from scheduling.selectors import appointment_list_visible_to
from scheduling.serializers import AppointmentSerializer, AvailabilitySerializer
from tests.support.factories import (
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    DoctorFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def drf_rendering(serializer_class, instance) -> dict:
    """What DRF's own Serializer.to_representation makes of the declared fields."""
    return serializers.Serializer.to_representation(serializer_class(), instance)


def test_appointment_rows_render_as_drf_would(clinic_admin):
    CompletedAppointmentFactory(notes="Follow up in a month")
    cancelled = CancelledAppointmentFactory()
    cancelled.cancelled_by = cancelled.patient
    cancelled.save(update_fields=["cancelled_by"])
    PendingAppointmentFactory(rescheduled_from=TimeBlockFactory())
    # A doctor account without a profile: empty location, no timezone.
    profileless = UserFactory(role="doctor", first_name="", last_name="Solo")
    PendingAppointmentFactory(doctor=profileless, time_block__doctor=profileless)

    rows = list(appointment_list_visible_to(user=clinic_admin))
    assert len(rows) == 4
    for appointment in rows:
        fast = AppointmentSerializer(appointment).data
        assert list(fast.items()) == list(drf_rendering(AppointmentSerializer, appointment).items())
    assert {row.status for row in rows} == {
        Appointment.Status.COMPLETED,
        Appointment.Status.CANCELLED,
        Appointment.Status.PENDING,
    }


def test_datetimes_render_in_utc_with_z_and_microseconds(clinic_admin):
    appointment = PendingAppointmentFactory()
    Appointment.objects.filter(pk=appointment.pk).update(
        created_at=datetime.datetime(2030, 1, 31, 9, 0, 0, 123456, tzinfo=datetime.UTC)
    )
    data = AppointmentSerializer(appointment_list_visible_to(user=clinic_admin).get()).data
    assert data["created_at"] == "2030-01-31T09:00:00.123456Z"
    assert data["confirmed_at"] is None


def test_availability_rows_render_as_drf_would():
    block = TimeBlockFactory(doctor=DoctorFactory())
    assert AvailabilitySerializer(block).data == drf_rendering(AvailabilitySerializer, block)

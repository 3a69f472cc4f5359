"""The fast user and doctor serializers give what DRF's field-by-field path gives."""

import pytest
from django.core.files.base import ContentFile
from rest_framework import serializers

from accounts.serializers import SuspendedUserSerializer, UserSerializer
from scheduling.models import Review
from scheduling.selectors import doctor_list_public, doctor_profile_of
from scheduling.serializers import DoctorMeSerializer, DoctorSerializer
from tests.support.factories import (
    CompletedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    SuspendedPatientFactory,
)

pytestmark = pytest.mark.django_db


def drf_rendering(serializer_class, instance) -> dict:
    return serializers.Serializer.to_representation(serializer_class(), instance)


def test_directory_rows_render_as_drf_would():
    rated = DoctorFactory(last_name="Adams")
    visit = CompletedAppointmentFactory(doctor=rated, time_block__doctor=rated)
    Review.objects.create(appointment=visit, doctor=rated, author=visit.patient, rating=4)
    with_photo = DoctorFactory(last_name="Baker")
    with_photo.photo.save("ignored.jpg", ContentFile(b"not read here"), save=True)

    rows = list(doctor_list_public())
    assert [row.user_id for row in rows] == [rated.pk, with_photo.pk]
    for profile in rows:
        fast = DoctorSerializer(profile).data
        assert list(fast.items()) == list(drf_rendering(DoctorSerializer, profile).items())
    assert DoctorSerializer(rows[0]).data["rating_average"] == 4.0
    assert DoctorSerializer(rows[1]).data["photo_url"].startswith(f"/api/v1/users/{with_photo.pk}/")


def test_own_profile_renders_as_drf_would():
    doctor = DoctorFactory()
    profile = doctor_profile_of(user=doctor).get()
    fast = DoctorMeSerializer(profile).data
    assert list(fast.items()) == list(drf_rendering(DoctorMeSerializer, profile).items())
    assert fast["license_number"] == profile.license_number


def test_user_renders_as_drf_would():
    plain = PatientFactory(phone="+34600123456")
    with_photo = SuspendedPatientFactory(suspension_reason="Repeated no-shows")
    with_photo.photo.save("ignored.jpg", ContentFile(b"not read here"), save=True)
    for user in (plain, with_photo):
        user.refresh_from_db()
        fast = UserSerializer(user).data
        assert list(fast.items()) == list(drf_rendering(UserSerializer, user).items())
    suspended = UserSerializer(with_photo).data
    assert suspended["suspended_at"].endswith("Z")
    assert suspended["suspension_reason"] == "Repeated no-shows"
    assert suspended["photo_url"].startswith(f"/api/v1/users/{with_photo.pk}/")
    assert UserSerializer(plain).data["phone"] == "+34600123456"


def test_suspended_user_adds_the_active_appointment_count():
    user = SuspendedPatientFactory()
    serializer = SuspendedUserSerializer(user, context={"active_appointments": 3})
    drf = serializers.Serializer.to_representation(serializer, user)
    assert list(serializer.data.items()) == list(drf.items())
    assert serializer.data["active_appointments"] == 3

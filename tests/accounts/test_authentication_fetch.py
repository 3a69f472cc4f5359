"""JWT authentication's one statement (#25) returns the user the ORM would."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.authentication import _users_by_id
from accounts.models import User
from tests.support.clients import client_for
from tests.support.factories import DoctorFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _fields(user: User) -> dict:
    return {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}


def test_the_fetched_user_is_the_one_the_orm_returns():
    patient = PatientFactory(first_name="Ana", language="es", phone="+34 600")
    patient.last_login = timezone.now()
    patient.save()
    for user in (patient, DoctorFactory()):
        fetched = _users_by_id.objects.get(id=user.pk)
        expected = User.objects.get(pk=user.pk)
        assert _fields(fetched) == _fields(expected)
        assert type(fetched.date_joined) is type(expected.date_joined)
        assert fetched.date_joined.tzinfo is not None
        assert not fetched._state.adding
        assert fetched._state.db == "default"


def test_an_unknown_or_malformed_id_is_not_found():
    with pytest.raises(User.DoesNotExist):
        _users_by_id.objects.get(id=987654)
    with pytest.raises(User.DoesNotExist):
        _users_by_id.objects.get(id="x")


def test_a_deleted_user_is_401_and_an_inactive_one_too():
    patient = PatientFactory()
    client = client_for(patient)
    assert client.get("/api/v1/auth/me/").status_code == 200
    User.objects.filter(pk=patient.pk).update(is_active=False)
    assert client.get("/api/v1/auth/me/").status_code == 401
    User.objects.filter(pk=patient.pk).delete()
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_a_changed_password_revokes_the_token():
    patient = PatientFactory()
    client = client_for(patient)
    patient.set_password("another-password-9")
    patient.save()
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401

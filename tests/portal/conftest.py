import pytest
from django.test import Client

from tests.support.factories import DoctorFactory


@pytest.fixture
def web():
    """A browser-like client: sessions and cookies, CSRF not enforced (one test checks it)."""
    return Client()


@pytest.fixture
def patient_web(patient):
    client = Client()
    client.force_login(patient)
    return client


@pytest.fixture
def doctor_web(doctor):
    client = Client()
    client.force_login(doctor)
    return client


@pytest.fixture
def cardiologist(db):
    return DoctorFactory(
        first_name="Grace", last_name="Hopper", profile__specialties=["Cardiology"]
    )

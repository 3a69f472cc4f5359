"""Languages: the signed-in user's `language` wins, then the browser's, then English; error
messages and mails are translated, codes and field names never (docs/api-rules.md, Languages).
"""

from __future__ import annotations

import zoneinfo

import pytest
from django.core import mail
from django.utils import translation

from audit.models import AuditEvent
from core.exceptions import CANCELLATION_TOO_LATE, SLOT_TAKEN
from core.models import EmailMessage
from scheduling.models import Appointment
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL, appointment_url
from tests.support.clients import client_for
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db

ME_URL = "/api/v1/auth/me/"
REGISTER_URL = "/api/v1/auth/register/"

SLOT_TAKEN_EN = "This time block is already booked."
SLOT_TAKEN_ES = "Esta franja horaria ya está reservada."
UNKNOWN_BLOCK_ES = "Franja horaria desconocida."
# Written out here rather than asked of Django, so the test checks the words themselves.
WEEKDAYS_ES = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
MONTHS_ES = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


@pytest.fixture
def taken_block():
    """A block someone else already holds: booking it is 409 slot_taken."""
    return ConfirmedAppointmentFactory().time_block


def _book(client, block, **headers):
    return client.post(APPOINTMENTS_URL, {"time_block": block.pk}, format="json", **headers)


# ---------------------------------------------------------------------------
# The user's language: in the shape, set by PATCH auth/me/
# ---------------------------------------------------------------------------
def test_language_is_in_the_user_shape_and_empty_by_default(patient_client):
    response = patient_client.get(ME_URL)

    assert response.status_code == 200
    assert response.json()["language"] == ""


@pytest.mark.parametrize("language", ["es", "en", ""])
def test_patch_me_sets_the_language_and_records_the_change(patient, language):
    patient.language = "en" if language != "en" else "es"
    patient.save(update_fields=["language"])

    response = client_for(patient).patch(ME_URL, {"language": language}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["language"] == language
    patient.refresh_from_db()
    assert patient.language == language
    [event] = AuditEvent.objects.filter(action="user.updated", target_id=str(patient.pk))
    assert event.data == {"fields": ["language"]}


@pytest.mark.parametrize("language", ["fr", "es-AR", "ES", None, 1])
def test_patch_me_refuses_another_language(patient, patient_client, language):
    response = patient_client.patch(ME_URL, {"language": language}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"language"}
    patient.refresh_from_db()
    assert patient.language == ""


def test_an_admin_does_not_set_another_users_language(clinic_admin_client, patient):
    response = clinic_admin_client.patch(
        f"/api/v1/users/{patient.pk}/", {"language": "es"}, format="json"
    )

    assert response.status_code == 200  # an unknown field is ignored, as everywhere
    patient.refresh_from_db()
    assert patient.language == ""


# ---------------------------------------------------------------------------
# The language of a request
# ---------------------------------------------------------------------------
def test_accept_language_es_translates_a_409_detail_but_not_its_code(patient_client, taken_block):
    response = _book(patient_client, taken_block, HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")

    assert response.status_code == 409
    assert response.json() == {"detail": SLOT_TAKEN_ES, "code": SLOT_TAKEN}
    assert response["Content-Language"] == "es"


def test_english_is_the_default(patient_client, taken_block):
    response = _book(patient_client, taken_block)

    assert response.status_code == 409
    assert response.json() == {"detail": SLOT_TAKEN_EN, "code": SLOT_TAKEN}
    assert response["Content-Language"] == "en"


def test_an_unsupported_browser_language_falls_back_to_english(patient_client, taken_block):
    response = _book(patient_client, taken_block, HTTP_ACCEPT_LANGUAGE="fr-FR,de;q=0.8")

    assert response.json()["detail"] == SLOT_TAKEN_EN
    assert response["Content-Language"] == "en"


def test_a_spanish_user_on_an_english_browser_gets_spanish(taken_block):
    user = PatientFactory(language="es")

    response = _book(client_for(user), taken_block, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response.status_code == 409
    assert response.json() == {"detail": SLOT_TAKEN_ES, "code": SLOT_TAKEN}
    assert response["Content-Language"] == "es"


def test_an_english_user_on_a_spanish_browser_gets_english(taken_block):
    user = PatientFactory(language="en")

    response = _book(client_for(user), taken_block, HTTP_ACCEPT_LANGUAGE="es")

    assert response.json()["detail"] == SLOT_TAKEN_EN
    assert response["Content-Language"] == "en"


def test_a_user_without_a_language_follows_the_browser(patient_client, taken_block):
    response = _book(patient_client, taken_block, HTTP_ACCEPT_LANGUAGE="es")

    assert response.json()["detail"] == SLOT_TAKEN_ES


def test_the_language_cookie_comes_before_the_browser_and_after_the_user(taken_block, settings):
    no_language_user = client_for(PatientFactory())
    no_language_user.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    english_user = client_for(PatientFactory(language="en"))
    english_user.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    by_cookie = _book(no_language_user, taken_block, HTTP_ACCEPT_LANGUAGE="en")
    by_user = _book(english_user, taken_block, HTTP_ACCEPT_LANGUAGE="es")

    assert by_cookie.json()["detail"] == SLOT_TAKEN_ES
    assert by_user.json()["detail"] == SLOT_TAKEN_EN


def test_cancelling_inside_the_notice_window_is_explained_in_spanish(settings):
    settings.CANCELLATION_NOTICE_HOURS = 24 * 30  # every default block is inside it
    patient = PatientFactory(language="es")
    appointment = PendingAppointmentFactory(patient=patient)

    response = client_for(patient).post(appointment_url(appointment, "cancel"))

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Las citas no se pueden cancelar con menos de 720 horas de antelación; "
        "llame a la clínica, por favor.",
        "code": CANCELLATION_TOO_LATE,
    }


def test_a_400_in_spanish_keeps_its_field_names(patient_client):
    response = patient_client.post(
        APPOINTMENTS_URL, {"time_block": 2**40}, format="json", HTTP_ACCEPT_LANGUAGE="es"
    )

    assert response.status_code == 400
    assert response.json() == {"time_block": [UNKNOWN_BLOCK_ES]}


def test_framework_messages_are_spanish_too(anon_client):
    """DRF's and Django's own messages come from their catalogues (where a msgid is also
    ours, ours wins: LOCALE_PATHS comes first)."""
    response = anon_client.post(REGISTER_URL, {}, format="json", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 400
    body = response.json()
    assert {"email", "password", "first_name", "last_name"} <= set(body)
    assert body["email"] == ["Este campo es obligatorio."]


def test_a_401_and_a_404_in_spanish(anon_client):
    refused = anon_client.get(ME_URL, HTTP_ACCEPT_LANGUAGE="es")
    missing = anon_client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE="es")

    assert refused.status_code == 401
    assert refused.json()["detail"] == "Las credenciales de autenticación no se proveyeron."
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No encontrado."}


def test_a_users_language_does_not_leak_into_the_next_request(taken_block, anon_client, settings):
    spanish = client_for(PatientFactory(language="es"))
    english = client_for(PatientFactory())

    first = _book(spanish, taken_block)
    after_first = translation.get_language()
    # Answered before LocaleMiddleware picks a language: nothing of the last request's is left.
    early = anon_client.generic(
        "POST",
        REGISTER_URL,
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.MAX_JSON_BODY_BYTES + 1),
    )
    second = _book(english, taken_block)

    assert first.json()["detail"] == SLOT_TAKEN_ES
    assert after_first == settings.LANGUAGE_CODE
    assert early.status_code == 413
    assert early.json()["detail"].startswith("Request body too large")
    assert second.json()["detail"] == SLOT_TAKEN_EN
    assert second["Content-Language"] == "en"


# ---------------------------------------------------------------------------
# Mails in the recipient's language
# ---------------------------------------------------------------------------
def test_a_spanish_patients_booking_mails_them_in_spanish(django_capture_on_commit_callbacks):
    patient = PatientFactory(language="es", first_name="Lucía")
    doctor = DoctorFactory(first_name="Kenji", last_name="Sato", profile__timezone="Europe/Madrid")
    block = TimeBlockFactory(doctor=doctor)

    with django_capture_on_commit_callbacks(execute=True):
        response = _book(client_for(patient), block, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 201, response.content
    languages = dict(EmailMessage.objects.values_list("recipient", "language"))
    assert languages == {patient.email: "es", doctor.email: ""}
    [to_patient] = [m for m in mail.outbox if m.to == [patient.email]]
    [to_doctor] = [m for m in mail.outbox if m.to == [doctor.email]]

    local = Appointment.objects.get().start.astimezone(zoneinfo.ZoneInfo("Europe/Madrid"))
    date_es = (
        f"{WEEKDAYS_ES[local.weekday()]} {local.day} de {MONTHS_ES[local.month - 1]} "
        f"de {local.year}"
    )
    assert to_patient.subject == f"Cita solicitada: {date_es}, {local:%H:%M} (Europe/Madrid)"
    assert to_patient.body.startswith("Hola, Lucía:\n\nHemos recibido su solicitud de cita.")
    assert f"Cuándo:     {date_es}, {local:%H:%M}\u2013" in to_patient.body
    assert "Médico:     Kenji Sato" in to_patient.body
    [(html, _mimetype)] = to_patient.alternatives
    assert '<html lang="es">' in html
    assert "Hemos recibido su solicitud de cita." in html
    assert date_es in html

    # The doctor chose no language: the clinic's default, English.
    date_en = f"{local:%A} {local:%d} {local:%B} {local.year}"
    assert to_doctor.subject == f"Appointment requested: {date_en} {local:%H:%M} (Europe/Madrid)"
    assert to_doctor.body.startswith("Hello Kenji,\n\nA patient has booked an appointment")


def test_mails_are_rendered_in_their_own_language_whatever_the_request(
    django_capture_on_commit_callbacks,
):
    """A Spanish browser books for an English patient: the patient's mail stays English."""
    patient = PatientFactory(language="en")
    block = TimeBlockFactory()

    with django_capture_on_commit_callbacks(execute=True):
        response = _book(client_for(patient), block, HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 201
    [to_patient] = [m for m in mail.outbox if m.to == [patient.email]]
    assert to_patient.subject.startswith("Appointment requested: ")

"""DESIGN-R2 §R2-10's acceptance items (1)-(9), and the pages' access rules, headers and
query counts."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import Appointment
from scheduling.services import review_create, slot_hold_create
from tests.support.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    DoctorVisitTypeFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    TimeBlockFactory,
    VisitTypeFactory,
)

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = [
    "/portal/appointments/",
    "/portal/holds/",
    "/portal/profile/",
    "/portal/waitlist/",
]


# (1) -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [*SIGNED_IN_PAGES, "/portal/day/"])
def test_anonymous_is_sent_to_the_login_page(web, path):
    response = web.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/portal/login/?next={path}"


# (2) -------------------------------------------------------------------------------------
def test_ten_failed_api_logins_then_a_portal_login_is_429(web, patient):
    api = Client()
    for _ in range(10):
        failed = api.post(
            "/api/v1/auth/token/",
            {"email": patient.email, "password": "wrong"},
            content_type="application/json",
        )
        assert failed.status_code == 401
    response = web.post("/portal/login/", {"email": patient.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert response["Retry-After"]
    assert "_auth_user_id" not in web.session


def test_login_with_the_right_password_signs_in_and_is_audited(web, patient):
    response = web.post(
        "/portal/login/", {"email": patient.email.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 303
    assert response["Location"] == "/portal/appointments/"
    assert web.session["_auth_user_id"] == str(patient.pk)
    event = AuditEvent.objects.get(action="auth.login_succeeded")
    assert (event.actor_id, event.data) == (patient.pk, {"source": "portal"})


def test_a_wrong_password_is_one_message_and_audited(web, patient):
    response = web.post("/portal/login/", {"email": patient.email, "password": "nope"})
    assert response.status_code == 400
    assert b"No active account found with the given credentials." in response.content
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1


def test_login_goes_back_to_a_safe_next_only(web, patient):
    form = {"email": patient.email, "password": DEFAULT_PASSWORD}
    back = web.post("/portal/login/?next=/portal/doctors/", form)
    assert back["Location"] == "/portal/doctors/"
    other = Client().post("/portal/login/", {**form, "next": "https://evil.example/"})
    assert other["Location"] == "/portal/appointments/"


# (3) -------------------------------------------------------------------------------------
def test_a_post_without_csrf_token_is_403_and_changes_nothing(patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(patient)
    block = TimeBlockFactory()
    response = client.post("/portal/holds/", {"time_block": block.pk})
    assert response.status_code == 403
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"Reload the page and try again." in response.content
    assert not block.holds.exists()


# (4) -------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [StaffFactory, AdminFactory])
def test_staff_and_admins_go_to_the_console(web, factory):
    user = factory()
    login = web.post("/portal/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert (login.status_code, login["Location"]) == (303, "/admin/")
    page = web.get("/portal/appointments/")
    assert (page.status_code, page["Location"]) == (302, "/admin/")


def test_a_patient_may_not_open_the_doctors_day(patient_web):
    assert patient_web.get("/portal/day/").status_code == 403


# (5) -------------------------------------------------------------------------------------
def test_another_patients_appointment_is_404(patient_web):
    theirs = PendingAppointmentFactory(patient=PatientFactory())
    for path in (
        f"/portal/appointments/{theirs.pk}/",
        f"/portal/appointments/{theirs.pk}/reschedule/",
    ):
        response = patient_web.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "text/html; charset=utf-8"
    cancel = patient_web.post(f"/portal/appointments/{theirs.pk}/cancel/")
    assert cancel.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "pending"


def test_another_patients_hold_is_404(patient_web):
    someone = PatientFactory()
    hold = slot_hold_create(actor=someone, patient=someone, time_block=TimeBlockFactory())
    assert patient_web.get(f"/portal/holds/{hold.pk}/").status_code == 404
    assert patient_web.post(f"/portal/holds/{hold.pk}/").status_code == 404
    assert not Appointment.objects.exists()


def test_an_overlong_id_is_404_not_a_database_error(patient_web):
    assert patient_web.get("/portal/appointments/9999999999999999999999/").status_code == 404


# (6) is test_booking_path.test_doctor_page_shows_free_slots_and_hides_held_and_booked_ones.
# (7) is test_booking_path.test_the_same_form_posted_twice_books_once.


# (8) -------------------------------------------------------------------------------------
def test_every_portal_page_has_a_strict_csp(web, cardiologist):
    for path in ("/portal/", "/portal/doctors/", f"/portal/doctors/{cardiologist.pk}/"):
        response = web.get(path)
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        assert csp.startswith("default-src 'self'")
        assert "unsafe-inline" not in csp


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_signed_in_pages_are_never_stored(patient_web, path):
    response = patient_web.get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_pages_use_no_inline_script_or_style(patient_web, cardiologist):
    TimeBlockFactory(doctor=cardiologist)
    for path in ("/portal/", f"/portal/doctors/{cardiologist.pk}/", "/portal/profile/"):
        html = patient_web.get(path).content.decode()
        assert "<script>" not in html
        assert "style=" not in html
        assert "<style" not in html


# (9) -------------------------------------------------------------------------------------
def test_accept_language_es_gives_the_spanish_page(web):
    response = web.get("/portal/", HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="es">' in response.content.decode()
    assert "Buscar" in response.content.decode()


def test_the_users_own_language_wins_over_the_browsers(patient, patient_web):
    patient.language = "es"
    patient.save(update_fields=["language"])
    response = patient_web.get("/portal/appointments/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="es">' in response.content.decode()
    assert "Mis citas" in response.content.decode()


def test_an_api_409_in_spanish_keeps_its_code(patient_client, patient):
    start = timezone.now() + datetime.timedelta(hours=2)
    block = TimeBlockFactory(start=start, end=start + datetime.timedelta(minutes=30))
    appointment = PendingAppointmentFactory(patient=patient, time_block=block)
    response = patient_client.post(
        f"/api/v1/appointments/{appointment.pk}/cancel/", {}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "cancellation_too_late"
    assert "citas" in response.json()["detail"].lower()


def test_the_language_switch_keeps_a_signed_in_users_choice(patient, patient_web):
    response = patient_web.post("/portal/language/", {"language": "es", "next": "/portal/profile/"})
    assert (response.status_code, response["Location"]) == (303, "/portal/profile/")
    patient.refresh_from_db()
    assert patient.language == "es"
    assert "Perfil" in patient_web.get("/portal/profile/").content.decode()


# Records, audit and query counts ----------------------------------------------------------
def test_a_doctor_reading_an_appointment_records_the_patient_view(doctor, doctor_web):
    appointment = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor))
    assert doctor_web.get(f"/portal/appointments/{appointment.pk}/").status_code == 200
    viewed = AuditEvent.objects.get(action="patient_record.viewed")
    assert (viewed.actor_id, viewed.target_id) == (doctor.pk, str(appointment.patient_id))


def test_a_patient_reading_their_own_appointments_records_no_view(patient, patient_web):
    PendingAppointmentFactory(patient=patient)
    patient_web.get("/portal/appointments/")
    assert not AuditEvent.objects.filter(action="patient_record.viewed").exists()


def _appointments(patient, doctor, count):
    for _ in range(count):
        PendingAppointmentFactory(patient=patient, time_block=TimeBlockFactory(doctor=doctor))


def test_my_appointments_costs_the_same_queries_for_more_rows(
    patient, patient_web, django_assert_max_num_queries
):
    doctor = DoctorFactory()
    _appointments(patient, doctor, 2)
    with django_assert_max_num_queries(8) as few:
        patient_web.get("/portal/appointments/")
    _appointments(patient, DoctorFactory(), 6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = patient_web.get("/portal/appointments/")
    assert page.content.decode().count("/portal/appointments/") >= 8


def test_the_doctor_page_costs_the_same_queries_for_more_slots(
    web, cardiologist, django_assert_max_num_queries
):
    first = TimeBlockFactory(doctor=cardiologist)
    monday = timezone.localtime(first.start).date()
    monday -= datetime.timedelta(days=monday.weekday())
    url = f"/portal/doctors/{cardiologist.pk}/?week={monday.isoformat()}"
    with django_assert_max_num_queries(8) as few:
        web.get(url)
    for hour in range(1, 8):
        TimeBlockFactory(doctor=cardiologist, start=first.start + datetime.timedelta(hours=hour))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert web.get(url).status_code == 200


def test_the_doctor_page_costs_the_same_queries_for_more_visit_types_and_reviews(
    patient_web, cardiologist, django_assert_max_num_queries
):
    """The offered types are one query, the narrowed week one more (the slug); the reviews
    with the viewer's own votes one."""
    follow_up = VisitTypeFactory(slug="follow-up")
    DoctorVisitTypeFactory(doctor=cardiologist, visit_type=follow_up)
    first = TimeBlockFactory(doctor=cardiologist, visit_type=follow_up)
    url = f"/portal/doctors/{cardiologist.pk}/?visit_type=follow-up"
    with django_assert_max_num_queries(12) as few:
        assert patient_web.get(url).status_code == 200
    for hour in range(1, 6):
        offered = VisitTypeFactory()
        DoctorVisitTypeFactory(doctor=cardiologist, visit_type=offered)
        TimeBlockFactory(
            doctor=cardiologist,
            start=first.start + datetime.timedelta(hours=hour),
            visit_type=follow_up if hour % 2 else offered,
        )
        visit = CompletedAppointmentFactory(doctor=cardiologist)
        review_create(actor=visit.patient, appointment=visit, rating=hour)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = patient_web.get(url)
    assert page.content.count(b"/vote/") == 10  # five reviews, two votes each
    assert page.content.count(b'name="time_block"') == 4


def test_the_doctors_day_checks_in_and_completes(doctor, doctor_web):
    start = (timezone.now() - datetime.timedelta(minutes=10)).replace(second=0, microsecond=0)
    block = TimeBlockFactory(doctor=doctor, start=start, end=start + datetime.timedelta(hours=1))
    appointment = ConfirmedAppointmentFactory(time_block=block)
    day = timezone.localdate(start).isoformat()
    page = doctor_web.get("/portal/day/", {"date": day})
    assert b"Check in" in page.content
    for action in ("check-in", "start-visit", "complete"):
        done = doctor_web.post(
            f"/portal/day/{appointment.pk}/{action}/", {"date": day, "idempotency_key": action}
        )
        assert (done.status_code, done["Location"]) == (303, f"/portal/day/?date={day}")
    appointment.refresh_from_db()
    assert appointment.status == "completed"
    assert appointment.arrived_at is not None


def test_the_doctors_day_refuses_another_doctors_appointment(doctor_web):
    theirs = ConfirmedAppointmentFactory()
    assert doctor_web.post(f"/portal/day/{theirs.pk}/check-in/").status_code == 404


def test_home_redirects_from_the_site_root(web):
    response = web.get("/")
    assert (response.status_code, response["Location"]) == (302, "/portal/")
    home = web.get("/portal/")
    assert b'class="skip-link" href="#main"' in home.content
    assert b'<main id="main"' in home.content


def test_the_language_switch_names_each_language_in_itself(web):
    html = web.get("/portal/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert ">English</button>" in html
    assert ">Español</button>" in html

"""The other portal pages: sign-up, the mailed reset link, profile and language, the
waitlist's mailed offer, htmx fragments and bad input."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from scheduling.models import Appointment, WaitlistOffer
from scheduling.services import appointment_cancel, waitlist_entry_create
from tests.support.factories import (
    DEFAULT_PASSWORD,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-long-passphrase"


def test_register_creates_a_patient_and_signs_them_in(web):
    response = web.post(
        "/portal/register/",
        {
            "first_name": "Ada",
            "last_name": "Byron",
            "email": "Ada@Example.com",
            "phone": "",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    user = User.objects.get(email="ada@example.com")
    assert (user.role, user.first_name) == ("patient", "Ada")
    assert web.session["_auth_user_id"] == str(user.pk)


def test_register_ties_a_refused_field_to_its_input(web, patient):
    response = web.post(
        "/portal/register/",
        {"first_name": "A", "last_name": "B", "email": patient.email, "password": NEW_PASSWORD},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-describedby="id_email-error"' in html
    assert 'id="id_email-error"' in html
    assert "A user with this email already exists." in html


def test_the_mailed_reset_link_opens_the_portal_page_that_sets_the_password(
    web, patient, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_URL = "https://clinic.example/portal/password/reset/{uid}/{token}/"
    with django_capture_on_commit_callbacks(execute=True):
        asked = web.post("/portal/password/reset/", {"email": patient.email})
    assert (asked.status_code, asked["Location"]) == (303, "/portal/password/reset/sent/")
    (message,) = mail.outbox
    path = re.search(
        r"https://clinic\.example(/portal/password/reset/[^/\s]+/[^/\s]+/)", message.body
    )[1]
    page = web.get(path)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    patient.refresh_from_db()
    assert patient.check_password(DEFAULT_PASSWORD)  # a GET changes nothing
    done = web.post(path, {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (303, "/portal/login/?reset=1")
    patient.refresh_from_db()
    assert patient.check_password(NEW_PASSWORD)
    again = web.post(path, {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert again.status_code == 400


def test_profile_saves_names_phone_and_language(patient, patient_web):
    response = patient_web.post(
        "/portal/profile/",
        {"first_name": "Alan", "last_name": "Turing", "phone": "+34600111222", "language": "es"},
    )
    assert response.status_code == 303
    patient.refresh_from_db()
    assert (patient.first_name, patient.phone, patient.language) == ("Alan", "+34600111222", "es")
    assert AuditEvent.objects.filter(action="user.updated", actor_id=patient.pk).exists()


def test_a_bad_phone_is_400_and_changes_nothing(patient, patient_web):
    before = patient.phone
    response = patient_web.post(
        "/portal/profile/", {"first_name": "A", "last_name": "B", "phone": "12", "language": ""}
    )
    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.phone == before


def test_password_change_keeps_this_session(patient, patient_web):
    response = patient_web.post(
        "/portal/profile/password/",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    patient.refresh_from_db()
    assert patient.check_password(NEW_PASSWORD)
    assert patient_web.get("/portal/profile/").status_code == 200


def test_a_wrong_current_password_is_tied_to_its_field(patient_web):
    response = patient_web.post(
        "/portal/profile/password/",
        {
            "current_password": "wrong",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert 'id="id_current_password-error"' in response.content.decode()


def test_language_switch_for_anonymous_sets_the_cookie(web):
    response = web.post("/portal/language/", {"language": "es", "next": "https://evil.example/"})
    assert (response.status_code, response["Location"]) == (303, "/portal/")
    assert '<html lang="es">' in web.get("/portal/").content.decode()


def test_a_malformed_week_is_400(web):
    doctor = DoctorFactory()
    response = web.get(f"/portal/doctors/{doctor.pk}/", {"week": "next-tuesday"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"


def test_an_unknown_or_inactive_doctor_is_404(web):
    doctor = DoctorFactory(is_active=False)
    assert web.get(f"/portal/doctors/{doctor.pk}/").status_code == 404


def test_the_week_fragment_for_htmx_is_the_same_markup(web):
    block = TimeBlockFactory()
    monday = timezone.localtime(block.start).date()
    monday -= datetime.timedelta(days=monday.weekday())
    url = f"/portal/doctors/{block.doctor_id}/?week={monday.isoformat()}"
    fragment = web.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="week").content.decode()
    full = web.get(url).content.decode()
    assert fragment.strip().startswith('<section id="week"')
    assert f'value="{block.pk}"' in fragment
    assert "<html" not in fragment
    assert "<html" in full


def test_the_mailed_waitlist_offer_page_accepts(django_capture_on_commit_callbacks):
    doctor = DoctorFactory()
    block = TimeBlockFactory(doctor=doctor)
    booked = ConfirmedAppointmentFactory(time_block=block, patient=PatientFactory())
    waiting = PatientFactory()
    today = timezone.localdate()
    waitlist_entry_create(
        actor=waiting,
        patient=waiting,
        doctor=doctor,
        date_from=today,
        date_to=today + datetime.timedelta(days=30),
    )
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(actor=booked.patient, appointment=booked)
    offer = WaitlistOffer.objects.get(entry__patient=waiting)

    stranger = Client()
    stranger.force_login(PatientFactory())
    assert stranger.get(f"/portal/waitlist/offers/{offer.pk}/").status_code == 404

    client = Client()
    client.force_login(waiting)
    page = client.get(f"/portal/waitlist/offers/{offer.pk}/")
    assert page.status_code == 200
    assert b"Book this time" in page.content
    form = {"answer": "accept", "idempotency_key": "offer-1"}
    accepted = client.post(f"/portal/waitlist/offers/{offer.pk}/", form)
    assert accepted.status_code == 303
    appointment = Appointment.objects.get(patient=waiting)
    assert accepted["Location"] == f"/portal/appointments/{appointment.pk}/?booked=1"
    assert (
        client.post(f"/portal/waitlist/offers/{offer.pk}/", form)["Location"]
        == (accepted["Location"])
    )
    assert Appointment.objects.filter(patient=waiting).count() == 1
    listing = client.get("/portal/waitlist/")
    assert listing.status_code == 200


def test_the_email_change_page_is_a_portal_page(web):
    page = web.get("/portal/email/confirm/not-a-token/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    refused = web.post("/portal/email/confirm/not-a-token/")
    assert refused.status_code == 400


def test_sign_out_ends_the_session(patient_web):
    assert patient_web.post("/portal/logout/").status_code == 303
    assert patient_web.get("/portal/appointments/").status_code == 302


def test_a_patient_reviews_their_completed_visit_once(patient, patient_web):
    from tests.support.factories import CompletedAppointmentFactory

    visit = CompletedAppointmentFactory(patient=patient)
    page = patient_web.get(f"/portal/appointments/{visit.pk}/")
    assert b"How was your visit?" in page.content
    url = f"/portal/appointments/{visit.pk}/review/"
    sent = patient_web.post(url, {"rating": "4", "comment": "Kind", "idempotency_key": "r1"})
    assert sent.status_code == 303
    again = patient_web.post(url, {"rating": "5", "idempotency_key": "r2"})
    assert again.status_code == 409
    assert b"already been reviewed" in again.content
    assert visit.review.rating == 4


def test_a_patient_joins_a_doctors_waiting_list_from_the_doctor_page(patient, patient_web):
    doctor = DoctorFactory()
    page = patient_web.get(f"/portal/doctors/{doctor.pk}/")
    assert b"Join the waiting list" in page.content
    today = timezone.localdate()
    form = {
        "doctor": doctor.pk,
        "date_from": today.isoformat(),
        "date_to": (today + datetime.timedelta(days=30)).isoformat(),
        "idempotency_key": "w1",
    }
    joined = patient_web.post("/portal/waitlist/", form)
    assert (joined.status_code, joined["Location"]) == (303, "/portal/waitlist/")
    twice = patient_web.post("/portal/waitlist/", {**form, "idempotency_key": "w2"})
    assert twice.status_code == 409
    assert patient.waitlist_entries.count() == 1
    entry = patient.waitlist_entries.get()
    left = patient_web.post(f"/portal/waitlist/{entry.pk}/leave/", {"idempotency_key": "w3"})
    assert left.status_code == 303
    entry.refresh_from_db()
    assert entry.status == "cancelled"


def test_calendar_feeds_are_made_shown_once_and_revoked(patient, patient_web):
    made = patient_web.post("/portal/profile/feeds/", {"name": "Phone"})
    assert made.status_code == 201
    url = re.search(r'<code class="feed-url">([^<]+)</code>', made.content.decode())[1]
    assert url.endswith(".ics")
    feed = patient.calendar_feeds.get()
    assert (
        url.split("/")[-1].removesuffix(".ics")
        not in patient_web.get("/portal/profile/").content.decode()
    )
    revoked = patient_web.post(f"/portal/profile/feeds/{feed.pk}/revoke/")
    assert revoked.status_code == 303
    feed.refresh_from_db()
    assert feed.revoked_at is not None


def test_a_photo_upload_is_re_encoded_and_can_be_removed(patient, patient_web, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path / "media"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "teal").save(buffer, format="PNG")
    upload = SimpleUploadedFile("me.png", buffer.getvalue(), content_type="image/png")
    saved = patient_web.post("/portal/profile/photo/", {"photo": upload})
    assert saved.status_code == 303
    patient.refresh_from_db()
    assert patient.photo.name.endswith(".jpg")
    not_an_image = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    assert patient_web.post("/portal/profile/photo/", {"photo": not_an_image}).status_code == 400
    removed = patient_web.post("/portal/profile/photo/", {"remove": "1"})
    assert removed.status_code == 303
    patient.refresh_from_db()
    assert not patient.photo

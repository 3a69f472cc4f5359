"""The portal's remaining #24 gaps: a patient edits, deletes and votes on reviews; joins a
waiting list by specialty with a visit type, weekdays and a time range; the doctor's page
lists the visit types offered and narrows the week to one of them (docs/portal.md)."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import Review, ReviewVote, WaitlistEntry
from scheduling.services import review_create
from tests.support.factories import (
    CompletedAppointmentFactory,
    DoctorVisitTypeFactory,
    PatientFactory,
    TimeBlockFactory,
    VisitTypeFactory,
)

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def a_review(patient, doctor=None, rating=4, comment="Kind") -> Review:
    extra = {"doctor": doctor} if doctor is not None else {}
    visit = CompletedAppointmentFactory(patient=patient, **extra)
    return review_create(actor=patient, appointment=visit, rating=rating, comment=comment)


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- reviews: edit and delete ----------------------------------------------------------


def test_the_author_edits_their_review_from_the_appointment_page(patient, patient_web):
    review = a_review(patient)
    page = patient_web.get(f"/portal/appointments/{review.appointment_id}/")
    assert b'action="/portal/reviews/%d/edit/"' % review.pk in page.content
    assert b"Kind</textarea>" in page.content  # the form starts from the review

    url = f"/portal/reviews/{review.pk}/edit/"
    edited = patient_web.post(url, {"rating": "2", "comment": "Late", "idempotency_key": "e1"})
    assert edited.status_code == 303
    assert edited["Location"] == f"/portal/appointments/{review.appointment_id}/?reviewed=1"
    review.refresh_from_db()
    assert (review.rating, review.comment) == (2, "Late")
    assert events("review.updated") == 1
    again = patient_web.post(url, {"rating": "2", "comment": "Late", "idempotency_key": "e1"})
    assert (again.status_code, events("review.updated")) == (303, 1)  # a replay writes once
    shown = patient_web.get(edited["Location"])
    assert b"Your review is changed." in shown.content


def test_a_bad_rating_is_400_tied_to_its_field_and_changes_nothing(patient, patient_web):
    review = a_review(patient)
    answer = patient_web.post(
        f"/portal/reviews/{review.pk}/edit/", {"rating": "9", "idempotency_key": "e2"}
    )
    assert answer.status_code == 400
    assert b'aria-describedby="id_rating-error"' in answer.content
    assert b'id="id_rating-error"' in answer.content
    review.refresh_from_db()
    assert review.rating == 4
    assert events("review.updated") == 0


def test_after_seven_days_the_review_is_locked(patient, patient_web):
    review = a_review(patient)
    Review.objects.filter(pk=review.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=8)
    )
    page = patient_web.get(f"/portal/appointments/{review.appointment_id}/")
    assert b"/edit/" not in page.content
    assert b"Delete the review" not in page.content
    refused = patient_web.post(
        f"/portal/reviews/{review.pk}/edit/", {"rating": "1", "idempotency_key": "e3"}
    )
    assert refused.status_code == 409
    assert b"Reviews can be changed for 7 days after writing them." in refused.content
    deleted = patient_web.post(f"/portal/reviews/{review.pk}/delete/", {"idempotency_key": "d3"})
    assert deleted.status_code == 409
    review.refresh_from_db()
    assert review.rating == 4


def test_the_author_deletes_their_review_and_may_write_a_new_one(patient, patient_web):
    review = a_review(patient)
    voter = PatientFactory()
    ReviewVote.objects.create(review=review, voter=voter, value=1)
    url = f"/portal/reviews/{review.pk}/delete/"
    deleted = patient_web.post(url, {"idempotency_key": "d1"})
    assert deleted.status_code == 303
    assert not Review.objects.filter(pk=review.pk).exists()
    assert not ReviewVote.objects.exists()
    assert events("review.deleted") == 1
    replay = patient_web.post(url, {"idempotency_key": "d1"})
    assert replay.status_code in (303, 404)  # the key's answer, or the review is gone
    assert events("review.deleted") == 1
    page = patient_web.get(deleted["Location"])
    assert b"Your review is deleted." in page.content
    assert b"How was your visit?" in page.content


def test_another_patients_review_cannot_be_edited_or_deleted(patient_web):
    review = a_review(PatientFactory())
    edit = patient_web.post(f"/portal/reviews/{review.pk}/edit/", {"rating": "1"})
    delete = patient_web.post(f"/portal/reviews/{review.pk}/delete/")
    assert (edit.status_code, delete.status_code) == (404, 404)
    review.refresh_from_db()
    assert review.rating == 4
    assert events("review.updated") + events("review.deleted") == 0


def test_review_writes_need_a_signed_in_patient(web, doctor_web):
    review = a_review(PatientFactory())
    assert web.post(f"/portal/reviews/{review.pk}/delete/").status_code == 302
    assert doctor_web.post(f"/portal/reviews/{review.pk}/vote/", {"value": "1"}).status_code == 403
    assert Review.objects.filter(pk=review.pk).exists()


# --- reviews: votes ---------------------------------------------------------------------


def test_a_patient_votes_a_review_helpful_then_takes_it_back(patient, patient_web):
    review = a_review(PatientFactory(first_name="Ada"))
    doctor_page = f"/portal/doctors/{review.doctor_id}/"
    before = patient_web.get(doctor_page)
    assert b"0 people found this helpful" in before.content
    assert b'action="/portal/reviews/%d/vote/"' % review.pk in before.content

    url = f"/portal/reviews/{review.pk}/vote/"
    voted = patient_web.post(url, {"value": "1", "idempotency_key": "v1"})
    assert (voted.status_code, voted["Location"]) == (303, f"{doctor_page}#review-{review.pk}")
    assert ReviewVote.objects.get(review=review, voter=patient).value == 1
    assert AuditEvent.objects.get(action="review.voted").data == {"value": 1}
    after = patient_web.get(doctor_page)
    assert b"1 person found this helpful" in after.content
    assert b'aria-pressed="true">Helpful<' in after.content

    patient_web.post(url, {"value": "-1", "idempotency_key": "v2"})
    assert ReviewVote.objects.get(review=review, voter=patient).value == -1
    patient_web.post(url, {"value": "-1", "idempotency_key": "v3"})  # the same again: undone
    assert not ReviewVote.objects.filter(review=review, voter=patient).exists()


def test_a_patient_cannot_vote_on_their_own_review(patient, patient_web):
    review = a_review(patient)
    own_page = patient_web.get(f"/portal/doctors/{review.doctor_id}/")
    assert b"/vote/" not in own_page.content
    refused = patient_web.post(
        f"/portal/reviews/{review.pk}/vote/",
        {"value": "1", "idempotency_key": "v4"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert refused.status_code == 409
    assert "No puede votar su propia valoración.".encode() in refused.content
    assert not ReviewVote.objects.exists()


def test_bad_votes_and_hidden_reviews(patient_web):
    review = a_review(PatientFactory())
    url = f"/portal/reviews/{review.pk}/vote/"
    assert patient_web.post(url, {"value": "5"}).status_code == 400
    Review.objects.filter(pk=review.pk).update(hidden_at=timezone.now())
    assert patient_web.post(url, {"value": "1"}).status_code == 404
    assert patient_web.post("/portal/reviews/9999999/vote/", {"value": "1"}).status_code == 404
    assert not ReviewVote.objects.exists()


# --- the waitlist by specialty ------------------------------------------------------------


def join_form(**fields) -> dict:
    today = timezone.localdate()
    return {
        "specialty": "Cardiology",
        "date_from": today.isoformat(),
        "date_to": (today + datetime.timedelta(days=20)).isoformat(),
        **fields,
    }


def test_a_patient_waits_for_a_specialty_with_type_days_and_times(patient, patient_web):
    follow_up = VisitTypeFactory(name="Follow-up", slug="follow-up")
    page = patient_web.get("/portal/waitlist/")
    assert b"Wait for any doctor of a specialty" in page.content
    assert b'<label for="id_specialty">' in page.content
    assert b"<legend>Only on these days (optional)</legend>" in page.content

    form = join_form(
        visit_type="follow-up",
        weekdays=["0", "2"],
        time_from="09:00",
        time_to="12:30",
        idempotency_key="j1",
    )
    joined = patient_web.post("/portal/waitlist/", form)
    assert (joined.status_code, joined["Location"]) == (303, "/portal/waitlist/")
    entry = WaitlistEntry.objects.get(patient=patient)
    assert (entry.doctor, entry.specialty, entry.visit_type) == (None, "Cardiology", follow_up)
    assert entry.weekdays == [0, 2]
    assert (entry.time_from, entry.time_to) == (datetime.time(9), datetime.time(12, 30))
    assert events("waitlist_entry.created") == 1
    assert patient_web.post("/portal/waitlist/", form).status_code == 303  # replayed
    assert WaitlistEntry.objects.count() == 1

    listed = patient_web.get("/portal/waitlist/").content.decode()
    assert "Cardiology (Follow-up)" in listed
    assert "Monday, Wednesday" in listed


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"time_from": "12:00", "time_to": "09:00"}, "time_to", "The end time must be after"),
        ({"date_to": "2000-01-01"}, "date_to", "The end date must not be before"),
        ({"date_to": "not a date"}, "date_to", "Enter a valid date."),
        ({"visit_type": "no-such-type"}, "visit_type", "Select a valid choice."),
        ({"weekdays": ["7"]}, "weekdays", "Select a valid choice."),
    ],
)
def test_a_bad_waitlist_form_is_400_under_its_field(patient_web, fields, field, message):
    answer = patient_web.post("/portal/waitlist/", join_form(idempotency_key="j2", **fields))
    assert answer.status_code == 400
    body = answer.content.decode()
    assert f'id="id_{field}-error"' in body
    assert message in body
    assert not WaitlistEntry.objects.exists()


def test_no_doctor_and_no_specialty_is_400(patient_web):
    answer = patient_web.post("/portal/waitlist/", join_form(specialty="", idempotency_key="j3"))
    assert answer.status_code == 400
    assert b"Name either a doctor or a specialty, not both." in answer.content
    assert not WaitlistEntry.objects.exists()


def test_the_same_specialty_twice_and_the_cap_are_409_in_words(patient, patient_web, settings):
    assert patient_web.post("/portal/waitlist/", join_form(idempotency_key="a")).status_code == 303
    twice = patient_web.post(
        "/portal/waitlist/", join_form(specialty="cardiology", idempotency_key="b")
    )
    assert twice.status_code == 409
    assert b"You are already on this waitlist." in twice.content
    settings.WAITLIST_MAX_ACTIVE_PER_PATIENT = 1
    capped = patient_web.post(
        "/portal/waitlist/",
        join_form(specialty="Dermatology", idempotency_key="c"),
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert capped.status_code == 409
    assert "Como máximo 1 inscripciones".encode() in capped.content
    assert WaitlistEntry.objects.filter(patient=patient).count() == 1


def test_the_doctor_page_form_takes_the_optional_fields(patient, patient_web, cardiologist):
    follow_up = VisitTypeFactory(name="Follow-up", slug="follow-up")
    DoctorVisitTypeFactory(doctor=cardiologist, visit_type=follow_up)
    VisitTypeFactory(name="Surgery", slug="surgery")  # not offered by this doctor
    page = patient_web.get(f"/portal/doctors/{cardiologist.pk}/").content.decode()
    assert '<option value="follow-up">Follow-up</option>' in page
    assert 'value="surgery"' not in page
    form = join_form(specialty="", weekdays=["4"], idempotency_key="d1")
    joined = patient_web.post("/portal/waitlist/", {**form, "doctor": cardiologist.pk})
    assert joined.status_code == 303
    entry = WaitlistEntry.objects.get(patient=patient)
    assert (entry.doctor, entry.specialty, entry.weekdays) == (cardiologist, "", [4])
    refused = patient_web.post(
        "/portal/waitlist/", {**form, "doctor": cardiologist.pk, "idempotency_key": "d2"}
    )
    assert refused.status_code == 409  # the same doctor again: the form stays that doctor's
    assert f'name="doctor" value="{cardiologist.pk}"'.encode() in refused.content
    assert b"Waiting for Grace Hopper" in refused.content
    assert b'id="id_specialty"' not in refused.content


# --- the doctor's visit types --------------------------------------------------------------


def slot(block) -> str:
    return f'name="time_block" value="{block.pk}"'


def monday_of(moment: datetime.datetime) -> str:
    day = timezone.localtime(moment).date()
    return (day - datetime.timedelta(days=day.weekday())).isoformat()


def test_the_doctor_page_lists_the_offered_types_and_narrows_the_week(web, cardiologist):
    follow_up = VisitTypeFactory(name="Follow-up", slug="follow-up", duration_minutes=30)
    DoctorVisitTypeFactory(doctor=cardiologist, visit_type=follow_up)
    withdrawn = VisitTypeFactory(name="Old check", slug="old-check", active=False)
    DoctorVisitTypeFactory(doctor=cardiologist, visit_type=withdrawn)
    typed = TimeBlockFactory(doctor=cardiologist, visit_type=follow_up)
    general = TimeBlockFactory(doctor=cardiologist, start=typed.start + HOUR)
    url = f"/portal/doctors/{cardiologist.pk}/"

    page = web.get(url, {"week": monday_of(typed.start)}).content.decode()
    assert "Types of visit" in page
    assert "Follow-up</strong>\n              (30 minutes)" in page
    assert "Old check" not in page
    assert f'href="{url}?visit_type=follow-up"' in page
    assert slot(typed) in page
    assert slot(general) in page

    narrowed = web.get(url, {"visit_type": "follow-up"}).content.decode()
    assert slot(typed) in narrowed
    assert slot(general) not in narrowed
    assert 'aria-current="true"' in narrowed
    assert f'href="{url}">Show all free times' in narrowed
    assert "&amp;visit_type=follow-up" in narrowed  # the week links keep the type

    only_general = web.get(url, {"visit_type": "general", "week": monday_of(typed.start)})
    assert slot(general).encode() in only_general.content
    assert slot(typed).encode() not in only_general.content
    assert web.get(url, {"visit_type": "nope"}).status_code == 400
    assert web.get(url, {"visit_type": "old-check"}).status_code == 400


def test_a_doctor_without_types_shows_no_type_list(web, cardiologist):
    assert b"Types of visit" not in web.get(f"/portal/doctors/{cardiologist.pk}/").content

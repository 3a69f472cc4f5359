"""Reviews of completed visits, helpful votes and derived doctor ratings (docs/api-rules.md
Reviews and photos): permissions, shapes, rules, privacy, moderation in the admin and races.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.models import Avg
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from core.exceptions import (
    ALREADY_REVIEWED,
    NOT_COMPLETED,
    OWN_REVIEW,
    REVIEW_LOCKED,
)
from scheduling import services
from scheduling.models import Appointment, Review, ReviewVote
from tests.support.clients import client_for
from tests.support.factories import (
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    InactiveDoctorFactory,
    NoShowAppointmentFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    SuspendedDoctorFactory,
)
from tests.support.races import codes, race

API = "/api/v1"
REVIEW_FIELDS = {"id", "rating", "comment", "reviewer", "created_on", "helpful_count", "my_vote"}
UTC = datetime.UTC

pytestmark = pytest.mark.django_db


def create_url(appointment: Appointment | int) -> str:
    return f"{API}/appointments/{getattr(appointment, 'pk', appointment)}/review/"


def review_url(review: Review | int) -> str:
    return f"{API}/reviews/{getattr(review, 'pk', review)}/"


def vote_url(review: Review | int) -> str:
    return f"{review_url(review)}vote/"


def doctor_reviews_url(doctor_id: int) -> str:
    return f"{API}/doctors/{doctor_id}/reviews/"


def doctor_url(doctor_id: int) -> str:
    return f"{API}/doctors/{doctor_id}/"


def visit(patient, doctor, factory=CompletedAppointmentFactory) -> Appointment:
    """An appointment of `patient` with `doctor` in the factory's state."""
    return factory(patient=patient, time_block__doctor=doctor)


def make_review(
    appointment: Appointment | None = None,
    *,
    rating: int = 5,
    comment: str = "Kind and thorough.",
    hidden: bool = False,
    **visit_kwargs,
) -> Review:
    appointment = appointment or CompletedAppointmentFactory(**visit_kwargs)
    review = Review.objects.create(
        appointment=appointment,
        doctor_id=appointment.doctor_id,
        author_id=appointment.patient_id,
        rating=rating,
        comment=comment,
        hidden_at=timezone.now() if hidden else None,
    )
    return review


def vote(review: Review, value: int, voter=None) -> ReviewVote:
    return ReviewVote.objects.create(review=review, voter=voter or PatientFactory(), value=value)


def audit_rows(action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


# ---------------------------------------------------------------------------
# Permission matrix
# ---------------------------------------------------------------------------
@pytest.fixture
def world(patient, other_patient, doctor):
    """The objects the matrix points at: the patient's own unreviewed visit, another
    patient's unreviewed visit and another patient's review, all with `doctor`."""
    others_visit = visit(other_patient, doctor)
    return {
        "own_visit": create_url(visit(patient, doctor)),
        "others_visit": create_url(others_visit),
        "unknown_visit": create_url(999_999),
        "others_review": review_url(make_review(patient=other_patient, time_block__doctor=doctor)),
        "others_review_vote": vote_url(
            make_review(patient=other_patient, time_block__doctor=doctor)
        ),
        "unknown_review": review_url(999_999),
        "unknown_review_vote": vote_url(999_999),
        "doctor_reviews": doctor_reviews_url(doctor.pk),
        "unknown_doctor_reviews": doctor_reviews_url(999_999),
        "patient_as_doctor_reviews": doctor_reviews_url(patient.pk),
    }


BODIES = {"post": {"rating": 4, "value": 1}, "patch": {"rating": 3}}
MATRIX = [
    # writing a review: its patient only
    *[(role, "post", "own_visit", code) for role, code in [
        ("anon", 401), ("patient", 201), ("doctor", 403), ("staff", 403), ("admin", 403),
    ]],
    ("patient", "post", "others_visit", 404),
    ("patient", "post", "unknown_visit", 404),
    ("anon", "post", "unknown_visit", 401),
    ("doctor", "post", "unknown_visit", 403),
    # editing and deleting: its author only
    *[(role, method, "others_review", code) for method in ("patch", "delete") for role, code in [
        ("anon", 401), ("patient", 403), ("doctor", 403), ("staff", 403), ("admin", 403),
    ]],
    ("patient", "patch", "unknown_review", 404),
    ("patient", "delete", "unknown_review", 404),
    ("anon", "delete", "unknown_review", 401),
    ("patient", "get", "others_review", 405),
    ("patient", "put", "others_review", 405),
    # voting: patients
    *[(role, "post", "others_review_vote", code) for role, code in [
        ("anon", 401), ("patient", 200), ("doctor", 403), ("staff", 403), ("admin", 403),
    ]],
    ("patient", "post", "unknown_review_vote", 404),
    ("staff", "post", "unknown_review_vote", 403),
    # the public list
    *[(role, "get", "doctor_reviews", 200) for role in
      ("anon", "patient", "doctor", "staff", "admin")],
    ("anon", "get", "unknown_doctor_reviews", 404),
    ("patient", "get", "unknown_doctor_reviews", 404),
    ("anon", "get", "patient_as_doctor_reviews", 404),
    ("anon", "post", "doctor_reviews", 405),
]  # fmt: skip


@pytest.mark.parametrize(("role", "method", "endpoint", "expected"), MATRIX)
def test_reviews_permission_matrix(role_clients, world, role, method, endpoint, expected):
    client = role_clients[role]
    response = getattr(client, method)(world[endpoint], BODIES.get(method), format="json")
    assert response.status_code == expected, response.content
    if expected in (401, 403, 404, 405):
        assert "detail" in response.json()


def test_refused_writes_change_nothing(role_clients, world):
    before = (Review.objects.count(), ReviewVote.objects.count(), AuditEvent.objects.count())
    for role in ("anon", "doctor", "staff", "admin"):
        client = role_clients[role]
        client.post(world["own_visit"], {"rating": 5}, format="json")
        client.post(world["others_review_vote"], {"value": 1}, format="json")
        client.patch(world["others_review"], {"rating": 1}, format="json")
        client.delete(world["others_review"])
    role_clients["patient"].patch(world["others_review"], {"rating": 1}, format="json")
    role_clients["patient"].delete(world["others_review"])
    role_clients["patient"].post(world["others_visit"], {"rating": 1}, format="json")
    after = (Review.objects.count(), ReviewVote.objects.count())
    assert after == before[:2]
    assert not audit_rows("review.created")
    assert not audit_rows("review.updated")
    assert not audit_rows("review.deleted")


# ---------------------------------------------------------------------------
# Writing a review
# ---------------------------------------------------------------------------
def test_patient_reviews_a_completed_visit(patient, doctor):
    patient.first_name, patient.last_name = "Ann", "Smith"
    patient.save(update_fields=["first_name", "last_name"])
    appointment = visit(patient, doctor)

    with time_machine.travel(datetime.datetime(2031, 3, 4, 9, 30, tzinfo=UTC), tick=False):
        response = client_for(patient).post(
            create_url(appointment), {"rating": 4, "comment": "Listened well."}, format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == REVIEW_FIELDS
    review = Review.objects.get()
    assert body == {
        "id": review.pk,
        "rating": 4,
        "comment": "Listened well.",
        "reviewer": "Ann S.",
        "created_on": "2031-03-04",
        "helpful_count": 0,
        "my_vote": None,
    }
    assert (review.appointment_id, review.doctor_id, review.author_id) == (
        appointment.pk,
        doctor.pk,
        patient.pk,
    )
    assert review.hidden_at is None
    [event] = audit_rows("review.created")
    assert (event.actor_id, event.target_type, event.target_id) == (
        patient.pk,
        "review",
        str(review.pk),
    )
    assert event.data["appointment"] == appointment.pk
    assert "Listened well." not in json.dumps(event.data)  # ids only, never the words


def test_comment_is_optional_and_may_be_2000_characters(patient, patient_client, doctor):
    response = patient_client.post(create_url(visit(patient, doctor)), {"rating": 1}, format="json")
    assert response.status_code == 201
    assert response.json()["comment"] == ""

    long_comment = "x" * 2000
    response = patient_client.post(
        create_url(visit(patient, doctor)), {"rating": 2, "comment": long_comment}, format="json"
    )
    assert response.status_code == 201
    assert Review.objects.get(pk=response.json()["id"]).comment == long_comment


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"rating": "x"},
        {"rating": 4.5},
        {"rating": None},
        {},
        {"comment": "no rating"},
    ],
)
def test_rating_must_be_an_integer_from_1_to_5(patient, patient_client, doctor, body):
    response = patient_client.post(create_url(visit(patient, doctor)), body, format="json")
    assert response.status_code == 400
    assert "rating" in response.json()
    assert not Review.objects.exists()
    assert not audit_rows("review.created")


def test_comment_over_2000_characters_is_400(patient, patient_client, doctor):
    response = patient_client.post(
        create_url(visit(patient, doctor)), {"rating": 5, "comment": "x" * 2001}, format="json"
    )
    assert response.status_code == 400
    assert "comment" in response.json()
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "factory",
    [
        PendingAppointmentFactory,
        ConfirmedAppointmentFactory,
        CancelledAppointmentFactory,
        NoShowAppointmentFactory,
    ],
)
def test_only_completed_visits_can_be_reviewed(patient, patient_client, doctor, factory):
    appointment = visit(patient, doctor, factory)
    response = patient_client.post(create_url(appointment), {"rating": 5}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == NOT_COMPLETED
    assert set(response.json()) == {"detail", "code"}
    assert not Review.objects.exists()
    assert not audit_rows("review.created")


def test_bad_input_on_an_uncompleted_visit_is_400_before_409(patient, patient_client, doctor):
    appointment = visit(patient, doctor, PendingAppointmentFactory)
    response = patient_client.post(create_url(appointment), {"rating": 9}, format="json")
    assert response.status_code == 400


def test_a_visit_is_reviewed_only_once(patient, patient_client, doctor):
    appointment = visit(patient, doctor)
    first = patient_client.post(create_url(appointment), {"rating": 5}, format="json")
    assert first.status_code == 201

    second = patient_client.post(create_url(appointment), {"rating": 1}, format="json")

    assert second.status_code == 409
    assert second.json()["code"] == ALREADY_REVIEWED
    assert Review.objects.get().rating == 5
    assert len(audit_rows("review.created")) == 1


def test_a_deleted_review_can_be_written_again(patient, patient_client, doctor):
    appointment = visit(patient, doctor)
    first = patient_client.post(create_url(appointment), {"rating": 2}, format="json")
    assert patient_client.delete(review_url(first.json()["id"])).status_code == 204

    again = patient_client.post(create_url(appointment), {"rating": 4}, format="json")

    assert again.status_code == 201
    assert Review.objects.get().rating == 4


# ---------------------------------------------------------------------------
# The public list
# ---------------------------------------------------------------------------
def test_public_list_names_the_reviewer_by_first_name_and_last_initial(anon_client, doctor):
    author = PatientFactory(first_name="Marta", last_name="Kowalska", email="marta@example.com")
    appointment = visit(author, doctor)
    with time_machine.travel(datetime.datetime(2031, 5, 6, 23, 10, tzinfo=UTC), tick=False):
        review = make_review(appointment, rating=4, comment="Clear explanations.")

    response = anon_client.get(doctor_reviews_url(doctor.pk))

    payload = response.json()
    assert payload["count"] == 1
    assert payload["results"] == [
        {
            "id": review.pk,
            "rating": 4,
            "comment": "Clear explanations.",
            "reviewer": "Marta K.",
            "created_on": "2031-05-06",
            "helpful_count": 0,
            "my_vote": None,
        }
    ]


def test_public_list_never_reveals_the_patient_or_the_visit(patient_client, doctor):
    author = PatientFactory(first_name="Jo", last_name="Bloggs", email="jo.bloggs@example.com")
    appointment = visit(author, doctor)
    make_review(appointment, comment="Fine.")

    response = patient_client.get(doctor_reviews_url(doctor.pk))

    [item] = results(response)
    assert set(item) == REVIEW_FIELDS
    text = response.content.decode()
    assert "jo.bloggs@example.com" not in text
    assert "Bloggs" not in text
    for moment in (appointment.start, appointment.end):
        assert moment.date().isoformat() not in text
        assert moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") not in text
    for key in ("patient", "author", "appointment", "time_block", "start", "email", "doctor"):
        assert key not in item
    assert item["id"] == Review.objects.get().pk  # the only id, and the review's own


def test_public_list_excludes_hidden_reviews(anon_client, doctor):
    shown = make_review(time_block__doctor=doctor)
    make_review(time_block__doctor=doctor, hidden=True)
    make_review(time_block__doctor=DoctorFactory())  # another doctor's

    assert [r["id"] for r in results(anon_client.get(doctor_reviews_url(doctor.pk)))] == [shown.pk]


@pytest.fixture
def three_reviews(doctor):
    """Ratings 3, 5, 1 written on three consecutive days (oldest first)."""
    written = []
    for day, rating in ((1, 3), (2, 5), (3, 1)):
        moment = datetime.datetime(2031, 1, day, 12, tzinfo=UTC)
        with time_machine.travel(moment, tick=False):
            written.append(make_review(time_block__doctor=doctor, rating=rating))
    return written


@pytest.mark.parametrize(
    ("query", "expected_ratings"),
    [
        ("", [1, 5, 3]),  # newest first
        ("?ordering=-created_at", [1, 5, 3]),
        ("?ordering=rating", [1, 3, 5]),
        ("?ordering=-rating", [5, 3, 1]),
    ],
)
def test_public_list_ordering(anon_client, doctor, three_reviews, query, expected_ratings):
    items = results(anon_client.get(doctor_reviews_url(doctor.pk) + query))
    assert [r["rating"] for r in items] == expected_ratings


def test_equal_ratings_order_newest_first(anon_client, doctor):
    older = make_review(time_block__doctor=doctor, rating=4)
    newer = make_review(time_block__doctor=doctor, rating=4)
    Review.objects.filter(pk=older.pk).update(created_at=timezone.now() - datetime.timedelta(1))

    for ordering in ("rating", "-rating", "-created_at"):
        items = results(anon_client.get(doctor_reviews_url(doctor.pk) + f"?ordering={ordering}"))
        assert [r["id"] for r in items] == [newer.pk, older.pk]


@pytest.mark.parametrize("ordering", ["created_at", "comment", "id", "-helpful_count", ""])
def test_unknown_review_ordering_is_400(anon_client, doctor, ordering):
    response = anon_client.get(doctor_reviews_url(doctor.pk) + f"?ordering={ordering}")
    assert response.status_code == 400
    assert "ordering" in response.json()


@pytest.mark.parametrize("factory", [SuspendedDoctorFactory, InactiveDoctorFactory])
def test_reviews_of_a_hidden_doctor_are_404(anon_client, factory):
    gone = factory()
    make_review(time_block__doctor=gone)
    assert anon_client.get(doctor_reviews_url(gone.pk)).status_code == 404


def test_helpful_count_counts_up_votes_and_my_vote_is_the_callers(
    anon_client, patient, patient_client, doctor
):
    review = make_review(time_block__doctor=doctor)
    untouched = make_review(time_block__doctor=doctor)
    vote(review, 1)
    vote(review, 1)
    vote(review, -1)
    vote(review, -1, voter=patient)
    vote(untouched, 1)

    mine = {r["id"]: r for r in results(patient_client.get(doctor_reviews_url(doctor.pk)))}
    theirs = {r["id"]: r for r in results(anon_client.get(doctor_reviews_url(doctor.pk)))}

    assert mine[review.pk]["helpful_count"] == 2
    assert mine[review.pk]["my_vote"] == -1
    assert (mine[untouched.pk]["helpful_count"], mine[untouched.pk]["my_vote"]) == (1, None)
    assert theirs[review.pk]["helpful_count"] == 2
    assert theirs[review.pk]["my_vote"] is None


def test_list_is_paginated(anon_client, doctor):
    for _ in range(3):
        make_review(time_block__doctor=doctor)
    page = anon_client.get(doctor_reviews_url(doctor.pk) + "?page_size=2").json()
    assert (page["count"], len(page["results"])) == (3, 2)
    assert page["next"] is not None
    assert anon_client.get(doctor_reviews_url(doctor.pk) + "?page=9").status_code == 404


@pytest.mark.parametrize("role", ["anon", "patient"])
def test_public_list_queries_do_not_grow_with_the_page(role_clients, patient, doctor, role):
    for index in range(12):
        review = make_review(time_block__doctor=doctor, rating=index % 5 + 1)
        vote(review, 1)
        vote(review, -1, voter=patient)
    client = role_clients[role]

    counts = []
    for page_size in (1, 12):
        with CaptureQueriesContext(connection) as queries:
            items = results(client.get(doctor_reviews_url(doctor.pk) + f"?page_size={page_size}"))
        assert len(items) == page_size
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert counts[1] <= 4  # (the caller), the doctor, the count, the page


def test_public_list_query_budget(django_assert_max_num_queries, patient_client, doctor):
    for _ in range(5):
        make_review(time_block__doctor=doctor)
    with django_assert_max_num_queries(4):
        assert len(results(patient_client.get(doctor_reviews_url(doctor.pk)))) == 5


# ---------------------------------------------------------------------------
# Editing and deleting
# ---------------------------------------------------------------------------
WRITTEN = datetime.datetime(2031, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def own_review(patient, doctor):
    with time_machine.travel(WRITTEN, tick=False):
        return make_review(visit(patient, doctor), rating=3, comment="Okay.")


def test_author_edits_within_seven_days(patient, own_review):
    upvoter = PatientFactory()
    vote(own_review, 1, voter=upvoter)
    moment = WRITTEN + datetime.timedelta(days=7)
    with time_machine.travel(moment, tick=False):
        response = client_for(patient).patch(
            review_url(own_review), {"rating": 5, "comment": "Better than I said."}, format="json"
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == REVIEW_FIELDS
    assert body["rating"] == 5
    assert body["comment"] == "Better than I said."
    assert body["helpful_count"] == 1
    assert body["created_on"] == "2031-06-01"
    own_review.refresh_from_db()
    assert (own_review.rating, own_review.comment) == (5, "Better than I said.")
    assert own_review.updated_at == moment
    [event] = audit_rows("review.updated")
    assert (event.actor_id, event.target_type, event.target_id) == (
        patient.pk,
        "review",
        str(own_review.pk),
    )
    assert sorted(event.data["fields"]) == ["comment", "rating"]
    assert "Better" not in json.dumps(event.data)


def test_edit_records_only_the_changed_fields(patient, own_review):
    with time_machine.travel(WRITTEN + datetime.timedelta(days=1), tick=False):
        response = client_for(patient).patch(
            review_url(own_review), {"rating": 3, "comment": "Changed."}, format="json"
        )
        unchanged = client_for(patient).patch(review_url(own_review), {"rating": 3}, format="json")
    assert response.status_code == 200
    assert unchanged.status_code == 200
    [event] = audit_rows("review.updated")
    assert event.data["fields"] == ["comment"]


@pytest.mark.parametrize("body", [{"rating": 0}, {"rating": 6}, {"comment": "x" * 2001}])
def test_edit_with_bad_input_is_400(patient, own_review, body):
    with time_machine.travel(WRITTEN + datetime.timedelta(days=1), tick=False):
        response = client_for(patient).patch(review_url(own_review), body, format="json")
    assert response.status_code == 400
    own_review.refresh_from_db()
    assert (own_review.rating, own_review.comment) == (3, "Okay.")


def test_edit_after_seven_days_is_locked(patient, own_review):
    moment = WRITTEN + datetime.timedelta(days=7, seconds=1)
    with time_machine.travel(moment, tick=False):
        response = client_for(patient).patch(review_url(own_review), {"rating": 1}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == REVIEW_LOCKED
    own_review.refresh_from_db()
    assert own_review.rating == 3
    assert not audit_rows("review.updated")


def test_author_deletes_within_seven_days(patient, own_review):
    vote(own_review, 1)
    with time_machine.travel(WRITTEN + datetime.timedelta(days=6), tick=False):
        response = client_for(patient).delete(review_url(own_review))

    assert response.status_code == 204
    assert not Review.objects.filter(pk=own_review.pk).exists()
    assert not ReviewVote.objects.exists()
    [event] = audit_rows("review.deleted")
    assert (event.actor_id, event.target_type, event.target_id) == (
        patient.pk,
        "review",
        str(own_review.pk),
    )


def test_delete_after_seven_days_is_locked(patient, own_review):
    with time_machine.travel(WRITTEN + datetime.timedelta(days=30), tick=False):
        response = client_for(patient).delete(review_url(own_review))
    assert response.status_code == 409
    assert response.json()["code"] == REVIEW_LOCKED
    assert Review.objects.filter(pk=own_review.pk).exists()
    assert not audit_rows("review.deleted")


def test_author_may_edit_their_hidden_review_but_it_stays_hidden(
    anon_client, patient, doctor, own_review
):
    services.review_hide(actor=StaffFactory(), review=own_review)
    with time_machine.travel(WRITTEN + datetime.timedelta(days=1), tick=False):
        response = client_for(patient).patch(review_url(own_review), {"rating": 4}, format="json")
    assert response.status_code == 200
    assert response.json()["rating"] == 4
    assert Review.objects.get(pk=own_review.pk).hidden_at is not None
    assert results(anon_client.get(doctor_reviews_url(doctor.pk))) == []


# ---------------------------------------------------------------------------
# Helpful votes
# ---------------------------------------------------------------------------
@pytest.fixture
def others_review(other_patient, doctor):
    return make_review(visit(other_patient, doctor))


def test_vote_up_then_again_removes_it(patient, patient_client, others_review):
    first = patient_client.post(vote_url(others_review), {"value": 1}, format="json")
    assert first.status_code == 200
    assert first.json() == {"helpful_count": 1, "my_vote": 1}
    assert ReviewVote.objects.get().value == 1

    second = patient_client.post(vote_url(others_review), {"value": 1}, format="json")
    assert second.status_code == 200
    assert second.json() == {"helpful_count": 0, "my_vote": None}
    assert not ReviewVote.objects.exists()


def test_vote_switches_from_up_to_down_and_back(patient, patient_client, others_review):
    vote(others_review, 1)  # someone else's up vote
    assert patient_client.post(vote_url(others_review), {"value": 1}, format="json").json() == {
        "helpful_count": 2,
        "my_vote": 1,
    }
    down = patient_client.post(vote_url(others_review), {"value": -1}, format="json")
    assert down.json() == {"helpful_count": 1, "my_vote": -1}
    assert ReviewVote.objects.get(voter=patient).value == -1

    up = patient_client.post(vote_url(others_review), {"value": 1}, format="json")
    assert up.json() == {"helpful_count": 2, "my_vote": 1}
    assert ReviewVote.objects.filter(review=others_review).count() == 2


def test_down_vote_then_again_removes_it(patient_client, others_review):
    patient_client.post(vote_url(others_review), {"value": -1}, format="json")
    again = patient_client.post(vote_url(others_review), {"value": -1}, format="json")
    assert again.json() == {"helpful_count": 0, "my_vote": None}
    assert not ReviewVote.objects.exists()


@pytest.mark.parametrize("body", [{"value": 0}, {"value": 2}, {"value": -2}, {"value": "up"}, {}])
def test_vote_value_must_be_1_or_minus_1(patient_client, others_review, body):
    response = patient_client.post(vote_url(others_review), body, format="json")
    assert response.status_code == 400
    assert "value" in response.json()
    assert not ReviewVote.objects.exists()


def test_voting_on_your_own_review_is_409(patient_client, own_review):
    response = patient_client.post(vote_url(own_review), {"value": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == OWN_REVIEW
    assert not ReviewVote.objects.exists()


def test_bad_vote_on_your_own_review_is_400_before_409(patient_client, own_review):
    response = patient_client.post(vote_url(own_review), {"value": 0}, format="json")
    assert response.status_code == 400


def test_hidden_reviews_cannot_be_voted_on(patient_client, doctor):
    hidden = make_review(time_block__doctor=doctor, hidden=True)
    response = patient_client.post(vote_url(hidden), {"value": 1}, format="json")
    assert response.status_code == 404
    assert not ReviewVote.objects.exists()


def test_vote_shows_in_the_public_list(patient_client, others_review, doctor):
    patient_client.post(vote_url(others_review), {"value": 1}, format="json")
    [item] = results(patient_client.get(doctor_reviews_url(doctor.pk)))
    assert (item["helpful_count"], item["my_vote"]) == (1, 1)


def test_one_vote_per_voter_and_review_is_a_database_rule(patient, others_review):
    ReviewVote.objects.create(review=others_review, voter=patient, value=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewVote.objects.create(review=others_review, voter=patient, value=-1)
    assert ReviewVote.objects.count() == 1


def test_vote_value_is_a_database_rule(patient, others_review):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewVote.objects.create(review=others_review, voter=patient, value=2)


def test_rating_range_is_a_database_rule(patient, doctor):
    appointment = visit(patient, doctor)
    for rating in (0, 6):
        with pytest.raises(IntegrityError), transaction.atomic():
            Review.objects.create(
                appointment=appointment, doctor=doctor, author=patient, rating=rating
            )


def test_one_review_per_appointment_is_a_database_rule(patient, doctor):
    appointment = visit(patient, doctor)
    make_review(appointment)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_review(appointment)


# ---------------------------------------------------------------------------
# Derived ratings on doctors
# ---------------------------------------------------------------------------
def _doctor_item(client, doctor_id: int) -> dict:
    items = [d for d in results(client.get(f"{API}/doctors/")) if d["id"] == doctor_id]
    assert len(items) == 1
    return items[0]


def test_doctor_rating_is_the_average_rounded_to_two_decimals(anon_client, doctor):
    for rating in (5, 4, 4):
        make_review(time_block__doctor=doctor, rating=rating)

    detail = anon_client.get(doctor_url(doctor.pk)).json()
    listed = _doctor_item(anon_client, doctor.pk)

    for shape in (detail, listed):
        assert shape["rating_average"] == 4.33
        assert shape["rating_count"] == 3


def test_doctor_without_reviews_has_no_rating(anon_client, doctor):
    detail = anon_client.get(doctor_url(doctor.pk)).json()
    assert (detail["rating_average"], detail["rating_count"]) == (None, 0)
    listed = _doctor_item(anon_client, doctor.pk)
    assert (listed["rating_average"], listed["rating_count"]) == (None, 0)


def test_hidden_reviews_leave_the_average(anon_client, doctor):
    make_review(time_block__doctor=doctor, rating=5)
    make_review(time_block__doctor=doctor, rating=4)
    make_review(time_block__doctor=doctor, rating=1, hidden=True)

    detail = anon_client.get(doctor_url(doctor.pk)).json()
    assert (detail["rating_average"], detail["rating_count"]) == (4.5, 2)

    make_review(time_block__doctor=DoctorFactory(), rating=1)  # another doctor's
    only_hidden = DoctorFactory()
    make_review(time_block__doctor=only_hidden, rating=2, hidden=True)
    assert anon_client.get(doctor_url(doctor.pk)).json()["rating_average"] == 4.5
    gone = anon_client.get(doctor_url(only_hidden.pk)).json()
    assert (gone["rating_average"], gone["rating_count"]) == (None, 0)


def test_doctor_rating_follows_reviews_through_the_api(patient, patient_client, doctor):
    response = patient_client.post(create_url(visit(patient, doctor)), {"rating": 2}, format="json")
    assert patient_client.get(doctor_url(doctor.pk)).json()["rating_average"] == 2.0
    patient_client.patch(review_url(response.json()["id"]), {"rating": 5}, format="json")
    assert patient_client.get(doctor_url(doctor.pk)).json()["rating_average"] == 5.0
    patient_client.delete(review_url(response.json()["id"]))
    detail = patient_client.get(doctor_url(doctor.pk)).json()
    assert (detail["rating_average"], detail["rating_count"]) == (None, 0)


def test_own_profile_shows_the_rating(doctor, doctor_client):
    make_review(time_block__doctor=doctor, rating=3)
    make_review(time_block__doctor=doctor, rating=4)
    me = doctor_client.get(f"{API}/doctors/me/").json()
    assert (me["rating_average"], me["rating_count"]) == (3.5, 2)


def test_doctors_order_by_rating_with_unrated_last(anon_client):
    good = DoctorFactory(last_name="Zeta")
    fair = DoctorFactory(last_name="Alpha")
    unrated_b = DoctorFactory(last_name="Beta")
    unrated_a = DoctorFactory(last_name="Aardvark")
    hidden_only = DoctorFactory(last_name="Abbot")
    for rating in (5, 4):
        make_review(time_block__doctor=good, rating=rating)
    make_review(time_block__doctor=fair, rating=3)
    make_review(time_block__doctor=hidden_only, rating=5, hidden=True)

    items = results(anon_client.get(f"{API}/doctors/?ordering=-rating_average"))

    assert [d["id"] for d in items] == [
        good.pk,
        fair.pk,
        unrated_a.pk,
        hidden_only.pk,
        unrated_b.pk,
    ]
    assert [d["rating_average"] for d in items] == [4.5, 3.0, None, None, None]


def test_doctor_list_queries_do_not_grow_with_reviews(django_assert_max_num_queries, anon_client):
    for _ in range(5):
        doctor = DoctorFactory()
        for rating in (1, 5):
            make_review(time_block__doctor=doctor, rating=rating)
    with django_assert_max_num_queries(3):  # page, specialties, visit types
        items = results(anon_client.get(f"{API}/doctors/?ordering=-rating_average"))
    assert {d["rating_average"] for d in items} == {3.0}


# ---------------------------------------------------------------------------
# Staff moderation in the admin
# ---------------------------------------------------------------------------
REVIEWS_ADMIN = reverse("admin:scheduling_review_changelist")


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_front_desk_hides_a_review_in_the_admin(anon_client, staff, doctor):
    kept = make_review(time_block__doctor=doctor, rating=5)
    unfair = make_review(time_block__doctor=doctor, rating=1, comment="Rude!!!")
    assert anon_client.get(doctor_url(doctor.pk)).json()["rating_average"] == 3.0

    response = console(staff).post(
        REVIEWS_ADMIN, {"action": "hide", "_selected_action": [unfair.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "1 review(s) hidden." in [str(m) for m in response.context["messages"]]
    unfair.refresh_from_db()
    assert unfair.hidden_at is not None
    assert [r["id"] for r in results(anon_client.get(doctor_reviews_url(doctor.pk)))] == [kept.pk]
    detail = anon_client.get(doctor_url(doctor.pk)).json()
    assert (detail["rating_average"], detail["rating_count"]) == (5.0, 1)
    [event] = audit_rows("review.hidden")
    assert (event.actor_id, event.actor_role, event.target_type, event.target_id) == (
        staff.pk,
        "staff",
        "review",
        str(unfair.pk),
    )


def test_hiding_twice_records_one_event_and_unhide_restores(anon_client, staff, doctor):
    review = make_review(time_block__doctor=doctor, rating=2)
    client = console(staff)
    for _ in range(2):
        client.post(REVIEWS_ADMIN, {"action": "hide", "_selected_action": [review.pk]})
    assert len(audit_rows("review.hidden")) == 1

    client.post(REVIEWS_ADMIN, {"action": "unhide", "_selected_action": [review.pk]})

    review.refresh_from_db()
    assert review.hidden_at is None
    assert [r["id"] for r in results(anon_client.get(doctor_reviews_url(doctor.pk)))] == [review.pk]
    assert len(audit_rows("review.unhidden", actor_id=staff.pk)) == 1


def test_review_admin_lists_filters_and_searches(staff, doctor):
    author = PatientFactory(last_name="Quixote")
    make_review(time_block__doctor=doctor, patient=author, rating=2, comment="Long wait.")
    make_review(time_block__doctor=doctor, rating=5, hidden=True)
    client = console(staff)

    def listed(query: str = "") -> int:
        response = client.get(REVIEWS_ADMIN + query)
        assert response.status_code == 200
        return response.context["cl"].result_count

    assert listed() == 2
    assert listed("?hidden=yes") == 1
    assert listed("?hidden=no") == 1
    assert listed("?rating=2") == 1
    assert listed("?q=Quixote") == 1
    assert listed("?q=wait") == 1
    with CaptureQueriesContext(connection) as few:
        listed()
    for _ in range(5):
        make_review(time_block__doctor=doctor)
    with CaptureQueriesContext(connection) as many:
        listed()
    assert len(many) == len(few)  # list_select_related: no query per row


def test_staff_cannot_add_delete_or_edit_reviews_in_the_admin(staff, doctor):
    review = make_review(time_block__doctor=doctor, rating=2, comment="Original words.")
    client = console(staff)
    change = reverse("admin:scheduling_review_change", args=[review.pk])

    assert client.get(reverse("admin:scheduling_review_add")).status_code == 403
    assert (
        client.get(reverse("admin:scheduling_review_delete", args=[review.pk])).status_code == 403
    )
    page = client.get(change)
    assert page.status_code == 200
    assert "comment" not in page.context["adminform"].form.fields
    client.post(change, {"comment": "Edited by staff", "rating": 5})
    client.post(REVIEWS_ADMIN, {"action": "delete_selected", "_selected_action": [review.pk]})

    review.refresh_from_db()
    assert (review.comment, review.rating) == ("Original words.", 2)
    actions = client.get(REVIEWS_ADMIN).context["action_form"].fields["action"].choices
    assert {name for name, _ in actions if name} == {"hide", "unhide"}


# ---------------------------------------------------------------------------
# Races (PostgreSQL)
# ---------------------------------------------------------------------------


def _post(client, url: str, data: dict) -> Callable[[], object]:
    return lambda: client.post(url, data, format="json")


def _patch(client, url: str, data: dict) -> Callable[[], object]:
    return lambda: client.patch(url, data, format="json")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_patients_reviewing_one_doctor_at_once_keep_the_rating_exact():
    doctor = DoctorFactory()
    ratings = [5, 4, 4, 3, 1, 2, 5, 5]
    visits = [visit(PatientFactory(), doctor) for _ in ratings]

    outcomes = race(
        *(
            _post(client_for(v.patient), create_url(v), {"rating": rating})
            for v, rating in zip(visits, ratings, strict=True)
        )
    )

    assert codes(outcomes) == {(201, None): len(ratings)}
    stored = Review.objects.filter(doctor=doctor, hidden_at__isnull=True)
    average = stored.aggregate(value=Avg("rating"))["value"]
    detail = client_for(None).get(doctor_url(doctor.pk)).json()
    assert detail["rating_count"] == stored.count() == len(ratings)
    assert detail["rating_average"] == float(round(Decimal(average), 2))
    assert detail["rating_average"] == round(sum(ratings) / len(ratings), 2)
    assert len(audit_rows("review.created")) == len(ratings)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_visit_reviewed_twice_at_once_yields_one_review():
    patient = PatientFactory()
    appointment = visit(patient, DoctorFactory())
    clients = [client_for(patient), client_for(patient)]

    outcomes = race(*(_post(c, create_url(appointment), {"rating": 4}) for c in clients))

    assert codes(outcomes) == {(201, None): 1, (409, ALREADY_REVIEWED): 1}
    assert Review.objects.filter(appointment=appointment).count() == 1
    assert len(audit_rows("review.created")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("values", [(1, -1), (1, 1), (-1, -1)])
def test_one_voter_voting_twice_at_once_keeps_at_most_one_vote(values):
    review = make_review()
    voter = PatientFactory()
    clients = [client_for(voter), client_for(voter)]

    outcomes = race(
        *(_post(c, vote_url(review), {"value": v}) for c, v in zip(clients, values, strict=True))
    )

    assert [status for status, _ in outcomes] == [200, 200]
    rows = list(ReviewVote.objects.filter(review=review, voter=voter))
    if values[0] != values[1]:
        assert len(rows) == 1  # whichever order they ran in, one vote is left
    else:
        assert len(rows) <= 1  # added once, and possibly toggled off again: never two rows
    # Each answer reported a state that really existed, and the final one is in the DB.
    final = rows[0].value if rows else None
    assert final in {body["my_vote"] for _, body in outcomes}


def _delete(client, url: str) -> Callable[[], object]:
    def call():
        response = client.delete(url)
        # A 204 has no body: give race() an empty one.
        response.json = (lambda: {}) if response.status_code == 204 else response.json
        return response

    return call


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_author_deleting_twice_at_once_gets_one_204_and_one_404():
    review = make_review()
    author = review.author
    clients = [client_for(author), client_for(author)]

    outcomes = race(*(_delete(c, review_url(review)) for c in clients))

    assert sorted(status for status, _ in outcomes) == [204, 404]
    assert not Review.objects.exists()
    assert len(audit_rows("review.deleted")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_editing_while_deleting_never_fails_with_500():
    review = make_review()
    author = review.author

    outcomes = race(
        _delete(client_for(author), review_url(review)),
        _patch(client_for(author), review_url(review), {"rating": 1}),
    )

    statuses = dict(zip(("delete", "patch"), (status for status, _ in outcomes), strict=True))
    assert statuses["delete"] == 204
    assert statuses["patch"] in (200, 404)
    assert not Review.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_voting_while_the_author_deletes_leaves_no_orphan_vote():
    review = make_review()
    voters = PatientFactory.create_batch(4)

    outcomes = race(
        _delete(client_for(review.author), review_url(review)),
        *(_post(client_for(v), vote_url(review), {"value": 1}) for v in voters),
    )

    assert outcomes[0][0] == 204
    for status, body in outcomes[1:]:
        # Either the vote landed before the delete (and went with it), or the review was gone.
        assert status in (200, 404), body
    assert not Review.objects.exists()
    assert not ReviewVote.objects.exists()

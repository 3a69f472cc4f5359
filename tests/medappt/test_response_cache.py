"""The short, version-keyed cache of the public reads (core/response_cache.py): the doctor
directory and availability are served from the cache until a write changes what they show,
which invalidates them as soon as it commits.

A test's transaction never commits: writes run inside django_capture_on_commit_callbacks
(execute=True), which runs what a commit would run when the block ends.
"""

from __future__ import annotations

import datetime
import io
import logging

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from core import response_cache
from scheduling import seeding, services
from scheduling.models import Review, TimeBlock
from tests.accounts.helpers import DOCTOR_ME_URL, DOCTORS_URL, doctor_url
from tests.accounts.test_queries import DOCTORS_LIST_QUERIES
from tests.support.clients import client_for
from tests.support.factories import (
    CompletedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    TimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
APPOINTMENTS_URL = f"{API}/appointments/"
TIME_BLOCKS_URL = f"{API}/time-blocks/"
# Public doctor check and the page; a page that is not full tells the count (core.pagination).
AVAILABILITY_QUERIES = 2
# The directory when one page holds it: the page alone.
SHORT_DOCTORS_LIST_QUERIES = DOCTORS_LIST_QUERIES - 1
# Nothing listens on port 1: connecting fails at once, a real broken backend.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def availability_url(doctor_id: int | str) -> str:
    return f"{API}/doctors/{doctor_id}/availability/"


def z(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def cached_reads(client, url: str, assert_num_queries, warm_queries: int = 0, **params):
    """Read twice; the second read is answered from the cache. Returns the second response."""
    first = client.get(url, params)
    with assert_num_queries(warm_queries):
        second = client.get(url, params)
    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    return second


def bumps(callbacks: list) -> list:
    """The invalidations among the on-commit callbacks."""
    return [c for c in callbacks if getattr(c, "func", None) is response_cache._bump_now]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block's writes as if its transaction committed when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# ---------------------------------------------------------------------------
# Served from the cache
# ---------------------------------------------------------------------------
def test_a_second_directory_read_is_served_from_the_cache(
    public_cache, anon_client, django_assert_num_queries, django_assert_max_num_queries
):
    DoctorFactory.create_batch(3)

    with django_assert_max_num_queries(DOCTORS_LIST_QUERIES):  # the cold read costs no more
        cold = anon_client.get(DOCTORS_URL)
    with django_assert_num_queries(0):
        warm = anon_client.get(DOCTORS_URL)

    assert warm.status_code == 200
    assert warm.json() == cold.json()
    assert warm.json()["count"] == 3


def test_a_second_doctor_detail_read_is_served_from_the_cache(
    public_cache, anon_client, doctor, django_assert_num_queries
):
    response = cached_reads(anon_client, doctor_url(doctor), django_assert_num_queries)
    assert response.json()["id"] == doctor.pk


def test_a_second_availability_read_is_served_from_the_cache(
    public_cache, anon_client, doctor, django_assert_num_queries, django_assert_max_num_queries
):
    block = TimeBlockFactory(doctor=doctor)

    with django_assert_max_num_queries(AVAILABILITY_QUERIES):
        cold = anon_client.get(availability_url(doctor.pk))
    with django_assert_num_queries(0):
        warm = anon_client.get(availability_url(doctor.pk))

    assert warm.json() == cold.json()
    assert ids(warm) == [block.pk]


@pytest.mark.parametrize("role", ["patient", "doctor", "staff", "admin"])
def test_every_role_shares_the_anonymous_answer_paying_only_for_authentication(
    public_cache, role, role_clients, doctor, django_assert_num_queries
):
    TimeBlockFactory(doctor=doctor)
    for url in (DOCTORS_URL, doctor_url(doctor), availability_url(doctor.pk)):
        anonymous = role_clients["anon"].get(url)
        with django_assert_num_queries(1):  # the token's user: then the cached answer
            authenticated = role_clients[role].get(url)
        assert authenticated.status_code == 200
        assert authenticated.json() == anonymous.json()


def test_different_query_strings_are_cached_apart(public_cache, anon_client):
    DoctorFactory(last_name="Alpha")
    DoctorFactory(last_name="Beta")

    first = anon_client.get(DOCTORS_URL, {"ordering": "last_name"}).json()["results"]
    reverse = anon_client.get(DOCTORS_URL, {"ordering": "-last_name"}).json()["results"]

    assert [d["last_name"] for d in first] == ["Alpha", "Beta"]
    assert [d["last_name"] for d in reverse] == ["Beta", "Alpha"]


def test_pagination_links_follow_the_host_asked(public_cache, anon_client, doctor):
    for start in range(3):
        TimeBlockFactory(doctor=doctor, start=in_days(3 + start))
    params = {"page_size": 1}

    local = anon_client.get(availability_url(doctor.pk), params, HTTP_HOST="localhost")
    loopback = anon_client.get(availability_url(doctor.pk), params, HTTP_HOST="127.0.0.1")

    assert local.json()["next"].startswith("http://localhost/")
    assert loopback.json()["next"].startswith("http://127.0.0.1/")


def test_head_requests_are_answered_but_not_cached(
    public_cache, anon_client, doctor, django_assert_num_queries
):
    TimeBlockFactory(doctor=doctor)
    assert anon_client.head(availability_url(doctor.pk)).status_code == 200
    with django_assert_num_queries(AVAILABILITY_QUERIES):
        assert anon_client.get(availability_url(doctor.pk)).status_code == 200


# ---------------------------------------------------------------------------
# Every write that changes what they show is seen by the next read
# ---------------------------------------------------------------------------
def test_a_booking_through_the_api_takes_the_block_out_of_availability(
    public_cache, committed, anon_client, patient_client, doctor
):
    taken, free = TimeBlockFactory(doctor=doctor), TimeBlockFactory(doctor=doctor)
    assert ids(anon_client.get(availability_url(doctor.pk))) == [taken.pk, free.pk]

    with committed():
        booked = patient_client.post(APPOINTMENTS_URL, {"time_block": taken.pk})
    assert booked.status_code == 201, booked.content

    assert ids(anon_client.get(availability_url(doctor.pk))) == [free.pk]


def test_the_invalidation_waits_for_the_commit(
    public_cache, django_capture_on_commit_callbacks, anon_client, patient_client, doctor
):
    block = TimeBlockFactory(doctor=doctor)
    assert ids(anon_client.get(availability_url(doctor.pk))) == [block.pk]

    with django_capture_on_commit_callbacks(execute=True):
        assert patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}).status_code == 201
        # Not committed yet: another connection would still see the block free.
        assert ids(anon_client.get(availability_url(doctor.pk))) == [block.pk]

    assert ids(anon_client.get(availability_url(doctor.pk))) == []


def test_a_failed_booking_invalidates_nothing(
    public_cache, committed, anon_client, patient_client, doctor, django_assert_num_queries
):
    past = TimeBlockFactory(doctor=doctor, start=timezone.now() + datetime.timedelta(minutes=5))
    cached_reads(anon_client, availability_url(doctor.pk), django_assert_num_queries)

    with committed() as callbacks:
        refused = patient_client.post(APPOINTMENTS_URL, {"time_block": past.pk})
    assert refused.status_code == 409

    assert bumps(callbacks) == []
    with django_assert_num_queries(0):
        anon_client.get(availability_url(doctor.pk))


def test_a_new_block_appears_in_availability_at_once(
    public_cache, committed, anon_client, doctor, doctor_client
):
    assert ids(anon_client.get(availability_url(doctor.pk))) == []
    start = in_days(4)

    with committed():
        created = doctor_client.post(
            TIME_BLOCKS_URL, {"start": z(start), "end": z(start + datetime.timedelta(hours=1))}
        )
    assert created.status_code == 201, created.content

    assert ids(anon_client.get(availability_url(doctor.pk))) == [created.json()["id"]]


def test_a_cancellation_frees_the_block_at_once(
    public_cache, committed, anon_client, patient, patient_client, doctor
):
    appointment = PendingAppointmentFactory(patient=patient, time_block__doctor=doctor)
    assert ids(anon_client.get(availability_url(doctor.pk))) == []

    with committed():
        cancelled = patient_client.post(f"{APPOINTMENTS_URL}{appointment.pk}/cancel/", {})
    assert cancelled.status_code == 200, cancelled.content

    assert ids(anon_client.get(availability_url(doctor.pk))) == [appointment.time_block_id]


def test_a_withdrawn_block_leaves_availability_at_once(
    public_cache, committed, anon_client, doctor, doctor_client
):
    block = TimeBlockFactory(doctor=doctor)
    assert ids(anon_client.get(availability_url(doctor.pk))) == [block.pk]

    with committed():
        assert doctor_client.delete(f"{TIME_BLOCKS_URL}{block.pk}/").status_code == 204

    assert ids(anon_client.get(availability_url(doctor.pk))) == []


def test_a_doctor_id_written_with_leading_zeros_is_invalidated_too(
    public_cache, committed, anon_client, patient_client, doctor
):
    block = TimeBlockFactory(doctor=doctor)
    padded = availability_url(f"00{doctor.pk}")
    assert ids(anon_client.get(padded)) == [block.pk]

    with committed():
        assert patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}).status_code == 201

    assert ids(anon_client.get(padded)) == []


def test_a_booking_updates_the_directory_filtered_by_free_blocks(
    public_cache, committed, anon_client, patient_client, doctor
):
    block = TimeBlockFactory(doctor=doctor)
    params = {"available_from": z(timezone.now())}
    assert ids(anon_client.get(DOCTORS_URL, params)) == [doctor.pk]

    with committed():
        assert patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}).status_code == 201

    assert ids(anon_client.get(DOCTORS_URL, params)) == []


def test_a_suspension_hides_the_doctor_everywhere_at_once(
    public_cache, committed, anon_client, clinic_admin_client, doctor
):
    TimeBlockFactory(doctor=doctor)
    assert ids(anon_client.get(DOCTORS_URL)) == [doctor.pk]
    assert anon_client.get(doctor_url(doctor)).status_code == 200
    assert anon_client.get(availability_url(doctor.pk)).status_code == 200

    with committed():
        suspended = clinic_admin_client.post(
            f"{API}/users/{doctor.pk}/suspend/", {"reason": "Licence under review"}
        )
    assert suspended.status_code == 200, suspended.content

    assert ids(anon_client.get(DOCTORS_URL)) == []
    assert anon_client.get(doctor_url(doctor)).status_code == 404
    assert anon_client.get(availability_url(doctor.pk)).status_code == 404

    with committed():
        assert clinic_admin_client.post(f"{API}/users/{doctor.pk}/reactivate/").status_code == 200

    assert ids(anon_client.get(DOCTORS_URL)) == [doctor.pk]
    assert anon_client.get(availability_url(doctor.pk)).status_code == 200


def test_a_hidden_review_leaves_the_rating_at_once(public_cache, committed, anon_client, doctor):
    visit = CompletedAppointmentFactory(time_block__doctor=doctor)
    review = Review.objects.create(appointment=visit, doctor=doctor, author=visit.patient, rating=2)
    detail = anon_client.get(doctor_url(doctor)).json()
    assert (detail["rating_average"], detail["rating_count"]) == (2.0, 1)

    with committed():
        services.review_hide(actor=StaffFactory(), review=review)

    detail = anon_client.get(doctor_url(doctor)).json()
    assert (detail["rating_average"], detail["rating_count"]) == (None, 0)
    listed = anon_client.get(DOCTORS_URL).json()["results"]
    assert listed[0]["rating_count"] == 0


def test_a_new_review_through_the_api_changes_the_rating_at_once(
    public_cache, committed, anon_client, patient, patient_client, doctor
):
    visit = CompletedAppointmentFactory(patient=patient, time_block__doctor=doctor)
    assert anon_client.get(doctor_url(doctor)).json()["rating_count"] == 0

    with committed():
        posted = patient_client.post(f"{APPOINTMENTS_URL}{visit.pk}/review/", {"rating": 4})
    assert posted.status_code == 201, posted.content

    assert anon_client.get(doctor_url(doctor)).json()["rating_average"] == 4.0


def test_a_profile_edit_shows_in_the_directory_at_once(
    public_cache, committed, anon_client, doctor, doctor_client
):
    assert anon_client.get(DOCTORS_URL).json()["results"][0]["bio"] == "Sees adults."

    with committed():
        edited = doctor_client.patch(DOCTOR_ME_URL, {"bio": "Sees children too."})
    assert edited.status_code == 200, edited.content

    assert anon_client.get(DOCTORS_URL).json()["results"][0]["bio"] == "Sees children too."
    assert anon_client.get(doctor_url(doctor)).json()["bio"] == "Sees children too."


def test_a_new_photo_shows_in_the_directory_at_once(
    public_cache, committed, settings, tmp_path, anon_client, doctor, doctor_client
):
    settings.MEDIA_ROOT = tmp_path / "media"
    assert anon_client.get(doctor_url(doctor)).json()["photo_url"] is None
    image = io.BytesIO()
    Image.new("RGB", (40, 40), "teal").save(image, format="PNG")

    with committed():
        uploaded = doctor_client.put(
            f"{DOCTOR_ME_URL}photo/",
            {"file": SimpleUploadedFile("me.png", image.getvalue(), "image/png")},
            format="multipart",
        )
    assert uploaded.status_code == 200, uploaded.content

    assert anon_client.get(doctor_url(doctor)).json()["photo_url"] == uploaded.json()["photo_url"]


def test_a_promoted_patient_joins_the_directory_at_once(
    public_cache, committed, anon_client, clinic_admin_client
):
    patient = PatientFactory()
    assert ids(anon_client.get(DOCTORS_URL)) == []

    with committed():
        promoted = clinic_admin_client.post(
            f"{API}/users/{patient.pk}/promote-to-doctor/", {"specialty": "Neurology"}
        )
    assert promoted.status_code == 200, promoted.content

    assert ids(anon_client.get(DOCTORS_URL)) == [patient.pk]


def test_writes_that_change_nothing_public_keep_the_cached_answers(
    public_cache, committed, anon_client, patient, doctor, doctor_client, django_assert_num_queries
):
    appointment = PendingAppointmentFactory(patient=patient, time_block__doctor=doctor)
    TimeBlockFactory(doctor=doctor)
    for url in (DOCTORS_URL, availability_url(doctor.pk)):
        anon_client.get(url)

    with committed() as callbacks:
        noted = doctor_client.patch(f"{APPOINTMENTS_URL}{appointment.pk}/", {"notes": "Bring ECG"})
        patient.set_password("another-long-passphrase")
        patient.save(update_fields=["password"])
    assert noted.status_code == 200, noted.content

    assert bumps(callbacks) == []
    for url in (DOCTORS_URL, availability_url(doctor.pk)):
        with django_assert_num_queries(0):
            anon_client.get(url)


@pytest.mark.django_db(transaction=True)
def test_a_real_commit_invalidates_for_the_next_request(public_cache):
    # No test transaction here: the booking commits and its invalidation runs for real.
    doctor, patient = DoctorFactory(), PatientFactory()
    block = TimeBlockFactory(doctor=doctor)
    anon = client_for(None)
    assert ids(anon.get(availability_url(doctor.pk))) == [block.pk]

    assert client_for(patient).post(APPOINTMENTS_URL, {"time_block": block.pk}).status_code == 201

    assert ids(anon.get(availability_url(doctor.pk))) == []


# ---------------------------------------------------------------------------
# Errors are answered, never stored
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (DOCTORS_URL, {"ordering": "email"}, "ordering"),
        (DOCTORS_URL, {"available_from": "2030-01-01T09:00:00"}, "available_from"),
        (None, {"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "from"),
        (None, {"to": "not-a-date"}, "to"),
    ],
)
def test_a_bad_query_string_is_still_400(public_cache, anon_client, doctor, url, params, field):
    for _ in range(2):
        response = anon_client.get(url or availability_url(doctor.pk), params)
        assert response.status_code == 400
        assert field in response.json()


def test_a_window_that_became_invalid_is_400_although_it_was_cached(
    public_cache, anon_client, doctor
):
    now = timezone.now()
    params = {"to": z(now + datetime.timedelta(hours=1))}
    with time_machine.travel(now, tick=False):
        assert anon_client.get(availability_url(doctor.pk), params).status_code == 200
    with time_machine.travel(now + datetime.timedelta(hours=2), tick=False):
        response = anon_client.get(availability_url(doctor.pk), params)
    assert response.status_code == 400
    assert "from" in response.json()


def test_not_found_answers_are_not_cached(
    public_cache, committed, anon_client, clinic_admin_client
):
    patient = PatientFactory()
    assert anon_client.get(availability_url(patient.pk)).status_code == 404
    assert anon_client.get(DOCTORS_URL, {"page": 2}).status_code == 404

    with committed():
        promoted = clinic_admin_client.post(
            f"{API}/users/{patient.pk}/promote-to-doctor/", {"specialty": "Neurology"}
        )
    assert promoted.status_code == 200

    assert anon_client.get(availability_url(patient.pk)).status_code == 200


# ---------------------------------------------------------------------------
# Off, and a cache outage
# ---------------------------------------------------------------------------
def test_zero_seconds_turns_the_cache_off(
    settings, committed, anon_client, doctor, patient_client, django_assert_num_queries
):
    settings.PUBLIC_CACHE_SECONDS = 0
    block = TimeBlockFactory(doctor=doctor)
    anon_client.get(availability_url(doctor.pk))

    with django_assert_num_queries(AVAILABILITY_QUERIES):
        assert ids(anon_client.get(availability_url(doctor.pk))) == [block.pk]
    anon_client.get(DOCTORS_URL)
    with django_assert_num_queries(SHORT_DOCTORS_LIST_QUERIES):
        anon_client.get(DOCTORS_URL)
    with committed() as callbacks:
        assert patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk}).status_code == 201
    assert bumps(callbacks) == []
    assert cache.get(response_cache._version_key(response_cache.DIRECTORY)) is None


@pytest.fixture
def broken_cache(settings, public_cache):
    """Caching on, with the Django cache in a Redis nobody listens on."""
    original = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    yield
    # Restored before the autouse fixture clears the cache on teardown.
    settings.CACHES = original


def cache_warnings(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "core.response_cache" and record.levelno == logging.WARNING
    ]


def test_a_cache_outage_answers_from_the_database(
    broken_cache, committed, caplog, anon_client, patient_client, doctor
):
    caplog.set_level(logging.WARNING, logger="core.response_cache")
    block = TimeBlockFactory(doctor=doctor)

    assert ids(anon_client.get(availability_url(doctor.pk))) == [block.pk]
    assert len(cache_warnings(caplog)) == 1  # at most one per request
    assert ids(anon_client.get(DOCTORS_URL)) == [doctor.pk]
    assert anon_client.get(doctor_url(doctor)).status_code == 200
    assert len(cache_warnings(caplog)) == 3

    with committed():  # the invalidation fails too, after the commit: the booking stands
        booked = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk})
    assert booked.status_code == 201
    assert "not invalidated" in cache_warnings(caplog)[-1].getMessage()

    assert ids(anon_client.get(availability_url(doctor.pk))) == []


# ---------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_bump_outside_a_transaction_gives_a_new_version_at_once(public_cache):
    before = response_cache.version("availability:1")
    assert not transaction.get_connection().in_atomic_block
    response_cache.bump("availability:1", response_cache.DIRECTORY)
    assert response_cache.version("availability:1") == before + 1


def test_a_lost_version_never_comes_back_as_an_old_one(public_cache):
    seen = {response_cache.version(response_cache.DIRECTORY)}
    for _ in range(5):
        cache.delete(response_cache._version_key(response_cache.DIRECTORY))
        seen.add(response_cache.version(response_cache.DIRECTORY))
    assert len(seen) == 6


def test_a_bump_of_a_scope_nobody_read_yet_still_changes_it(public_cache):
    response_cache._bump_now(("availability:2",))
    first = response_cache.version("availability:2")
    response_cache._bump_now(("availability:2",))
    assert response_cache.version("availability:2") == first + 1


def test_a_block_is_saved_without_touching_other_doctors(
    public_cache, committed, anon_client, doctor, other_doctor, django_assert_num_queries
):
    TimeBlockFactory(doctor=other_doctor)
    cached_reads(anon_client, availability_url(other_doctor.pk), django_assert_num_queries)

    with committed():
        TimeBlock.objects.create(doctor=doctor, start=in_days(5), end=in_days(5, hour=11))

    with django_assert_num_queries(0):
        anon_client.get(availability_url(other_doctor.pk))


def test_scale_seeding_without_signals_still_invalidates(public_cache, committed, anon_client):
    assert ids(anon_client.get(DOCTORS_URL)) == []

    with committed():
        seeding.seed_scale(doctors=1)

    [doctor_id] = ids(anon_client.get(DOCTORS_URL))
    assert ids(anon_client.get(availability_url(doctor_id)))


def test_bulk_created_blocks_appear_in_availability_at_once(
    public_cache, committed, anon_client, doctor, doctor_client
):
    assert ids(anon_client.get(availability_url(doctor.pk))) == []
    day = in_days(5).date()

    with committed():
        created = doctor_client.post(
            f"{TIME_BLOCKS_URL}bulk/",
            {
                "date_from": day.isoformat(),
                "date_to": day.isoformat(),
                "weekdays": list(range(7)),
                "start_time": "09:00",
                "end_time": "10:00",
                "slot_minutes": 30,
                "timezone": "UTC",
            },
        )
    assert created.status_code == 201, created.content

    assert len(ids(anon_client.get(availability_url(doctor.pk)))) == 2

"""Every list is page-number paginated: default 20, at most 100, out of range is 404 (§5)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.factories import DoctorFactory, PatientFactory

pytestmark = pytest.mark.django_db

USERS_URL = "/api/v1/users/"
DOCTORS_URL = "/api/v1/doctors/"


@pytest.fixture
def many_patients(clinic_admin):
    # With the admin: 125 users, more than the 100 cap.
    return PatientFactory.create_batch(124)


def test_list_shape_is_count_next_previous_results(clinic_admin_client, many_patients):
    body = clinic_admin_client.get(USERS_URL).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 125
    assert body["previous"] is None
    assert body["next"] == "http://testserver/api/v1/users/?page=2"


def test_default_page_size_is_20(clinic_admin_client, many_patients):
    body = clinic_admin_client.get(USERS_URL).json()
    assert len(body["results"]) == 20


def test_page_size_can_be_chosen(clinic_admin_client, many_patients):
    body = clinic_admin_client.get(USERS_URL, {"page_size": 7, "page": 2}).json()
    assert len(body["results"]) == 7
    assert "page_size=7" in body["next"]
    assert "page_size=7" in body["previous"]


def test_page_size_above_100_is_silently_capped_at_100(clinic_admin_client, many_patients):
    response = clinic_admin_client.get(USERS_URL, {"page_size": 500})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 100
    assert body["count"] == 125


@pytest.mark.parametrize("page_size", ["0", "-5", "abc", ""])
def test_invalid_page_size_falls_back_to_the_default(clinic_admin_client, many_patients, page_size):
    response = clinic_admin_client.get(USERS_URL, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 20


def test_last_page_holds_the_rest_and_has_no_next(clinic_admin_client, many_patients):
    body = clinic_admin_client.get(USERS_URL, {"page": 7}).json()
    assert len(body["results"]) == 5
    assert body["next"] is None
    assert body["previous"] is not None


def test_pages_do_not_overlap_and_follow_the_default_order(clinic_admin_client, many_patients):
    first = clinic_admin_client.get(USERS_URL, {"page_size": 10}).json()["results"]
    second = clinic_admin_client.get(USERS_URL, {"page_size": 10, "page": 2}).json()["results"]
    ids = [user["id"] for user in first + second]
    assert ids == sorted(ids)
    assert len(set(ids)) == 20


@pytest.mark.parametrize("page", ["8", "999", "0", "-1", "abc"])
def test_page_out_of_range_is_404(clinic_admin_client, many_patients, page):
    response = clinic_admin_client.get(USERS_URL, {"page": page})
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_empty_list_is_one_empty_page(anon_client):
    body = anon_client.get(DOCTORS_URL).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    assert anon_client.get(DOCTORS_URL, {"page": 2}).status_code == 404


def test_public_doctor_list_is_paginated_too(anon_client):
    DoctorFactory.create_batch(23)
    body = anon_client.get(DOCTORS_URL).json()
    assert body["count"] == 23
    assert len(body["results"]) == 20
    assert len(anon_client.get(DOCTORS_URL, {"page": 2}).json()["results"]) == 3


# ---------------------------------------------------------------------------
# The count comes from the page when the page is not full (core.pagination.Paginator)
# ---------------------------------------------------------------------------
def _count_queries(captured) -> int:
    return sum("SELECT COUNT(*)" in query["sql"].upper() for query in captured.captured_queries)


def test_a_list_that_fits_on_one_page_is_not_counted_separately(clinic_admin_client, clinic_admin):
    PatientFactory.create_batch(4)
    with CaptureQueriesContext(connection) as captured:
        body = clinic_admin_client.get(USERS_URL).json()
    assert body["count"] == 5
    assert body["next"] is None
    assert _count_queries(captured) == 0


def test_a_full_page_is_counted(clinic_admin_client, many_patients):
    with CaptureQueriesContext(connection) as captured:
        body = clinic_admin_client.get(USERS_URL, {"page_size": 25}).json()
    assert body["count"] == 125
    assert _count_queries(captured) == 1


@pytest.mark.parametrize(("page", "count", "length"), [("2", 125, 20), ("7", 125, 5)])
def test_later_pages_report_the_whole_count(
    clinic_admin_client, many_patients, page, count, length
):
    body = clinic_admin_client.get(USERS_URL, {"page": page}).json()
    assert (body["count"], len(body["results"])) == (count, length)


def test_a_page_that_ends_exactly_at_a_page_boundary_has_no_next(clinic_admin_client, clinic_admin):
    PatientFactory.create_batch(19)  # 20 users with the admin: one full page
    body = clinic_admin_client.get(USERS_URL).json()
    assert (body["count"], len(body["results"]), body["next"]) == (20, 20, None)
    assert clinic_admin_client.get(USERS_URL, {"page": 2}).status_code == 404


def test_last_names_the_last_page(clinic_admin_client, many_patients):
    body = clinic_admin_client.get(USERS_URL, {"page": "last"}).json()
    assert (body["count"], len(body["results"]), body["next"]) == (125, 5, None)

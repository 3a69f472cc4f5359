"""Every list endpoint of accounts runs in a fixed number of queries, whatever the page size."""

from __future__ import annotations

import pytest

from tests.accounts.helpers import DOCTORS_URL, USERS_URL
from tests.support.factories import DoctorFactory, PatientFactory, StaffFactory

pytestmark = pytest.mark.django_db

# users: authenticate, count, page, one bulk insert of patient_record.viewed.
USERS_LIST_QUERIES = 4
# doctors: count, page (profiles joined to their users; no count when one page holds them all),
# the page's specialties and the visit types they offer (one prefetch each); one more to
# authenticate a caller.
DOCTORS_LIST_QUERIES = 4


@pytest.mark.parametrize("page_size", [5, 50])
def test_users_list_query_budget(staff_client, django_assert_max_num_queries, page_size):
    PatientFactory.create_batch(40)
    DoctorFactory.create_batch(5)
    StaffFactory.create_batch(5)

    with django_assert_max_num_queries(USERS_LIST_QUERIES):
        response = staff_client.get(USERS_URL, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(page_size, 51)


@pytest.mark.parametrize("page_size", [5, 50])
@pytest.mark.parametrize("caller", ["anon", "patient"])
def test_doctors_list_query_budget(role_clients, django_assert_max_num_queries, page_size, caller):
    DoctorFactory.create_batch(50)
    budget = DOCTORS_LIST_QUERIES + (caller != "anon")

    with django_assert_max_num_queries(budget):
        response = role_clients[caller].get(DOCTORS_URL, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("page_size", [5, 50])
def test_filtered_doctors_list_query_budget(anon_client, django_assert_max_num_queries, page_size):
    DoctorFactory.create_batch(50, profile__specialty="Dermatology")

    with django_assert_max_num_queries(DOCTORS_LIST_QUERIES):
        response = anon_client.get(
            DOCTORS_URL,
            {
                "page_size": page_size,
                "specialty": "dermatology",
                "search": "derm",
                "ordering": "-last_name",
            },
        )

    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size

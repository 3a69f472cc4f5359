"""Every query parameter of every list is validated (docs/api-rules.md, SECURITY.md Input):
a bad date, id, enum, boolean or ordering is a 400 naming the parameter, never a 500 and
never silently ignored; pagination keeps its own contract (medappt/tests/test_pagination.py)."""

from __future__ import annotations

import pytest

from tests.support.factories import ConfirmedAppointmentFactory, TimeBlockFactory

pytestmark = pytest.mark.django_db

NAIVE = "2030-01-01T09:00:00"
BAD_DATETIMES = [
    ("naive", NAIVE),
    ("garbage", "abc"),
    ("month-13", "2030-13-01T09:00:00Z"),
    ("year-0", "0000-01-01T00:00:00Z"),
    ("overflow", "9999-12-31T23:59:59-01:00"),
    ("nul", "2030-01-01T09:00:00Z\x00"),
]
BAD_IDS = [
    ("abc", "abc"),
    ("huge", "99999999999999999999"),
    ("int64-overflow", "9223372036854775808"),
    ("negative", "-1"),
    ("zero", "0"),
    ("fraction", "1.5"),
]
BAD_BOOLEANS = [("maybe", "maybe"), ("yes-no", "yesno"), ("two", "2")]

# (endpoint, caller, {parameter: kind}); the ids in the paths are filled in by the fixture.
LISTS = {
    "users": ("/api/v1/users/", "admin", {"role": "enum", "is_active": "boolean"}),
    "doctors": (
        "/api/v1/doctors/",
        "anon",
        {"available_from": "datetime", "available_to": "datetime", "ordering": "ordering"},
    ),
    "availability": (
        "/api/v1/doctors/{doctor}/availability/",
        "anon",
        {"from": "datetime", "to": "datetime"},
    ),
    "doctor-reviews": ("/api/v1/doctors/{doctor}/reviews/", "anon", {"ordering": "ordering"}),
    "time-blocks": (
        "/api/v1/time-blocks/",
        "admin",
        {"doctor": "id", "is_booked": "boolean", "from": "datetime", "to": "datetime"},
    ),
    "appointments": (
        "/api/v1/appointments/",
        "admin",
        {
            "status": "enum",
            "doctor": "id",
            "patient": "id",
            "from": "datetime",
            "to": "datetime",
            "ordering": "ordering",
        },
    ),
    "audit-events": (
        "/api/v1/audit/events/",
        "admin",
        {"actor": "id", "from": "datetime", "to": "datetime"},
    ),
    "audit-export": (
        "/api/v1/audit/events/export/",
        "admin",
        {"actor": "id", "from": "datetime", "to": "datetime"},
    ),
    "audit-changes": ("/api/v1/audit/changes/", "admin", {"actor": "id"}),
    "access-log": ("/api/v1/auth/me/access-log/", "patient", {}),
}
BAD_VALUES = {
    "datetime": BAD_DATETIMES,
    "id": BAD_IDS,
    "boolean": BAD_BOOLEANS,
    "enum": [("bogus", "bogus"), ("one-bad-of-two", "pending,bogus"), ("upper", "PATIENT")],
    "ordering": [("unknown", "password"), ("sql", "id; DROP TABLE x"), ("empty", "")],
}
# The export needs both bounds; they are sent valid unless the case is about one of them.
EXPORT_WINDOW = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


def _cases():
    for name, (_, _, parameters) in LISTS.items():
        for parameter, kind in parameters.items():
            for label, value in BAD_VALUES[kind]:
                if kind == "enum" and label == "one-bad-of-two" and parameter != "status":
                    continue  # only `status` takes a comma list
                yield pytest.param(name, parameter, value, id=f"{name}-{parameter}-{label}")


@pytest.fixture
def url_for(doctor):
    ConfirmedAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor))

    def url(name: str) -> str:
        return LISTS[name][0].format(doctor=doctor.pk)

    return url


@pytest.mark.parametrize(("name", "parameter", "value"), list(_cases()))
def test_a_bad_query_parameter_is_400_naming_it(role_clients, url_for, name, parameter, value):
    _, caller, _ = LISTS[name]
    query = {**(EXPORT_WINDOW if name == "audit-export" else {}), parameter: value}

    response = role_clients[caller].get(url_for(name), query)

    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == [parameter], body
    assert all(isinstance(message, str) and message for message in body[parameter])


@pytest.mark.parametrize("name", [name for name in LISTS if name != "audit-export"])
@pytest.mark.parametrize("page", ["0", "abc", "-1", "99999999999999999999", "1.5", "\x00"])
def test_a_bad_page_is_a_json_404_never_a_500(role_clients, url_for, name, page):
    _, caller, _ = LISTS[name]
    response = role_clients[caller].get(url_for(name), {"page": page})
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("name", [name for name in LISTS if name != "audit-export"])
@pytest.mark.parametrize("page_size", ["abc", "0", "-3", "99999999999999999999", "\x00"])
def test_a_bad_page_size_falls_back_to_the_default(role_clients, url_for, name, page_size):
    _, caller, _ = LISTS[name]
    response = role_clients[caller].get(url_for(name), {"page_size": page_size})
    assert response.status_code == 200
    assert set(response.json()) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize("name", list(LISTS))
def test_good_parameters_are_accepted(role_clients, url_for, name):
    _, caller, parameters = LISTS[name]
    good = {
        "datetime": "2030-01-01T09:00:00%2B02:00",
        "id": "1",
        "boolean": "true",
        "enum": {"role": "patient", "status": "pending,confirmed"},
        "ordering": {"appointments": "-start", "doctors": "-rating_average"}.get(
            name, "-created_at"
        ),
    }
    query = []
    for parameter, kind in parameters.items():
        value = good[kind]
        if isinstance(value, dict):
            value = value[parameter]
        if kind == "datetime" and parameter in ("to", "available_to"):
            value = "2030-01-20T09:00:00Z"
        query.append(f"{parameter}={value}")
    url = url_for(name) + ("?" + "&".join(query) if query else "")

    response = role_clients[caller].get(url)

    assert response.status_code == 200, response.content[:300]

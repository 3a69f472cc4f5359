"""The admin-only audit API (events, CSV export, field history) and a patient's access log."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest
import time_machine
from auditlog.context import set_actor as auditlog_actor
from auditlog.models import LogEntry
from django.contrib.auth.models import update_last_login
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit_record, audit_seal, field_history_bulk_created
from core.context import RequestContext, reset_context, set_context
from scheduling.models import Appointment, TimeBlock
from tests.audit.helpers import (
    ACCESS_LOG_URL,
    API,
    APPOINTMENTS_URL,
    CHANGES_URL,
    EVENT_FIELDS,
    EVENTS_URL,
    EXPORT_URL,
    STRONG_PASSWORD,
    USERS_URL,
    events,
    utc_z,
)
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    DoctorFactory,
    PatientFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2031, 5, 4, 10, 0, tzinfo=datetime.UTC)
WINDOW = {"from": "2031-05-04T00:00:00Z", "to": "2031-05-05T00:00:00Z"}
CHANGE_FIELDS = {"id", "at", "actor", "model", "object_id", "action", "changes"}
ACCESS_LOG_FIELDS = {"at", "action", "actor_role", "actor_name"}


def record_at(moment: datetime.datetime, **kwargs) -> AuditEvent:
    kwargs.setdefault("action", "test.event")
    kwargs.setdefault("actor", None)
    with time_machine.travel(moment, tick=False):
        return audit_record(**kwargs)


def export_csv(client, **params) -> tuple[list[str], list[dict[str, str]]]:
    response = client.get(EXPORT_URL, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


# ---------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------
ADMIN_ONLY = [
    ("anon", 401),
    ("patient", 403),
    ("doctor", 403),
    ("staff", 403),
    ("admin", 200),
]


@pytest.mark.parametrize(("role", "expected"), ADMIN_ONLY)
@pytest.mark.parametrize(
    "url",
    [EVENTS_URL, f"{EXPORT_URL}?from=2031-05-04T00:00:00Z&to=2031-05-05T00:00:00Z", CHANGES_URL],
    ids=["events", "export", "changes"],
)
def test_audit_endpoints_answer_admins_only(role_clients, role, url, expected):
    assert role_clients[role].get(url).status_code == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anon", 401), ("patient", 200), ("doctor", 403), ("staff", 403), ("admin", 403)],
)
def test_access_log_answers_patients_only(role_clients, role, expected):
    assert role_clients[role].get(ACCESS_LOG_URL).status_code == expected


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", [EVENTS_URL, CHANGES_URL])
def test_the_audit_trail_cannot_be_written_through_the_api(clinic_admin_client, method, url):
    event = audit_record(action="test.event", actor=None)

    response = getattr(clinic_admin_client, method)(url, {"action": "x"})

    assert response.status_code == 405
    assert list(AuditEvent.objects.values_list("pk", "action")) == [(event.pk, "test.event")]


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------
def test_events_are_listed_newest_first(clinic_admin_client):
    recorded = [audit_record(action=f"test.{n}", actor=None) for n in range(3)]

    response = clinic_admin_client.get(EVENTS_URL)

    assert [row["id"] for row in response.json()["results"]] == [e.pk for e in reversed(recorded)]


def test_an_event_has_exactly_the_documented_shape(clinic_admin_client, doctor):
    token = set_context(
        RequestContext(ip="203.0.113.5", user_agent="UA/1", request_id="req-1", actor_id=None)
    )
    try:
        event = record_at(
            T0.replace(microsecond=250),
            action="appointment.confirmed",
            target_type="appointment",
            target_id=12,
            data={"fields": ["notes"]},
            actor=doctor,
        )
    finally:
        reset_context(token)

    (row,) = clinic_admin_client.get(EVENTS_URL).json()["results"]

    assert list(row) == EVENT_FIELDS
    assert row == {
        "id": event.pk,
        "at": utc_z(T0.replace(microsecond=250)),
        "actor": doctor.pk,
        "actor_role": "doctor",
        "actor_label": doctor.email,
        "action": "appointment.confirmed",
        "target_type": "appointment",
        "target_id": "12",
        "ip": "203.0.113.5",
        "user_agent": "UA/1",
        "request_id": "req-1",
        "data": {"fields": ["notes"]},
        "seq": None,
        "prev_hash": "",
        "hash": "",
    }


def test_a_sealed_event_shows_its_seal(clinic_admin_client):
    audit_record(action="test.event", actor=None)
    audit_seal()

    (row,) = clinic_admin_client.get(EVENTS_URL).json()["results"]

    assert row["seq"] == 1
    assert row["prev_hash"] == ""
    assert len(row["hash"]) == 64


def test_events_filter_by_actor_action_and_target(clinic_admin_client, doctor, staff):
    confirmed = {"action": "appointment.confirmed", "target_type": "appointment"}
    by_doctor = audit_record(**confirmed, target_id=1, actor=doctor)
    by_staff = audit_record(**confirmed, target_id=2, actor=staff)
    other = audit_record(
        action="time_block.created", target_type="time_block", target_id=1, actor=doctor
    )

    def ids(**params) -> list[int]:
        response = clinic_admin_client.get(EVENTS_URL, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(actor=doctor.pk) == [other.pk, by_doctor.pk]
    assert ids(action="appointment.confirmed") == [by_staff.pk, by_doctor.pk]
    assert ids(target_type="time_block") == [other.pk]
    assert ids(target_type="appointment", target_id="2") == [by_staff.pk]
    assert ids(actor=doctor.pk, action="appointment.confirmed") == [by_doctor.pk]


def test_events_window_is_half_open_on_at(clinic_admin_client):
    before = record_at(T0 - datetime.timedelta(microseconds=1))
    at_from = record_at(T0)
    inside = record_at(T0 + datetime.timedelta(hours=1))
    at_to = record_at(T0 + datetime.timedelta(hours=2))

    response = clinic_admin_client.get(
        EVENTS_URL, {"from": utc_z(T0), "to": utc_z(T0 + datetime.timedelta(hours=2))}
    )

    listed = [row["id"] for row in response.json()["results"]]
    assert listed == [inside.pk, at_from.pk]
    assert before.pk not in listed
    assert at_to.pk not in listed


def test_events_window_accepts_an_offset(clinic_admin_client):
    inside = record_at(T0)

    response = clinic_admin_client.get(EVENTS_URL, {"from": "2031-05-04T11:59:00+02:00"})

    assert [row["id"] for row in response.json()["results"]] == [inside.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2031-05-04T10:00:00"}, "from"),
        ({"to": "2031-05-04T10:00:00"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"actor": "abc"}, "actor"),
        ({"actor": "0"}, "actor"),
        ({"actor": "-3"}, "actor"),
        ({"actor": "99999999999999999999"}, "actor"),
    ],
)
def test_bad_event_filters_are_400_naming_the_parameter(clinic_admin_client, params, field):
    response = clinic_admin_client.get(EVENTS_URL, params)

    assert response.status_code == 400
    assert field in response.json()


# ---------------------------------------------------------------------------
# CSV export
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "missing"),
    [
        ({"to": WINDOW["to"]}, {"from"}),
        ({"from": WINDOW["from"]}, {"to"}),
        ({}, {"from", "to"}),
        ({"from": "", "to": WINDOW["to"]}, {"from"}),
    ],
)
def test_export_requires_from_and_to(clinic_admin_client, params, missing):
    response = clinic_admin_client.get(EXPORT_URL, params)

    assert response.status_code == 400
    assert set(response.json()) == missing
    assert events("audit.exported") == []


def test_export_with_a_naive_window_is_400_and_not_recorded(clinic_admin_client):
    response = clinic_admin_client.get(
        EXPORT_URL, {"from": "2031-05-04T00:00:00", "to": WINDOW["to"]}
    )

    assert response.status_code == 400
    assert "from" in response.json()
    assert events("audit.exported") == []


def test_export_streams_every_matching_row_with_every_field(clinic_admin_client):
    with time_machine.travel(T0, tick=False):
        recorded = [audit_record(action="test.bulk", data={"n": n}, actor=None) for n in range(150)]
    outside = record_at(T0 + datetime.timedelta(days=2))

    header, rows = export_csv(clinic_admin_client, **WINDOW)

    assert header == EVENT_FIELDS
    assert len(rows) == 150  # more than one API page: every row, no pagination
    assert [int(row["id"]) for row in rows] == [e.pk for e in reversed(recorded)]
    assert str(outside.pk) not in {row["id"] for row in rows}
    newest = rows[0]
    assert parse_datetime(newest["at"]) == T0
    assert newest["at"].endswith("Z")
    assert newest["action"] == "test.bulk"
    assert newest["actor_role"] == "system"
    assert json.loads(newest["data"]) == {"n": 149}
    assert (newest["actor"], newest["seq"], newest["ip"]) == ("", "", "")


def test_export_answers_a_client_asking_for_csv(clinic_admin_client):
    record_at(T0)

    response = clinic_admin_client.get(EXPORT_URL, WINDOW, HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-events.csv"' in response["Content-Disposition"]


def test_export_applies_the_other_filters_too(clinic_admin_client, doctor):
    with time_machine.travel(T0, tick=False):
        wanted = audit_record(action="appointment.confirmed", actor=doctor)
        audit_record(action="appointment.cancelled", actor=doctor)
        audit_record(action="appointment.confirmed", actor=None)

    _, rows = export_csv(
        clinic_admin_client, action="appointment.confirmed", actor=doctor.pk, **WINDOW
    )

    assert [int(row["id"]) for row in rows] == [wanted.pk]


def test_export_defuses_spreadsheet_formulas(clinic_admin_client):
    token = set_context(
        RequestContext(
            ip="203.0.113.5",
            user_agent="+cmd|' /C calc'!A0",
            request_id="-2+3",
            actor_id=41,
            actor_role="staff",
            actor_label="@SUM(1+1)",
        )
    )
    try:
        with time_machine.travel(T0, tick=False):
            audit_record(action="=cmd()", target_type="user", target_id="-1")
    finally:
        reset_context(token)

    _, (row,) = export_csv(clinic_admin_client, **WINDOW)

    assert row["action"] == "'=cmd()"
    assert row["actor_label"] == "'@SUM(1+1)"
    assert row["user_agent"] == "'+cmd|' /C calc'!A0"
    assert row["request_id"] == "'-2+3"
    assert row["target_id"] == "'-1"
    assert row["target_type"] == "user"
    assert row["ip"] == "203.0.113.5"


def test_the_export_itself_is_audited(clinic_admin_client, clinic_admin):
    response = clinic_admin_client.get(
        EXPORT_URL, {"action": "user.updated", **WINDOW}, REMOTE_ADDR="203.0.113.77"
    )
    assert response.status_code == 200
    b"".join(response.streaming_content)

    (event,) = events("audit.exported")
    assert (event.actor_id, event.actor_role) == (clinic_admin.pk, "admin")
    assert event.ip == "203.0.113.77"
    assert event.data == {"filters": {"action": "user.updated", **WINDOW}}


# ---------------------------------------------------------------------------
# Field history (django-auditlog)
# ---------------------------------------------------------------------------
def changes(client, **params) -> list[dict]:
    response = client.get(CHANGES_URL, {"page_size": 100, **params})
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_a_confirmation_through_the_api_is_an_update_by_the_confirming_doctor(
    clinic_admin_client, doctor
):
    appointment = AppointmentFactory(time_block__doctor=doctor)

    response = client_for(doctor).post(f"{APPOINTMENTS_URL}{appointment.pk}/confirm/")
    assert response.status_code == 200

    entry = changes(clinic_admin_client, model="scheduling.appointment", object_id=appointment.pk)[
        0
    ]
    assert set(entry) == CHANGE_FIELDS
    assert entry["model"] == "scheduling.appointment"
    assert entry["object_id"] == str(appointment.pk)
    assert entry["action"] == "update"
    assert entry["actor"] == doctor.pk
    assert entry["changes"]["status"] == ["pending", "confirmed"]
    assert entry["at"].endswith("Z")


def test_field_history_is_newest_first_and_filters_by_model_object_and_actor(
    clinic_admin_client, doctor, other_doctor
):
    first = AppointmentFactory(time_block__doctor=doctor)
    second = AppointmentFactory(time_block__doctor=other_doctor)
    client_for(doctor).post(f"{APPOINTMENTS_URL}{first.pk}/confirm/")
    client_for(other_doctor).post(f"{APPOINTMENTS_URL}{second.pk}/confirm/")

    everything = changes(clinic_admin_client)
    appointments = changes(clinic_admin_client, model="scheduling.appointment")
    of_first = changes(clinic_admin_client, object_id=first.pk, model="scheduling.appointment")
    by_doctor = changes(clinic_admin_client, actor=doctor.pk)

    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    assert {e["model"] for e in everything} >= {"scheduling.appointment", "accounts.user"}
    assert {e["model"] for e in appointments} == {"scheduling.appointment"}
    assert {e["object_id"] for e in appointments} == {str(first.pk), str(second.pk)}
    assert [e["action"] for e in of_first] == ["update", "create"]
    assert {e["object_id"] for e in of_first} == {str(first.pk)}
    assert [(e["object_id"], e["action"]) for e in by_doctor] == [(str(first.pk), "update")]
    assert changes(clinic_admin_client, model="Scheduling.Appointment") == appointments
    assert changes(clinic_admin_client, model="nothing.here") == []


def test_bad_field_history_filters_are_400(clinic_admin_client):
    assert clinic_admin_client.get(CHANGES_URL, {"actor": "x"}).status_code == 400


REASON = "Quince-tinted rash behind the ear"
NOTES = "Suspect quokkaitis; order ultrasound"
CANCEL_REASON = "Grandmother's zeppelin arrives"


def test_clinical_free_text_is_fully_masked_in_the_field_history(
    clinic_admin_client, patient, doctor
):
    block = TimeBlockFactory(doctor=doctor)
    patient_api = client_for(patient)
    booked = patient_api.post(APPOINTMENTS_URL, {"time_block": block.pk, "reason": REASON})
    assert booked.status_code == 201, booked.json()
    pk = booked.json()["id"]
    assert client_for(doctor).patch(f"{APPOINTMENTS_URL}{pk}/", {"notes": NOTES}).status_code == 200
    cancelled = patient_api.post(f"{APPOINTMENTS_URL}{pk}/cancel/", {"reason": CANCEL_REASON})
    assert cancelled.status_code == 200

    response = clinic_admin_client.get(
        CHANGES_URL, {"model": "scheduling.appointment", "object_id": pk}
    )

    cancel, notes, create = response.json()["results"]
    assert (create["action"], create["actor"]) == ("create", patient.pk)
    assert create["changes"]["reason"][1] == "***"
    assert notes["changes"]["notes"] == ["", "***"]
    assert notes["actor"] == doctor.pk
    assert cancel["changes"]["cancellation_reason"] == ["", "***"]
    assert cancel["changes"]["status"] == ["pending", "cancelled"]
    body = response.content.decode()
    for text in (REASON, NOTES, CANCEL_REASON):
        for word in (word for word in text.split() if len(word) >= 5):
            assert word not in body


def test_user_history_never_holds_password_or_last_login(clinic_admin_client, anon_client):
    registered = anon_client.post(
        f"{API}/auth/register/",
        {
            "email": "pat@example.com",
            "password": STRONG_PASSWORD,
            "first_name": "P",
            "last_name": "Q",
        },
    )
    assert registered.status_code == 201
    user_id = registered.json()["id"]
    user = User.objects.get(pk=user_id)
    account_services.password_change(
        user=user, current_password=STRONG_PASSWORD, new_password="another-long-passphrase-9"
    )
    update_last_login(None, user)
    login = anon_client.post(
        f"{API}/auth/token/", {"email": "pat@example.com", "password": "another-long-passphrase-9"}
    )
    assert login.status_code == 200
    account_services.user_update(actor=user, user=user, first_name="Pat")

    entries = changes(clinic_admin_client, model="accounts.user", object_id=user_id)

    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["changes"] == {"first_name": ["P", "Pat"]}
    for entry in entries:
        assert "password" not in entry["changes"]
        assert "last_login" not in entry["changes"]
    assert STRONG_PASSWORD not in json.dumps(entries)


def test_field_history_bulk_created_writes_one_create_entry_per_row(clinic_admin_client, doctor):
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=30)
    blocks = TimeBlock.objects.bulk_create(
        [
            TimeBlock(
                doctor=doctor,
                start=start + datetime.timedelta(hours=n),
                end=start + datetime.timedelta(hours=n, minutes=30),
            )
            for n in range(3)
        ]
    )
    before = LogEntry.objects.count()

    with CaptureQueriesContext(connection) as captured:
        field_history_bulk_created(blocks, actor=doctor)

    assert LogEntry.objects.count() == before + 3
    inserts = [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    entries = changes(clinic_admin_client, model="scheduling.timeblock")
    assert sorted(int(e["object_id"]) for e in entries) == sorted(b.pk for b in blocks)
    for entry in entries:
        assert (entry["action"], entry["actor"]) == ("create", doctor.pk)
        assert {"doctor", "start", "end"} <= set(entry["changes"])


def test_field_history_bulk_created_takes_the_actor_of_the_request(doctor):
    block = TimeBlockFactory.build(doctor=doctor)
    TimeBlock.objects.bulk_create([block])

    with auditlog_actor(doctor, remote_addr="203.0.113.8"):
        token = set_context(RequestContext(ip="203.0.113.8"))
        try:
            field_history_bulk_created([block])
        finally:
            reset_context(token)

    entry = LogEntry.objects.get_for_object(block).get()
    assert entry.actor_id == doctor.pk
    assert entry.remote_addr == "203.0.113.8"


def test_a_bulk_block_creation_has_one_audit_event_and_no_per_block_entries(
    clinic_admin_client, doctor
):
    """DESIGN-R2 R2-0: bulk writes record the operation, not each block."""
    monday = (timezone.now() + datetime.timedelta(days=14)).date()
    monday -= datetime.timedelta(days=monday.weekday())

    response = client_for(doctor).post(
        f"{API}/time-blocks/bulk/",
        {
            "date_from": monday.isoformat(),
            "date_to": (monday + datetime.timedelta(days=4)).isoformat(),
            "weekdays": [0, 2],
            "start_time": "09:00",
            "end_time": "11:00",
            "slot_minutes": 30,
            "timezone": "UTC",
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 8

    assert changes(clinic_admin_client, model="scheduling.timeblock") == []
    event = AuditEvent.objects.get(action="time_block.bulk_created")
    assert (event.actor_id, event.data["created"], event.data["source"]) == (doctor.pk, 8, "bulk")


# ---------------------------------------------------------------------------
# A patient's access log
# ---------------------------------------------------------------------------
def test_access_log_lists_who_read_my_records_newest_first(patient, staff, doctor):
    AppointmentFactory(patient=patient, time_block__doctor=doctor)
    AppointmentFactory(time_block__doctor=doctor)  # another patient's, seen in the same list
    patient_api = client_for(patient)
    patient_api.get(APPOINTMENTS_URL)  # my own reads are not listed
    assert client_for(staff).get(f"{USERS_URL}{patient.pk}/").status_code == 200
    assert client_for(doctor).get(APPOINTMENTS_URL).status_code == 200
    patient_api.get(APPOINTMENTS_URL)

    response = patient_api.get(ACCESS_LOG_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert set(newest) == ACCESS_LOG_FIELDS
    assert newest["action"] == oldest["action"] == "patient_record.viewed"
    assert (newest["actor_role"], newest["actor_name"]) == ("doctor", doctor.full_name)
    assert (oldest["actor_role"], oldest["actor_name"]) == ("staff", staff.full_name)
    assert newest["at"] >= oldest["at"]
    assert newest["at"].endswith("Z")


def test_access_log_shows_only_my_own_records(patient, other_patient, staff):
    client_for(staff).get(f"{USERS_URL}{other_patient.pk}/")

    assert client_for(patient).get(ACCESS_LOG_URL).json()["count"] == 0
    assert client_for(other_patient).get(ACCESS_LOG_URL).json()["count"] == 1


def test_access_log_never_shows_the_viewers_contact_data(patient, staff):
    client_for(staff).get(f"{USERS_URL}{patient.pk}/")

    body = client_for(patient).get(ACCESS_LOG_URL).content.decode()

    assert staff.email not in body
    assert str(staff.pk) not in json.loads(body)["results"][0].values()


# ---------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------
def queries_for(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


@pytest.fixture
def busy_audit_trail(patient):
    """60+ events, history entries of several models and actors, and views of `patient`."""
    doctors = DoctorFactory.create_batch(3)
    with time_machine.travel(T0, tick=False):
        for n in range(20):
            with auditlog_actor(doctors[n % 3]):
                AppointmentFactory(patient=patient, time_block__doctor=doctors[n % 3])
                PatientFactory()
            audit_record(
                action="patient_record.viewed",
                target_type="user",
                target_id=patient.pk,
                actor=doctors[n % 3],
            )
            audit_record(action="test.event", actor=doctors[n % 3])
            audit_record(action="test.other", actor=None)
    assert AuditEvent.objects.count() >= 60
    assert LogEntry.objects.count() >= 60
    assert Appointment.objects.count() == 20


@pytest.mark.parametrize(
    ("who", "url", "params"),
    [
        ("admin", EVENTS_URL, {}),
        ("admin", EXPORT_URL, WINDOW),
        ("admin", CHANGES_URL, {}),
        ("patient", ACCESS_LOG_URL, {}),
    ],
    ids=["events", "export", "changes", "access-log"],
)
def test_audit_lists_take_a_bounded_number_of_queries_whatever_the_page_size(
    busy_audit_trail, clinic_admin, patient, django_assert_max_num_queries, who, url, params
):
    client = client_for(clinic_admin if who == "admin" else patient)

    small = queries_for(client, url, page_size=5, **params)
    with django_assert_max_num_queries(4):
        large = queries_for(client, url, page_size=60, **params)

    assert large <= small  # a page holding the whole list needs no count

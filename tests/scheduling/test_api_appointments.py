"""appointments/: the permission matrix, booking, lists and filters, PATCH (docs/api-rules.md)."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.exceptions import (
    BLOCK_IN_PAST,
    BLOCK_TOO_SOON,
    BLOCK_WITHDRAWN,
    DOCTOR_UNAVAILABLE,
    PATIENT_OVERLAP,
    SLOT_TAKEN,
    TOO_MANY_ACTIVE,
)
from scheduling.models import Appointment
from tests.scheduling.appointment_helpers import (
    APPOINTMENT_FIELDS,
    APPOINTMENTS_URL,
    appointment_url,
    audit_rows,
    iso_z,
    row_counts,
)
from tests.support.clients import client_for
from tests.support.factories import (
    AppointmentFactory,
    CancelledAppointmentFactory,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    InactiveDoctorFactory,
    InactivePatientFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StartedConfirmedAppointmentFactory,
    SuspendedDoctorFactory,
    SuspendedPatientFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

Status = Appointment.Status


def slot(days: float, hour: int = 10) -> datetime.datetime:
    """A start at half past the hour: factory-sequence blocks start on the hour and last
    30 minutes, so explicit blocks made with this never collide with them."""
    return in_days(days, hour) + datetime.timedelta(minutes=30)


# ---------------------------------------------------------------------------
# Permission matrix
# ---------------------------------------------------------------------------
# "patient_other" is the patient acting on another patient's appointment; "doctor_other"
# the doctor acting on another doctor's. For list and create they are just the role.
CALLERS = ("anon", "patient", "patient_other", "doctor", "doctor_other", "staff", "admin")
HOUR = datetime.timedelta(hours=1)

MATRIX = {
    #              anon  pat  p_oth  doc  d_oth  staff admin
    "list": (401, 200, 200, 200, 200, 200, 200),
    "retrieve": (401, 200, 404, 200, 404, 200, 200),
    "create": (401, 201, 201, 403, 403, 201, 201),
    "update": (401, 200, 404, 200, 404, 200, 200),
    # A role that can never call an action gets 403 before any lookup, even on an
    # appointment it cannot see (§5 status precedence).
    "confirm": (401, 403, 403, 200, 404, 200, 200),
    "cancel": (401, 200, 404, 200, 404, 200, 200),
    "complete": (401, 403, 403, 200, 404, 403, 200),
    "no_show": (401, 403, 403, 200, 404, 200, 200),
    "reschedule": (401, 200, 404, 403, 403, 200, 200),
    "check_in": (401, 403, 403, 200, 404, 200, 200),
    "start_visit": (401, 403, 403, 200, 404, 403, 200),
}
MATRIX_CASES = [
    (action, caller, expected)
    for action, row in MATRIX.items()
    for caller, expected in zip(CALLERS, row, strict=True)
]


def _matrix_request(client, action: str, appointment, free_block, patient):
    if action == "list":
        return client.get(APPOINTMENTS_URL)
    if action == "retrieve":
        return client.get(appointment_url(appointment))
    if action == "create":
        return client.post(APPOINTMENTS_URL, {"time_block": free_block.pk, "patient": patient.pk})
    if action == "update":
        return client.patch(appointment_url(appointment), {"reason": "R2", "notes": "N2"})
    if action == "cancel":
        return client.post(appointment_url(appointment, "cancel"), {"reason": "Away"})
    if action == "reschedule":
        return client.post(
            appointment_url(appointment, "reschedule"), {"time_block": free_block.pk}
        )
    return client.post(appointment_url(appointment, action))


@pytest.mark.parametrize(("action", "caller", "expected"), MATRIX_CASES)
def test_permission_matrix(
    action, caller, expected, patient, other_patient, doctor, other_doctor, staff, clinic_admin
):
    callers = {
        "anon": None,
        "patient": patient,
        "patient_other": patient,
        "doctor": doctor,
        "doctor_other": doctor,
        "staff": staff,
        "admin": clinic_admin,
    }
    owner = other_patient if caller == "patient_other" else patient
    owning_doctor = other_doctor if caller == "doctor_other" else doctor
    factory = (
        StartedConfirmedAppointmentFactory
        if action in ("complete", "no_show")
        else PendingAppointmentFactory
    )
    if action in ("check_in", "start_visit"):
        # Check-in is open an hour before the start; start-visit needs an arrived patient.
        status = (
            Appointment.Status.CONFIRMED if action == "check_in" else Appointment.Status.ARRIVED
        )
        appointment = AppointmentFactory(
            patient=owner,
            status=status,
            time_block=TimeBlockFactory(doctor=owning_doctor, start=timezone.now() + HOUR),
        )
    else:
        appointment = factory(patient=owner, time_block__doctor=owning_doctor)
    free_block = TimeBlockFactory(doctor=owning_doctor, start=slot(5))

    response = _matrix_request(client_for(callers[caller]), action, appointment, free_block, owner)

    assert response.status_code == expected, response.content
    if expected in (401, 403, 404):
        assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("transition", ["confirm", "complete", "no_show", "reschedule"])
def test_a_role_that_can_never_transition_gets_403_even_for_a_missing_appointment(
    patient_client, doctor_client, staff_client, transition
):
    client = {
        "confirm": patient_client,
        "complete": staff_client,
        "no_show": patient_client,
        "reschedule": doctor_client,
    }[transition]

    response = client.post(appointment_url(999_999, transition), {"time_block": 1})

    assert response.status_code == 403


def test_anonymous_caller_gets_401_before_any_lookup(anon_client):
    assert anon_client.get(appointment_url(999_999)).status_code == 401
    assert anon_client.post(appointment_url(999_999, "cancel")).status_code == 401


def test_a_missing_appointment_is_404_for_staff(staff_client):
    assert staff_client.get(appointment_url(999_999)).status_code == 404
    assert staff_client.post(appointment_url(999_999, "confirm")).status_code == 404


def test_delete_and_put_are_405(staff_client, patient):
    appointment = PendingAppointmentFactory(patient=patient)

    assert staff_client.delete(appointment_url(appointment)).status_code == 405
    assert staff_client.put(appointment_url(appointment), {}).status_code == 405
    assert Appointment.objects.filter(pk=appointment.pk).exists()


# ---------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------
def test_patient_books_a_free_block_for_themself(
    patient, patient_client, doctor, django_capture_on_commit_callbacks
):
    doctor.doctor_profile.location = "Room 4"
    doctor.doctor_profile.timezone = "Europe/Madrid"
    doctor.doctor_profile.save()
    block = TimeBlockFactory(doctor=doctor)

    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(
            APPOINTMENTS_URL, {"time_block": block.pk, "reason": "Cough for two weeks"}
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == APPOINTMENT_FIELDS
    appointment = Appointment.objects.get()
    assert body["id"] == appointment.pk
    assert body["patient"] == patient.pk
    assert body["doctor"] == doctor.pk
    assert body["time_block"] == block.pk
    assert body["status"] == "pending"
    assert body["reason"] == "Cough for two weeks"
    assert body["notes"] == ""
    assert body["cancellation_reason"] == ""
    assert body["cancelled_by"] is None
    assert body["rescheduled_from"] is None
    assert body["doctor_name"] == f"{doctor.first_name} {doctor.last_name}"
    assert body["patient_name"] == f"{patient.first_name} {patient.last_name}"
    assert body["doctor_location"] == "Room 4"
    assert body["doctor_timezone"] == "Europe/Madrid"
    assert body["start"] == iso_z(block.start)
    assert body["end"] == iso_z(block.end)
    for name in ("start", "end", "created_at", "updated_at"):
        assert body[name].endswith("Z"), name
    assert body["confirmed_at"] is None
    assert body["cancelled_at"] is None
    assert body["completed_at"] is None
    assert (appointment.patient_id, appointment.doctor_id, appointment.time_block_id) == (
        patient.pk,
        doctor.pk,
        block.pk,
    )
    assert (appointment.start, appointment.end) == (block.start, block.end)
    [event] = audit_rows("appointment.booked")
    assert event.actor_id == patient.pk
    assert event.target_type == "appointment"
    assert event.target_id == str(appointment.pk)
    assert event.data == {"patient": patient.pk, "doctor": doctor.pk, "time_block": block.pk}


def test_patient_field_in_a_patients_booking_is_ignored(patient, patient_client, other_patient):
    block = TimeBlockFactory()

    response = patient_client.post(
        APPOINTMENTS_URL, {"time_block": block.pk, "patient": other_patient.pk}
    )

    assert response.status_code == 201, response.json()
    assert response.json()["patient"] == patient.pk
    assert not Appointment.objects.filter(patient=other_patient).exists()


@pytest.mark.parametrize("value", ["abc", -1, 0, 999_999])
def test_a_malformed_patient_field_in_a_patients_booking_is_ignored_too(
    patient, patient_client, value
):
    # A field the caller may not write is ignored, not validated (§5).
    response = patient_client.post(
        APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk, "patient": value}
    )

    assert response.status_code == 201, response.content
    assert response.json()["patient"] == patient.pk


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_book_for_a_named_patient(role, staff, clinic_admin, patient):
    actor = {"staff": staff, "admin": clinic_admin}[role]
    block = TimeBlockFactory()

    response = client_for(actor).post(
        APPOINTMENTS_URL, {"time_block": block.pk, "patient": patient.pk}
    )

    assert response.status_code == 201, response.json()
    assert response.json()["patient"] == patient.pk
    assert response.json()["status"] == "pending"
    [event] = audit_rows("appointment.booked")
    assert event.actor_id == actor.pk
    assert event.data["patient"] == patient.pk


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_booking_without_a_patient_is_400(role, staff, clinic_admin):
    actor = {"staff": staff, "admin": clinic_admin}[role]
    block = TimeBlockFactory()
    before = row_counts()

    response = client_for(actor).post(APPOINTMENTS_URL, {"time_block": block.pk})

    assert response.status_code == 400
    assert "patient" in response.json()
    assert row_counts() == before


@pytest.mark.parametrize(
    "target",
    ["doctor", "staff", "admin", "unknown", "inactive", "suspended", "not_an_integer", "zero"],
)
def test_staff_booking_for_anyone_but_an_active_patient_is_400(
    target, staff_client, doctor, staff, clinic_admin, django_capture_on_commit_callbacks
):
    patient_id = {
        "doctor": lambda: doctor.pk,
        "staff": lambda: staff.pk,
        "admin": lambda: clinic_admin.pk,
        "unknown": lambda: 999_999,
        "inactive": lambda: InactivePatientFactory().pk,
        "suspended": lambda: SuspendedPatientFactory().pk,
        "not_an_integer": lambda: "abc",
        "zero": lambda: 0,
    }[target]()
    block = TimeBlockFactory()
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            APPOINTMENTS_URL, {"time_block": block.pk, "patient": patient_id}
        )

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"patient"}
    assert callbacks == []
    assert row_counts() == before


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (999_999, "time_block"),
        ("abc", "time_block"),
        ("1.5", "time_block"),
        (-1, "time_block"),
        (None, "time_block"),
    ],
)
def test_booking_an_unknown_or_malformed_block_id_is_400(patient_client, value, field):
    before = row_counts()

    body = {"reason": "x"} if value is None else {"time_block": value}
    response = patient_client.post(APPOINTMENTS_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert row_counts() == before


def test_booking_with_an_overlong_reason_is_400(patient_client):
    block = TimeBlockFactory()
    before = row_counts()

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk, "reason": "x" * 1001})

    assert response.status_code == 400
    assert "reason" in response.json()
    assert row_counts() == before


def test_booking_accepts_a_reason_of_exactly_1000_characters(patient_client):
    response = patient_client.post(
        APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk, "reason": "x" * 1000}
    )

    assert response.status_code == 201, response.json()


def _assert_conflict_and_nothing_written(response, code, before, callbacks) -> None:
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert callbacks == []
    assert row_counts() == before


def test_booking_a_taken_slot_is_409_slot_taken(
    patient_client, other_patient, django_capture_on_commit_callbacks
):
    taken = ConfirmedAppointmentFactory(patient=other_patient)
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": taken.time_block_id})

    _assert_conflict_and_nothing_written(response, SLOT_TAKEN, before, callbacks)


def test_booking_ones_own_slot_twice_is_409_slot_taken(patient, patient_client):
    booked = PendingAppointmentFactory(patient=patient)

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": booked.time_block_id})

    assert response.status_code == 409
    assert response.json()["code"] == SLOT_TAKEN


@pytest.mark.parametrize("factory", [CancelledAppointmentFactory])
def test_a_cancelled_slot_can_be_booked_again(factory, patient, patient_client, other_patient):
    cancelled = factory(patient=other_patient)

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": cancelled.time_block_id})

    assert response.status_code == 201, response.json()
    assert Appointment.objects.filter(time_block=cancelled.time_block).count() == 2
    assert Appointment.objects.get(pk=response.json()["id"]).status == Status.PENDING


def test_booking_a_past_block_is_409_block_in_past(
    patient_client, doctor, django_capture_on_commit_callbacks
):
    block = TimeBlockFactory(doctor=doctor, start=timezone.now() - datetime.timedelta(hours=2))
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk})

    _assert_conflict_and_nothing_written(response, BLOCK_IN_PAST, before, callbacks)


@pytest.mark.parametrize(
    ("offset", "expected_status", "expected_code"),
    [
        # The block starts exactly now: it has started.
        (datetime.timedelta(0), 409, BLOCK_IN_PAST),
        (datetime.timedelta(seconds=1), 409, BLOCK_TOO_SOON),
        (datetime.timedelta(minutes=90) - datetime.timedelta(seconds=1), 409, BLOCK_TOO_SOON),
        # Exactly the lead time ahead is allowed ("at least BOOKING_MIN_LEAD_MINUTES").
        (datetime.timedelta(minutes=90), 201, None),
        (datetime.timedelta(minutes=91), 201, None),
    ],
)
def test_lead_time_boundary(settings, patient, doctor, offset, expected_status, expected_code):
    settings.BOOKING_MIN_LEAD_MINUTES = 90
    now = in_days(2, hour=8)
    with time_machine.travel(now, tick=False):
        block = TimeBlockFactory(doctor=doctor, start=now + offset)
        before = row_counts()

        response = client_for(patient).post(APPOINTMENTS_URL, {"time_block": block.pk})

    assert response.status_code == expected_status, response.content
    if expected_code:
        assert response.json()["code"] == expected_code
        assert row_counts() == before
    else:
        assert Appointment.objects.get().time_block_id == block.pk


def test_booking_a_withdrawn_block_is_409_block_withdrawn(
    patient_client, other_patient, django_capture_on_commit_callbacks
):
    block = WithdrawnTimeBlockFactory()
    CancelledAppointmentFactory(patient=other_patient, time_block=block)
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk})

    _assert_conflict_and_nothing_written(response, BLOCK_WITHDRAWN, before, callbacks)


@pytest.mark.parametrize("doctor_factory", [SuspendedDoctorFactory, InactiveDoctorFactory])
def test_booking_with_a_suspended_or_inactive_doctor_is_409_doctor_unavailable(
    doctor_factory, patient_client, django_capture_on_commit_callbacks
):
    block = TimeBlockFactory(doctor=doctor_factory())
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk})

    _assert_conflict_and_nothing_written(response, DOCTOR_UNAVAILABLE, before, callbacks)


def test_booking_an_overlapping_block_of_another_doctor_is_409_patient_overlap(
    patient, patient_client, doctor, other_doctor, django_capture_on_commit_callbacks
):
    start = slot(4)
    PendingAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=doctor, start=start)
    )
    overlapping = TimeBlockFactory(
        doctor=other_doctor,
        start=start + datetime.timedelta(minutes=15),
        end=start + datetime.timedelta(minutes=45),
    )
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": overlapping.pk})

    _assert_conflict_and_nothing_written(response, PATIENT_OVERLAP, before, callbacks)


def test_an_adjacent_block_of_another_doctor_is_not_an_overlap(
    patient, patient_client, doctor, other_doctor
):
    start = slot(4)
    PendingAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=doctor, start=start)
    )
    adjacent = TimeBlockFactory(doctor=other_doctor, start=start + datetime.timedelta(minutes=30))

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": adjacent.pk})

    assert response.status_code == 201, response.json()


def test_an_inactive_appointment_does_not_block_an_overlapping_booking(
    patient, patient_client, doctor, other_doctor
):
    start = slot(4)
    CancelledAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=doctor, start=start)
    )
    same_time = TimeBlockFactory(doctor=other_doctor, start=start)

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": same_time.pk})

    assert response.status_code == 201, response.json()


def test_booking_over_the_active_cap_is_409_too_many_active(
    settings, patient, patient_client, django_capture_on_commit_callbacks
):
    settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT = 2
    PendingAppointmentFactory(patient=patient)
    ConfirmedAppointmentFactory(patient=patient)
    block = TimeBlockFactory()
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = patient_client.post(APPOINTMENTS_URL, {"time_block": block.pk})

    _assert_conflict_and_nothing_written(response, TOO_MANY_ACTIVE, before, callbacks)


def test_inactive_appointments_do_not_count_towards_the_cap(settings, patient, patient_client):
    settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT = 2
    PendingAppointmentFactory(patient=patient)
    CancelledAppointmentFactory(patient=patient)
    CompletedAppointmentFactory(patient=patient)

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk})

    assert response.status_code == 201, response.json()
    assert Appointment.objects.filter(patient=patient, status__in=["pending"]).count() == 2


def test_the_active_cap_is_per_patient(settings, patient, staff_client, other_patient):
    settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT = 2
    PendingAppointmentFactory(patient=patient)
    PendingAppointmentFactory(patient=patient)

    response = staff_client.post(
        APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk, "patient": other_patient.pk}
    )
    refused = staff_client.post(
        APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk, "patient": patient.pk}
    )

    assert response.status_code == 201, response.json()
    assert refused.status_code == 409
    assert refused.json()["code"] == TOO_MANY_ACTIVE


# ---------------------------------------------------------------------------
# List and retrieve
# ---------------------------------------------------------------------------
@pytest.fixture
def clinic(patient, other_patient, doctor, other_doctor):
    """Appointments of two patients with two doctors, in several states."""
    return {
        "p_d": PendingAppointmentFactory(patient=patient, time_block__doctor=doctor),
        "p_od": ConfirmedAppointmentFactory(patient=patient, time_block__doctor=other_doctor),
        "op_d": CancelledAppointmentFactory(patient=other_patient, time_block__doctor=doctor),
        "op_od": CompletedAppointmentFactory(
            patient=other_patient, time_block__doctor=other_doctor
        ),
    }


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_patient_lists_only_their_own_appointments(patient_client, clinic):
    response = patient_client.get(APPOINTMENTS_URL)

    assert sorted(_ids(response)) == sorted([clinic["p_d"].pk, clinic["p_od"].pk])
    body = response.json()
    assert body["count"] == 2
    assert set(body) == {"count", "next", "previous", "results"}
    assert set(body["results"][0]) == APPOINTMENT_FIELDS


def test_doctor_lists_only_their_own_appointments(doctor_client, clinic):
    assert sorted(_ids(doctor_client.get(APPOINTMENTS_URL))) == sorted(
        [clinic["p_d"].pk, clinic["op_d"].pk]
    )


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_list_every_appointment(role, role_clients, clinic):
    assert sorted(_ids(role_clients[role].get(APPOINTMENTS_URL))) == sorted(
        a.pk for a in clinic.values()
    )


def test_default_order_is_start_then_id(staff_client, clinic):
    expected = [a.pk for a in sorted(clinic.values(), key=lambda a: (a.start, a.pk))]

    assert _ids(staff_client.get(APPOINTMENTS_URL)) == expected


def test_patient_retrieves_their_appointment(patient_client, clinic):
    response = patient_client.get(appointment_url(clinic["p_d"]))

    assert response.status_code == 200
    assert response.json()["id"] == clinic["p_d"].pk
    assert set(response.json()) == APPOINTMENT_FIELDS


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("status=pending", ["p_d"]),
        ("status=pending,confirmed", ["p_d", "p_od"]),
        ("status=cancelled,completed", ["op_d", "op_od"]),
        ("status=no_show", []),
    ],
)
def test_status_filter_takes_a_comma_list(staff_client, clinic, query, keys):
    assert sorted(_ids(staff_client.get(f"{APPOINTMENTS_URL}?{query}"))) == sorted(
        clinic[k].pk for k in keys
    )


@pytest.mark.parametrize("value", ["bogus", "pending,bogus", "PENDING", "no-show"])
def test_an_invalid_status_filter_is_400(staff_client, value):
    response = staff_client.get(APPOINTMENTS_URL, {"status": value})

    assert response.status_code == 400
    assert "status" in response.json()


def test_doctor_and_patient_filters(staff_client, clinic, doctor, other_patient):
    assert sorted(_ids(staff_client.get(APPOINTMENTS_URL, {"doctor": doctor.pk}))) == sorted(
        [clinic["p_d"].pk, clinic["op_d"].pk]
    )
    assert sorted(
        _ids(staff_client.get(APPOINTMENTS_URL, {"patient": other_patient.pk}))
    ) == sorted([clinic["op_d"].pk, clinic["op_od"].pk])
    assert _ids(
        staff_client.get(APPOINTMENTS_URL, {"doctor": doctor.pk, "patient": other_patient.pk})
    ) == [clinic["op_d"].pk]


def test_filters_never_widen_what_a_patient_sees(patient_client, clinic, other_patient):
    assert _ids(patient_client.get(APPOINTMENTS_URL, {"patient": other_patient.pk})) == []


@pytest.mark.parametrize("param", ["doctor", "patient"])
@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_malformed_id_filters_are_400(staff_client, param, value):
    response = staff_client.get(APPOINTMENTS_URL, {param: value})

    assert response.status_code == 400
    assert param in response.json()


def test_from_and_to_are_half_open_on_start(staff_client, doctor):
    first = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(4)))
    second = PendingAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=slot(4, hour=11))
    )
    third = PendingAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=slot(4, hour=12))
    )

    response = staff_client.get(
        APPOINTMENTS_URL, {"from": iso_z(first.start), "to": iso_z(third.start)}
    )
    only_second = staff_client.get(
        APPOINTMENTS_URL,
        {"from": iso_z(first.start + datetime.timedelta(seconds=1)), "to": iso_z(third.start)},
    )
    with_offset = staff_client.get(
        APPOINTMENTS_URL,
        {"from": second.start.astimezone(datetime.timezone(datetime.timedelta(hours=2)))},
    )

    assert _ids(response) == [first.pk, second.pk]
    assert _ids(only_second) == [second.pk]
    assert _ids(with_offset) == [second.pk, third.pk]


@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", ["2030-01-01T10:00:00", "2030-01-01", "yesterday"])
def test_naive_or_malformed_from_and_to_are_400(staff_client, param, value):
    response = staff_client.get(APPOINTMENTS_URL, {param: value})

    assert response.status_code == 400
    assert param in response.json()


def test_ordering_by_start_descending_and_by_created_at(staff_client, doctor):
    late = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(6)))
    early = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(4)))
    middle = PendingAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=slot(5)))
    base = timezone.now()
    for offset, appointment in enumerate([middle, late, early]):
        Appointment.objects.filter(pk=appointment.pk).update(
            created_at=base + datetime.timedelta(minutes=offset)
        )

    assert _ids(staff_client.get(APPOINTMENTS_URL, {"ordering": "start"})) == [
        early.pk,
        middle.pk,
        late.pk,
    ]
    assert _ids(staff_client.get(APPOINTMENTS_URL, {"ordering": "-start"})) == [
        late.pk,
        middle.pk,
        early.pk,
    ]
    assert _ids(staff_client.get(APPOINTMENTS_URL, {"ordering": "created_at"})) == [
        middle.pk,
        late.pk,
        early.pk,
    ]


@pytest.mark.parametrize("value", ["end", "reason", "-created_at", "status", ""])
def test_an_invalid_ordering_is_400(staff_client, value):
    response = staff_client.get(APPOINTMENTS_URL, {"ordering": value})

    assert response.status_code == 400
    assert "ordering" in response.json()


def test_list_pages_and_caps_page_size(staff_client):
    for _ in range(3):
        PendingAppointmentFactory()

    first = staff_client.get(APPOINTMENTS_URL, {"page_size": 2})
    beyond = staff_client.get(APPOINTMENTS_URL, {"page_size": 2, "page": 3})

    assert first.json()["count"] == 3
    assert len(first.json()["results"]) == 2
    assert first.json()["next"]
    assert beyond.status_code == 404


# The user behind the token, count, page, and (for reads of others' records) one bulk insert
# of patient_record.viewed.
LIST_QUERY_BUDGET = 4


@pytest.mark.parametrize("role", ["patient", "doctor", "staff"])
def test_list_query_count_does_not_grow_with_the_page(
    role, role_clients, patient, doctor, django_assert_max_num_queries
):
    other_doctors = DoctorFactory.create_batch(3)
    for i in range(60):
        # Patients, doctors and profiles all differ, so any per-row lookup would show.
        owner = patient if i % 3 == 0 else PatientFactory()
        seeing_doctor = doctor if i % 2 == 0 else other_doctors[i % 3]
        PendingAppointmentFactory(patient=owner, time_block__doctor=seeing_doctor)
    client = role_clients[role]

    counts = []
    for page_size in (5, 50):
        with (
            django_assert_max_num_queries(LIST_QUERY_BUDGET),
            CaptureQueriesContext(connection) as captured,
        ):
            response = client.get(APPOINTMENTS_URL, {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == min(page_size, response.json()["count"])
        counts.append(len(captured))

    assert counts[1] <= counts[0]  # a page holding the whole list needs no count


def test_staff_and_doctor_reads_are_recorded_as_patient_record_views(
    staff, staff_client, doctor_client, patient_client, clinic, patient, other_patient
):
    staff_client.get(APPOINTMENTS_URL)
    doctor_client.get(appointment_url(clinic["p_d"]))
    patient_client.get(APPOINTMENTS_URL)

    viewed = audit_rows("patient_record.viewed")
    assert sorted((e.actor_id, e.target_id) for e in viewed) == sorted(
        [
            (staff.pk, str(patient.pk)),
            (staff.pk, str(other_patient.pk)),
            (clinic["p_d"].doctor_id, str(patient.pk)),
        ]
    )


# ---------------------------------------------------------------------------
# PATCH
# ---------------------------------------------------------------------------
def test_patient_changes_the_reason_while_pending(patient, patient_client):
    appointment = PendingAppointmentFactory(patient=patient, reason="Old words")

    response = patient_client.patch(appointment_url(appointment), {"reason": "Knee pain"})

    assert response.status_code == 200, response.json()
    assert response.json()["reason"] == "Knee pain"
    appointment.refresh_from_db()
    assert appointment.reason == "Knee pain"
    [event] = audit_rows("appointment.updated")
    assert event.actor_id == patient.pk
    assert event.target_id == str(appointment.pk)
    assert event.data == {"fields": ["reason"]}
    assert "Knee pain" not in json.dumps(event.data)


def test_patients_reason_is_silently_ignored_once_confirmed(patient, patient_client):
    appointment = ConfirmedAppointmentFactory(patient=patient, reason="Original")

    response = patient_client.patch(appointment_url(appointment), {"reason": "Changed"})

    assert response.status_code == 200, response.json()
    assert response.json()["reason"] == "Original"
    appointment.refresh_from_db()
    assert appointment.reason == "Original"
    assert audit_rows("appointment.updated") == []


def test_patient_cannot_write_notes(patient, patient_client):
    appointment = PendingAppointmentFactory(patient=patient, notes="Doctor's words")

    response = patient_client.patch(appointment_url(appointment), {"notes": "Mine now"})

    assert response.status_code == 200
    assert response.json()["notes"] == "Doctor's words"


def test_doctor_writes_notes_and_the_reason_is_ignored(doctor, doctor_client):
    appointment = ConfirmedAppointmentFactory(time_block__doctor=doctor, reason="Patient's words")

    response = doctor_client.patch(
        appointment_url(appointment),
        {"notes": "Prescribed rest; see again in 2 weeks", "reason": "Overwritten"},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["notes"] == "Prescribed rest; see again in 2 weeks"
    assert response.json()["reason"] == "Patient's words"
    [event] = audit_rows("appointment.updated")
    assert event.actor_id == doctor.pk
    assert event.data == {"fields": ["notes"]}
    assert "Prescribed" not in json.dumps(event.data)


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_write_reason_and_notes(role, role_clients, staff, clinic_admin):
    appointment = ConfirmedAppointmentFactory(reason="r0", notes="n0")

    response = role_clients[role].patch(
        appointment_url(appointment), {"reason": "Fever", "notes": "Call back"}
    )

    assert response.status_code == 200, response.json()
    appointment.refresh_from_db()
    assert (appointment.reason, appointment.notes) == ("Fever", "Call back")
    [event] = audit_rows("appointment.updated")
    assert event.actor_id == {"staff": staff, "admin": clinic_admin}[role].pk
    assert sorted(event.data["fields"]) == ["notes", "reason"]
    assert set(event.data) == {"fields"}


def test_patch_ignores_status_times_and_ids(staff_client, other_doctor):
    appointment = PendingAppointmentFactory()
    other_block = TimeBlockFactory(doctor=other_doctor)
    original = (appointment.status, appointment.start, appointment.end, appointment.time_block_id)

    response = staff_client.patch(
        appointment_url(appointment),
        {
            "status": "completed",
            "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T11:00:00Z",
            "time_block": other_block.pk,
            "doctor": other_doctor.pk,
            "confirmed_at": "2030-01-01T10:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    appointment.refresh_from_db()
    assert (
        appointment.status,
        appointment.start,
        appointment.end,
        appointment.time_block_id,
    ) == original
    assert appointment.doctor_id != other_doctor.pk
    assert appointment.confirmed_at is None
    assert audit_rows("appointment.updated") == []


def test_patch_with_unchanged_text_writes_no_audit_row(patient, patient_client):
    appointment = PendingAppointmentFactory(patient=patient, reason="Same")

    response = patient_client.patch(appointment_url(appointment), {"reason": "Same"})

    assert response.status_code == 200
    assert audit_rows("appointment.updated") == []


@pytest.mark.parametrize(("field", "limit"), [("reason", 1000), ("notes", 5000)])
def test_patch_with_overlong_text_is_400(staff_client, field, limit):
    appointment = PendingAppointmentFactory()

    response = staff_client.patch(appointment_url(appointment), {field: "x" * (limit + 1)})

    assert response.status_code == 400
    assert field in response.json()
    appointment.refresh_from_db()
    assert len(getattr(appointment, field)) < limit


def test_staff_can_book_for_a_walk_in_patient_without_a_password(staff_client):
    # A walk-in patient without a usable password is still an active patient.
    walk_in = PatientFactory()
    walk_in.set_unusable_password()
    walk_in.save()

    response = staff_client.post(
        APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk, "patient": walk_in.pk}
    )

    assert response.status_code == 201, response.json()

"""The appointment lifecycle through the API: every transition, role and rule (docs/api-rules.md).

Notice-window boundary: the cancel and reschedule services refuse a patient when
`start - now < CANCELLATION_NOTICE_HOURS`, so a patient may still cancel or move a visit
exactly CANCELLATION_NOTICE_HOURS before it starts, and not a moment later.
"""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from auditlog.models import LogEntry
from django.utils import timezone

from core.exceptions import (
    BLOCK_IN_PAST,
    BLOCK_TOO_SOON,
    BLOCK_WITHDRAWN,
    CANCELLATION_TOO_LATE,
    DOCTOR_UNAVAILABLE,
    ILLEGAL_TRANSITION,
    NOT_STARTED,
    PATIENT_OVERLAP,
    SLOT_TAKEN,
)
from scheduling.models import Appointment
from tests.scheduling.appointment_helpers import (
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
    ConfirmedAppointmentFactory,
    PastTimeBlockFactory,
    PendingAppointmentFactory,
    StartedConfirmedAppointmentFactory,
    SuspendedDoctorFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
    in_days,
)

pytestmark = pytest.mark.django_db

Status = Appointment.Status
HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)


def slot(days: float, hour: int = 10) -> datetime.datetime:
    """Half past the hour: never collides with the factory's on-the-hour blocks."""
    return in_days(days, hour) + datetime.timedelta(minutes=30)


# ---------------------------------------------------------------------------
# The lifecycle as a table: every (from status, transition, role)
# ---------------------------------------------------------------------------
STATUSES = [s.value for s in Status]
TRANSITIONS = ["confirm", "cancel", "complete", "no_show", "reschedule", "check_in", "start_visit"]
ROLES = ["patient", "doctor", "staff", "admin"]

# Roles that can never call a transition: 403 whatever the appointment's state.
NEVER = {
    ("patient", "confirm"),
    ("patient", "complete"),
    ("patient", "no_show"),
    ("doctor", "reschedule"),
    ("staff", "complete"),
    ("patient", "check_in"),
    ("patient", "start_visit"),
    ("staff", "start_visit"),
}
LEGAL_FROM = {
    "confirm": {Status.PENDING},
    "cancel": {Status.PENDING, Status.CONFIRMED},
    "complete": {Status.CONFIRMED, Status.ARRIVED},
    "no_show": {Status.CONFIRMED},
    "reschedule": {Status.PENDING, Status.CONFIRMED},
    "check_in": {Status.CONFIRMED},
    "start_visit": {Status.ARRIVED},
}
RESULT = {
    "confirm": Status.CONFIRMED,
    "cancel": Status.CANCELLED,
    "complete": Status.COMPLETED,
    "no_show": Status.NO_SHOW,
    "reschedule": Status.PENDING,
    "check_in": Status.ARRIVED,
    "start_visit": Status.ARRIVED,
}
AUDIT_ACTION = {
    "confirm": "appointment.confirmed",
    "cancel": "appointment.cancelled",
    "complete": "appointment.completed",
    "no_show": "appointment.no_show",
    "reschedule": "appointment.rescheduled",
    "check_in": "appointment.arrived",
    "start_visit": "appointment.visit_started",
}


def _expected(from_status: str, transition: str, role: str) -> int:
    if (role, transition) in NEVER:
        return 403
    legal = LEGAL_FROM[transition]
    if transition == "cancel" and role in ("staff", "admin"):
        legal = legal | {Status.ARRIVED}  # the clinic may send an arrived patient away
    return 200 if from_status in legal else 409


LIFECYCLE = [
    (from_status, transition, role, _expected(from_status, transition, role))
    for from_status in STATUSES
    for transition in TRANSITIONS
    for role in ROLES
]


def _transition(client, appointment, transition: str, target=None):
    body = {"time_block": target.pk} if transition == "reschedule" else {}
    if transition == "cancel":
        body = {"reason": "Had to leave"}  # the clinic's cancel of an arrived visit needs one
    return client.post(appointment_url(appointment, transition), body)


@pytest.mark.parametrize(("from_status", "transition", "role", "expected"), LIFECYCLE)
def test_lifecycle_table(
    from_status, transition, role, expected, patient, doctor, staff, clinic_admin
):
    actor = {"patient": patient, "doctor": doctor, "staff": staff, "admin": clinic_admin}[role]
    # complete/no-show need a visit that has started; the others one beyond the notice window.
    if transition in ("complete", "no_show"):
        block = PastTimeBlockFactory(doctor=doctor)
    elif transition in ("check_in", "start_visit"):
        block = TimeBlockFactory(doctor=doctor, start=timezone.now() + HOUR)  # check-in open
    else:
        block = TimeBlockFactory(doctor=doctor)
    appointment = AppointmentFactory(patient=patient, time_block=block, status=from_status)
    target = TimeBlockFactory(doctor=doctor, start=slot(6))

    response = _transition(client_for(actor), appointment, transition, target)

    assert response.status_code == expected, response.content
    appointment.refresh_from_db()
    if expected == 200:
        assert response.json()["status"] == RESULT[transition]
        assert appointment.status == RESULT[transition]
        [event] = audit_rows(AUDIT_ACTION[transition])
        assert event.actor_id == actor.pk
        assert event.target_id == str(appointment.pk)
    else:
        if expected == 409:
            assert response.json()["code"] == ILLEGAL_TRANSITION
        assert appointment.status == from_status
        assert appointment.time_block_id == block.pk
        assert not audit_rows(AUDIT_ACTION[transition])


def test_confirm_records_confirmed_at(doctor, doctor_client):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)
    now = in_days(1, hour=9)

    with time_machine.travel(now, tick=False):
        response = client_for(doctor).post(appointment_url(appointment, "confirm"))

    assert response.status_code == 200
    assert response.json()["confirmed_at"] == iso_z(now)
    appointment.refresh_from_db()
    assert appointment.confirmed_at == now


def test_confirming_twice_is_409_illegal_transition(doctor_client, doctor):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    first = doctor_client.post(appointment_url(appointment, "confirm"))
    second = doctor_client.post(appointment_url(appointment, "confirm"))

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == ILLEGAL_TRANSITION
    assert len(audit_rows("appointment.confirmed")) == 1


# ---------------------------------------------------------------------------
# complete / no-show: only once the start has passed
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("transition", ["complete", "no_show"])
@pytest.mark.parametrize(
    ("moment", "expected"),
    [(-HOUR, 409), (-SECOND, 409), (datetime.timedelta(0), 200), (SECOND, 200)],
)
def test_complete_and_no_show_only_once_started(doctor, transition, moment, expected):
    appointment = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=slot(3))
    )

    with time_machine.travel(appointment.start + moment, tick=False):
        response = client_for(doctor).post(appointment_url(appointment, transition))

    assert response.status_code == expected, response.content
    appointment.refresh_from_db()
    if expected == 409:
        assert response.json()["code"] == NOT_STARTED
        assert appointment.status == Status.CONFIRMED
        assert appointment.completed_at is None
    else:
        assert appointment.status == RESULT[transition]


def test_complete_records_completed_at_and_no_show_does_not(doctor, clinic_admin):
    completed = StartedConfirmedAppointmentFactory(time_block__doctor=doctor)
    missed = StartedConfirmedAppointmentFactory(time_block__doctor=doctor)
    now = timezone.now().replace(microsecond=0)

    with time_machine.travel(now, tick=False):
        done = client_for(clinic_admin).post(appointment_url(completed, "complete"))
        absent = client_for(doctor).post(appointment_url(missed, "no_show"))

    assert done.status_code == 200
    assert done.json()["completed_at"] == iso_z(now)
    assert absent.status_code == 200
    assert absent.json()["completed_at"] is None
    [event] = audit_rows("appointment.completed")
    assert event.actor_id == clinic_admin.pk
    [event] = audit_rows("appointment.no_show")
    assert event.actor_id == doctor.pk


def test_illegal_transition_wins_over_not_started(doctor):
    appointment = PendingAppointmentFactory(time_block__doctor=doctor)

    response = client_for(doctor).post(appointment_url(appointment, "complete"))

    assert response.status_code == 409
    assert response.json()["code"] == ILLEGAL_TRANSITION


# ---------------------------------------------------------------------------
# Cancel and the notice window
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before_start", "expected"),
    [
        (24 * HOUR + SECOND, 200),  # just outside the window
        (24 * HOUR, 200),  # exactly the notice: start - now == notice is not "< notice"
        (24 * HOUR - SECOND, 409),  # just inside
        (HOUR, 409),
        (-HOUR, 409),  # already started
    ],
)
@pytest.mark.parametrize("status", [Status.PENDING, Status.CONFIRMED])
def test_patient_cancel_notice_window_boundary(settings, patient, status, before_start, expected):
    settings.CANCELLATION_NOTICE_HOURS = 24
    appointment = AppointmentFactory(
        patient=patient, status=status, time_block=TimeBlockFactory(start=slot(4))
    )

    with time_machine.travel(appointment.start - before_start, tick=False):
        response = client_for(patient).post(appointment_url(appointment, "cancel"))

    assert response.status_code == expected, response.content
    appointment.refresh_from_db()
    if expected == 409:
        assert response.json()["code"] == CANCELLATION_TOO_LATE
        assert appointment.status == status
        assert not audit_rows("appointment.cancelled")
    else:
        assert appointment.status == Status.CANCELLED


def test_notice_window_follows_the_setting(settings, patient):
    settings.CANCELLATION_NOTICE_HOURS = 72
    appointment = PendingAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(start=slot(5))
    )

    with time_machine.travel(appointment.start - 48 * HOUR, tick=False):
        response = client_for(patient).post(appointment_url(appointment, "cancel"))

    assert response.status_code == 409
    assert response.json()["code"] == CANCELLATION_TOO_LATE


@pytest.mark.parametrize("role", ["doctor", "staff", "admin"])
def test_doctor_staff_and_admin_may_cancel_inside_the_notice_window(
    role, doctor, staff, clinic_admin
):
    actor = {"doctor": doctor, "staff": staff, "admin": clinic_admin}[role]
    appointment = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=slot(3))
    )

    with time_machine.travel(appointment.start - HOUR, tick=False):
        response = client_for(actor).post(appointment_url(appointment, "cancel"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.CANCELLED


@pytest.mark.parametrize("role", ["patient", "doctor", "staff", "admin"])
def test_cancel_records_who_when_and_why(role, patient, doctor, staff, clinic_admin):
    actor = {"patient": patient, "doctor": doctor, "staff": staff, "admin": clinic_admin}[role]
    appointment = ConfirmedAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=doctor, start=slot(5))
    )
    now = timezone.now().replace(microsecond=0)

    with time_machine.travel(now, tick=False):
        response = client_for(actor).post(
            appointment_url(appointment, "cancel"), {"reason": "Family emergency"}
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == Status.CANCELLED
    assert body["cancelled_by"] == actor.pk
    assert body["cancelled_at"] == iso_z(now)
    assert body["cancellation_reason"] == "Family emergency"
    appointment.refresh_from_db()
    assert appointment.cancelled_by_id == actor.pk
    assert appointment.cancelled_at == now
    assert appointment.cancellation_reason == "Family emergency"
    [event] = audit_rows("appointment.cancelled")
    assert event.actor_id == actor.pk
    assert event.data == {"has_reason": True}
    assert "Family" not in str(event.data)


def test_cancel_without_a_reason(patient, patient_client):
    appointment = PendingAppointmentFactory(patient=patient)

    response = patient_client.post(appointment_url(appointment, "cancel"))

    assert response.status_code == 200
    assert response.json()["cancellation_reason"] == ""
    assert audit_rows("appointment.cancelled")[0].data == {"has_reason": False}


def test_cancel_with_an_overlong_reason_is_400_and_changes_nothing(patient, patient_client):
    appointment = PendingAppointmentFactory(patient=patient)
    before = row_counts()

    response = patient_client.post(appointment_url(appointment, "cancel"), {"reason": "x" * 501})

    assert response.status_code == 400
    assert "reason" in response.json()
    appointment.refresh_from_db()
    assert appointment.status == Status.PENDING
    assert row_counts() == before


def test_a_cancelled_appointment_frees_its_block(patient_client, patient, other_patient):
    appointment = PendingAppointmentFactory(patient=other_patient)
    client_for(other_patient).post(appointment_url(appointment, "cancel"))

    response = patient_client.post(APPOINTMENTS_URL, {"time_block": appointment.time_block_id})

    assert response.status_code == 201, response.json()


# ---------------------------------------------------------------------------
# Reschedule
# ---------------------------------------------------------------------------
@pytest.fixture
def confirmed(patient, doctor):
    """A confirmed visit in 4 days whose reminder already went out."""
    return ConfirmedAppointmentFactory(
        patient=patient,
        time_block=TimeBlockFactory(doctor=doctor, start=slot(4)),
        reminder_sent_at=timezone.now(),
    )


@pytest.mark.parametrize("role", ["patient", "staff", "admin"])
def test_reschedule_moves_the_visit_atomically(
    role, confirmed, patient, doctor, staff, clinic_admin, other_patient
):
    actor = {"patient": patient, "staff": staff, "admin": clinic_admin}[role]
    old_block = confirmed.time_block
    target = TimeBlockFactory(doctor=doctor, start=slot(6))

    response = client_for(actor).post(
        appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["time_block"] == target.pk
    assert body["rescheduled_from"] == old_block.pk
    assert body["status"] == Status.PENDING
    assert body["confirmed_at"] is None
    assert (body["start"], body["end"]) == (iso_z(target.start), iso_z(target.end))
    confirmed.refresh_from_db()
    assert confirmed.time_block_id == target.pk
    assert confirmed.rescheduled_from_id == old_block.pk
    assert (confirmed.start, confirmed.end) == (target.start, target.end)
    assert confirmed.status == Status.PENDING
    assert confirmed.confirmed_at is None
    assert confirmed.reminder_sent_at is None
    assert Appointment.objects.count() == 1
    [event] = audit_rows("appointment.rescheduled")
    assert event.actor_id == actor.pk
    assert event.data == {"from_time_block": old_block.pk, "to_time_block": target.pk}
    # The old block is free to book again, the new one is taken.
    other = client_for(other_patient)
    assert other.post(APPOINTMENTS_URL, {"time_block": old_block.pk}).status_code == 201
    taken = other.post(APPOINTMENTS_URL, {"time_block": target.pk})
    assert taken.status_code == 409
    assert taken.json()["code"] == SLOT_TAKEN


def test_reschedule_can_move_back_to_the_original_block(patient, patient_client, confirmed):
    original = confirmed.time_block
    target = TimeBlockFactory(doctor=confirmed.doctor, start=slot(6))
    patient_client.post(appointment_url(confirmed, "reschedule"), {"time_block": target.pk})

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": original.pk}
    )

    assert response.status_code == 200, response.content
    assert response.json()["time_block"] == original.pk
    assert response.json()["rescheduled_from"] == target.pk


def test_reschedule_is_not_limited_by_the_active_cap(settings, patient_client, confirmed):
    settings.MAX_ACTIVE_APPOINTMENTS_PER_PATIENT = 1
    target = TimeBlockFactory(doctor=confirmed.doctor, start=slot(6))

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
    )

    assert response.status_code == 200, response.content


def _assert_refused(response, status_code, confirmed, before, *, code=None, field=None):
    assert response.status_code == status_code, response.content
    if code:
        assert response.json()["code"] == code
    if field:
        assert field in response.json()
    old_block = confirmed.time_block_id
    confirmed.refresh_from_db()
    assert confirmed.time_block_id == old_block
    assert confirmed.status == Status.CONFIRMED
    assert confirmed.rescheduled_from_id is None
    assert row_counts() == before


def test_reschedule_to_another_doctors_block_is_400(patient_client, confirmed, other_doctor):
    target = TimeBlockFactory(doctor=other_doctor, start=slot(6))
    before = row_counts()

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
    )

    _assert_refused(response, 400, confirmed, before, field="time_block")


@pytest.mark.parametrize("value", [999_999, "abc", 0, None])
def test_reschedule_to_an_unknown_or_malformed_block_is_400(patient_client, confirmed, value):
    before = row_counts()

    body = {} if value is None else {"time_block": value}
    response = patient_client.post(appointment_url(confirmed, "reschedule"), body, format="json")

    _assert_refused(response, 400, confirmed, before, field="time_block")


def test_another_doctors_block_is_400_even_for_a_terminal_appointment(
    patient, patient_client, other_doctor
):
    # 400 (the request can never be valid) comes before 409 (the state) in §5.
    cancelled = CancelledAppointmentFactory(patient=patient)
    target = TimeBlockFactory(doctor=other_doctor, start=slot(6))

    response = patient_client.post(
        appointment_url(cancelled, "reschedule"), {"time_block": target.pk}
    )

    assert response.status_code == 400, response.content
    assert "time_block" in response.json()


def test_reschedule_to_a_taken_block_is_409_slot_taken(
    patient_client, confirmed, doctor, other_patient
):
    taken = PendingAppointmentFactory(
        patient=other_patient, time_block=TimeBlockFactory(doctor=doctor, start=slot(6))
    )
    before = row_counts()

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": taken.time_block_id}
    )

    _assert_refused(response, 409, confirmed, before, code=SLOT_TAKEN)


def test_reschedule_to_its_own_block_is_409_slot_taken(patient_client, confirmed):
    before = row_counts()

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": confirmed.time_block_id}
    )

    _assert_refused(response, 409, confirmed, before, code=SLOT_TAKEN)


def test_reschedule_to_a_withdrawn_block_is_409_block_withdrawn(patient_client, confirmed, doctor):
    target = WithdrawnTimeBlockFactory(doctor=doctor, start=slot(6))
    before = row_counts()

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
    )

    _assert_refused(response, 409, confirmed, before, code=BLOCK_WITHDRAWN)


def test_reschedule_to_a_past_block_is_409_block_in_past(staff_client, confirmed, doctor):
    target = PastTimeBlockFactory(doctor=doctor)
    before = row_counts()

    response = staff_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
    )

    _assert_refused(response, 409, confirmed, before, code=BLOCK_IN_PAST)


def test_reschedule_to_a_block_inside_the_lead_time_is_409_block_too_soon(
    settings, staff, confirmed, doctor
):
    settings.BOOKING_MIN_LEAD_MINUTES = 60
    now = in_days(2, hour=6)
    target = TimeBlockFactory(doctor=doctor, start=now + datetime.timedelta(minutes=59))

    with time_machine.travel(now, tick=False):
        before = row_counts()
        response = client_for(staff).post(
            appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
        )

    _assert_refused(response, 409, confirmed, before, code=BLOCK_TOO_SOON)


def test_reschedule_with_a_suspended_doctor_is_409_doctor_unavailable(patient):
    doctor = SuspendedDoctorFactory()
    appointment = ConfirmedAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=doctor, start=slot(4))
    )
    target = TimeBlockFactory(doctor=doctor, start=slot(6))
    before = row_counts()

    response = client_for(patient).post(
        appointment_url(appointment, "reschedule"), {"time_block": target.pk}
    )

    _assert_refused(response, 409, appointment, before, code=DOCTOR_UNAVAILABLE)


def test_reschedule_onto_another_of_the_patients_visits_is_409_patient_overlap(
    patient, patient_client, confirmed, doctor, other_doctor
):
    target = TimeBlockFactory(doctor=doctor, start=slot(6))
    PendingAppointmentFactory(
        patient=patient, time_block=TimeBlockFactory(doctor=other_doctor, start=target.start)
    )
    before = row_counts()

    response = patient_client.post(
        appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
    )

    _assert_refused(response, 409, confirmed, before, code=PATIENT_OVERLAP)


@pytest.mark.parametrize(
    ("before_start", "expected"),
    [(24 * HOUR, 200), (24 * HOUR - SECOND, 409), (HOUR, 409)],
)
def test_patient_reschedule_inside_the_notice_window_of_the_current_slot_is_409(
    settings, patient, confirmed, doctor, before_start, expected
):
    settings.CANCELLATION_NOTICE_HOURS = 24
    target = TimeBlockFactory(doctor=doctor, start=slot(6))

    with time_machine.travel(confirmed.start - before_start, tick=False):
        before = row_counts()
        response = client_for(patient).post(
            appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
        )

    if expected == 409:
        _assert_refused(response, 409, confirmed, before, code=CANCELLATION_TOO_LATE)
    else:
        assert response.status_code == 200, response.content


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_may_reschedule_inside_the_notice_window(
    role, staff, clinic_admin, confirmed, doctor
):
    actor = {"staff": staff, "admin": clinic_admin}[role]
    target = TimeBlockFactory(doctor=doctor, start=slot(6))

    with time_machine.travel(confirmed.start - HOUR, tick=False):
        response = client_for(actor).post(
            appointment_url(confirmed, "reschedule"), {"time_block": target.pk}
        )

    assert response.status_code == 200, response.content
    assert response.json()["time_block"] == target.pk


# ---------------------------------------------------------------------------
# Field history (django-auditlog) sees every change, with free text masked
# ---------------------------------------------------------------------------
def test_every_write_reaches_the_field_history_with_free_text_masked(
    patient, patient_client, doctor, doctor_client, staff, staff_client
):
    block = TimeBlockFactory(doctor=doctor, start=slot(4))
    target = TimeBlockFactory(doctor=doctor, start=slot(6))
    booked = patient_client.post(
        APPOINTMENTS_URL, {"time_block": block.pk, "reason": "Secret symptom"}
    )
    pk = booked.json()["id"]
    responses = [
        booked,
        doctor_client.post(appointment_url(pk, "confirm")),
        doctor_client.patch(appointment_url(pk), {"notes": "Secret finding"}),
        patient_client.post(appointment_url(pk, "reschedule"), {"time_block": target.pk}),
        staff_client.post(appointment_url(pk, "cancel"), {"reason": "Secret cause"}),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]

    entries = list(
        LogEntry.objects.get_for_model(Appointment).filter(object_pk=str(pk)).order_by("id")
    )
    assert [e.action for e in entries] == [LogEntry.Action.CREATE] + [LogEntry.Action.UPDATE] * 4
    changed = [set(e.changes_dict) for e in entries[1:]]
    assert "status" in changed[0]
    assert changed[1] >= {"notes"}
    assert changed[2] >= {"time_block", "rescheduled_from", "start", "end", "status"}
    assert changed[3] >= {"status", "cancelled_by", "cancellation_reason"}
    assert [e.actor_id for e in entries] == [
        patient.pk,
        doctor.pk,
        doctor.pk,
        patient.pk,
        staff.pk,
    ]
    history = json.dumps([e.changes_dict for e in entries])
    assert "Secret" not in history

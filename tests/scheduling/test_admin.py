"""The staff console (Django admin): lists, appointment actions, booking, time blocks and the
front-desk home. Every write goes through the services, so rule violations become messages.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from html import unescape

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from scheduling.models import Appointment, TimeBlock
from tests.support.factories import (
    AppointmentFactory,
    CancelledAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PastTimeBlockFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StartedConfirmedAppointmentFactory,
    SuspendedPatientFactory,
    TimeBlockFactory,
    WithdrawnTimeBlockFactory,
)

Status = Appointment.Status
UTC = datetime.UTC

APPOINTMENTS = reverse("admin:scheduling_appointment_changelist")
APPOINTMENT_ADD = reverse("admin:scheduling_appointment_add")
BLOCKS = reverse("admin:scheduling_timeblock_changelist")
BLOCK_ADD = reverse("admin:scheduling_timeblock_add")
AUDIT_EVENTS = reverse("admin:audit_auditevent_changelist")


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown(response) -> list[str]:
    """The messages the page shows (the response must be the rendered page, e.g. follow=True)."""
    return [str(message) for message in response.context["messages"]]


def run_action(client: Client, action: str, *appointments: Appointment, **extra):
    data = {"action": action, "_selected_action": [a.pk for a in appointments], **extra}
    return client.post(APPOINTMENTS, data, follow=True)


def actions_offered(client: Client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:  # no action at all
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def delete_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])


def audit_rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# ---------------------------------------------------------------------------
# Changelists: every model loads, in a number of queries that does not grow with the rows
# ---------------------------------------------------------------------------
def _users(n: int) -> None:
    PatientFactory.create_batch(n)


def _doctor_profiles(n: int) -> None:
    DoctorFactory.create_batch(n)


def _time_blocks(n: int) -> None:
    doctor = DoctorFactory()
    blocks = TimeBlockFactory.create_batch(n, doctor=doctor)
    for block in blocks[::2]:
        PendingAppointmentFactory(time_block=block)


def _appointments(n: int) -> None:
    for index in range(n):
        factory = [PendingAppointmentFactory, ConfirmedAppointmentFactory][index % 2]
        factory()


def _audit_events(n: int) -> None:
    patient = PatientFactory()
    for _ in range(n):
        audit_record(action="user.updated", target=patient, actor=None, data={"fields": []})


# (url name, rows maker, query budget). One budget per list, the same for 5 rows and for 40:
# a query per row would blow it. Session, user, counts, filters, rows, the access-log insert.
CHANGELISTS = {
    "users": ("admin:accounts_user_changelist", _users, 8),
    "doctor_profiles": ("admin:accounts_doctorprofile_changelist", _doctor_profiles, 7),
    "time_blocks": ("admin:scheduling_timeblock_changelist", _time_blocks, 8),
    "appointments": ("admin:scheduling_appointment_changelist", _appointments, 9),
    "audit_events": ("admin:audit_auditevent_changelist", _audit_events, 10),
}


@pytest.mark.parametrize("rows", [5, 40])
@pytest.mark.parametrize("name", list(CHANGELISTS))
def test_changelist_loads_for_an_admin_in_queries_that_do_not_grow_with_rows(
    name, rows, clinic_admin, django_assert_max_num_queries
):
    url_name, make_rows, budget = CHANGELISTS[name]
    make_rows(rows)
    client = console(clinic_admin)
    with django_assert_max_num_queries(budget):
        response = client.get(reverse(url_name))
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert changelist.result_count >= rows
    assert len(changelist.result_list) == min(changelist.result_count, changelist.list_per_page)


def test_appointment_changelist_read_is_recorded_per_patient(staff):
    shown_rows = PendingAppointmentFactory.create_batch(3)
    response = console(staff).get(APPOINTMENTS)
    assert response.status_code == 200
    viewed = audit_rows("patient_record.viewed")
    assert sorted(int(e.target_id) for e in viewed) == sorted(a.patient_id for a in shown_rows)
    assert {(e.actor_id, e.actor_role) for e in viewed} == {(staff.pk, "staff")}


def test_appointment_change_page_read_is_recorded(staff):
    appointment = PendingAppointmentFactory()
    response = console(staff).get(change_url(appointment))
    assert response.status_code == 200
    (event,) = audit_rows("patient_record.viewed")
    assert (event.target_id, event.actor_id) == (str(appointment.patient_id), staff.pk)


# ---------------------------------------------------------------------------
# Appointment actions, through the services
# ---------------------------------------------------------------------------
def test_staff_confirms_through_the_service(staff, django_capture_on_commit_callbacks):
    appointment = PendingAppointmentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(console(staff), "confirm", appointment)
    assert response.status_code == 200
    assert shown(response) == ["1 appointment(s) confirmed."]
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    assert appointment.confirmed_at is not None
    (event,) = audit_rows("appointment.confirmed")
    assert (event.actor_id, event.actor_role, event.target_id) == (
        staff.pk,
        "staff",
        str(appointment.pk),
    )
    assert [m.to for m in mail.outbox] == [[appointment.patient.email]]


def test_staff_cancels_with_the_reason_from_the_action_form(
    staff, django_capture_on_commit_callbacks
):
    appointment = ConfirmedAppointmentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(console(staff), "cancel", appointment, reason="Doctor is ill")
    assert shown(response) == ["1 appointment(s) cancelled."]
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancellation_reason == "Doctor is ill"
    assert appointment.cancelled_by == staff
    (event,) = audit_rows("appointment.cancelled")
    assert (event.actor_id, event.data) == (staff.pk, {"has_reason": True})
    # Staff cancelled: both parties hear of it.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [appointment.patient.email, appointment.doctor.email]
    )


def test_staff_marks_a_started_appointment_as_no_show(staff):
    appointment = StartedConfirmedAppointmentFactory()
    response = run_action(console(staff), "no_show", appointment)
    assert shown(response) == ["1 appointment(s) marked no-show."]
    appointment.refresh_from_db()
    assert appointment.status == Status.NO_SHOW
    (event,) = audit_rows("appointment.no_show")
    assert event.actor_id == staff.pk


def test_admin_completes_a_started_appointment(clinic_admin):
    appointment = StartedConfirmedAppointmentFactory()
    response = run_action(console(clinic_admin), "complete", appointment)
    assert shown(response) == ["1 appointment(s) completed."]
    appointment.refresh_from_db()
    assert appointment.status == Status.COMPLETED
    assert appointment.completed_at is not None
    (event,) = audit_rows("appointment.completed")
    assert (event.actor_id, event.actor_role) == (clinic_admin.pk, "admin")


def test_confirming_a_cancelled_appointment_shows_an_error_and_changes_nothing(staff):
    appointment = CancelledAppointmentFactory()
    response = run_action(console(staff), "confirm", appointment)
    assert response.status_code == 200
    assert shown(response) == [
        f"#{appointment.pk}: Not allowed while the appointment is cancelled."
    ]
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert audit_rows("appointment.confirmed") == []
    assert mail.outbox == []


def test_completing_before_the_start_shows_an_error_and_changes_nothing(clinic_admin):
    appointment = ConfirmedAppointmentFactory()  # starts in a few days
    response = run_action(console(clinic_admin), "complete", appointment)
    assert response.status_code == 200
    assert shown(response) == [f"#{appointment.pk}: The appointment has not started yet."]
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    assert audit_rows("appointment.completed") == []


def test_a_mixed_selection_applies_what_it_can_and_names_the_refusals(staff):
    pending = PendingAppointmentFactory()
    cancelled = CancelledAppointmentFactory()
    response = run_action(console(staff), "confirm", pending, cancelled)
    assert shown(response) == [
        "1 appointment(s) confirmed.",
        f"#{cancelled.pk}: Not allowed while the appointment is cancelled.",
    ]
    pending.refresh_from_db()
    cancelled.refresh_from_db()
    assert (pending.status, cancelled.status) == (Status.CONFIRMED, Status.CANCELLED)


def test_staff_is_not_offered_complete_and_cannot_post_it(staff):
    client = console(staff)
    assert actions_offered(client, APPOINTMENTS) == {"confirm", "cancel", "no_show"}
    appointment = StartedConfirmedAppointmentFactory()
    response = run_action(client, "complete", appointment)
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    assert audit_rows("appointment.completed") == []


def test_admin_is_offered_every_transition(clinic_admin):
    offered = actions_offered(console(clinic_admin), APPOINTMENTS)
    assert offered == {"confirm", "cancel", "complete", "no_show"}


def test_staff_edits_reason_and_notes_through_the_service(staff):
    appointment = PendingAppointmentFactory(reason="Old reason")
    response = console(staff).post(
        change_url(appointment),
        {"reason": "Follow-up", "notes": "Bring the scans", "_save": "Save"},
        follow=True,
    )
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert (appointment.reason, appointment.notes) == ("Follow-up", "Bring the scans")
    (event,) = audit_rows("appointment.updated")
    assert (event.actor_id, sorted(event.data["fields"])) == (staff.pk, ["notes", "reason"])


# ---------------------------------------------------------------------------
# Booking through the add form
# ---------------------------------------------------------------------------
def test_staff_books_a_pending_appointment_through_the_add_form(
    staff, patient, django_capture_on_commit_callbacks
):
    block = TimeBlockFactory()
    client = console(staff)
    assert client.get(APPOINTMENT_ADD).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            APPOINTMENT_ADD,
            {"patient": patient.pk, "time_block": block.pk, "reason": "Check-up", "_save": "Save"},
        )
    assert response.status_code == 302
    (appointment,) = Appointment.objects.all()
    assert (appointment.patient, appointment.time_block, appointment.status) == (
        patient,
        block,
        Status.PENDING,
    )
    assert (appointment.doctor_id, appointment.start) == (block.doctor_id, block.start)
    (event,) = audit_rows("appointment.booked")
    assert (event.actor_id, event.target_id) == (staff.pk, str(appointment.pk))
    assert sorted(m.to[0] for m in mail.outbox) == sorted([patient.email, block.doctor.email])
    page = client.get(response["Location"])
    assert "was added successfully" in " ".join(shown(page))


def _autocomplete(client: Client, field_name: str) -> set[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "scheduling",
            "model_name": "appointment",
            "field_name": field_name,
            "term": "",
        },
    )
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def test_booking_form_offers_only_bookable_patients_and_free_future_blocks(staff, patient, doctor):
    SuspendedPatientFactory()
    free = TimeBlockFactory(doctor=doctor)
    PendingAppointmentFactory(patient=patient, time_block=TimeBlockFactory(doctor=doctor))
    PastTimeBlockFactory(doctor=doctor)
    WithdrawnTimeBlockFactory(doctor=doctor)
    client = console(staff)
    assert _autocomplete(client, "patient") == {str(patient.pk)}
    assert _autocomplete(client, "time_block") == {str(free.pk)}
    # The time-block list itself still shows every block.
    assert client.get(BLOCKS).context["cl"].result_count == 4


def test_booking_a_taken_slot_shows_an_error_and_books_nothing(staff, patient):
    taken = PendingAppointmentFactory()
    response = console(staff).post(
        APPOINTMENT_ADD,
        {"patient": patient.pk, "time_block": taken.time_block_id, "reason": "", "_save": "Save"},
        follow=True,
    )
    assert response.status_code == 200
    assert shown(response) == ["This time block is already booked."]
    assert Appointment.objects.count() == 1
    assert audit_rows("appointment.booked") == []


def test_booking_for_a_suspended_patient_shows_an_error(staff):
    block = TimeBlockFactory()
    suspended = SuspendedPatientFactory()
    response = console(staff).post(
        APPOINTMENT_ADD,
        {"patient": suspended.pk, "time_block": block.pk, "reason": "", "_save": "Save"},
        follow=True,
    )
    assert response.status_code == 200
    assert shown(response) == ["This user is not an active patient."]
    assert not Appointment.objects.exists()


# ---------------------------------------------------------------------------
# Appointments and audit events are never deleted; the audit admin is read-only
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["staff", "clinic_admin"])
def test_appointments_cannot_be_deleted_from_the_admin(role, request):
    user = request.getfixturevalue(role)
    appointment = PendingAppointmentFactory()
    client = console(user)
    assert "delete_selected" not in actions_offered(client, APPOINTMENTS)
    assert client.get(delete_url(appointment)).status_code == 403
    assert client.post(delete_url(appointment), {"post": "yes"}).status_code == 403
    response = client.post(
        APPOINTMENTS, {"action": "delete_selected", "_selected_action": [appointment.pk]}
    )
    assert response.status_code in (200, 302)
    assert Appointment.objects.filter(pk=appointment.pk).exists()


def test_audit_admin_is_read_only_even_for_an_admin(clinic_admin):
    event = audit_record(action="user.updated", target=clinic_admin, actor=None)
    client = console(clinic_admin)
    assert client.get(AUDIT_EVENTS).status_code == 200
    assert actions_offered(client, AUDIT_EVENTS) == set()
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    page = client.get(change_url(event))
    assert page.status_code == 200  # viewable
    assert page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change_url(event), {"action": "x"}).status_code == 403
    assert client.get(delete_url(event)).status_code == 403
    assert client.post(delete_url(event), {"post": "yes"}).status_code == 403
    response = client.post(
        AUDIT_EVENTS, {"action": "delete_selected", "_selected_action": [event.pk]}
    )
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).action == "user.updated"


def test_staff_cannot_see_the_audit_log(staff):
    event = audit_record(action="user.updated", target=staff, actor=None)
    client = console(staff)
    assert client.get(AUDIT_EVENTS).status_code == 403
    assert client.get(change_url(event)).status_code == 403
    index = client.get(reverse("admin:index"))
    assert AUDIT_EVENTS not in index.content.decode()


# ---------------------------------------------------------------------------
# Time blocks: a week through the bulk service; booked blocks stay as they are
# ---------------------------------------------------------------------------
WEEK_DATA = {
    "date_from": "2030-06-10",  # a Monday
    "date_to": "2030-06-16",
    "weekdays": ["0", "1", "2", "3", "4"],
    "start_time": "09:00",
    "end_time": "10:00",
    "slot_minutes": "30",
    "timezone": "",
    "_save": "Save",
}


@time_machine.travel(datetime.datetime(2030, 6, 1, 12, 0, tzinfo=UTC), tick=False)
@pytest.mark.parametrize("role", ["staff", "clinic_admin"])
def test_add_form_creates_a_week_of_blocks_through_the_bulk_service(role, request):
    user = request.getfixturevalue(role)
    doctor = DoctorFactory(profile__timezone="Europe/Madrid")
    client = console(user)
    assert client.get(BLOCK_ADD).status_code == 200
    response = client.post(BLOCK_ADD, {**WEEK_DATA, "doctor": doctor.pk}, follow=True)
    assert response.status_code == 200
    assert shown(response) == ["Created 10 blocks (0 skipped of 10)."]
    blocks = list(TimeBlock.objects.filter(doctor=doctor).order_by("start"))
    assert len(blocks) == 10
    madrid = zoneinfo.ZoneInfo("Europe/Madrid")
    assert blocks[0].start.astimezone(madrid) == datetime.datetime(2030, 6, 10, 9, 0, tzinfo=madrid)
    assert blocks[-1].end.astimezone(madrid) == datetime.datetime(2030, 6, 14, 10, 0, tzinfo=madrid)
    (event,) = audit_rows("time_block.bulk_created")
    assert event.actor_id == user.pk
    assert (event.data["created"], event.data["skipped"], event.data["total"]) == (10, 0, 10)
    assert event.data["time_zone"] == "Europe/Madrid"


@time_machine.travel(datetime.datetime(2030, 6, 1, 12, 0, tzinfo=UTC), tick=False)
def test_add_form_counts_skipped_slots_in_its_message(staff):
    doctor = DoctorFactory(profile__timezone="UTC")
    TimeBlockFactory(
        doctor=doctor,
        start=datetime.datetime(2030, 6, 10, 9, 0, tzinfo=UTC),
        end=datetime.datetime(2030, 6, 10, 9, 30, tzinfo=UTC),
    )
    response = console(staff).post(BLOCK_ADD, {**WEEK_DATA, "doctor": doctor.pk}, follow=True)
    assert shown(response) == ["Created 9 blocks (1 skipped of 10)."]
    assert TimeBlock.objects.filter(doctor=doctor).count() == 10


@time_machine.travel(datetime.datetime(2030, 6, 1, 12, 0, tzinfo=UTC), tick=False)
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_time": "10:00", "end_time": "09:00"}, "end_time"),
        ({"start_time": "10:00", "end_time": "10:00"}, "end_time"),
        ({"date_from": "2030-06-16", "date_to": "2030-06-10"}, "date_to"),
        ({"weekdays": []}, "weekdays"),
        ({"slot_minutes": "2"}, "slot_minutes"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_an_invalid_pattern_shows_form_errors_and_creates_nothing(staff, changes, field):
    doctor = DoctorFactory()
    response = console(staff).post(BLOCK_ADD, {**WEEK_DATA, "doctor": doctor.pk, **changes})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert field in form.errors
    assert not TimeBlock.objects.exists()
    assert audit_rows("time_block.bulk_created") == []


def _block_change_data(start: datetime.datetime, end: datetime.datetime) -> dict[str, str]:
    """The admin's split date/time inputs, in the clinic's timezone (UTC in these tests)."""
    return {
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": end.strftime("%Y-%m-%d"),
        "end_1": end.strftime("%H:%M:%S"),
        "_save": "Save",
    }


def test_moving_a_free_block_goes_through_the_service(staff):
    block = TimeBlockFactory()
    start = block.start + datetime.timedelta(hours=12)
    end = start + datetime.timedelta(minutes=45)
    response = console(staff).post(change_url(block), _block_change_data(start, end), follow=True)
    assert response.status_code == 200
    block.refresh_from_db()
    assert (block.start, block.end) == (start, end)
    (event,) = audit_rows("time_block.updated")
    assert (event.actor_id, sorted(event.data["fields"])) == (staff.pk, ["end", "start"])


def test_changing_a_booked_block_shows_an_error_and_changes_nothing(staff):
    appointment = PendingAppointmentFactory()
    block = appointment.time_block
    before = (block.start, block.end)
    start = block.start + datetime.timedelta(hours=12)
    response = console(staff).post(
        change_url(block),
        _block_change_data(start, start + datetime.timedelta(minutes=30)),
        follow=True,
    )
    assert response.status_code == 200
    assert shown(response) == ["This block has appointments and cannot change."]
    block.refresh_from_db()
    assert (block.start, block.end) == before
    assert audit_rows("time_block.updated") == []


def test_deleting_a_block_with_an_active_appointment_shows_an_error_and_keeps_it(staff):
    appointment = ConfirmedAppointmentFactory()
    block = appointment.time_block
    response = console(staff).post(delete_url(block), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert shown(response) == ["Cancel or move the appointment first."]
    block.refresh_from_db()
    assert block.withdrawn_at is None
    assert audit_rows("time_block.deleted") == audit_rows("time_block.withdrawn") == []


def test_deleting_a_free_block_deletes_it(staff):
    block = TimeBlockFactory()
    client = console(staff)
    assert client.get(delete_url(block)).status_code == 200
    response = client.post(delete_url(block), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not TimeBlock.objects.filter(pk=block.pk).exists()
    (event,) = audit_rows("time_block.deleted")
    assert event.actor_id == staff.pk


def test_deleting_a_block_whose_appointments_are_over_withdraws_it(staff):
    cancelled = CancelledAppointmentFactory()
    block = cancelled.time_block
    response = console(staff).post(delete_url(block), {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert any("withdrawn" in message for message in shown(response))
    block.refresh_from_db()
    assert block.withdrawn_at is not None
    (event,) = audit_rows("time_block.withdrawn")
    assert event.actor_id == staff.pk


def test_bulk_delete_confirms_then_goes_through_the_service_block_by_block(staff):
    free = TimeBlockFactory()
    used = CancelledAppointmentFactory().time_block
    booked = PendingAppointmentFactory().time_block
    client = console(staff)
    assert "delete_selected" in actions_offered(client, BLOCKS)
    selection = {"action": "delete_selected", "_selected_action": [free.pk, used.pk, booked.pk]}
    confirm = client.post(BLOCKS, selection)
    assert confirm.status_code == 200  # Django's "Are you sure?" page, nothing touched yet
    assert TimeBlock.objects.filter(withdrawn_at__isnull=True).count() == 3
    response = client.post(BLOCKS, {**selection, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert shown(response) == [
        "1 block(s) deleted, 1 withdrawn.",
        f"Block {booked.pk}: Cancel or move the appointment first.",
    ]
    assert not TimeBlock.objects.filter(pk=free.pk).exists()
    assert TimeBlock.objects.get(pk=used.pk).withdrawn_at is not None
    assert TimeBlock.objects.get(pk=booked.pk).withdrawn_at is None


# ---------------------------------------------------------------------------
# The front-desk home: today (clinic time), this week by status, pending soon
# ---------------------------------------------------------------------------
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# 02:00 UTC on Wednesday 12 June is still Tuesday 11 June, 22:00, at a New York desk.
NOW = datetime.datetime(2030, 6, 12, 2, 0, tzinfo=UTC)


def ny(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2030, 6, day, hour, minute, tzinfo=NEW_YORK)


def visit(doctor, start: datetime.datetime, factory=AppointmentFactory, **kwargs) -> Appointment:
    block = TimeBlockFactory(doctor=doctor, start=start, end=start + datetime.timedelta(minutes=30))
    return factory(time_block=block, **kwargs)


@pytest.fixture
def clinic_week(settings):
    """A New York clinic's week around NOW, with rows on both sides of every boundary."""
    settings.TIME_ZONE = "America/New_York"
    adams = DoctorFactory(first_name="Ada", last_name="Adams")
    baker = DoctorFactory(first_name="Ben", last_name="Baker")
    return {
        # Today at the desk (Tuesday 11 June), though 12 June in UTC for the 20:00 one.
        "adams_morning": visit(adams, ny(11, 9), ConfirmedAppointmentFactory),
        "adams_evening": visit(adams, ny(11, 20), PendingAppointmentFactory),
        "baker_afternoon": visit(baker, ny(11, 15), ConfirmedAppointmentFactory),
        "cancelled_today": visit(baker, ny(11, 16), CancelledAppointmentFactory),
        # Tomorrow at the desk, though "today" in UTC.
        "tomorrow": visit(adams, ny(12, 10), PendingAppointmentFactory),
        # This week: Monday 10 June 00:30 at the desk, its first half hour.
        "monday_early": visit(baker, ny(10, 0, 30), ConfirmedAppointmentFactory),
        "friday": visit(baker, ny(14, 11), PendingAppointmentFactory),
        # Not this week: Sunday 9 June 23:30 at the desk is already 10 June in UTC.
        "last_sunday": visit(adams, ny(9, 23, 30), ConfirmedAppointmentFactory),
        # Next week: Monday 17 June 08:00.
        "next_monday": visit(adams, ny(17, 8), PendingAppointmentFactory),
    }


@time_machine.travel(NOW, tick=False)
def test_front_desk_home_shows_today_in_the_clinics_timezone(staff, clinic_week):
    response = console(staff).get(reverse("admin:index"))
    assert response.status_code == 200
    desk = response.context["front_desk"]
    assert desk["today"] == datetime.date(2030, 6, 11)
    assert [
        (day.doctor_name, [a.pk for a in day.appointments]) for day in desk["doctors_today"]
    ] == [
        ("Ada Adams", [clinic_week["adams_morning"].pk, clinic_week["adams_evening"].pk]),
        ("Ben Baker", [clinic_week["baker_afternoon"].pk]),
    ]
    page = unescape(response.content.decode())
    assert "Today, Tuesday 11 June 2030" in page
    # Wall-clock times at the desk, not UTC.
    assert "20:00\u201320:30" in page
    assert "09:00\u201309:30" in page


@time_machine.travel(NOW, tick=False)
def test_front_desk_home_counts_the_clinics_week_by_status(staff, clinic_week):
    desk = console(staff).get(reverse("admin:index")).context["front_desk"]
    assert desk["week_start"] == datetime.date(2030, 6, 10)
    assert {row["status"]: row["count"] for row in desk["week"]} == {
        "Pending": 3,  # adams_evening, tomorrow, friday
        "Confirmed": 3,  # adams_morning, baker_afternoon, monday_early
        "Arrived": 0,
        "Cancelled": 1,
        "Completed": 0,
        "No-show": 0,
    }


@time_machine.travel(NOW, tick=False)
def test_front_desk_home_lists_pending_appointments_within_48_hours(staff, clinic_week):
    desk = console(staff).get(reverse("admin:index")).context["front_desk"]
    # adams_evening has already started; friday is more than 48 hours away.
    assert [a.pk for a in desk["pending_soon"]] == [clinic_week["tomorrow"].pk]


def _links(page: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', page)]


@time_machine.travel(NOW, tick=False)
def test_every_front_desk_link_opens_the_changelist_filtered_accordingly(staff, clinic_week):
    client = console(staff)
    response = client.get(reverse("admin:index"))
    desk = response.context["front_desk"]
    page_links = _links(response.content.decode())
    rows = clinic_week

    def listed(link: str) -> set[int]:
        assert link in page_links  # the page really links there
        page = client.get(link)
        assert page.status_code == 200, link
        return {a.pk for a in page.context["cl"].result_list}

    today_all = {rows[k].pk for k in ("adams_morning", "adams_evening", "baker_afternoon")}
    # The changelist of the day also shows the cancelled one; the home page leaves it out.
    assert listed(desk["today_link"]) == today_all | {rows["cancelled_today"].pk}
    adams_day, baker_day = desk["doctors_today"]
    assert listed(adams_day.link) == {rows["adams_morning"].pk, rows["adams_evening"].pk}
    assert listed(baker_day.link) == {rows["baker_afternoon"].pk, rows["cancelled_today"].pk}

    week = {row["status"]: row["link"] for row in desk["week"]}
    assert listed(week["Pending"]) == {
        rows["adams_evening"].pk,
        rows["tomorrow"].pk,
        rows["friday"].pk,
    }
    assert listed(week["Confirmed"]) == {
        rows["adams_morning"].pk,
        rows["baker_afternoon"].pk,
        rows["monday_early"].pk,
    }
    assert listed(week["Cancelled"]) == {rows["cancelled_today"].pk}
    assert listed(week["Completed"]) == set()
    assert listed(desk["pending_soon_link"]) == {rows["tomorrow"].pk}


def test_front_desk_home_without_appointments_says_so(staff):
    response = console(staff).get(reverse("admin:index"))
    assert response.status_code == 200
    assert "No appointments today." in response.content.decode()


def test_patient_and_doctor_get_no_front_desk_home(patient, doctor):
    for user in (patient, doctor):
        response = console(user).get(reverse("admin:index"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

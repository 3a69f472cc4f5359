"""The front desk in the admin: the day board on the home page, its fragment, the desk's
buttons (the same services as the API) and the statistics page."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.admin_desk import FRAGMENT_HEADER
from scheduling.models import Appointment, CancellationCode
from tests.support.factories import (
    AppointmentFactory,
    CancelledAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    NoShowAppointmentFactory,
    PatientFactory,
    TimeBlockFactory,
)

pytestmark = pytest.mark.django_db

Status = Appointment.Status
MINUTE = datetime.timedelta(minutes=1)
# Noon UTC today (TIME_ZONE is UTC in tests): the visits below are all today whatever the
# hour the suite runs, and sessions made at the real time stay valid.
NOW = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def action_url(appointment: Appointment, action: str) -> str:
    return reverse("admin:desk_action", args=[appointment.pk, action])


@pytest.fixture
def today():
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    expected = ConfirmedAppointmentFactory(
        patient=PatientFactory(first_name="Alan", last_name="Turing"),
        time_block=TimeBlockFactory(doctor=doctor, start=NOW + 30 * MINUTE),
    )
    waiting = AppointmentFactory(
        patient=PatientFactory(first_name="Ada", last_name="Lovelace"),
        status=Status.ARRIVED,
        arrived_at=NOW - 20 * MINUTE,
        time_block=TimeBlockFactory(doctor=doctor, start=NOW - 15 * MINUTE),
    )
    return doctor, expected, waiting


def test_the_home_page_shows_the_board_with_its_script_and_records_one_event_per_patient(
    staff, today
):
    _, expected, waiting = today

    with time_machine.travel(NOW, tick=False):
        response = console(staff).get(reverse("admin:index"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="desk-board"' in html
    assert "/static/scheduling/desk_board.js" in html
    assert "<script>" not in html  # CSP: no inline script
    assert "Waiting <strong>1</strong> (longest 15 min)" in html
    assert f'data-appointment="{expected.pk}" data-stage="expected"' in html
    # The desk checks in; starting and completing visits is for admins.
    assert action_url(expected, "check-in") in html
    assert action_url(waiting, "start-visit") not in html
    viewed = AuditEvent.objects.filter(action="patient_record.viewed")
    assert sorted(int(e.target_id) for e in viewed) == sorted(
        [expected.patient_id, waiting.patient_id]
    )


def test_the_fragment_is_the_board_alone_and_a_plain_request_gets_the_home_page(staff, today):
    with time_machine.travel(NOW, tick=False):
        client = console(staff)  # logged in at NOW: the session lasts from then
        fragment = client.get(reverse("admin:desk_board"), headers={FRAGMENT_HEADER: "1"})
        plain = client.get(reverse("admin:desk_board"))

    assert fragment.status_code == 200
    assert fragment.content.decode().lstrip().startswith('<div id="desk-board"')
    assert "<html" not in fragment.content.decode()
    assert plain.status_code == 302
    assert plain["Location"] == reverse("admin:index")


def test_desk_checks_in_and_admin_starts_and_completes_the_visit(staff, clinic_admin, today):
    _, expected, _ = today

    with time_machine.travel(NOW, tick=False):
        checked = console(staff).post(action_url(expected, "check-in"))
        admin_home = console(clinic_admin).get(reverse("admin:index")).content.decode()
        started = console(clinic_admin).post(action_url(expected, "start-visit"))
    with time_machine.travel(NOW + 40 * MINUTE, tick=False):
        done = console(clinic_admin).post(action_url(expected, "complete"))

    assert checked.status_code == 302
    assert [str(m) for m in get_messages(checked.wsgi_request)] == ["Alan Turing checked in."]
    assert action_url(expected, "start-visit") in admin_home
    assert started.status_code == done.status_code == 302
    expected.refresh_from_db()
    assert expected.status == Status.COMPLETED
    assert expected.checked_in_by_id == staff.pk
    assert expected.seen_at == NOW
    actions = list(
        AuditEvent.objects.filter(action__startswith="appointment.")
        .order_by("id")
        .values_list("action", "actor_id")
    )
    assert actions == [
        ("appointment.arrived", staff.pk),
        ("appointment.visit_started", clinic_admin.pk),
        ("appointment.completed", clinic_admin.pk),
    ]


def test_a_refused_action_is_a_message(staff, clinic_admin, today):
    _, expected, waiting = today

    with time_machine.travel(NOW, tick=False):
        twice = console(staff).post(action_url(waiting, "check-in"))
        by_staff = console(staff).post(action_url(waiting, "start-visit"))
    with time_machine.travel(NOW - 4 * 60 * MINUTE, tick=False):
        early = console(staff).post(action_url(expected, "check-in"))

    assert [str(m) for m in get_messages(twice.wsgi_request)] == [
        "Not allowed while the appointment is arrived."
    ]
    assert [str(m) for m in get_messages(by_staff.wsgi_request)] == ["You may not do this here."]
    assert "Check-in opens 120 minutes" in str(next(iter(get_messages(early.wsgi_request))))
    waiting.refresh_from_db()
    assert waiting.seen_at is None


def test_desk_actions_need_post_and_csrf(staff, today):
    _, expected, _ = today
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    get = client.get(action_url(expected, "check-in"))
    no_token = client.post(action_url(expected, "check-in"))

    assert get.status_code == 405
    assert no_token.status_code == 403
    expected.refresh_from_db()
    assert expected.status == Status.CONFIRMED


def test_patients_and_doctors_get_no_board(patient, doctor, today):
    for user in (patient, doctor):
        response = console(user).get(reverse("admin:desk_board"), headers={FRAGMENT_HEADER: "1"})
        action = console(user).post(action_url(today[1], "check-in"))

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert action.status_code == 302
        assert action["Location"].startswith(reverse("admin:login"))


def test_the_statistics_page_shows_the_apis_figures_and_a_bar_per_doctor(staff):
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    start = timezone.now() - datetime.timedelta(days=2)
    for _ in range(3):
        AppointmentFactory(
            status=Status.COMPLETED,
            time_block=TimeBlockFactory(doctor=doctor, start=start),
        )
        start += datetime.timedelta(hours=1)
    NoShowAppointmentFactory(time_block=TimeBlockFactory(doctor=doctor, start=start))
    CancelledAppointmentFactory(
        cancellation_code=CancellationCode.PATIENT,
        cancelled_at=start,
        time_block=TimeBlockFactory(doctor=doctor, start=start + datetime.timedelta(hours=1)),
    )

    response = console(staff).get(reverse("admin:desk_stats"))

    html = response.content.decode()
    assert response.status_code == 200
    group = response.context["groups"][0]
    assert (group["key"], group["total"], group["no_show_rate"], group["late_cancel_rate"]) == (
        doctor.pk,
        5,
        0.25,
        0.2,
    )
    assert 'id="desk-stats-chart"' in html
    assert html.count('<rect class="') == 3  # completed, no-show, cancelled
    assert "Grace Hopper" in html


def test_the_statistics_page_shows_bad_parameters_as_errors(staff):
    response = console(staff).get(reverse("admin:desk_stats"), {"group_by": "nope"})

    assert response.status_code == 200
    assert "group_by" in response.context["errors"]

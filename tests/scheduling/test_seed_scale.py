"""seed_demo --scale N: synthetic load data, bulk-inserted (bench/)."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.db.models import Count, Q

from accounts.models import DoctorProfile, User
from audit.models import AuditEvent
from scheduling.models import ACTIVE_STATUSES, Appointment, Review, TimeBlock
from scheduling.seeding import PATIENTS_PER_DOCTOR, seed_scale

pytestmark = pytest.mark.django_db


def scale_doctors() -> list[User]:
    return list(
        User.objects.filter(role=User.Role.DOCTOR, email__endswith="@scale.medappt").order_by(
            "email"
        )
    )


def test_scale_adds_doctors_with_a_year_of_blocks_patients_visits_and_reviews():
    result = seed_scale(doctors=2)

    doctors = scale_doctors()
    assert len(doctors) == result.doctors == 2
    assert DoctorProfile.objects.filter(user__in=doctors).count() == 2
    assert result.patients == 2 * PATIENTS_PER_DOCTOR
    assert TimeBlock.objects.filter(doctor__in=doctors).count() == result.blocks > 2 * 4000
    appointments = Appointment.objects.filter(doctor__in=doctors)
    assert appointments.count() == result.appointments
    # Every status of a year of history; arrived is a same-day state (checked in, not seen).
    history = set(Appointment.Status.values) - {Appointment.Status.ARRIVED}
    assert set(appointments.values_list("status", flat=True)) == history
    assert Review.objects.filter(doctor__in=doctors).count() == 2 * 30
    for appointment in appointments.filter(status=Appointment.Status.COMPLETED)[:50]:
        assert appointment.start == appointment.time_block.start
        index = appointment.doctor.email.removeprefix("doctor").split("@")[0]
        assert appointment.patient.email.startswith(f"patient{index}-")


def test_scale_data_keeps_the_booking_rules():
    seed_scale(doctors=1)

    active = Appointment.objects.filter(status__in=ACTIVE_STATUSES)
    assert not active.values("time_block").annotate(n=Count("id")).filter(n__gt=1).exists()
    per_patient = active.values("patient").annotate(n=Count("id"))
    assert max(row["n"] for row in per_patient) <= 3
    # Each patient sees one doctor, whose blocks never overlap: no overlapping active visits.
    assert (
        User.objects.filter(role=User.Role.PATIENT)
        .annotate(doctors=Count("appointments__doctor", distinct=True))
        .filter(doctors__gt=1)
        .count()
        == 0
    )
    assert not Appointment.objects.filter(
        Q(status=Appointment.Status.COMPLETED, completed_at__isnull=True)
        | Q(status=Appointment.Status.CANCELLED, cancelled_at__isnull=True)
    ).exists()


def test_scale_is_synthetic_so_it_leaves_no_audit_trail_or_field_history():
    seed_scale(doctors=1)

    assert AuditEvent.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_scale_again_adds_nothing_and_a_larger_scale_adds_the_missing_doctors():
    seed_scale(doctors=1)
    blocks = TimeBlock.objects.count()

    again = seed_scale(doctors=1)
    assert again.doctors == again.blocks == 0
    assert TimeBlock.objects.count() == blocks

    more = seed_scale(doctors=2)
    assert more.doctors == 1
    assert [doctor.email for doctor in scale_doctors()] == [
        "doctor00000@scale.medappt",
        "doctor00001@scale.medappt",
    ]


def test_command_prints_progress_and_the_time_it_took():
    out = StringIO()

    call_command("seed_demo", "--scale", "1", "--allow-demo-admin", stdout=out)

    output = out.getvalue()
    assert "1/1 doctors" in output
    assert "Scale data: 1 doctors" in output
    assert " s" in output.rsplit("added in", 1)[1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_scale_on_postgresql_seeds_doctors_in_parallel_each_in_its_own_transaction():
    result = seed_scale(doctors=3, workers=2)

    assert result.doctors == 3
    assert len(scale_doctors()) == 3
    assert TimeBlock.objects.count() == result.blocks
    assert Appointment.objects.count() == result.appointments
    # Ids came from the sequences, so ordinary inserts carry on after them.
    last = TimeBlock.objects.latest("start")
    block = TimeBlock.objects.create(
        doctor=last.doctor, start=last.end, end=last.end + datetime.timedelta(minutes=30)
    )
    assert block.pk > max(TimeBlock.objects.exclude(pk=block.pk).values_list("pk", flat=True))

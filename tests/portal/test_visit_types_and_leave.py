"""The portal with visit types and leave (DESIGN-R2 R2-8, R2-5, R2-10 acceptance (6)): the
search by type, the slot's type on the doctor's week, a move only to a block of the visit's
own type, and no slot inside a leave."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from scheduling.models import Leave
from tests.support.factories import (
    DoctorFactory,
    DoctorVisitTypeFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    VisitTypeFactory,
    in_days,
)

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)


def monday_of(moment: datetime.datetime) -> str:
    day = timezone.localtime(moment).date()
    return (day - datetime.timedelta(days=day.weekday())).isoformat()


@pytest.fixture
def follow_up(cardiologist):
    visit_type = VisitTypeFactory(name="Follow-up", slug="follow-up", duration_minutes=30)
    DoctorVisitTypeFactory(doctor=cardiologist, visit_type=visit_type)
    return visit_type


def test_search_by_visit_type_finds_the_doctors_offering_it(web, cardiologist, follow_up):
    DoctorFactory(first_name="Ada", last_name="Byron")

    page = web.get("/portal/doctors/", {"visit_type": "follow-up"})

    assert page.status_code == 200
    assert b"Grace Hopper" in page.content
    assert b"Ada Byron" not in page.content
    assert b'<option value="follow-up" selected>Follow-up</option>' in page.content


def test_the_week_names_a_slot_of_a_visit_type(web, cardiologist, follow_up):
    block = TimeBlockFactory(doctor=cardiologist, visit_type=follow_up)

    page = web.get(f"/portal/doctors/{cardiologist.pk}/", {"week": monday_of(block.start)})

    html = page.content.decode()
    assert f'name="time_block" value="{block.pk}"' in html
    assert '<span class="slot-type">Follow-up</span>' in html


def test_a_visit_moves_only_to_a_block_of_its_own_type(
    patient, patient_web, cardiologist, follow_up
):
    # Same day, morning hours: the three blocks are in one week whatever the day.
    booked = TimeBlockFactory(doctor=cardiologist, start=in_days(3, hour=8), visit_type=follow_up)
    appointment = PendingAppointmentFactory(
        time_block=booked, patient=patient, visit_type=follow_up
    )
    general = TimeBlockFactory(doctor=cardiologist, start=booked.start + HOUR)
    tagged = TimeBlockFactory(
        doctor=cardiologist, start=booked.start + 2 * HOUR, visit_type=follow_up
    )

    page = patient_web.get(
        f"/portal/appointments/{appointment.pk}/reschedule/", {"week": monday_of(booked.start)}
    )

    html = page.content.decode()
    assert f'name="time_block" value="{tagged.pk}"' in html
    assert f'name="time_block" value="{general.pk}"' not in html


def test_the_doctors_week_shows_no_slot_inside_a_leave(web, cardiologist):
    free = TimeBlockFactory(doctor=cardiologist, start=in_days(3, hour=8))
    inside = TimeBlockFactory(doctor=cardiologist, start=free.start + 2 * HOUR)
    Leave.objects.create(
        doctor=cardiologist,
        start=inside.start - datetime.timedelta(minutes=30),
        end=inside.end + datetime.timedelta(minutes=30),
        category="vacation",
    )

    page = web.get(f"/portal/doctors/{cardiologist.pk}/", {"week": monday_of(free.start)})

    html = page.content.decode()
    assert f'name="time_block" value="{free.pk}"' in html
    assert f'name="time_block" value="{inside.pk}"' not in html

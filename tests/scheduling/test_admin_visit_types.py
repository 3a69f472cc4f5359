"""Visit types in the console: admins create them, choose the doctors who offer them and make
tagged weekly blocks, all through the services (audit rows as from the API)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from scheduling.models import DoctorVisitType, TimeBlock, VisitType
from tests.support.factories import DoctorVisitTypeFactory, VisitTypeFactory, in_days

pytestmark = pytest.mark.django_db

ADD = reverse("admin:scheduling_visittype_add")
CHANGELIST = reverse("admin:scheduling_visittype_changelist")


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_creates_a_type_offered_by_a_doctor(clinic_admin, doctor):
    data = {
        "name": "Follow-up",
        "slug": "follow-up",
        "duration_minutes": 20,
        "specialty": "",
        "description": "",
        "active": "on",
        "doctors": [doctor.pk],
    }

    response = console(clinic_admin).post(ADD, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    visit_type = VisitType.objects.get(slug="follow-up")
    assert visit_type.duration_minutes == 20
    assert list(DoctorVisitType.objects.values_list("doctor_id", "visit_type_id", "active")) == [
        (doctor.pk, visit_type.pk, True)
    ]
    assert AuditEvent.objects.filter(action="visit_type.created").count() == 1
    assert AuditEvent.objects.filter(action="doctor.visit_types_updated").count() == 1


def test_unticking_a_doctor_withdraws_the_offer(clinic_admin, doctor):
    offer = DoctorVisitTypeFactory(doctor=doctor)
    visit_type = offer.visit_type
    data = {
        "name": visit_type.name,
        "duration_minutes": visit_type.duration_minutes,
        "specialty": "",
        "description": "",
        "active": "on",
    }

    url = reverse("admin:scheduling_visittype_change", args=[visit_type.pk])
    response = console(clinic_admin).post(url, data)

    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.active is False


def test_a_refused_offer_is_a_message_not_a_500(clinic_admin, doctor):
    data = {
        "name": "Skin check",
        "slug": "skin-check",
        "duration_minutes": 15,
        "specialty": "Dermatology",  # the doctor is a cardiologist
        "description": "",
        "active": "on",
        "doctors": [doctor.pk],
    }

    response = console(clinic_admin).post(ADD, data, follow=True)

    assert response.status_code == 200
    assert "only for doctors of Dermatology" in response.content.decode()
    assert not VisitType.objects.exists()  # one transaction: the type is not kept either


def test_deactivate_action(clinic_admin):
    visit_type = VisitTypeFactory()

    console(clinic_admin).post(
        CHANGELIST, {"action": "deactivate", "_selected_action": [visit_type.pk]}
    )

    visit_type.refresh_from_db()
    assert visit_type.active is False


def test_staff_cannot_manage_visit_types(staff):
    assert console(staff).get(ADD).status_code == 403


def test_weekly_blocks_of_a_visit_type_from_the_console(clinic_admin, doctor):
    offer = DoctorVisitTypeFactory(doctor=doctor)
    day = in_days(5).date()
    data = {
        "doctor": doctor.pk,
        "date_from": day.isoformat(),
        "date_to": day.isoformat(),
        "weekdays": list(range(7)),
        "start_time": "09:00",
        "end_time": "10:00",
        "slot_minutes": "",
        "visit_type": offer.visit_type.pk,
        "timezone": "UTC",
    }

    response = console(clinic_admin).post(reverse("admin:scheduling_timeblock_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    blocks = TimeBlock.objects.filter(doctor=doctor)
    assert blocks.count() == 3  # 20-minute follow-ups in one hour
    assert {b.visit_type_id for b in blocks} == {offer.visit_type.pk}

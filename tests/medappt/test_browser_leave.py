"""Leave in a real browser: the desk adds a doctor's leave after reading its preview, resolves
the visit it kept by moving it, and opens the doctor's week. A screenshot of the week goes to
test-artifacts/."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.groups import FRONT_DESK_GROUP
from scheduling.models import Appointment, Leave
from tests.medappt.test_browser_admin import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.medappt.test_browser_desk import log_in
from tests.support.factories import (
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    StaffFactory,
    TimeBlockFactory,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no system Chromium at {CHROMIUM}"),
]
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def console_settings(settings, live_server):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return settings


@pytest.mark.django_db(transaction=True)
def test_desk_adds_a_leave_resolves_it_and_reads_the_doctors_week(console_settings, live_server):
    # -- the data, before the browser ------------------------------------------------------------
    desk = StaffFactory(email="desk@example.com")
    desk.groups.add(Group.objects.get(name=FRONT_DESK_GROUP))
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    zone = timezone.get_default_timezone()
    today = timezone.localdate()
    # Next week's Wednesday: the visit's new block (Thursday) is in the same week.
    day = today + datetime.timedelta(days=7 - today.weekday() + 2)
    nine = datetime.datetime.combine(day, datetime.time(9), tzinfo=zone)
    TimeBlockFactory(doctor=doctor, start=nine)  # free: withdrawn by the leave
    kept = ConfirmedAppointmentFactory(
        time_block=TimeBlockFactory(doctor=doctor, start=nine + HOUR),
        patient=PatientFactory(first_name="Alan", last_name="Turing"),
    )
    target = TimeBlockFactory(doctor=doctor, start=nine + datetime.timedelta(days=1))
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "admin-doctor-week.png"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page, csp = log_in(browser, live_server.url, desk.email)
            page.goto(f"{live_server.url}/admin/scheduling/leave/add/")
            page.select_option("#id_doctor", str(doctor.pk))
            page.fill("#id_start_0", day.isoformat())
            page.fill("#id_start_1", "08:00:00")
            page.fill("#id_end_0", day.isoformat())
            page.fill("#id_end_1", "12:00:00")
            page.select_option("#id_category", "training")
            page.click("input[name=_save]")
            sync_api.expect(page.locator(".errornote, .errorlist").first).to_be_visible()
            sync_api.expect(page.locator("body")).to_contain_text(
                "1 free block(s) will be withdrawn; 1 booked visit(s) will be kept"
            )
            sync_api.expect(page.locator("body")).to_contain_text("Alan Turing")
            page.check("#id_confirm")
            page.click("input[name=_save]")
            sync_api.expect(page.locator(".messagelist")).to_contain_text(
                "1 free block(s) withdrawn; 1 booked visit(s) kept"
            )

            page.goto(f"{live_server.url}/admin/scheduling/leave/")
            page.check("input.action-select")
            page.select_option("select[name=action]", "resolve_reschedule")
            page.click("button[name=index]")
            sync_api.expect(page.locator(".messagelist")).to_contain_text(
                "0 cancelled, 1 rescheduled, 0 unresolved"
            )

            page.click("#result_list a:text('week')")
            sync_api.expect(page.locator("#doctor-week")).to_be_visible()
            sync_api.expect(page.locator("#week-leaves")).to_contain_text("Leave (Training)")
            moved = page.locator(f'.week-block[data-block="{target.pk}"]')
            sync_api.expect(moved).to_have_attribute("data-state", "booked")
            sync_api.expect(moved).to_contain_text("Alan Turing")
            page.screenshot(path=str(screenshot), full_page=True)
            page.click("#week-next")
            sync_api.expect(page.locator("#doctor-week")).not_to_contain_text("Alan Turing")
            assert csp == []
        finally:
            browser.close()

    kept.refresh_from_db()
    assert (kept.time_block_id, kept.status) == (target.pk, Appointment.Status.PENDING)
    assert Leave.objects.get().doctor_id == doctor.pk
    assert screenshot.stat().st_size > 0

"""The front desk's day in a real browser: the desk checks a patient in on the day board, an
admin's board (open all along) updates itself without a reload, the admin starts and
completes the visit. A screenshot of the board goes to test-artifacts/."""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path

import pytest
from django.utils import timezone

from scheduling import admin_desk
from scheduling.models import Appointment
from tests.medappt.test_browser_admin import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, CLINIC_ZONES
from tests.support.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
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


def zone_inside_the_day(now: datetime.datetime) -> str:
    """A zone where it is between 01:00 and 21:00: a visit that started ten minutes ago is
    today there, and check-in is open until midnight."""
    for name in CLINIC_ZONES:
        if 1 <= now.astimezone(zoneinfo.ZoneInfo(name)).hour <= 21:
            return name
    raise AssertionError("some zone is always inside its day")  # pragma: no cover


@pytest.fixture
def desk_settings(settings, live_server, monkeypatch):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    settings.TIME_ZONE = zone_inside_the_day(timezone.now())
    # The live server runs in this process: the board refreshes every second here.
    monkeypatch.setattr(admin_desk, "REFRESH_SECONDS", 1)
    return settings


def log_in(browser, url: str, email: str):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    csp_errors = []
    page.on(
        "console",
        lambda message: (
            csp_errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{url}/admin/")
    return page, csp_errors


@pytest.mark.django_db(transaction=True)
def test_desk_checks_in_admin_starts_and_completes_the_visit_in_the_browser(
    desk_settings, live_server
):
    # -- the data, before the browser (and its event loop) starts --------------------------
    desk = StaffFactory(email="desk@example.com", first_name="Dana", last_name="Desk")
    boss = AdminFactory(email="boss@example.com", first_name="Ada", last_name="Admin")
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    patient = PatientFactory(first_name="Alan", last_name="Turing")
    start = (timezone.now() - datetime.timedelta(minutes=10)).replace(second=0, microsecond=0)
    block = TimeBlockFactory(doctor=doctor, start=start, end=start + datetime.timedelta(minutes=30))
    appointment = ConfirmedAppointmentFactory(patient=patient, time_block=block)
    assert timezone.localdate(start) == timezone.localdate()  # today at the clinic
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "admin-desk-board.png"
    row = f'#desk-board tr[data-appointment="{appointment.pk}"]'

    # -- the browser ---------------------------------------------------------------------------
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            admin_page, admin_csp = log_in(browser, live_server.url, boss.email)
            sync_api.expect(admin_page.locator(row)).to_have_attribute("data-stage", "expected")
            desk_page, desk_csp = log_in(browser, live_server.url, desk.email)

            board = desk_page.locator("#desk-board")
            sync_api.expect(board).to_contain_text("Grace Hopper")
            sync_api.expect(board).to_contain_text("Expected 1")
            desk_page.click(f"{row} button.desk-check-in")
            sync_api.expect(desk_page.locator(".messagelist .success")).to_have_text(
                "Alan Turing checked in."
            )
            sync_api.expect(desk_page.locator(row)).to_have_attribute("data-stage", "waiting")
            sync_api.expect(desk_page.locator(f"{row} button")).to_have_count(0)

            # The admin's page was never reloaded: its board fetched the new state itself.
            admin_row = admin_page.locator(row)
            sync_api.expect(admin_row).to_have_attribute("data-stage", "waiting")
            sync_api.expect(admin_row.locator(".desk-wait")).to_contain_text("waiting")
            admin_page.screenshot(path=str(screenshot), full_page=True)

            admin_page.click(f"{row} button.desk-start-visit")
            sync_api.expect(admin_page.locator(".messagelist .success")).to_have_text(
                "Visit of Alan Turing started."
            )
            sync_api.expect(admin_page.locator(row)).to_have_attribute("data-stage", "in_visit")
            admin_page.click(f"{row} button.desk-complete")
            sync_api.expect(admin_page.locator(".messagelist .success")).to_have_text(
                "Visit of Alan Turing completed."
            )
            sync_api.expect(admin_page.locator(row)).to_have_attribute("data-stage", "done")
            sync_api.expect(admin_page.locator("#desk-board")).to_contain_text("Done 1")
            admin_page.screenshot(path=str(ARTIFACTS / "admin-desk-board-done.png"), full_page=True)

            admin_page.click("text=Attendance statistics")
            sync_api.expect(admin_page.locator("#desk-stats-chart")).to_be_visible()
            sync_api.expect(admin_page.locator("#desk-stats-chart")).to_contain_text("Grace Hopper")
            assert admin_csp == []
            assert desk_csp == []
        finally:
            browser.close()

    # -- after the browser: the database --------------------------------------------------------
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED
    assert appointment.checked_in_by_id == desk.pk
    assert appointment.arrived_at <= appointment.seen_at <= appointment.completed_at
    assert screenshot.stat().st_size > 0

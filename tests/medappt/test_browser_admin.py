"""The front desk's morning in a real browser: log in, see today, confirm an appointment.

Playwright (sync API) drives the system Chromium against pytest-django's live server. Its
sync API runs an event loop in this thread, which Django's async-safety check would refuse
ORM calls under: every row is created before the browser starts and checked after it stops.
"""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path

import pytest
from django.utils import timezone

from scheduling.models import Appointment
from tests.support.factories import (
    DEFAULT_PASSWORD,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    StaffFactory,
    TimeBlockFactory,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Clinic zones to choose from, so that "later today" exists whatever the hour the suite runs.
CLINIC_ZONES = [
    "UTC",
    "Europe/Madrid",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "Asia/Kolkata",
]

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install -r requirements-dev.txt)",
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no system Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


def clinic_zone_with_time_left_today(now: datetime.datetime) -> str:
    """A zone where it is at most 20:00, so a visit two hours from now is still today there."""
    for name in CLINIC_ZONES:
        if now.astimezone(zoneinfo.ZoneInfo(name)).hour <= 20:
            return name
    raise AssertionError("some zone always has time left today")  # pragma: no cover


@pytest.fixture
def browser_settings(settings, live_server):
    # Secure cookies are never sent back over the live server's plain http://.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    settings.TIME_ZONE = clinic_zone_with_time_left_today(timezone.now())
    return settings


@pytest.mark.django_db(transaction=True)
def test_front_desk_confirms_todays_appointment_in_the_browser(browser_settings, live_server):
    # -- the data, before the browser (and its event loop) starts --------------------------
    desk = StaffFactory(email="desk@example.com", first_name="Dana", last_name="Desk")
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    patient = PatientFactory(first_name="Alan", last_name="Turing")
    start = (timezone.now() + datetime.timedelta(hours=2)).replace(second=0, microsecond=0)
    block = TimeBlockFactory(doctor=doctor, start=start, end=start + datetime.timedelta(minutes=30))
    appointment = PendingAppointmentFactory(patient=patient, time_block=block)
    assert timezone.localdate(start) == timezone.localdate()  # today at the clinic
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "admin-confirm.png"

    # -- the browser ---------------------------------------------------------------------------
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/admin/")
            assert "/admin/login/" in page.url
            page.fill("#id_username", desk.email)
            page.fill("#id_password", DEFAULT_PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}/admin/")

            front_desk = page.locator("#front-desk")
            sync_api.expect(front_desk).to_contain_text("Grace Hopper (1)")
            sync_api.expect(
                front_desk.get_by_role("link", name="Alan Turing").first
            ).to_be_visible()
            local_start = timezone.localtime(start).strftime("%H:%M")
            sync_api.expect(front_desk).to_contain_text(local_start)

            page.click("#front-desk >> text=all of today's appointments")
            page.wait_for_url("**/admin/scheduling/appointment/?*")
            row_box = page.locator(f'input[name="_selected_action"][value="{appointment.pk}"]')
            sync_api.expect(row_box).to_be_visible()
            row_box.check()
            page.select_option('select[name="action"]', label="Confirm selected appointments")
            page.click('button[name="index"]')

            success = page.locator(".messagelist .success")
            sync_api.expect(success).to_have_text("1 appointment(s) confirmed.")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    # -- after the browser: the database --------------------------------------------------------
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.confirmed_at is not None
    assert screenshot.stat().st_size > 0


@pytest.mark.django_db(transaction=True)
def test_admin_onboards_staff_in_the_browser(browser_settings, live_server):
    """Issue 16: an admin adds a staff account and turns a patient into front desk staff,
    with no shell: the add form (role staff, invited) and the role-change action."""
    from django.contrib.auth.models import Group
    from django.core import mail

    from accounts.groups import FRONT_DESK_GROUP
    from accounts.models import User
    from audit.models import AuditEvent
    from tests.support.factories import AdminFactory

    admin = AdminFactory(email="boss@example.com")
    patient = PatientFactory(email="future.desk@example.com", first_name="Fay")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "admin-set-role.png"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/admin/login/")
            page.fill("#id_username", admin.email)
            page.fill("#id_password", DEFAULT_PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}/admin/")

            # A new staff account from the add form: no password field anywhere.
            page.goto(f"{live_server.url}/admin/accounts/user/add/")
            assert page.locator("input[type=password]").count() == 0
            page.fill("#id_email", "New.Desk@Example.com")
            page.fill("#id_first_name", "Nia")
            page.fill("#id_last_name", "Desk")
            page.select_option("#id_role", "staff")
            page.click('input[name="_save"]')
            sync_api.expect(page.locator(".messagelist .success")).to_be_visible()

            # The patient becomes front desk staff through the action.
            page.goto(f"{live_server.url}/admin/accounts/user/")
            page.locator(f'input[name="_selected_action"][value="{patient.pk}"]').check()
            page.select_option(
                'select[name="action"]', label="Change the role of selected users (to role)"
            )
            page.select_option('select[name="role"]', "staff")
            page.click('button[name="index"]')
            success = page.locator(".messagelist .success")
            sync_api.expect(success).to_have_text("1 user(s) given role staff.")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    created = User.objects.get(email="new.desk@example.com")
    patient.refresh_from_db()
    desk = Group.objects.get(name=FRONT_DESK_GROUP)
    for user in (created, patient):
        assert (user.role, user.is_staff, user.is_superuser) == ("staff", True, False)
        assert desk in user.groups.all()
    assert not created.has_usable_password()
    assert [message.to for message in mail.outbox] == [[created.email]]  # the invite
    changed = AuditEvent.objects.get(action="user.role_changed")
    assert changed.data == {"before": "patient", "after": "staff"}
    assert screenshot.stat().st_size > 0

"""Visit types and standing schedules in a real browser: an admin creates a visit type and
ticks the doctor who offers it, then previews a template of it and saves it from the preview.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from scheduling.models import AvailabilityTemplate, DoctorVisitType, TimeBlock, VisitType
from tests.medappt.test_browser_admin import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.medappt.test_browser_desk import log_in
from tests.support.factories import AdminFactory, DoctorFactory

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no system Chromium at {CHROMIUM}"),
]


@pytest.fixture
def console_settings(settings, live_server):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return settings


@pytest.mark.django_db(transaction=True)
def test_admin_creates_a_visit_type_offers_it_and_saves_a_previewed_template(
    console_settings, live_server
):
    boss = AdminFactory(email="boss@example.com")
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    first_day = timezone.localdate() + datetime.timedelta(days=1)
    last_day = first_day + datetime.timedelta(days=6)
    ARTIFACTS.mkdir(exist_ok=True)
    url = live_server.url

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page, csp_errors = log_in(browser, url, boss.email)

            # A visit type, offered by the doctor.
            page.goto(f"{url}/admin/scheduling/visittype/add/")
            page.fill("#id_name", "Follow-up")
            page.fill("#id_slug", "follow-up")
            page.fill("#id_duration_minutes", "20")
            page.check(f'input[name="doctors"][value="{doctor.pk}"]')
            page.click('input[name="_save"]')
            sync_api.expect(page.locator(".messagelist .success")).to_contain_text("Follow-up")

            # A template of it: preview first, then save from the preview.
            page.goto(f"{url}/admin/scheduling/availabilitytemplate/add/")
            page.click("#template-preview-link")
            page.select_option("#id_doctor", str(doctor.pk))
            page.fill("#id_rrule", "FREQ=DAILY")
            page.fill("#id_valid_from", first_day.isoformat())
            page.fill("#id_valid_until", last_day.isoformat())
            page.fill("#id_start_time", "09:00")
            page.fill("#id_end_time", "10:00")
            page.select_option("#id_visit_type", label="Follow-up (20 min)")
            page.fill("#id_timezone", "UTC")
            page.click("#preview-button")
            sync_api.expect(page.locator("#preview-count")).to_have_text(
                "21 blocks would be created"
            )
            page.screenshot(path=str(ARTIFACTS / "admin-template-preview.png"), full_page=True)
            page.click("#save-template")
            sync_api.expect(page.locator(".messagelist")).to_contain_text("21 blocks created")
            assert csp_errors == []
        finally:
            browser.close()

    visit_type = VisitType.objects.get(slug="follow-up")
    assert DoctorVisitType.objects.filter(
        doctor=doctor, visit_type=visit_type, active=True
    ).exists()
    template = AvailabilityTemplate.objects.get()
    assert (template.visit_type_id, template.slot_minutes) == (visit_type.pk, 20)
    blocks = TimeBlock.objects.filter(doctor=doctor)
    assert blocks.count() == 21  # the preview saved nothing
    assert {b.visit_type_id for b in blocks} == {visit_type.pk}

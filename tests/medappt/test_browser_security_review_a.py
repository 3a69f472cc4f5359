"""Security review, round 2 (finding 16): the API docs and the admin work under their CSP.

Chromium reports every refused script, style, image, font, fetch or worker as a console
error naming the Content Security Policy; the pages must render and report none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.medappt.test_browser_admin import CHROMIUM, CHROMIUM_ARGS
from tests.support.factories import DEFAULT_PASSWORD, StaffFactory

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


def _csp_violations(messages: list[str]) -> list[str]:
    """Refusals by the policy, except of images from elsewhere: ReDoc's bundle asks for its
    vendor's logo from the vendor's CDN, and keeping that request from leaving the page is
    what the policy is for."""
    return [
        text
        for text in messages
        if "Content Security Policy" in text
        and not ("Loading the image 'https://" in text and "img-src" in text)
    ]


@pytest.fixture
def browser_page(settings, live_server):
    # Secure cookies are never sent back over the live server's plain http://.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.console_messages = []
            page.on("console", lambda message: page.console_messages.append(message.text))
            page.on("pageerror", lambda error: page.console_messages.append(str(error)))
            yield page
        finally:
            browser.close()


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_under_the_csp(browser_page, live_server):
    response = browser_page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    sync_api.expect(browser_page.locator(".swagger-ui .info .title")).to_contain_text("medappt API")
    sync_api.expect(browser_page.locator(".opblock").first).to_be_visible()
    assert _csp_violations(browser_page.console_messages) == []


@pytest.mark.django_db(transaction=True)
def test_redoc_renders_under_the_csp(browser_page, live_server):
    browser_page.goto(f"{live_server.url}/api/redoc/")

    # ReDoc renders once it has fetched and parsed the schema: seconds on a loaded machine.
    sync_api.expect(browser_page.locator("h1").first).to_contain_text("medappt API", timeout=30_000)
    browser_page.wait_for_load_state("networkidle")
    assert _csp_violations(browser_page.console_messages) == []


@pytest.fixture
def desk(transactional_db):
    # Made before the browser starts: Playwright's sync API runs an event loop, inside which
    # Django refuses database calls.
    return StaffFactory(email="desk@example.com")


@pytest.mark.django_db(transaction=True)
def test_the_admin_logs_in_and_renders_under_the_csp(desk, browser_page, live_server):
    browser_page.goto(f"{live_server.url}/admin/")
    browser_page.fill("#id_username", desk.email)
    browser_page.fill("#id_password", DEFAULT_PASSWORD)
    browser_page.click("input[type=submit]")
    browser_page.wait_for_url(f"{live_server.url}/admin/")
    sync_api.expect(browser_page.locator("#front-desk")).to_be_visible()
    browser_page.goto(f"{live_server.url}/admin/scheduling/appointment/")
    sync_api.expect(browser_page.locator("#changelist")).to_be_visible()
    assert _csp_violations(browser_page.console_messages) == []

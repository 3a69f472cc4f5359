"""The portal in a real browser (DESIGN-R2 §R2-10 "Browser tests" (1)-(7)): headless system
Chromium through Playwright against pytest-django's live server, axe-core on each main page,
screenshots at desktop and phone (390 px) sizes under test-artifacts/portal-*.png.

One browser for the module. Playwright's sync API runs an event loop in this thread, which
Django's async-safety check would take for async code: the module allows the ORM there
(DJANGO_ALLOW_ASYNC_UNSAFE) so a test can make its rows and check them around the browser."""

from __future__ import annotations

import datetime
import os
import zoneinfo
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from scheduling.models import (
    Appointment,
    DoctorVisitType,
    Review,
    ReviewVote,
    VisitType,
    WaitlistEntry,
)
from scheduling.services import review_create
from tests.support.factories import (
    DEFAULT_PASSWORD,
    CompletedAppointmentFactory,
    ConfirmedAppointmentFactory,
    DoctorFactory,
    PatientFactory,
    PendingAppointmentFactory,
    TimeBlockFactory,
    in_days,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Zones to run the clinic in, so that "earlier today" exists whatever the hour of the run.
CLINIC_ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Asia/Tokyo", "Pacific/Auckland"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no system Chromium at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def browser():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def clinic_zone_with_time_passed_today(now: datetime.datetime) -> str:
    for name in CLINIC_ZONES:
        if 1 <= now.astimezone(zoneinfo.ZoneInfo(name)).hour <= 20:
            return name
    raise AssertionError("some zone is always between 01:00 and 20:00")  # pragma: no cover


@pytest.fixture
def site(settings, live_server):
    # Secure cookies are never sent back over the live server's plain http://.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    settings.TIME_ZONE = clinic_zone_with_time_passed_today(timezone.now())
    settings.CLINIC_NAME = "Riverside Clinic"
    return live_server.url


class Tab:
    """One browser context (a person's browser) with the checks every page gets."""

    def __init__(self, browser, base: str, **options) -> None:
        self.context = browser.new_context(viewport=DESKTOP, **options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.base = base
        self.csp_errors: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def sign_in(self, email: str) -> None:
        self.go("/portal/login/")
        self.page.get_by_label("Email").fill(email) if self.lang() == "en" else self.page.fill(
            "#id_email", email
        )
        self.page.fill("#id_password", DEFAULT_PASSWORD)
        self.page.locator("main button[type=submit]").click()
        self.page.wait_for_load_state()

    def lang(self) -> str:
        return self.page.locator("html").get_attribute("lang") or ""

    def check(self, name: str, *, axe: bool = True) -> None:
        """No serious or critical axe violation; screenshots at desktop and phone sizes."""
        if axe:
            results = axe_api.Axe().run(self.page)
            serious = [
                v for v in results.response["violations"] if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], results.generate_report()
        self.page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)
        self.page.set_viewport_size(PHONE)
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: {width}px wide at a 390px viewport"
        self.page.screenshot(path=str(ARTIFACTS / f"portal-{name}-phone.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)
        assert self.csp_errors == []

    def close(self) -> None:
        self.context.close()


def doctor_with_slots(**names):
    """A cardiologist offering 30-minute follow-ups, with four follow-up blocks in two days."""
    doctor = DoctorFactory(profile__specialties=["Cardiology"], **names)
    follow_up, _ = VisitType.objects.get_or_create(
        slug="follow-up", defaults={"name": "Follow-up", "duration_minutes": 30}
    )
    DoctorVisitType.objects.create(doctor=doctor, visit_type=follow_up)
    first = in_days(2, hour=9)
    blocks = [
        TimeBlockFactory(
            doctor=doctor,
            start=first + datetime.timedelta(minutes=30 * i),
            end=first + datetime.timedelta(minutes=30 * (i + 1)),
            visit_type=follow_up,
        )
        for i in range(4)
    ]
    return doctor, blocks


def book_through_the_pages(tab: Tab, *, screenshots: bool) -> None:
    page = tab.page
    tab.go("/portal/")
    if screenshots:
        tab.check("home")
    page.fill("#id_specialty", "cardiology")
    page.select_option("#id_visit_type", "follow-up")
    page.locator("form.search button").click()
    sync_api.expect(page.locator("h1")).to_have_text("Find a doctor")
    if screenshots:
        tab.check("search")
    page.get_by_role("link", name="Grace Hopper").click()
    sync_api.expect(page.locator("h1")).to_have_text("Grace Hopper")
    if screenshots:
        tab.check("doctor")
    page.locator("button.slot").first.click()
    sync_api.expect(page.locator("h1")).to_have_text("Confirm your appointment")
    if screenshots:
        tab.check("hold")
    page.fill("#id_reason", "Chest pain when running")
    page.get_by_role("button", name="Confirm the appointment").click()
    sync_api.expect(page.locator("#appointment-status")).to_have_text("Pending")
    if screenshots:
        tab.check("booked")


# (1) -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_find_pick_a_slot_and_confirm(browser, site):
    _, blocks = doctor_with_slots(first_name="Grace", last_name="Hopper")
    DoctorFactory(first_name="Ada", last_name="Byron", profile__specialties=["Dermatology"])
    patient = PatientFactory(first_name="Alan", last_name="Turing")
    tab = Tab(browser, site)
    try:
        tab.go("/portal/doctors/?specialty=dermatology")
        sync_api.expect(tab.page.locator("main")).not_to_contain_text("Grace Hopper")
        tab.sign_in(patient.email)
        book_through_the_pages(tab, screenshots=True)
        tab.page.get_by_role("link", name="My appointments", exact=True).click()
        sync_api.expect(tab.page.locator("main")).to_contain_text("Pending")
        tab.check("appointments")
    finally:
        tab.close()
    appointment = Appointment.objects.get(patient=patient)
    assert (appointment.status, appointment.time_block_id) == ("pending", blocks[0].pk)
    assert appointment.reason == "Chest pain when running"
    assert appointment.visit_type.slug == "follow-up"


# (2) -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_same_without_javascript(browser, site):
    doctor_with_slots(first_name="Grace", last_name="Hopper")
    patient = PatientFactory()
    tab = Tab(browser, site, java_script_enabled=False)
    try:
        tab.sign_in(patient.email)
        book_through_the_pages(tab, screenshots=False)
        # The week's navigation is a plain link too.
        tab.page.goto(f"{site}/portal/doctors/")
        tab.page.get_by_role("link", name="Grace Hopper").click()
        tab.page.get_by_role("link", name="Next week").click()
        assert "week=" in tab.page.url
    finally:
        tab.close()
    assert Appointment.objects.filter(patient=patient, status="pending").count() == 1


# (3) -------------------------------------------------------------------------------------
def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.django_db(transaction=True)
def test_keyboard_only(browser, site):
    doctor_with_slots(first_name="Grace", last_name="Hopper")
    patient = PatientFactory()
    tab = Tab(browser, site)
    page = tab.page
    try:
        tab.go("/portal/login/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        tab_to(page, "#id_email")
        page.keyboard.type(patient.email)
        page.keyboard.press("Tab")
        page.keyboard.type(DEFAULT_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/appointments/")
        tab_to(page, "a[href='/portal/doctors/']")
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/doctors/")
        tab_to(page, "#id_specialty")
        page.keyboard.type("Cardiology")
        page.keyboard.press("Enter")
        page.wait_for_url("**specialty=Cardiology**")
        tab_to(page, "main .card a")
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/doctors/*/")
        tab_to(page, "button.slot")
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/holds/*/")
        tab_to(page, "main button.primary")
        page.keyboard.press("Enter")
        sync_api.expect(page.locator("#appointment-status")).to_have_text("Pending")
    finally:
        tab.close()
    assert Appointment.objects.filter(patient=patient).count() == 1


# (4) -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_cancel_and_the_notice_window_in_spanish(browser, site):
    patient = PatientFactory()
    later = PendingAppointmentFactory(patient=patient)
    soon_start = timezone.now() + datetime.timedelta(
        hours=django_settings.CANCELLATION_NOTICE_HOURS - 3
    )
    soon = PendingAppointmentFactory(
        patient=patient,
        time_block=TimeBlockFactory(
            start=soon_start, end=soon_start + datetime.timedelta(minutes=30)
        ),
    )
    tab = Tab(browser, site)
    try:
        tab.sign_in(patient.email)
        tab.go(f"/portal/appointments/{later.pk}/")
        tab.check("appointment")
        tab.page.fill("#id_reason", "Feeling better")
        tab.page.locator(".danger-zone button").click()
        sync_api.expect(tab.page.locator("#appointment-status")).to_have_text("Cancelled")
    finally:
        tab.close()
    spanish = Tab(browser, site, locale="es-ES")
    try:
        spanish.sign_in(patient.email)
        spanish.go(f"/portal/appointments/{soon.pk}/")
        spanish.page.locator(".danger-zone button").click()
        alert = spanish.page.locator("#error")
        sync_api.expect(alert).to_contain_text("no se pueden cancelar")
        spanish.check("cancel-too-late-es")
    finally:
        spanish.close()
    later.refresh_from_db()
    soon.refresh_from_db()
    assert (later.status, soon.status) == ("cancelled", "pending")


# (5) -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_reschedule(browser, site):
    _, blocks = doctor_with_slots(first_name="Grace", last_name="Hopper")
    patient = PatientFactory()
    appointment = PendingAppointmentFactory(
        patient=patient, time_block=blocks[0], visit_type=blocks[0].visit_type
    )
    tab = Tab(browser, site)
    try:
        tab.sign_in(patient.email)
        tab.go(f"/portal/appointments/{appointment.pk}/")
        tab.page.get_by_role("link", name="Move to another time").click()
        sync_api.expect(tab.page.locator("h1")).to_have_text("Move the appointment")
        week_link = tab.page.locator(".week-nav a", has_text="Next week")
        target = f"input[name=time_block][value='{blocks[2].pk}']"
        if tab.page.locator(target).count() == 0:  # the block is in the next week
            week_link.click()
        tab.check("reschedule")
        tab.page.locator(f"form:has({target}) button").click()
        sync_api.expect(tab.page.locator(".notice")).to_contain_text("moved")
    finally:
        tab.close()
    appointment.refresh_from_db()
    assert appointment.time_block_id == blocks[2].pk


# (6) -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_spanish_from_the_browser_and_from_the_users_setting(browser, site):
    browser_es = PatientFactory()
    user_es = PatientFactory(language="es")
    tab = Tab(browser, site, locale="es-ES")
    try:
        tab.sign_in(browser_es.email)
        sync_api.expect(tab.page.locator("h1")).to_have_text("Mis citas")
        assert tab.lang() == "es"
        tab.check("appointments-es")
    finally:
        tab.close()
    english = Tab(browser, site, locale="en-US")
    try:
        english.go("/portal/")
        assert english.lang() == "en"
        english.sign_in(user_es.email)
        sync_api.expect(english.page.locator("h1")).to_have_text("Mis citas")
        assert english.lang() == "es"
    finally:
        english.close()


# (7) -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_doctors_day_check_in_and_complete(browser, site):
    doctor = DoctorFactory(first_name="Grace", last_name="Hopper")
    start = (timezone.now() - datetime.timedelta(minutes=15)).replace(second=0, microsecond=0)
    block = TimeBlockFactory(doctor=doctor, start=start, end=start + datetime.timedelta(hours=1))
    appointment = ConfirmedAppointmentFactory(
        time_block=block, patient=PatientFactory(first_name="Alan", last_name="Turing")
    )
    tab = Tab(browser, site)
    page = tab.page
    try:
        tab.sign_in(doctor.email)
        page.wait_for_url("**/portal/day/")
        sync_api.expect(page.locator("#day")).to_contain_text("Alan Turing")
        tab.check("day")
        page.get_by_role("button", name="Check in Alan").click()
        page.get_by_role("button", name="Start the visit Alan").click()
        page.get_by_role("button", name="Complete Alan").click()
        sync_api.expect(page.locator("#day")).to_contain_text("Completed")
        tab.check("day-done")
    finally:
        tab.close()
    appointment.refresh_from_db()
    assert appointment.status == "completed"


# Review edit and vote; the waitlist by specialty (issue #24's remaining gaps) ------------
@pytest.mark.django_db(transaction=True)
def test_review_edit_vote_and_the_waitlist_by_specialty(browser, site):
    doctor, _ = doctor_with_slots(first_name="Grace", last_name="Hopper")
    patient = PatientFactory()
    visit = CompletedAppointmentFactory(patient=patient, doctor=doctor)
    mine = review_create(actor=patient, appointment=visit, rating=5, comment="Kind")
    other_visit = CompletedAppointmentFactory(doctor=doctor)
    theirs = review_create(
        actor=other_visit.patient, appointment=other_visit, rating=4, comment="On time"
    )
    tab = Tab(browser, site)
    page = tab.page
    try:
        tab.sign_in(patient.email)
        tab.go(f"/portal/appointments/{visit.pk}/")
        page.get_by_label("Your rating").select_option("3")
        page.get_by_label("Comment (optional)").fill("Kind, but late")
        page.get_by_role("button", name="Save the changes").click()
        sync_api.expect(page.locator(".notice")).to_contain_text("Your review is changed.")
        tab.check("review-edit")

        tab.go(f"/portal/doctors/{doctor.pk}/")
        helpful = page.locator(f"#review-{theirs.pk}").get_by_role(
            "button", name="Helpful", exact=True
        )
        helpful.click()
        sync_api.expect(
            page.locator(f"#review-{theirs.pk}").get_by_role("button", name="Helpful", exact=True)
        ).to_have_attribute("aria-pressed", "true")
        tab.check("doctor-reviews")

        tab.go("/portal/waitlist/")
        form = page.locator("#join-form")
        form.get_by_label("Specialty").fill("Cardiology")
        form.get_by_label("Type of visit (optional)").select_option("follow-up")
        form.get_by_label("Monday").check()
        form.get_by_label("Not before (optional)").fill("12:00")
        form.get_by_label("Not after (optional)").fill("09:00")
        form.get_by_role("button", name="Join the waiting list").click()
        time_to = page.locator("#join-form").get_by_label("Not after (optional)")
        sync_api.expect(time_to).to_have_attribute("aria-invalid", "true")
        sync_api.expect(page.locator("#id_time_to-error")).to_contain_text("after the start")
        tab.check("waitlist-error")
        page.locator("#join-form").get_by_label("Not before (optional)").fill("09:00")
        time_to.fill("12:00")
        page.locator("#join-form").get_by_role("button", name="Join the waiting list").click()
        sync_api.expect(page.locator("main")).to_contain_text("Cardiology (Follow-up)")
        tab.check("waitlist")
    finally:
        tab.close()
    mine = Review.objects.get(pk=mine.pk)
    assert (mine.rating, mine.comment) == (3, "Kind, but late")
    assert ReviewVote.objects.get(review=theirs, voter=patient).value == 1
    entry = WaitlistEntry.objects.get(patient=patient)
    assert (entry.specialty, entry.weekdays) == ("Cardiology", [0])
    assert (entry.time_from, entry.time_to) == (datetime.time(9), datetime.time(12))

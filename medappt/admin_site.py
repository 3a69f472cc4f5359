"""The staff console: Django's admin with the front-desk summary on its home page."""

from __future__ import annotations

import math

from django.contrib import admin
from django.http import HttpResponse

from accounts.services import auth_admin_login_failed, password_changed_in_admin
from core.throttles import LoginAttempt, LoginRateThrottle
from scheduling.selectors import front_desk_summary


def _too_many_attempts(wait: float | None) -> HttpResponse:
    response = HttpResponse(
        "Too many login attempts. Try again later.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(max(1, math.ceil(wait or 1)))
    return response


class ClinicAdminSite(admin.AdminSite):
    site_header = "medappt clinic console"
    site_title = "medappt"
    index_title = "Front desk"
    index_template = "admin/clinic_index.html"
    site_url = None  # the API is the only other site here: no "View site" link to a 404

    def password_change(self, request, extra_context=None):
        """Django's own-password page; a successful change revokes tokens and is audited."""
        response = super().password_change(request, extra_context)
        if request.method == "POST" and response.status_code == 302:
            password_changed_in_admin(user=request.user)
        return response

    def login(self, request, extra_context=None):
        """Django's login page, with the API login's limits: THROTTLE_LOGIN per client address
        (the API's counter) and the failed-login counts per email (core.throttles.
        LoginAttempt, shared with the API); a refused attempt is audited as auth.login_failed."""
        if request.method != "POST":
            return super().login(request, extra_context)
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, None):
            return _too_many_attempts(throttle.wait())
        email = request.POST.get("username", "")
        attempt = LoginAttempt(request, email=email)
        if not attempt.allowed:
            return _too_many_attempts(attempt.retry_after)
        failed = False
        try:
            response = super().login(request, extra_context)
            # Success redirects; a refused form (bad credentials, suspended, not staff) is
            # shown again with its errors (200). Any other answer checked no password.
            failed = response.status_code == 200 and not response.has_header("Location")
        finally:
            if not failed:
                attempt.did_not_fail()
        if not response.has_header("Location"):
            auth_admin_login_failed(email=email)
        return response

    def index(self, request, extra_context=None):
        context = dict(extra_context or {})
        if request.user.has_perm("scheduling.view_appointment"):
            context["front_desk"] = front_desk_summary()
        return super().index(request, context)

"""The staff console: Django's admin with the front-desk summary on its home page."""

from __future__ import annotations

import math

from django.contrib import admin
from django.http import HttpResponse

from accounts.services import auth_admin_login_failed, password_changed_in_admin
from core.throttles import LoginRateThrottle
from scheduling.selectors import front_desk_summary


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
        """Django's login page; attempts count against THROTTLE_LOGIN per client address
        (the API login's counter), and a refused attempt is audited as auth.login_failed."""
        if request.method != "POST":
            return super().login(request, extra_context)
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, None):
            response = HttpResponse(
                "Too many login attempts. Try again later.\n",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
            return response
        response = super().login(request, extra_context)
        # Success redirects; a refused form (bad credentials, suspended, not staff) is shown
        # again with its errors.
        if not response.has_header("Location"):
            auth_admin_login_failed(email=request.POST.get("username", ""))
        return response

    def index(self, request, extra_context=None):
        context = dict(extra_context or {})
        if request.user.has_perm("scheduling.view_appointment"):
            context["front_desk"] = front_desk_summary()
        return super().index(request, context)

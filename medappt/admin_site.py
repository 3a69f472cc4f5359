"""The staff console: Django's admin with the front-desk summary on its home page."""

from __future__ import annotations

import math

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.http import HttpResponse
from django.urls import path, re_path

from accounts.services import auth_admin_login_failed, password_changed_in_admin
from audit.services import audit_record_patient_views
from core.throttles import LoginAttempt, LoginRateThrottle
from scheduling import admin_desk, admin_week
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

    def get_urls(self):
        desk = [
            path(
                "desk/board/",
                self.admin_view(lambda r: admin_desk.board_view(r, self)),
                name="desk_board",
            ),
            path(
                "desk/stats/",
                self.admin_view(lambda r: admin_desk.stats_view(r, self)),
                name="desk_stats",
            ),
            re_path(
                r"^desk/(?P<pk>[0-9]{1,18})/(?P<action>check-in|start-visit|complete)/$",
                self.admin_view(
                    lambda r, pk, action: admin_desk.action_view(r, self, int(pk), action)
                ),
                name="desk_action",
            ),
            re_path(
                r"^doctors/(?P<doctor_id>[0-9]{1,18})/week/$",
                self.admin_view(
                    lambda r, doctor_id: admin_week.doctor_week_view(r, self, int(doctor_id))
                ),
                name="doctor_week",
            ),
        ]
        return desk + super().get_urls()

    def index(self, request, extra_context=None):
        context = dict(extra_context or {})
        context.update(admin_desk.home_context(request))
        if request.user.has_perm("scheduling.view_appointment"):
            summary = context["front_desk"] = front_desk_summary()
            # The page names patients (today per doctor, pending soon): each is a record read.
            shown = [a for day in summary["doctors_today"] for a in day.appointments]
            shown += summary["pending_soon"]
            board = context.get("desk_board")
            audit_record_patient_views(
                patient_ids=[a.patient_id for a in shown]
                + (board["day"].patient_ids if board else []),
                actor=request.user,
            )
        return super().index(request, context)

    def autocomplete_view(self, request):
        return RecordedAutocompleteJsonView.as_view(admin_site=self)(request)


class RecordedAutocompleteJsonView(AutocompleteJsonView):
    """Django's autocomplete; the model admin answering it records the rows it offers when
    they are records it audits the reads of (`record_patient_reads`, audit.admin)."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        record = getattr(self.model_admin, "record_patient_reads", None)
        if record is not None:
            record(self.request, context["object_list"])
        return context

"""The staff console: Django's admin with the front-desk summary on its home page."""

from __future__ import annotations

import math

from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from medappt.exceptions import Conflict


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
            from accounts.services import password_changed_in_admin

            password_changed_in_admin(user=request.user)
        return response

    def login(self, request, extra_context=None):
        """Django's login page; attempts count against THROTTLE_LOGIN per client address
        (the API login's counter), and a refused attempt is audited as auth.login_failed."""
        if request.method != "POST":
            return super().login(request, extra_context)
        from accounts.services import auth_admin_login_failed
        from accounts.throttles import LoginRateThrottle

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
        from scheduling.dashboard import front_desk_summary, front_desk_summary_viewed

        context = dict(extra_context or {})
        if request.user.has_perm("scheduling.view_appointment"):
            context["front_desk"] = front_desk_summary()
            front_desk_summary_viewed(summary=context["front_desk"], viewer=request.user)
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


def is_autocomplete_for(request: HttpRequest, model_name: str, field_name: str) -> bool:
    """Whether this request is the admin's autocomplete for that model's field."""
    match = getattr(request, "resolver_match", None)
    return (
        match is not None
        and match.url_name == "autocomplete"
        and request.GET.get("model_name") == model_name
        and request.GET.get("field_name") == field_name
    )


class RuleViolation(Exception):
    """A service refused the admin's write; shown as an error message, nothing changed."""


def rule_message(error: Exception) -> str:
    if isinstance(error, Conflict):
        return error.detail
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)


class ServiceBackedAdmin:
    """Turns a service's refusal inside save/delete into an admin error message, never a 500."""

    def _guarded(self, view, request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RuleViolation as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def add_view(self, request, form_url="", extra_context=None):
        return self._guarded(super().add_view, request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._guarded(super().change_view, request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._guarded(super().delete_view, request, object_id, extra_context)

    def run_action(
        self, request, queryset, service, *, argument: str, done: str, label, **kwargs
    ) -> None:
        """Apply a service to each selected object; one success line, one error per refusal."""
        succeeded, refused = 0, []
        for obj in queryset:
            try:
                service(actor=request.user, **{argument: obj}, **kwargs)
                succeeded += 1
            except (Conflict, ValidationError) as error:
                refused.append(f"{label(obj)}: {rule_message(error)}")
        if succeeded:
            self.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @staticmethod
    def call(service, **kwargs):
        try:
            return service(**kwargs)
        except (Conflict, ValidationError) as error:
            raise RuleViolation(rule_message(error)) from error

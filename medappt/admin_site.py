"""The staff console: Django's admin with the front-desk summary on its home page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect

from medappt.exceptions import Conflict


class ClinicAdminSite(admin.AdminSite):
    site_header = "medappt clinic console"
    site_title = "medappt"
    index_title = "Front desk"
    index_template = "admin/clinic_index.html"

    def index(self, request, extra_context=None):
        from scheduling.dashboard import front_desk_summary

        context = dict(extra_context or {})
        if request.user.has_perm("scheduling.view_appointment"):
            context["front_desk"] = front_desk_summary()
        return super().index(request, context)


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

    @staticmethod
    def call(service, **kwargs):
        try:
            return service(**kwargs)
        except (Conflict, ValidationError) as error:
            raise RuleViolation(rule_message(error)) from error

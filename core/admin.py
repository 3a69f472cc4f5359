"""What every app's admin classes share (service-backed writes, autocomplete checks), and the
mail outbox's read-only page.

The console calls the same services as the API (docs/architecture.md): a refused write is an
error message in the admin and changes nothing, never a 500.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect

from core.exceptions import Conflict
from core.models import EmailMessage, IdempotencyRecord


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """A console page that shows rows and lets nobody add, change or delete them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(EmailMessage)
class EmailMessageAdmin(ReadOnlyAdmin):
    """The mail outbox, read-only: what was sent to whom and when, what failed and why. Its
    context (names, dates) is not shown, and links were never stored."""

    list_display = ("id", "template", "recipient", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "template")
    search_fields = ("recipient", "template")
    ordering = ("-id",)
    fields = (
        "template",
        "recipient",
        "user_id",
        "language",
        "status",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "sent_at",
        "last_error",
        "created_at",
    )
    readonly_fields = fields


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    """Idempotency-Keys, read-only and without the stored answers (they show patient data)."""

    list_display = ("id", "user_id", "key", "state", "response_status", "created_at")
    list_filter = ("state",)
    search_fields = ("key",)
    ordering = ("-id",)
    fields = (
        "user_id",
        "key",
        "request_hash",
        "state",
        "lease_until",
        "response_status",
        "object_model",
        "object_id",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields

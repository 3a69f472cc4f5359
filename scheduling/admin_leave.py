"""Leave and closures in the console, and a doctor's week at a glance.

The desk adds a leave through leave_create after seeing what it does (leave_preview's counts,
shown as the form's first answer: tick "confirm" to go on); admins add clinic closures (no
doctor). Leaves are cancelled, and their kept visits resolved, by admin actions through
leave_cancel and leave_resolve. The week page (admin/doctors/<id>/week/) shows a doctor's
blocks, leaves and closures for one week, linked from the desk board, the doctor's blocks and
the leave list.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from audit.services import audit_record_patient_views
from core.admin import ServiceBackedAdmin, rule_message
from core.exceptions import Conflict
from scheduling import services
from scheduling.admin_week import week_url
from scheduling.models import Leave


class LeaveAddForm(forms.ModelForm):
    """A leave (no doctor: a clinic closure, admins only). The first submit shows what it
    would do; ticking `confirm` creates it through the service."""

    confirm = forms.BooleanField(
        required=False,
        help_text="Tick after reading the preview above to create the leave.",
    )

    class Meta:
        model = Leave
        fields = ["doctor", "start", "end", "category", "note"]

    def __init__(self, *args, request: HttpRequest | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["doctor"].queryset = User.objects.filter(role=User.Role.DOCTOR)
        self.fields["doctor"].help_text = "Leave empty for a clinic closure (admins only)."

    def validate_constraints(self) -> None:
        """The service turns the overlap rule into its 409, shown on the form."""

    def clean(self) -> dict:
        data = super().clean()
        if self.errors or self.request is None:
            return data
        try:
            preview = services.leave_preview(
                actor=self.request.user,
                doctor=data.get("doctor"),
                start=data["start"],
                end=data["end"],
                category=data["category"],
            )
        except (Conflict, ValidationError, PermissionDenied) as error:
            raise ValidationError(rule_message(error)) from error
        if not data.get("confirm"):
            appointments = preview.affected_appointments
            audit_record_patient_views(
                patient_ids=[a.patient_id for a in appointments], actor=self.request.user
            )
            names = User.objects.in_bulk([a.patient_id for a in appointments])
            kept = "; ".join(
                f"{timezone.localtime(a.start):%Y-%m-%d %H:%M} "
                + names[a.patient_id].get_full_name()
                for a in appointments
            )
            raise ValidationError(
                f"Preview: {preview.free_blocks} free block(s) will be withdrawn; "
                f"{len(appointments)} booked visit(s) will be kept"
                + (f" ({kept})" if kept else "")
                + ". Tick confirm to create the leave."
            )
        return data


@admin.register(Leave)
class LeaveAdmin(ServiceBackedAdmin, admin.ModelAdmin):
    """Leaves and closures, newest first; cancelled and resolved through the services."""

    list_display = ("id", "who", "start", "end", "category", "active", "week")
    list_filter = ("category", ("doctor", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("doctor",)
    ordering = ("-start", "-id")
    actions = ("cancel_leaves", "resolve_cancel", "resolve_reschedule")
    readonly_fields = (
        "doctor",
        "start",
        "end",
        "category",
        "note",
        "cancelled_at",
        "created_by",
        "created_at",
    )

    @admin.display(description="doctor")
    def who(self, leave: Leave) -> str:
        return leave.doctor.get_full_name() if leave.doctor_id else "Clinic closure"

    @admin.display(boolean=True, description="active")
    def active(self, leave: Leave) -> bool:
        return leave.cancelled_at is None

    @admin.display(description="week")
    def week(self, leave: Leave) -> str:
        if not leave.doctor_id:
            return "-"
        day = timezone.localtime(leave.start).date()
        return format_html('<a href="{}">week</a>', week_url(leave.doctor_id, day))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = LeaveAddForm
            form = super().get_form(request, obj, change=change, **kwargs)

            class RequestForm(form):
                def __init__(self, *args, **inner) -> None:
                    super().__init__(*args, request=request, **inner)

            return RequestForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*LeaveAddForm.Meta.fields, "confirm"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # leaves are cancelled, never deleted

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        created = self.call(
            services.leave_create,
            actor=request.user,
            doctor=data.get("doctor"),
            start=data["start"],
            end=data["end"],
            category=data["category"],
            note=data.get("note") or "",
        )
        for model_field in Leave._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(created.leave, model_field.attname))
        obj._state.adding = False
        self.message_user(
            request,
            f"{created.removed_blocks} free block(s) withdrawn; "
            f"{len(created.affected_appointments)} booked visit(s) kept: resolve them with "
            "an action on the leave list.",
            messages.WARNING if created.affected_appointments else messages.SUCCESS,
        )

    def log_addition(self, request, obj, message):
        return None  # the service writes the audit trail

    @admin.action(description="Cancel the selected leaves", permissions=["add"])
    def cancel_leaves(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            "cancelled",
            lambda leave: services.leave_cancel(actor=request.user, leave=leave),
        )

    @admin.action(description="Resolve: cancel the visits the leave kept", permissions=["add"])
    def resolve_cancel(self, request, queryset) -> None:
        self._resolve(request, queryset, "cancel")

    @admin.action(
        description="Resolve: move the visits the leave kept to the earliest free block",
        permissions=["add"],
    )
    def resolve_reschedule(self, request, queryset) -> None:
        self._resolve(request, queryset, "reschedule")

    def _resolve(self, request, queryset, action: str) -> None:
        def run(leave: Leave) -> None:
            result = services.leave_resolve(actor=request.user, leave=leave, action=action)
            self.message_user(
                request,
                f"Leave {leave.pk}: {len(result.cancelled)} cancelled, "
                f"{len(result.rescheduled)} rescheduled, {len(result.unresolved)} unresolved.",
                messages.WARNING if result.unresolved else messages.SUCCESS,
            )

        self._each(request, queryset, None, run)

    def _each(self, request, queryset, done: str | None, run) -> None:
        succeeded = 0
        for leave in queryset.order_by("start", "id"):
            try:
                run(leave)
                succeeded += 1
            except (Conflict, ValidationError, PermissionDenied) as error:
                self.message_user(
                    request, f"Leave {leave.pk}: {rule_message(error)}", messages.ERROR
                )
        if done and succeeded:
            self.message_user(request, f"{succeeded} leave(s) {done}.", messages.SUCCESS)

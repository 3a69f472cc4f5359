"""Standing schedules in the console: the desk writes templates and their exceptions through
the same services as the API, with a preview page that shows the blocks before saving."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import path, reverse

from accounts.models import User, validate_timezone
from core.admin import ServiceBackedAdmin, rule_message
from core.exceptions import Conflict
from scheduling.models import AvailabilityException, AvailabilityTemplate, VisitType
from scheduling.services import templates as template_services

SPEC_FIELDS = (
    "rrule",
    "valid_from",
    "valid_until",
    "start_time",
    "end_time",
    "slot_minutes",
    "visit_type",
)


class AvailabilityTemplateForm(forms.ModelForm):
    slot_minutes = forms.IntegerField(
        min_value=5,
        max_value=720,
        required=False,
        help_text="With a visit type: its duration (leave empty).",
    )
    timezone = forms.CharField(
        required=False,
        validators=[validate_timezone],
        help_text="IANA name; empty means the doctor's own timezone.",
    )
    start_time = forms.TimeField(input_formats=["%H:%M"])
    end_time = forms.TimeField(input_formats=["%H:%M"])

    class Meta:
        model = AvailabilityTemplate
        fields = [
            "doctor",
            "rrule",
            "valid_from",
            "valid_until",
            "start_time",
            "end_time",
            "slot_minutes",
            "visit_type",
            "timezone",
            "active",
        ]
        help_texts = {
            "rrule": "FREQ=DAILY|WEEKLY|MONTHLY with INTERVAL, BYDAY, BYMONTHDAY, BYSETPOS, "
            "WKST only, e.g. FREQ=WEEKLY;BYDAY=MO,WE.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "doctor" in self.fields:
            self.fields["doctor"].queryset = User.objects.filter(
                role=User.Role.DOCTOR, is_active=True
            ).order_by("last_name", "first_name")
        self.fields["visit_type"].queryset = VisitType.objects.filter(active=True)

    def spec(self, doctor: User) -> template_services.TemplateSpec:
        """The checked template (ValidationError as the API would give it)."""
        data = self.cleaned_data
        return template_services.template_spec(
            doctor=doctor,
            timezone_name=data.get("timezone") or None,
            **{name: data.get(name) for name in SPEC_FIELDS},
        )


@admin.register(AvailabilityTemplate)
class AvailabilityTemplateAdmin(ServiceBackedAdmin, admin.ModelAdmin):
    form = AvailabilityTemplateForm
    list_display = [
        "id",
        "doctor",
        "rrule",
        "valid_from",
        "valid_until",
        "start_time",
        "end_time",
        "slot_minutes",
        "visit_type",
        "active",
    ]
    list_filter = ["active", ("doctor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["doctor", "visit_type"]
    ordering = ["doctor_id", "id"]
    actions = None
    change_form_template = "admin/scheduling/availabilitytemplate/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return ["doctor"] if obj else []

    def get_urls(self):
        preview = path(
            "preview/",
            self.admin_site.admin_view(self.preview_view),
            name="scheduling_availabilitytemplate_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request):
        """The blocks a new template would create now, before it is saved."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AvailabilityTemplateForm(request.POST or None)
        slots, error = None, None
        if request.method == "POST" and form.is_valid():
            try:
                spec = form.spec(form.cleaned_data["doctor"])
                slots = template_services.availability_template_preview(spec)
            except (ValidationError, Conflict) as failure:
                error = rule_message(failure)
        context = {
            **self.admin_site.each_context(request),
            "title": "Preview a standing schedule",
            "opts": self.opts,
            "form": form,
            "slots": slots,
            "error": error,
            "add_url": reverse("admin:scheduling_availabilitytemplate_add"),
        }
        return render(request, "admin/scheduling/availabilitytemplate/preview.html", context)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            fresh = AvailabilityTemplate.objects.select_related("doctor").get(pk=obj.pk)
            spec = self.call(form.spec, doctor=fresh.doctor)
            result = self.call(
                template_services.availability_template_update,
                actor=request.user,
                template=fresh,
                spec=spec,
                active=form.cleaned_data.get("active", True),
            )
        else:
            spec = self.call(form.spec, doctor=form.cleaned_data["doctor"])
            result = self.call(
                template_services.availability_template_create, actor=request.user, spec=spec
            )
        obj.pk = result.template.pk
        self.message_user(
            request,
            f"{result.created} blocks created, {result.removed} removed, "
            f"{result.kept_booked} used ones kept.",
            messages.INFO,
        )

    def delete_model(self, request, obj) -> None:
        self.call(template_services.availability_template_delete, actor=request.user, template=obj)

    def log_addition(self, request, obj, message):
        return None  # the service writes the audit trail


class AvailabilityExceptionForm(forms.ModelForm):
    start_time = forms.TimeField(input_formats=["%H:%M"], required=False)
    end_time = forms.TimeField(input_formats=["%H:%M"], required=False)

    class Meta:
        model = AvailabilityException
        fields = ["template", "date", "kind", "start_time", "end_time"]


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(ServiceBackedAdmin, admin.ModelAdmin):
    form = AvailabilityExceptionForm
    list_display = ["template", "date", "kind", "start_time", "end_time"]
    list_select_related = ["template", "template__doctor"]
    ordering = ["date", "id"]
    actions = None

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # delete and add again: each write regenerates the template's blocks

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        exception, _ = self.call(
            template_services.availability_exception_create,
            actor=request.user,
            template=data["template"],
            date=data["date"],
            kind=data["kind"],
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
        )
        obj.pk = exception.pk

    def delete_model(self, request, obj) -> None:
        self.call(
            template_services.availability_exception_delete, actor=request.user, exception=obj
        )

    def log_addition(self, request, obj, message):
        return None  # the service writes the audit trail

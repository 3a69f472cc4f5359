"""The waitlist in the staff console: each doctor's waiting list (filter by doctor), the offers
of a block, and adding a patient to a list; every write goes through the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from accounts.models import User
from audit.admin import PatientReadsAuditedAdmin
from core.admin import ServiceBackedAdmin
from scheduling import services
from scheduling.admin import WEEKDAY_CHOICES
from scheduling.models import WaitlistEntry, WaitlistOffer


class WaitlistEntryAddForm(forms.ModelForm):
    """A patient joins a doctor's or a specialty's list (the service checks every rule)."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any weekday.",
    )

    class Meta:
        model = WaitlistEntry
        fields = ["patient", "doctor", "specialty", "date_from", "date_to", "time_from", "time_to"]

    def validate_constraints(self) -> None:
        """The service turns the constraints into its 409s and 400s, shown as a message."""


class WaitlistOfferInline(admin.TabularInline):
    model = WaitlistOffer
    fields = ("time_block", "status", "expires_at", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(PatientReadsAuditedAdmin, ServiceBackedAdmin, admin.ModelAdmin):
    """Waiting lists in first-come order; filter by doctor for one doctor's list."""

    list_display = (
        "id",
        "patient",
        "doctor",
        "specialty",
        "date_from",
        "date_to",
        "status",
        "missed_offers",
        "created_at",
    )
    list_filter = ("status", ("doctor", admin.RelatedOnlyFieldListFilter), "specialty")
    list_select_related = ("patient", "doctor")
    search_fields = ("patient__email", "patient__last_name")
    ordering = ("created_at", "id")
    autocomplete_fields = ("patient", "doctor")
    inlines = (WaitlistOfferInline,)
    actions = ("cancel",)
    readonly_fields = (
        "patient",
        "doctor",
        "specialty",
        "date_from",
        "date_to",
        "weekdays",
        "time_from",
        "time_to",
        "status",
        "missed_offers",
        "created_at",
        "updated_at",
    )

    def patient_ids_shown(self, objs) -> list[int]:
        return [entry.patient_id for entry in objs]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = WaitlistEntryAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*WaitlistEntryAddForm.Meta.fields[:5], "weekdays", "time_from", "time_to"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_inlines(self, request, obj):
        return self.inlines if obj else ()

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # entries are cancelled, never deleted

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        entry = self.call(
            services.waitlist_entry_create,
            actor=request.user,
            patient=data["patient"],
            doctor=data.get("doctor"),
            specialty=data.get("specialty") or "",
            date_from=data["date_from"],
            date_to=data["date_to"],
            weekdays=data.get("weekdays") or [],
            time_from=data.get("time_from"),
            time_to=data.get("time_to"),
        )
        for model_field in WaitlistEntry._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(entry, model_field.attname))
        obj._state.adding = False

    def log_addition(self, request, obj, message):
        return None  # the service writes the audit trail

    @admin.action(description="Take the selected entries off the waitlist", permissions=["add"])
    def cancel(self, request, queryset) -> None:
        self.run_action(
            request,
            queryset,
            services.waitlist_entry_cancel,
            argument="entry",
            done="entries cancelled",
            label=lambda entry: f"Entry {entry.pk}",
        )


@admin.register(WaitlistOffer)
class WaitlistOfferAdmin(PatientReadsAuditedAdmin, admin.ModelAdmin):
    """Offers, read-only; `?time_block__id__exact=<id>` lists the offers of one block."""

    list_display = ("id", "time_block", "entry", "patient", "status", "expires_at", "created_at")
    list_filter = ("status",)
    list_select_related = ("time_block", "entry", "entry__patient")
    ordering = ("-id",)
    fields = ("entry", "time_block", "hold", "status", "expires_at", "created_at", "updated_at")
    readonly_fields = fields

    @admin.display(description="patient")
    def patient(self, offer: WaitlistOffer) -> User:
        return offer.entry.patient

    def patient_ids_shown(self, objs) -> list[int]:
        return [offer.entry.patient_id for offer in objs]

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup == "time_block__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

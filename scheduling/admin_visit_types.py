"""Visit types in the console (admins): the types and which doctors offer them, written
through the same services as the API (scheduling/services/visit_types.py)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from accounts.models import User
from core.admin import ServiceBackedAdmin
from scheduling import services
from scheduling.models import DoctorVisitType, VisitType


class VisitTypeForm(forms.ModelForm):
    doctors = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The doctors who offer this type (a type with a specialty: only its doctors).",
    )

    class Meta:
        model = VisitType
        fields = ["name", "slug", "duration_minutes", "specialty", "description", "active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["doctors"].queryset = User.objects.filter(
            role=User.Role.DOCTOR, is_active=True
        ).order_by("last_name", "first_name", "id")
        if self.instance.pk:
            self.fields["doctors"].initial = list(
                DoctorVisitType.objects.filter(visit_type=self.instance, active=True).values_list(
                    "doctor_id", flat=True
                )
            )
            self.fields["slug"].disabled = True  # it names the type in URLs and filters


@admin.register(VisitType)
class VisitTypeAdmin(ServiceBackedAdmin, admin.ModelAdmin):
    form = VisitTypeForm
    list_display = ["name", "slug", "duration_minutes", "specialty", "active"]
    list_filter = ["active"]
    search_fields = ["name", "slug", "specialty"]
    ordering = ["name", "id"]
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # tagged blocks keep their type: deactivate instead

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            fresh = VisitType.objects.get(pk=obj.pk)
            changes = {
                name: data[name]
                for name in ("name", "duration_minutes", "specialty", "description", "active")
            }
            saved = self.call(
                services.visit_type_update, actor=request.user, visit_type=fresh, **changes
            )
        else:
            saved = self.call(
                services.visit_type_create,
                actor=request.user,
                name=data["name"],
                slug=data["slug"],
                duration_minutes=data["duration_minutes"],
                specialty=data.get("specialty") or "",
                description=data.get("description") or "",
            )
            if not data.get("active", True):
                saved = self.call(
                    services.visit_type_deactivate, actor=request.user, visit_type=saved
                )
        obj.pk = saved.pk
        self._set_doctors(request, saved, set(data.get("doctors") or []))

    def _set_doctors(self, request, visit_type: VisitType, wanted: set[User]) -> None:
        """Each doctor whose offer of this type changes: their whole set, through the service."""
        offering = set(
            DoctorVisitType.objects.filter(visit_type=visit_type, active=True).values_list(
                "doctor_id", flat=True
            )
        )
        wanted_ids = {doctor.pk for doctor in wanted}
        for doctor_id in sorted(offering ^ wanted_ids):
            doctor = User.objects.get(pk=doctor_id)
            current = set(
                DoctorVisitType.objects.filter(
                    doctor_id=doctor_id, active=True, visit_type__active=True
                ).values_list("visit_type_id", flat=True)
            )
            ids = (
                current | {visit_type.pk} if doctor_id in wanted_ids else current - {visit_type.pk}
            )
            self.call(
                services.doctor_visit_types_set,
                actor=request.user,
                doctor=doctor,
                visit_types=list(VisitType.objects.filter(pk__in=ids)),
            )

    def save_related(self, request, form, formsets, change) -> None:
        return None  # the offers were saved through the service in save_model

    @admin.action(description="Deactivate selected visit types")
    def deactivate(self, request, queryset) -> None:
        self.run_action(
            request,
            queryset,
            services.visit_type_deactivate,
            argument="visit_type",
            done="visit types deactivated",
            label=str,
        )

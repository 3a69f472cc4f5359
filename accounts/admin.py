"""Users and doctor profiles in the Django admin (the clinic console).

Writes go through the same services as the API, so the admin obeys the same rules.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import services
from accounts.models import DoctorProfile, User


class PatientCreationForm(forms.ModelForm):
    """Adds a patient with an unusable password (they set one through an invite or reset)."""

    send_invite = forms.BooleanField(required=False, initial=True)

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "phone"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = PatientCreationForm
    ordering = ["id"]
    list_display = ["id", "email", "first_name", "last_name", "role", "is_active", "suspended_at"]
    list_filter = ["role", "is_active", "suspended_at"]
    search_fields = ["email", "first_name", "last_name", "phone"]
    date_hierarchy = "date_joined"
    readonly_fields = [
        "role",
        "is_active",
        "date_joined",
        "last_login",
        "suspended_at",
        "suspension_reason",
    ]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "phone"]}),
        ("Role", {"fields": ["role", "is_active", "suspended_at", "suspension_reason"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "phone", "send_invite"],
            },
        ),
    ]
    filter_horizontal = []

    def save_model(self, request, obj, form, change) -> None:
        if change:
            fields = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in ("email", "first_name", "last_name", "phone")
            }
            services.user_update(actor=request.user, user=obj, **fields)
            return
        created = services.user_create_patient(
            actor=request.user,
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            phone=form.cleaned_data.get("phone", ""),
            send_invite=form.cleaned_data.get("send_invite", False),
        )
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(DoctorProfile)
class DoctorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "specialty", "location", "timezone"]
    list_filter = ["specialty", "timezone"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "specialty"]
    list_select_related = ["user"]
    readonly_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        # Doctors are made by promoting a patient (the user action), never added bare.
        return False

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        profile = DoctorProfile.objects.get(pk=obj.pk)
        services.doctor_profile_update(actor=request.user, profile=profile, **fields)

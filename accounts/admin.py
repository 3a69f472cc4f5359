"""Users and doctor profiles in the Django admin (the clinic console).

Writes go through the same services as the API, so the admin obeys the same rules.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html_join
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import hooks, services
from accounts.models import DoctorProfile, User, normalize_email, validate_timezone
from accounts.selectors import doctor_specialties
from audit.admin import PatientReadsAuditedAdmin
from core.admin import ServiceBackedAdmin, is_autocomplete_for


class UserActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(required=False, max_length=500, help_text="Suspension reason.")
    specialty = forms.CharField(required=False, max_length=100, help_text="For promotion.")
    # No validator here: an invalid action form only says "No action selected.", while the
    # promote action itself names the unknown zone.
    timezone = forms.CharField(required=False, max_length=64, help_text="For promotion.")
    role = forms.ChoiceField(
        required=False,
        choices=[("", "---------"), *[(r, User.Role(r).label) for r in services.ACCOUNT_ROLES]],
        help_text="For a role change.",
    )


class PatientCreationForm(forms.ModelForm):
    """Adds a patient with an unusable password (they set one through an invite or reset)."""

    send_invite = forms.BooleanField(
        required=False, initial=True, help_text="Staff and admin accounts are always invited."
    )
    # Removed from the form for the front desk, who add patients only (UserAdmin.get_form).
    role = forms.ChoiceField(
        choices=[(r, User.Role(r).label) for r in services.ACCOUNT_ROLES], initial=User.Role.PATIENT
    )

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "phone"]

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class UserEditForm(UserChangeForm):
    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


# simplejwt's token_blacklist registers its tables here (autodiscovery imports it first); they
# hold nothing a person needs to read, and older rows held live tokens: not in the console.
for _token_model in (OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(_token_model):
        admin.site.unregister(_token_model)


@admin.register(User)
class UserAdmin(PatientReadsAuditedAdmin, ServiceBackedAdmin, DjangoUserAdmin):
    add_form = PatientCreationForm
    form = UserEditForm
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
    # No password field: nobody sets another person's password here. Users choose their own
    # through the invite or reset link, which revokes their tokens and is audited.
    fieldsets = [
        (None, {"fields": ["email"]}),
        ("Person", {"fields": ["first_name", "last_name", "phone"]}),
        ("Role", {"fields": ["role", "is_active", "suspended_at", "suspension_reason"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "phone", "role", "send_invite"],
            },
        ),
    ]
    filter_horizontal = []
    PATIENT_ADD_FIELDS = ["email", "first_name", "last_name", "phone", "send_invite"]
    action_form = UserActionForm
    actions = [
        "suspend",
        "reactivate",
        "deactivate",
        "promote_to_doctor",
        "set_role",
        "force_password_reset",
    ]
    # Django's user add page tells you to "enter a username and password" first; ours adds a
    # patient without a password, on the ordinary form.
    add_form_template = None

    def user_change_password(self, request, id, form_url=""):
        raise PermissionDenied("Passwords are set by their owners through a reset link.")

    def has_manage_permission(self, request) -> bool:
        return request.user.role == User.Role.ADMIN  # front desk never suspends or promotes

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # users are deactivated (an action), never deleted

    def add_view(self, request, form_url="", extra_context=None):
        # Django's UserAdmin also demands "change user" to add one, because its add form sets a
        # password and leads on to the full change form. Ours only creates a patient through
        # the service (no password, no role), which the front desk may do with "add user".
        add_view = super(DjangoUserAdmin, self).add_view
        return self._guarded(add_view, request, form_url, extra_context)

    def _run(self, request, queryset, service, done: str, **kwargs) -> None:
        self.run_action(
            request,
            queryset,
            service,
            argument="user",
            done=f"user(s) {done}",
            label=lambda user: user.email,
            **kwargs,
        )

    @admin.action(description="Suspend selected users (with reason)", permissions=["manage"])
    def suspend(self, request, queryset) -> None:
        reason = request.POST.get("reason", "").strip()[:500]
        if not reason:
            self.message_user(request, "Give a reason to suspend.", messages.ERROR)
            return
        self._run(request, queryset, services.user_suspend, "suspended", reason=reason)

    @admin.action(description="Reactivate selected users", permissions=["manage"])
    def reactivate(self, request, queryset) -> None:
        self._run(request, queryset, services.user_reactivate, "reactivated")

    @admin.action(description="Deactivate selected users", permissions=["manage"])
    def deactivate(self, request, queryset) -> None:
        self._run(request, queryset, services.user_deactivate, "deactivated")

    @admin.action(description="Promote selected patients to doctor", permissions=["manage"])
    def promote_to_doctor(self, request, queryset) -> None:
        specialty = request.POST.get("specialty", "").strip()[:100]
        zone = request.POST.get("timezone", "").strip() or None
        if not specialty:
            self.message_user(request, "Give the specialty to promote.", messages.ERROR)
            return
        try:
            if zone:
                validate_timezone(zone)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return
        self._run(
            request,
            queryset,
            services.user_promote_to_doctor,
            "promoted to doctor",
            specialty=specialty,
            timezone=zone,
        )

    @admin.action(description="Change the role of selected users (to role)", permissions=["manage"])
    def set_role(self, request, queryset) -> None:
        role = request.POST.get("role", "")
        if role not in services.ACCOUNT_ROLES:
            self.message_user(request, "Choose the new role.", messages.ERROR)
            return
        self._run(request, queryset, services.user_set_role, f"given role {role}", role=role)

    @admin.action(description="Force a password reset for selected users", permissions=["manage"])
    def force_password_reset(self, request, queryset) -> None:
        self._run(
            request,
            queryset,
            services.user_force_password_reset,
            "signed out, with a password reset link sent",
        )

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not self.has_manage_permission(request) and "role" in form.base_fields:
            # The front desk adds patients only: no role to choose.
            form.base_fields = {k: v for k, v in form.base_fields.items() if k != "role"}
        return form

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # Chosen on the add form (admins); changed afterwards only by the role action.
        return readonly if obj is not None else [f for f in readonly if f != "role"]

    def get_fieldsets(self, request, obj=None):
        if obj is None and not self.has_manage_permission(request):
            return [(None, {"classes": ["wide"], "fields": self.PATIENT_ADD_FIELDS})]
        return super().get_fieldsets(request, obj)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if is_autocomplete_for(request, "appointment", "patient"):
            # The booking form offers only patients who may book.
            queryset = queryset.filter(
                role=User.Role.PATIENT, is_active=True, suspended_at__isnull=True
            )
        return queryset, may_have_duplicates

    def patient_ids_shown(self, objs) -> list[int]:
        return [user.pk for user in objs if user.role == User.Role.PATIENT]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            fields = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in ("email", "first_name", "last_name", "phone")
            }
            # The form has already written the new values onto obj: the service must compare
            # them with the stored row, or it sees no change and saves nothing.
            stored = User.objects.get(pk=obj.pk)
            self.call(services.user_update, actor=request.user, user=stored, **fields)
            return
        created = self.call(
            services.user_create_account,
            actor=request.user,
            role=form.cleaned_data.get("role", User.Role.PATIENT),
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            phone=form.cleaned_data.get("phone", ""),
            send_invite=form.cleaned_data.get("send_invite", False),
        )
        obj.pk = created.pk
        obj._state.adding = False


class DoctorProfileForm(forms.ModelForm):
    """The profile with its specialties as one line, comma-separated; the first becomes
    `specialty` (the service keeps them in sync, so `specialty` itself is not edited here)."""

    specialties = forms.CharField(
        max_length=1100, help_text="Comma-separated, in order; the first is the main one."
    )

    class Meta:
        model = DoctorProfile
        fields = ["hospital", "bio", "license_number", "location", "timezone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["specialties"] = ", ".join(doctor_specialties(self.instance))

    def clean_specialties(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["specialties"].split(",")]


@admin.register(DoctorProfile)
class DoctorProfileAdmin(ServiceBackedAdmin, admin.ModelAdmin):
    form = DoctorProfileForm
    list_display = ["user", "specialty", "hospital", "location", "timezone", "pages"]
    list_filter = ["specialty", "timezone"]
    search_fields = [
        "user__email",
        "user__first_name",
        "user__last_name",
        "specialty",
        "hospital",
    ]
    list_select_related = ["user"]
    readonly_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        # Doctors are made by promoting a patient (the user action), never added bare.
        return False

    @admin.display(description="pages")
    def pages(self, profile: DoctorProfile) -> str:
        """The console pages other apps offer about this doctor (hooks.doctor_console_links)."""
        links = [link for maker in hooks.doctor_console_links for link in maker(profile.user_id)]
        return format_html_join(" ", '<a href="{}">{}</a>', ((url, label) for label, url in links))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a doctor without a profile would vanish from the directory half-made

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        profile = DoctorProfile.objects.prefetch_related("specialty_rows").get(pk=obj.pk)
        self.call(services.doctor_profile_update, actor=request.user, profile=profile, **fields)

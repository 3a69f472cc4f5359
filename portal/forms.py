"""The portal's forms: shape only (the services hold the rules). A field with an error names
it with aria-describedby and aria-invalid, for screen readers."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from accounts.models import E164_VALIDATOR
from scheduling.models import VisitType
from scheduling.selectors import visit_type_list_visible_to


class PortalForm(forms.Form):
    def add_error(self, field: str | None, error) -> None:
        super().add_error(field, error)
        names = [field] if field else []
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            names = list(error.error_dict)
        for name in names:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"id_{name}-error"}
                )


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError onto the form: a field's message under that field, the
    rest (e.g. a bad reset link) at the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, [str(m) for m in messages])


class LoginForm(PortalForm):
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs["autocomplete"] = "username"
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class RegisterForm(PortalForm):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(label=_("Email"), max_length=254)
    phone = forms.CharField(
        label=_("Phone (optional)"),
        required=False,
        max_length=16,
        validators=[E164_VALIDATOR],
        help_text=_("International format, e.g. +34600111222."),
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class PasswordResetRequestForm(PortalForm):
    email = forms.EmailField(label=_("Email"), max_length=254)


class NewPasswordForm(PortalForm):
    new_password = forms.CharField(
        label=_("New password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        label=_("New password, again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("The two passwords differ."))
        return data


class PasswordResetConfirmForm(NewPasswordForm):
    pass


class PasswordChangeForm(NewPasswordForm):
    current_password = forms.CharField(
        label=_("Current password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password", "new_password_again"]


class ProfileForm(PortalForm):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=16,
        validators=[E164_VALIDATOR],
        help_text=_("International format, e.g. +34600111222."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("As my browser asks")), *settings.LANGUAGES],
    )


class PhotoForm(PortalForm):
    photo = forms.ImageField(label=_("Photo"))


class BookForm(PortalForm):
    reason = forms.CharField(
        label=_("Reason for the visit (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CancelForm(PortalForm):
    reason = forms.CharField(
        label=_("Why are you cancelling? (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReviewForm(PortalForm):
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        coerce=int,
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        help_text=_("5 is the best."),
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class WaitlistJoinForm(PortalForm):
    """A waitlist entry's fields (DESIGN-R2 R2-11) but the doctor (a hidden field on the
    doctor's page): the specialty (when no doctor is named), the optional visit type, the
    dates, and the optional weekdays and time range. The service checks the rules."""

    specialty = forms.CharField(label=_("Specialty"), required=False, max_length=100)
    visit_type = forms.ChoiceField(label=_("Type of visit (optional)"), required=False)
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Only on these days (optional)"),
        required=False,
        coerce=int,
        choices=sorted(WEEKDAYS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    time_from = forms.TimeField(
        label=_("Not before (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    time_to = forms.TimeField(
        label=_("Not after (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )

    def __init__(self, *args, visit_types: list[VisitType] | None = None, **kwargs) -> None:
        """`visit_types`: the ones to offer (a doctor's); default every active one."""
        super().__init__(*args, **kwargs)
        if visit_types is None:
            visit_types = list(visit_type_list_visible_to(user=None))
        self.visit_types = {vt.slug: vt for vt in visit_types}
        self.fields["visit_type"].choices = [
            ("", _("Any")),
            *((vt.slug, vt.name) for vt in visit_types),
        ]

    def clean_visit_type(self) -> VisitType | None:
        return self.visit_types.get(self.cleaned_data["visit_type"])


class ReviewVoteForm(PortalForm):
    value = forms.TypedChoiceField(coerce=int, choices=[(1, "1"), (-1, "-1")])


class CalendarFeedForm(PortalForm):
    name = forms.CharField(label=_("Name of the new feed"), max_length=100)

"""Input validation and output shapes for accounts (no domain writes here)."""

from __future__ import annotations

from pathlib import PurePath

from django.urls import reverse
from rest_framework import serializers

from accounts.models import E164_VALIDATOR, User, validate_timezone
from core.fields import FastModelSerializer


def photo_url(user: User) -> str | None:
    """Photos are served by users/{id}/photo/ (which applies who may see them); the file's
    random key in `v` changes the URL whenever the photo does."""
    if not user.photo:
        return None
    version = PurePath(user.photo.name).stem
    return f"{reverse('user-photo-list', kwargs={'user_id': user.pk})}?v={version}"


class PhotoUrlSerializer(serializers.Serializer):
    photo_url = serializers.CharField(allow_null=True)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
class UserSerializer(FastModelSerializer):
    photo_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "role",
            "language",
            "is_active",
            "suspended_at",
            "suspension_reason",
            "date_joined",
            "photo_url",
        ]
        read_only_fields = fields

    def get_photo_url(self, user: User) -> str | None:
        return photo_url(user)


class SuspendedUserSerializer(UserSerializer):
    active_appointments = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "active_appointments"]
        read_only_fields = fields

    def get_active_appointments(self, user: User) -> int:
        return self.context.get("active_appointments", 0)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------
def _password_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=128, write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )


def _phone_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=16, required=False, allow_blank=True, validators=[E164_VALIDATOR]
    )


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = _password_field()
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    phone = _phone_field()


class TokenObtainInputSerializer(serializers.Serializer):
    # Any string: a malformed address is a failed login (401), not a field error.
    email = serializers.CharField(max_length=254, trim_whitespace=False)
    password = _password_field()


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class UserUpdateInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)
    phone = _phone_field()
    email = serializers.EmailField(max_length=254, required=False)


class MeUpdateInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)
    phone = _phone_field()
    language = serializers.ChoiceField(
        choices=User._meta.get_field("language").choices,
        required=False,
        help_text='Mails and API messages in this language; "" follows the browser.',
    )


class PasswordChangeInputSerializer(serializers.Serializer):
    current_password = _password_field()
    new_password = _password_field()


class PasswordResetInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInputSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = _password_field()


class UserCreateInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    phone = _phone_field()
    send_invite = serializers.BooleanField(default=False)
    role = serializers.ChoiceField(
        choices=[User.Role.PATIENT, User.Role.STAFF, User.Role.ADMIN],
        default=User.Role.PATIENT,
        help_text="staff and admin: admins only (403 for staff), always invited.",
    )


class SuspendInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


def _specialties_field(*, help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=1,
        max_length=10,  # accounts.services.MAX_SPECIALTIES
        required=False,
        help_text=help_text,
    )


class PromoteInputSerializer(serializers.Serializer):
    specialty = serializers.CharField(max_length=100)
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    license_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, validators=[validate_timezone])
    hospital = serializers.CharField(max_length=200, required=False, allow_blank=True)
    specialties = _specialties_field(help_text="Further specialties after `specialty`.")


class DoctorMeUpdateInputSerializer(serializers.Serializer):
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, validators=[validate_timezone])
    hospital = serializers.CharField(max_length=200, required=False, allow_blank=True)
    specialties = _specialties_field(help_text="The whole list; the first becomes `specialty`.")


class UserSetRoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=User.Role.choices,
        help_text="patient <-> staff, staff <-> admin (doctor only by promotion).",
    )


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class MeEmailUpdateInputSerializer(MeUpdateInputSerializer):
    """PATCH auth/me/: the own fields, and a new email confirmed by a mailed link."""

    email = serializers.EmailField(
        max_length=254,
        required=False,
        help_text="A new address: 202, a confirmation link is mailed to it; needs "
        "current_password. The same address as now changes nothing.",
    )
    current_password = serializers.CharField(
        max_length=128,
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )


class EmailConfirmInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000)

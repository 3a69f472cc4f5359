"""Every state change of accounts: users, doctor profiles, tokens and passwords.

Each service is keyword-only, runs in one transaction and records its audit event in it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import DoctorProfile, User, normalize_email
from audit.services import audit_record
from medappt.emails import (
    render_templated_email,
    send_rendered_email,
    send_templated_email_on_commit,
)
from medappt.exceptions import (
    ALREADY_DOCTOR,
    ALREADY_SUSPENDED,
    CANNOT_TARGET_SELF,
    NOT_A_PATIENT,
    NOT_SUSPENDED,
    Conflict,
    Unauthenticated,
)
from scheduling.services import appointments_cancel_for_deactivated, lock_users, service_transaction

BAD_CREDENTIALS = "No active account found with the given credentials."
BAD_REFRESH = "Token is invalid or expired."
EMAIL_TAKEN = "A user with this email already exists."
BAD_RESET_LINK = "This password reset link is invalid or has expired."


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def _check_password_strength(*, password: str, user: User, field: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error


def _tokens_for(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _email_for_audit(email: str) -> str:
    """The attempted email if it is a valid address, else its sha256 (never a stray secret)."""
    try:
        validate_email(email)
    except ValidationError:
        return hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()
    return normalize_email(email)


def password_reset_link(user: User) -> str:
    """The reset (or invite) link, built from PASSWORD_RESET_URL, never from the Host header."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.PASSWORD_RESET_URL.format(uid=uid, token=token)


def _changed_fields(instance: Any, fields: dict[str, Any]) -> list[str]:
    changed = []
    for name, value in fields.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


# ---------------------------------------------------------------------------
# Registration and login
# ---------------------------------------------------------------------------
@transaction.atomic
def user_register(
    *, email: str, password: str, first_name: str, last_name: str, phone: str = ""
) -> User:
    """A new patient account; the email must be free (case-insensitively)."""
    email = normalize_email(email)
    candidate = User(email=email, first_name=first_name, last_name=last_name, phone=phone)
    _check_password_strength(password=password, user=candidate, field="password")
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email, password, first_name=first_name, last_name=last_name, phone=phone
            )
    except IntegrityError as error:  # a concurrent registration won the race
        raise ValidationError({"email": [EMAIL_TAKEN]}) from error
    audit_record(action="auth.registered", target=user, actor=user)
    return user


def auth_login(*, email: str, password: str) -> dict[str, str]:
    """Tokens for valid credentials of an active, unsuspended user; one message for all failures.

    Not atomic on purpose: the failure event commits even though the request answers 401.
    """
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None or not user.check_password(password) or not user.can_sign_in:
        if user is None:
            # Spend the same hashing time as a real check, so timing does not reveal accounts.
            User().set_password(password)
        audit_record(
            action="auth.login_failed",
            target_type="user",
            target_id=user.pk if user else None,
            data={"email": _email_for_audit(email)},
            actor=None,
        )
        raise Unauthenticated(BAD_CREDENTIALS)
    with transaction.atomic():
        tokens = _tokens_for(user)
        audit_record(action="auth.login_succeeded", target=user, actor=user)
    return tokens


def auth_admin_login_failed(*, email: str) -> None:
    """Record a refused Django-admin login like an API one, with `source: admin`."""
    user = User.objects.filter(email=normalize_email(email)).first() if email else None
    audit_record(
        action="auth.login_failed",
        target_type="user",
        target_id=user.pk if user else None,
        data={"email": _email_for_audit(email), "source": "admin"},
        actor=None,
    )


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: the old one is blacklisted; of two racing uses exactly one wins.

    The blacklist row has a unique key on the token, so the losing insert fails and is 401.
    """
    # Signature and expiry only: the blacklist is checked below by the unique insert, so a
    # reused token is told apart (and audited as such) from a forged or expired one.
    try:
        payload = token_backend.decode(refresh, verify=True)
    except TokenBackendError as error:
        _record_refresh_failure(reason="invalid")
        raise Unauthenticated(BAD_REFRESH) from error
    user_id = payload.get(jwt_settings.USER_ID_CLAIM)
    jti = payload.get(jwt_settings.JTI_CLAIM)
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or not user_id or not jti:
        _record_refresh_failure(reason="invalid")
        raise Unauthenticated(BAD_REFRESH)
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.can_sign_in:
        _record_refresh_failure(reason="account", user_id=user_id)
        raise Unauthenticated(BAD_REFRESH)
    if jwt_settings.CHECK_REVOKE_TOKEN and payload.get(
        jwt_settings.REVOKE_TOKEN_CLAIM
    ) != get_md5_hash_password(user.password):
        # A password set outside the services (the admin's password form, `changepassword`)
        # revokes no refresh token, so the token's password hash must still match.
        _record_refresh_failure(reason="password_changed", user_id=user_id)
        raise Unauthenticated(BAD_REFRESH)
    try:
        with transaction.atomic():
            outstanding = OutstandingToken.objects.get(jti=jti)
            BlacklistedToken.objects.create(token=outstanding)
            return _tokens_for(user)
    except (OutstandingToken.DoesNotExist, IntegrityError) as error:
        _record_refresh_failure(reason="reused", user_id=user_id)
        raise Unauthenticated(BAD_REFRESH) from error


def _record_refresh_failure(*, reason: str, user_id: Any = None) -> None:
    audit_record(
        action="auth.refresh_failed",
        target_type="user" if user_id else "",
        target_id=user_id,
        data={"reason": reason},
        actor=None,
    )


@transaction.atomic
def auth_logout(*, user: User, refresh: str) -> None:
    """Blacklist the caller's own refresh token; an already-dead one of theirs is fine."""
    try:
        payload = token_backend.decode(refresh, verify=True)
    except TokenBackendError as error:
        raise ValidationError({"refresh": ["Token is invalid or expired."]}) from error
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or str(
        payload.get(jwt_settings.USER_ID_CLAIM)
    ) != str(user.pk):
        raise ValidationError({"refresh": ["Token is invalid or expired."]})
    outstanding = OutstandingToken.objects.filter(jti=payload.get(jwt_settings.JTI_CLAIM)).first()
    if outstanding is None:
        raise ValidationError({"refresh": ["Token is invalid or expired."]})
    BlacklistedToken.objects.get_or_create(token=outstanding)
    audit_record(action="auth.logout", target=user, actor=user)


def refresh_tokens_revoke(*, user: User) -> int:
    """Blacklist every live refresh token of the user; returns how many."""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    rows = [BlacklistedToken(token=token) for token in live]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# ---------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------
@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str) -> None:
    """Change one's own password; revokes refresh tokens and (by its hash) access tokens."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": ["The current password is not correct."]})
    _check_password_strength(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)
    audit_record(action="auth.password_changed", target=user, actor=user)


@transaction.atomic
def password_changed_in_admin(*, user: User) -> None:
    """After Django's own "change password" page in the admin (one's own password): the same
    revocation and audit as the API's password change."""
    refresh_tokens_revoke(user=user)
    audit_record(action="auth.password_changed", target=user, actor=user, data={"source": "admin"})


# Who a reset mail is rendered for when there is nobody to mail: never saved, never sent.
RESET_STAND_IN_EMAIL = "nobody@example.invalid"


def _reset_stand_in() -> User:
    stand_in = User(pk=0, email=RESET_STAND_IN_EMAIL)
    stand_in.set_unusable_password()  # a password hash to make a token from, as a real one
    return stand_in


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Mail a reset link to an active, unsuspended account; say nothing either way.

    Either way the request does the same work (one lookup, one audit row, a token made and
    the mail rendered), so its time does not tell whether the account exists; only the
    sending differs, and that runs after the commit.
    """
    user = User.objects.filter(email=normalize_email(email)).first()
    sendable = user is not None and user.can_sign_in
    audit_record(
        action="auth.password_reset_requested",
        target_type="user" if user else "",
        target_id=user.pk if user else None,
        data={"email": _email_for_audit(email), "sent": sendable},
        actor=None,
    )
    recipient = user if sendable else _reset_stand_in()
    message = render_templated_email(
        template="password_reset",
        to=[recipient.email],
        context={
            "user": recipient,
            "link": password_reset_link(recipient),
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
    )
    if sendable:
        transaction.on_commit(lambda: send_rendered_email(message, template="password_reset"))


def _user_from_uid(uid: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set a new password from a valid, unused, unexpired link; revokes refresh tokens."""
    user = _user_from_uid(uid)
    if user is None or not user.can_sign_in or not default_token_generator.check_token(user, token):
        raise ValidationError({"token": [BAD_RESET_LINK]})
    # Lock the row so two uses of one link cannot both pass the check.
    user = User.objects.select_for_update().get(pk=user.pk)
    if not default_token_generator.check_token(user, token):
        raise ValidationError({"token": [BAD_RESET_LINK]})
    _check_password_strength(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)
    audit_record(action="auth.password_reset", target=user, actor=user)


# ---------------------------------------------------------------------------
# User administration
# ---------------------------------------------------------------------------
@transaction.atomic
def user_create_patient(
    *,
    actor: User,
    email: str,
    first_name: str,
    last_name: str,
    phone: str = "",
    send_invite: bool = False,
) -> User:
    """A walk-in or phone patient with an unusable password; optionally emailed an invite."""
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email, None, first_name=first_name, last_name=last_name, phone=phone
            )
    except IntegrityError as error:
        raise ValidationError({"email": [EMAIL_TAKEN]}) from error
    audit_record(action="user.created", target=user, actor=actor, data={"send_invite": send_invite})
    if send_invite:
        send_templated_email_on_commit(
            template="invite",
            to=[user.email],
            context={
                "user": user,
                "link": password_reset_link(user),
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            },
        )
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, **fields: Any) -> User:
    """Change names, phone and (by admins) email; records which fields changed."""
    if "email" in fields:
        fields["email"] = normalize_email(fields["email"])
        if User.objects.filter(email=fields["email"]).exclude(pk=user.pk).exists():
            raise ValidationError({"email": [EMAIL_TAKEN]})
    changed = _changed_fields(user, fields)
    if not changed:
        return user
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
    except IntegrityError as error:
        raise ValidationError({"email": [EMAIL_TAKEN]}) from error
    audit_record(action="user.updated", target=user, actor=actor, data={"fields": changed})
    return user


def _lock_target(*, actor: User, user: User) -> User:
    """The target's row for update and the actor's shared, by id: the scheduling lock order
    (scheduling/services/locking.py). The field-history and audit rows reference the actor's
    row; locked after the target's, two admins acting on each other deadlocked."""
    return lock_users(exclusive=[user.pk], shared=[actor.pk])[user.pk]


@service_transaction
def user_deactivate(*, actor: User, user: User) -> User:
    """Deactivate (never delete) a user: they cannot sign in, their tokens die, and their
    future active appointments are cancelled through the cancel service (with its emails)."""
    if user.pk == actor.pk:
        raise Conflict(CANNOT_TARGET_SELF, "You cannot deactivate your own account.")
    # The user rows first (the actor's is referenced by every cancellation), then the
    # appointments.
    user = _lock_target(actor=actor, user=user)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    refresh_tokens_revoke(user=user)
    cancelled = appointments_cancel_for_deactivated(actor=actor, user=user)
    audit_record(action="user.deactivated", target=user, actor=actor, data={"cancelled": cancelled})
    return user


@service_transaction
def user_suspend(*, actor: User, user: User, reason: str) -> User:
    """Suspend a user: refused at login, refresh, every API request and the admin."""
    if user.pk == actor.pk:
        raise Conflict(CANNOT_TARGET_SELF, "You cannot suspend your own account.")
    user = _lock_target(actor=actor, user=user)
    if user.suspended_at is not None:
        raise Conflict(ALREADY_SUSPENDED, "This user is already suspended.")
    user.suspended_at = timezone.now()
    user.suspension_reason = reason
    user.save(update_fields=["suspended_at", "suspension_reason"])
    refresh_tokens_revoke(user=user)
    audit_record(action="user.suspended", target=user, actor=actor)
    return user


@service_transaction
def user_reactivate(*, actor: User, user: User) -> User:
    """Clear a suspension and make the user active again."""
    user = _lock_target(actor=actor, user=user)
    if user.suspended_at is None and user.is_active:
        raise Conflict(NOT_SUSPENDED, "This user is neither suspended nor deactivated.")
    user.suspended_at = None
    user.suspension_reason = ""
    user.is_active = True
    user.save(update_fields=["suspended_at", "suspension_reason", "is_active"])
    audit_record(action="user.reactivated", target=user, actor=actor)
    return user


@service_transaction
def user_promote_to_doctor(
    *,
    actor: User,
    user: User,
    specialty: str,
    bio: str = "",
    license_number: str = "",
    location: str = "",
    timezone: str | None = None,
) -> User:
    """Make a patient a doctor: role and profile change together."""
    user = _lock_target(actor=actor, user=user)
    if user.role == User.Role.DOCTOR:
        raise Conflict(ALREADY_DOCTOR, "This user is already a doctor.")
    if user.role != User.Role.PATIENT:
        raise Conflict(NOT_A_PATIENT, "Only patients can be promoted to doctor.")
    user.role = User.Role.DOCTOR
    user.save(update_fields=["role"])
    DoctorProfile.objects.update_or_create(
        user=user,
        defaults={
            "specialty": specialty,
            "bio": bio,
            "license_number": license_number,
            "location": location,
            "timezone": timezone or settings.TIME_ZONE,
        },
    )
    audit_record(action="user.promoted", target=user, actor=actor, data={"role": "doctor"})
    return user


@transaction.atomic
def doctor_profile_update(*, actor: User, profile: DoctorProfile, **fields: Any) -> DoctorProfile:
    """Change a doctor's public profile; records which fields changed."""
    changed = _changed_fields(profile, fields)
    if changed:
        profile.full_clean(exclude=["user"])
        profile.save(update_fields=changed)
        audit_record(
            action="doctor_profile.updated", target=profile, actor=actor, data={"fields": changed}
        )
    return profile

"""Every state change of accounts: users, doctor profiles, tokens and passwords.

Each service is keyword-only, runs in one transaction and records its audit event in it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.signing import BadSignature, TimestampSigner
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext, gettext_lazy
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from accounts import hooks, photos
from accounts.groups import FRONT_DESK_GROUP
from accounts.mails import mail_user
from accounts.models import (
    DoctorProfile,
    DoctorSpecialty,
    RevokedTokenFamily,
    User,
    normalize_email,
)
from accounts.selectors import doctor_specialties
from audit.models import AuditEvent
from audit.services import audit_record
from core.exceptions import (
    ALREADY_DOCTOR,
    ALREADY_SUSPENDED,
    CANNOT_TARGET_SELF,
    ILLEGAL_ROLE_CHANGE,
    NOT_A_PATIENT,
    NOT_SUSPENDED,
    Conflict,
    Unauthenticated,
)
from core.jobs import enqueue
from core.locking import lock_users, service_transaction
from core.models import EmailMessage
from core.response_cache import DIRECTORY, availability_scope, bump

BAD_CREDENTIALS = gettext_lazy("No active account found with the given credentials.")
BAD_REFRESH = gettext_lazy("Token is invalid or expired.")
EMAIL_TAKEN = gettext_lazy("A user with this email already exists.")
BAD_RESET_LINK = gettext_lazy("This password reset link is invalid or has expired.")
WRONG_CURRENT_PASSWORD = gettext_lazy("The current password is not correct.")
RESET_MAIL_JOB = "accounts.tasks.password_reset_mail"  # by name: the task imports us

# Claims of a refresh token (copied into its access tokens): the login it descends from, and
# when that login checked the password (epoch seconds; OpenID Connect's name).
FAMILY_CLAIM = "family"
AUTH_TIME_CLAIM = "auth_time"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def _check_password_strength(*, password: str, user: User, field: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error


def _tokens_for(user: User, *, family: str, auth_time: int) -> dict[str, str]:
    """A new refresh token of the family (and its access token), recorded by jti alone.

    simplejwt's RefreshToken.for_user() would store the token's text in OutstandingToken,
    where the admin, backups and replicas could read and use it: the row gets no text (the
    blacklist goes by jti). The token expires at the session's end at the latest.
    """
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(getattr(user, jwt_settings.USER_ID_FIELD))
    if jwt_settings.CHECK_REVOKE_TOKEN:
        refresh[jwt_settings.REVOKE_TOKEN_CLAIM] = get_md5_hash_password(user.password)
    refresh[FAMILY_CLAIM] = family
    refresh[AUTH_TIME_CLAIM] = auth_time
    refresh["exp"] = min(refresh["exp"], _session_end(auth_time))
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token="",
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _session_end(auth_time: int) -> int:
    """When a session that checked the password at auth_time ends (JWT_SESSION_MAX_DAYS)."""
    return auth_time + int(timedelta(days=settings.JWT_SESSION_MAX_DAYS).total_seconds())


def _token_family_revoke(*, family: str, user_id: Any, reason: str) -> None:
    """No token of the family refreshes again (idempotent)."""
    RevokedTokenFamily.objects.bulk_create(
        [RevokedTokenFamily(family=family, user_id=user_id, reason=reason)],
        ignore_conflicts=True,
    )


# Salt of the server-keyed digest of login strings that are not emails (often a password).
LOGIN_STRING_SALT = "medappt.accounts.login_failed.email"


def _email_for_audit(email: str) -> str:
    """The attempted email if it is a valid address, else an HMAC-SHA256 of it keyed by the
    server: repeats still correlate, but a leaked audit row cannot be brute-forced offline
    (a bare sha256 of a password typed in the email field can)."""
    try:
        validate_email(email)
    except ValidationError:
        value = email.encode("utf-8", "replace")
        return salted_hmac(LOGIN_STRING_SALT, value, algorithm="sha256").hexdigest()
    return normalize_email(email)


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
@service_transaction
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
        auth_time = int(timezone.now().timestamp())
        tokens = _tokens_for(user, family=uuid.uuid4().hex, auth_time=auth_time)
        audit_record(action="auth.login_succeeded", target=user, actor=user)
    return tokens


def auth_session_login(*, email: str, password: str, source: str) -> User:
    """The user of valid credentials of an active, unsuspended account, for a session login
    (the portal); audited like the API's, with `source`. One message for every failure.

    Not atomic on purpose: the failure event commits even though the page refuses."""
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None or not user.check_password(password) or not user.can_sign_in:
        if user is None:
            User().set_password(password)  # the same hashing time as a real check
        audit_record(
            action="auth.login_failed",
            target_type="user",
            target_id=user.pk if user else None,
            data={"email": _email_for_audit(email), "source": source},
            actor=None,
        )
        raise Unauthenticated(BAD_CREDENTIALS)
    audit_record(action="auth.login_succeeded", target=user, actor=user, data={"source": source})
    return user


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
    A token used again after its rotation (stolen, or replayed) revokes its whole family, the
    live token descended from the same login included. No session outlives its login by more
    than JWT_SESSION_MAX_DAYS.
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
    # A token issued before families existed starts its own, at its own issue time.
    family = str(payload.get(FAMILY_CLAIM) or jti)
    auth_time = int(payload.get(AUTH_TIME_CLAIM) or payload.get("iat") or 0)
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
    if timezone.now().timestamp() >= _session_end(auth_time):
        _record_refresh_failure(reason="session_expired", user_id=user_id)
        raise Unauthenticated(BAD_REFRESH)
    if RevokedTokenFamily.objects.filter(family=family).exists():
        _record_refresh_failure(reason="family_revoked", user_id=user_id)
        raise Unauthenticated(BAD_REFRESH)
    try:
        with transaction.atomic():
            outstanding = OutstandingToken.objects.get(jti=jti)
            BlacklistedToken.objects.create(token=outstanding)
            tokens = _tokens_for(user, family=family, auth_time=auth_time)
            audit_record(
                action="auth.token_refreshed", target=user, actor=user, data={"family": family}
            )
            return tokens
    except OutstandingToken.DoesNotExist as error:
        _record_refresh_failure(reason="unknown", user_id=user_id)
        raise Unauthenticated(BAD_REFRESH) from error
    except IntegrityError as error:
        # Already rotated out (or logged out): whoever holds the family's newest token may
        # hold it unlawfully, so the whole family dies. Committed, although the answer is 401.
        _record_refresh_failure(reason="reused", user_id=user_id)
        with transaction.atomic():
            _token_family_revoke(
                family=family, user_id=user.pk, reason=RevokedTokenFamily.Reason.REUSE
            )
            audit_record(
                action="auth.token_reuse_detected",
                target=user,
                actor=None,
                data={"family": family},
            )
        raise Unauthenticated(BAD_REFRESH) from error


def _record_refresh_failure(*, reason: str, user_id: Any = None) -> None:
    audit_record(
        action="auth.refresh_failed",
        target_type="user" if user_id else "",
        target_id=user_id,
        data={"reason": reason},
        actor=None,
    )


@service_transaction
def auth_logout(*, user: User, refresh: str) -> None:
    """Blacklist the caller's own refresh token and end its family (the session, even when
    the token given is an older one of it); an already-dead one of theirs is fine."""
    try:
        payload = token_backend.decode(refresh, verify=True)
    except TokenBackendError as error:
        raise ValidationError({"refresh": [BAD_REFRESH]}) from error
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or str(
        payload.get(jwt_settings.USER_ID_CLAIM)
    ) != str(user.pk):
        raise ValidationError({"refresh": [BAD_REFRESH]})
    outstanding = OutstandingToken.objects.filter(jti=payload.get(jwt_settings.JTI_CLAIM)).first()
    if outstanding is None:
        raise ValidationError({"refresh": [BAD_REFRESH]})
    BlacklistedToken.objects.get_or_create(token=outstanding)
    _token_family_revoke(
        family=str(payload.get(FAMILY_CLAIM) or outstanding.jti),
        user_id=user.pk,
        reason=RevokedTokenFamily.Reason.LOGOUT,
    )
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
@service_transaction
def password_change(*, user: User, current_password: str, new_password: str) -> None:
    """Change one's own password; revokes refresh tokens and (by its hash) access tokens."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": [WRONG_CURRENT_PASSWORD]})
    _check_password_strength(password=new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)
    audit_record(action="auth.password_changed", target=user, actor=user)


@service_transaction
def password_changed_in_admin(*, user: User) -> None:
    """After Django's own "change password" page in the admin (one's own password): the same
    revocation and audit as the API's password change."""
    refresh_tokens_revoke(user=user)
    audit_record(action="auth.password_changed", target=user, actor=user, data={"source": "admin"})


@service_transaction
def password_reset_request(*, email: str) -> None:
    """Record the request and leave the rest to a job (password_reset_mail): the request does
    the same work whether or not the address has an account, so its timing tells nothing."""
    event = audit_record(
        action="auth.password_reset_requested",
        target_type="",
        target_id=None,
        data={"email": _email_for_audit(email)},
        actor=None,
    )
    enqueue(RESET_MAIL_JOB, event.pk)


def password_reset_mail(*, request_event_id: int) -> bool:
    """The job of a reset request: mail a link to an active, unsuspended account with that
    address; nothing otherwise. True when a mail was queued (once per request)."""
    event = AuditEvent.objects.filter(
        pk=request_event_id, action="auth.password_reset_requested"
    ).first()
    if event is None:
        return False
    user = User.objects.filter(email=event.data.get("email", "")).first()
    if user is None or not user.can_sign_in:
        return False
    with transaction.atomic():
        queued = mail_user(user, template="password_reset", dedupe_key=f"reset:{event.pk}")
        if queued:
            audit_record(
                action="auth.password_reset_mailed",
                target=user,
                actor=None,
                data={"request": event.pk},
            )
    return queued


def _user_from_uid(uid: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


@service_transaction
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
@service_transaction
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
        mail_user(user, template="invite", dedupe_key=f"invite:{user.pk}:{uuid.uuid4().hex}")
    return user


@service_transaction
def user_update(*, actor: User, user: User, **fields: Any) -> User:
    """Change names, phone, one's own language and (by admins) email; records which fields
    changed."""
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
    """The target's row for update and the actor's shared, by id: the global lock order
    (core/locking.py). The field-history and audit rows reference the actor's
    row; locked after the target's, two admins acting on each other deadlocked."""
    return lock_users(exclusive=[user.pk], shared=[actor.pk])[user.pk]


@service_transaction
def user_deactivate(*, actor: User, user: User) -> User:
    """Deactivate (never delete) a user: they cannot sign in, their tokens die, and their
    future active appointments are cancelled through the cancel service (with its emails)."""
    if user.pk == actor.pk:
        raise Conflict(CANNOT_TARGET_SELF, gettext("You cannot deactivate your own account."))
    # The user rows first (the actor's is referenced by every cancellation), then the
    # appointments.
    user = _lock_target(actor=actor, user=user)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    refresh_tokens_revoke(user=user)
    cancelled = sum(end(actor=actor, user=user) for end in hooks.on_deactivation)
    audit_record(action="user.deactivated", target=user, actor=actor, data={"cancelled": cancelled})
    return user


@service_transaction
def user_suspend(*, actor: User, user: User, reason: str) -> User:
    """Suspend a user: refused at login, refresh, every API request and the admin."""
    if user.pk == actor.pk:
        raise Conflict(CANNOT_TARGET_SELF, gettext("You cannot suspend your own account."))
    user = _lock_target(actor=actor, user=user)
    if user.suspended_at is not None:
        raise Conflict(ALREADY_SUSPENDED, gettext("This user is already suspended."))
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
        raise Conflict(NOT_SUSPENDED, gettext("This user is neither suspended nor deactivated."))
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
    hospital: str = "",
    specialties: list[str] | None = None,
) -> User:
    """Make a patient a doctor: role and profile change together (`specialties`, when given,
    lists further specialties; the first is always `specialty`)."""
    user = _lock_target(actor=actor, user=user)
    if user.role == User.Role.DOCTOR:
        raise Conflict(ALREADY_DOCTOR, gettext("This user is already a doctor."))
    if user.role != User.Role.PATIENT:
        raise Conflict(NOT_A_PATIENT, gettext("Only patients can be promoted to doctor."))
    names = _specialty_list([specialty, *(specialties or [])])
    user.role = User.Role.DOCTOR
    user.save(update_fields=["role"])
    profile, _ = DoctorProfile.objects.update_or_create(
        user=user,
        defaults={
            "specialty": names[0],
            "bio": bio,
            "license_number": license_number,
            "location": location,
            "hospital": hospital,
            "timezone": timezone or settings.TIME_ZONE,
        },
    )
    _specialty_rows_set(profile=profile, names=names)
    audit_record(action="user.promoted", target=user, actor=actor, data={"role": "doctor"})
    return user


@service_transaction
def doctor_profile_update(*, actor: User, profile: DoctorProfile, **fields: Any) -> DoctorProfile:
    """Change a doctor's public profile; records which fields changed. `specialties` is the
    whole list (its first entry becomes `specialty`); `specialty` alone replaces the first."""
    current = doctor_specialties(profile)
    names = current
    if "specialties" in fields:
        names = _specialty_list(fields.pop("specialties"))
    if "specialty" in fields:
        names = _specialty_list([fields.pop("specialty"), *names[1:]])
    if names != current:
        fields["specialty"] = names[0]
    changed = _changed_fields(profile, fields)
    if changed:
        profile.full_clean(exclude=["user"])
        profile.save(update_fields=changed)
    if names != current:
        _specialty_rows_set(profile=profile, names=names)
        changed.append("specialties")
    if changed:
        audit_record(
            action="doctor_profile.updated", target=profile, actor=actor, data={"fields": changed}
        )
    return profile


MAX_SPECIALTIES = 10


def _specialty_list(values: list[str]) -> list[str]:
    """Trimmed, non-empty, at most 100 characters each, 1 to MAX_SPECIALTIES of them;
    a repeat (in any case) is dropped, keeping the first."""
    names: list[str] = []
    for value in values:
        name = (value or "").strip()
        if not name or len(name) > 100:
            raise ValidationError(
                {"specialties": [gettext("Each specialty is 1 to 100 characters long.")]}
            )
        if name.casefold() not in {known.casefold() for known in names}:
            names.append(name)
    if not names or len(names) > MAX_SPECIALTIES:
        message = gettext("Give between 1 and %(max)d specialties.") % {"max": MAX_SPECIALTIES}
        raise ValidationError({"specialties": [message]})
    return names


def _specialty_rows_set(*, profile: DoctorProfile, names: list[str]) -> None:
    """Replace the profile's specialty rows; the directory shows them (a bulk write sends no
    signal, so the cached directory is bumped here)."""
    DoctorSpecialty.objects.filter(doctor=profile).delete()
    DoctorSpecialty.objects.bulk_create(
        [DoctorSpecialty(doctor=profile, name=name, position=i) for i, name in enumerate(names)]
    )
    bump(DIRECTORY, availability_scope(profile.user_id))


# Role changes an admin may make (doctors are made only by promotion, never unmade here).
ROLE_CHANGES = frozenset(
    {
        (User.Role.PATIENT, User.Role.STAFF),
        (User.Role.STAFF, User.Role.PATIENT),
        (User.Role.STAFF, User.Role.ADMIN),
        (User.Role.ADMIN, User.Role.STAFF),
    }
)
ACCOUNT_ROLES = (User.Role.PATIENT, User.Role.STAFF, User.Role.ADMIN)
ADMINS_ONLY_CREATE = gettext_lazy("Only admins create staff and admin accounts.")


def _front_desk_membership(user: User) -> None:
    """Staff work through the "Front desk" group; no other role belongs to it."""
    group, _ = Group.objects.get_or_create(name=FRONT_DESK_GROUP)
    if user.role == User.Role.STAFF:
        user.groups.add(group)
    else:
        user.groups.remove(group)


@service_transaction
def user_create_account(
    *,
    actor: User,
    role: str,
    email: str,
    first_name: str,
    last_name: str,
    phone: str = "",
    send_invite: bool = False,
) -> User:
    """A patient (staff or admins, as user_create_patient), or a staff or admin account (admins
    only; always invited: its owner chooses the password through the invite link, nobody else).
    Doctors are made by promotion, never created."""
    if role == User.Role.PATIENT:
        return user_create_patient(
            actor=actor,
            email=email,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            send_invite=send_invite,
        )
    if role not in ACCOUNT_ROLES:
        raise ValidationError({"role": [gettext("Doctors are made by promoting a patient.")]})
    if actor.role != User.Role.ADMIN:
        raise PermissionDenied(ADMINS_ONLY_CREATE)
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email, None, role=role, first_name=first_name, last_name=last_name, phone=phone
            )
    except IntegrityError as error:
        raise ValidationError({"email": [EMAIL_TAKEN]}) from error
    _front_desk_membership(user)
    audit_record(
        action="user.created", target=user, actor=actor, data={"send_invite": True, "role": role}
    )
    mail_user(
        user,
        template="invite",
        context={"staff_role": user.role},
        dedupe_key=f"invite:{user.pk}:{uuid.uuid4().hex}",
    )
    return user


@service_transaction
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Patient <-> staff and staff <-> admin, never one's own: the admin flags and the "Front
    desk" group follow the role, and every session of the user ends."""
    if user.pk == actor.pk:
        raise Conflict(CANNOT_TARGET_SELF, gettext("You cannot change your own role."))
    user = _lock_target(actor=actor, user=user)
    # Read after the locks: two admins demoting each other at once would otherwise both
    # pass (each was an admin when its request began) and leave the clinic without one.
    if not User.objects.filter(
        pk=actor.pk, role=User.Role.ADMIN, is_active=True, suspended_at__isnull=True
    ).exists():
        raise PermissionDenied(gettext("Only admins change roles."))
    before = user.role
    if (before, role) not in ROLE_CHANGES:
        raise Conflict(
            ILLEGAL_ROLE_CHANGE,
            gettext(
                "A user with role %(before)s cannot be given role %(after)s (patient <-> "
                "staff and staff <-> admin only; doctors only by promotion)."
            )
            % {"before": before, "after": role},
        )
    user.role = role
    for flag, value in User.role_flags(role).items():
        setattr(user, flag, value)
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    _front_desk_membership(user)
    refresh_tokens_revoke(user=user)
    audit_record(
        action="user.role_changed", target=user, actor=actor, data={"before": before, "after": role}
    )
    return user


@service_transaction
def user_force_password_reset(*, actor: User, user: User) -> User:
    """An admin makes a user choose a new password: the old one stops working at once
    (unusable, which also voids access tokens through their password hash), every session
    ends, and a reset link is mailed to an account that may sign in (others could not use
    it). The admin never sees or sets a password."""
    if user.pk == actor.pk:
        raise Conflict(CANNOT_TARGET_SELF, gettext("Change your own password instead."))
    user = _lock_target(actor=actor, user=user)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)
    sent = user.can_sign_in
    audit_record(action="user.password_reset_forced", target=user, actor=actor, data={"sent": sent})
    if sent:
        mail_user(user, template="password_reset_forced", dedupe_key=f"forced:{uuid.uuid4().hex}")
    return user


# ---------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------
@service_transaction
def user_photo_set(*, actor: User, user: User, upload) -> User:
    """Replace the user's photo with a re-encoded thumbnail of the upload."""
    thumbnail = photos.thumbnail(photos.read_limited(upload))
    user = User.objects.select_for_update().get(pk=user.pk)
    old_name = user.photo.name if user.photo else ""
    user.photo.save(f"{uuid.uuid4().hex}.jpg", ContentFile(thumbnail), save=False)
    user.save(update_fields=["photo"])
    audit_record(action="user.photo_changed", target=user, actor=actor, data={"photo": "set"})
    if old_name:
        storage = user.photo.storage
        transaction.on_commit(lambda: storage.delete(old_name))
    return user


@service_transaction
def user_photo_delete(*, actor: User, user: User) -> User:
    """Remove the user's photo (a no-op when there is none)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.photo:
        return user
    old_name, storage = user.photo.name, user.photo.storage
    user.photo = ""
    user.save(update_fields=["photo"])
    audit_record(action="user.photo_changed", target=user, actor=actor, data={"photo": "removed"})
    transaction.on_commit(lambda: storage.delete(old_name))
    return user


# ---------------------------------------------------------------------------
# Email change (confirmed by a link mailed to the new address)
# ---------------------------------------------------------------------------
EMAIL_CHANGE_SALT = "accounts.email_change"
BAD_EMAIL_CHANGE_LINK = gettext_lazy("This email confirmation link is invalid or has expired.")


def email_change_link(token: str) -> str:
    """The confirmation page's address, from PUBLIC_BASE_URL (never from the Host header)."""
    return f"{settings.PUBLIC_BASE_URL}/portal/email/confirm/{token}/"


def _email_change_signer() -> TimestampSigner:
    return TimestampSigner(salt=EMAIL_CHANGE_SALT)


@service_transaction
def email_change_request(*, user: User, email: str, current_password: str) -> bool:
    """Mail a link to the new address that changes the email once confirmed; nothing changes
    now. False (and nothing mailed) when the address already is the user's.

    The link signs (user id, new email, current email) with a timestamp: it stops working
    after PASSWORD_RESET_TIMEOUT and as soon as the email changes (so it works once)."""
    email = normalize_email(email)
    if email == user.email:
        return False
    # The password first: only the account's owner learns whether an address is taken.
    if not current_password or not user.check_password(current_password):
        raise ValidationError({"current_password": [WRONG_CURRENT_PASSWORD]})
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]})
    audit_record(action="user.email_change_requested", target=user, actor=user)
    # The link (its signed token) is made when the mail is sent: email_change_context.
    mail_user(
        user,
        template="email_change_confirm",
        recipient=email,
        dedupe_key=f"email-change:{uuid.uuid4().hex}",
    )
    return True


def email_change_context(message: EmailMessage) -> dict[str, Any] | None:
    """The confirmation link of an email-change mail, made when it is sent: it signs (user,
    the mail's recipient as the new address, the user's current address)."""
    user = User.objects.filter(pk=message.user_id).first()
    if user is None or not user.can_sign_in:
        return None
    token = _email_change_signer().sign_object(
        {"u": user.pk, "new": message.recipient, "old": user.email}
    )
    return {
        "link": email_change_link(token),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }


@service_transaction
def email_change_confirm(*, token: str) -> User:
    """Apply a confirmed email change: the address must still be free, the account able to
    sign in and its email unchanged since the link was made. Every session ends; the old
    address gets a notice. Audited without either address (`fields: [email]`, as
    user.updated)."""
    try:
        payload = _email_change_signer().unsign_object(
            token, max_age=settings.PASSWORD_RESET_TIMEOUT
        )
        user_id, new, old = payload["u"], payload["new"], payload["old"]
    except (BadSignature, KeyError, TypeError) as error:
        raise ValidationError({"token": [BAD_EMAIL_CHANGE_LINK]}) from error
    if not User.objects.filter(pk=user_id).exists():
        raise ValidationError({"token": [BAD_EMAIL_CHANGE_LINK]})
    user = lock_users(exclusive=[user_id])[user_id]
    if user.email != old or not user.can_sign_in:
        raise ValidationError({"token": [BAD_EMAIL_CHANGE_LINK]})
    if User.objects.filter(email=new).exclude(pk=user.pk).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]})
    user.email = new
    try:
        with transaction.atomic():
            user.save(update_fields=["email"])
    except IntegrityError as error:  # taken meanwhile by a registration
        raise ValidationError({"email": [EMAIL_TAKEN]}) from error
    refresh_tokens_revoke(user=user)
    audit_record(action="user.email_changed", target=user, actor=user, data={"fields": ["email"]})
    mail_user(
        user,
        template="email_changed_notice",
        recipient=old,
        dedupe_key=f"email-changed:{uuid.uuid4().hex}",
    )
    return user

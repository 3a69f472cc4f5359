"""Sign in, sign out, sign up and the password reset (the mailed link's page)."""

from __future__ import annotations

import math

from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as accounts_services
from accounts.models import User
from core.exceptions import Unauthenticated
from core.roles import CLINIC_ROLES
from core.throttles import (
    LoginAttempt,
    LoginRateThrottle,
    PasswordResetEmailAddressRateThrottle,
    PasswordResetEmailRateThrottle,
    PasswordResetRateThrottle,
    RegisterRateThrottle,
)
from portal.access import safe_next
from portal.forms import (
    LoginForm,
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    RegisterForm,
    apply_errors,
)
from portal.keyed import see_other
from portal.views.common import page

BACKEND = "accounts.backends.EmailBackend"
LOGIN_SOURCE = "portal"


def too_many(request: HttpRequest, wait: float | None) -> HttpResponse:
    """429 with Retry-After, as a page."""
    response = page(
        request,
        "portal/error.html",
        {
            "status": 429,
            "detail": gettext("Too many attempts. Please wait a moment and try again."),
        },
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(wait or 1)))
    return response


def home_of(user: User) -> str:
    """Where a user lands after signing in."""
    if user.role in CLINIC_ROLES:
        return "/admin/"
    if user.role == User.Role.DOCTOR:
        return reverse("portal:day")
    return reverse("portal:appointments")


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """The API login's limits: THROTTLE_LOGIN per address and the failed-login counts per
    email (LoginAttempt), shared with the API and the admin. Staff go on to the console."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = LoginForm(request.POST or None)
    if request.method == "POST":
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, None):
            return too_many(request, throttle.wait())
        if form.is_valid():
            attempt = LoginAttempt(request, email=form.cleaned_data["email"])
            if not attempt.allowed:
                return too_many(request, attempt.retry_after)
            failed = False
            try:
                user = accounts_services.auth_session_login(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    source=LOGIN_SOURCE,
                )
            except Unauthenticated as error:
                failed = True  # keeps its places in the failure counts
                form.add_error(None, str(error.detail))
            finally:
                if not failed:
                    attempt.did_not_fail()
            if not failed:
                login(request, user, backend=BACKEND)
                if user.role in CLINIC_ROLES:
                    return see_other("/admin/")
                return see_other(next_url or home_of(user))
        status = 400
    else:
        status = 200
    return page(request, "portal/login.html", {"form": form, "next": next_url}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return see_other(reverse("portal:home"))


@never_cache
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    """A new patient account (user_register), signed in at once."""
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        throttle = RegisterRateThrottle()
        if not throttle.allow_request(request, None):
            return too_many(request, throttle.wait())
        if form.is_valid():
            try:
                user = accounts_services.user_register(**form.cleaned_data)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                login(request, user, backend=BACKEND)
                return see_other(reverse("portal:home"))
        return page(request, "portal/register.html", {"form": form}, status=400)
    return page(request, "portal/register.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_view(request: HttpRequest) -> HttpResponse:
    """Ask for a link: the same answer whether or not the address has an account."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            email = form.cleaned_data["email"]
            for throttle in (
                PasswordResetRateThrottle(),
                PasswordResetEmailAddressRateThrottle(email),
                PasswordResetEmailRateThrottle(email),
            ):
                if not throttle.allow_request(request, None):
                    return too_many(request, throttle.wait())
            accounts_services.password_reset_request(email=email)
            return see_other(reverse("portal:password-reset-sent"))
        return page(request, "portal/password_reset.html", {"form": form}, status=400)
    return page(request, "portal/password_reset.html", {"form": form})


@never_cache
def password_reset_sent_view(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/password_reset.html", {"sent": True})


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm_view(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    """The mailed link: GET shows the form (changes nothing); POST sets the new password."""
    form = PasswordResetConfirmForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                accounts_services.password_reset_confirm(
                    uid=uid, token=token, new_password=form.cleaned_data["new_password"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                return see_other(reverse("portal:login") + "?reset=1")
        return page(request, "portal/password_reset_confirm.html", {"form": form}, status=400)
    return page(request, "portal/password_reset_confirm.html", {"form": form})

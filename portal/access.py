"""Who may open a portal page: patients and doctors sign in here; staff and admins work in
the console (/admin/)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import User
from core.roles import CLINIC_ROLES

PATIENT = User.Role.PATIENT
DOCTOR = User.Role.DOCTOR


def safe_next(request: HttpRequest, value: str | None) -> str | None:
    """`value` when it is a path on this site, else None (no open redirect)."""
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return None


def portal_user_required(*roles: str) -> Callable:
    """Signed in as one of `roles` (any portal role when none are named). Anonymous: 302 to
    the login page and back; staff and admins: to the console; another role: 403."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                back = request.get_full_path()
                if request.method == "POST":
                    back = safe_next(request, request.POST.get("next")) or back
                return redirect_to_login(back, reverse("portal:login"))
            if user.role in CLINIC_ROLES:
                return HttpResponseRedirect("/admin/")
            if roles and user.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate

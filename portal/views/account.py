"""The profile (names, phone, language, photo, password), the language switcher and the
email-change confirmation (the mailed link's page)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as accounts_services
from core.exceptions import Conflict
from core.throttles import PasswordChangeRateThrottle, UploadRateThrottle
from formats.selectors import calendar_feed_list_live
from formats.services import calendar_feed_create, calendar_feed_revoke, calendar_feed_url
from portal.access import portal_user_required, safe_next
from portal.forms import CalendarFeedForm, PasswordChangeForm, PhotoForm, ProfileForm, apply_errors
from portal.keyed import see_other
from portal.views.auth import too_many
from portal.views.common import page

PROFILE_FIELDS = ("first_name", "last_name", "phone", "language")


def _profile_page(request: HttpRequest, *, status: int = 200, **forms) -> HttpResponse:
    user = request.user
    context = {
        "form": forms.get("form")
        or ProfileForm(initial={name: getattr(user, name) for name in PROFILE_FIELDS}),
        "password_form": forms.get("password_form") or PasswordChangeForm(),
        "photo_form": forms.get("photo_form") or PhotoForm(),
        "feed_form": forms.get("feed_form") or CalendarFeedForm(),
        "feeds": calendar_feed_list_live(user=user),
        "new_feed_url": forms.get("new_feed_url"),
        "feed_error": forms.get("feed_error"),
    }
    return page(request, "portal/profile.html", context, status=status)


@require_http_methods(["GET", "POST"])
@portal_user_required()
def profile(request: HttpRequest) -> HttpResponse:
    """Names, phone and language (user_update)."""
    if request.method == "GET":
        return _profile_page(request)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            accounts_services.user_update(
                actor=request.user, user=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, gettext("Your profile is saved."))
            return see_other(reverse("portal:profile"))
    request.user.refresh_from_db()
    return _profile_page(request, form=form, status=400)


@require_POST
@portal_user_required()
def password_change(request: HttpRequest) -> HttpResponse:
    """password_change; this session stays signed in, every other one (and token) ends."""
    throttle = PasswordChangeRateThrottle()
    if not throttle.allow_request(request, None):
        return too_many(request, throttle.wait())
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            accounts_services.password_change(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, gettext("Your password is changed."))
            return see_other(reverse("portal:profile"))
    return _profile_page(request, password_form=form, status=400)


@require_POST
@portal_user_required()
def photo(request: HttpRequest) -> HttpResponse:
    """user_photo_set (the same checks and re-encoding as the API), or remove it."""
    if request.POST.get("remove"):
        accounts_services.user_photo_delete(actor=request.user, user=request.user)
        messages.success(request, gettext("Your photo is removed."))
        return see_other(reverse("portal:profile"))
    request.method = "PUT"  # the upload throttle counts uploads, as the API's PUT
    throttle = UploadRateThrottle()
    allowed = throttle.allow_request(request, None)
    request.method = "POST"
    if not allowed:
        return too_many(request, throttle.wait())
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            accounts_services.user_photo_set(
                actor=request.user, user=request.user, upload=form.cleaned_data["photo"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, gettext("Your photo is saved."))
            return see_other(reverse("portal:profile"))
    return _profile_page(request, photo_form=form, status=400)


@require_POST
@portal_user_required()
def feeds(request: HttpRequest) -> HttpResponse:
    """A new calendar feed (calendar_feed_create): its address is shown on this answer only
    (the token is never stored)."""
    form = CalendarFeedForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, feed_form=form, status=400)
    try:
        _, token = calendar_feed_create(actor=request.user, name=form.cleaned_data["name"])
    except Conflict as error:
        return _profile_page(request, feed_form=form, feed_error=str(error.detail), status=409)
    return _profile_page(request, new_feed_url=calendar_feed_url(token), status=201)


@require_POST
@portal_user_required()
def feed_revoke(request: HttpRequest, feed_id: int) -> HttpResponse:
    """calendar_feed_revoke of one's own live feed (another's is 404)."""
    feed = get_object_or_404(calendar_feed_list_live(user=request.user), pk=feed_id)
    calendar_feed_revoke(actor=request.user, feed=feed)
    messages.success(request, gettext("The feed is revoked."))
    return see_other(reverse("portal:profile"))


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the language: the cookie, and a signed-in user's own setting (which wins)."""
    code = request.POST.get("language", "")
    next_url = safe_next(request, request.POST.get("next")) or reverse("portal:home")
    if code not in dict(settings.LANGUAGES):
        return see_other(next_url)
    user = request.user
    if user.is_authenticated and user.language != code:
        accounts_services.user_update(actor=user, user=user, language=code)
    translation.activate(code)
    response = see_other(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        samesite="Lax",
    )
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page with a "Confirm" button; POST: email_change_confirm, then the outcome. A
    mail scanner or a link preview that fetches the URL changes nothing."""
    template = "portal/email_confirm.html"
    if request.method == "GET":
        return page(request, template)
    try:
        user = accounts_services.email_change_confirm(token=token)
    except ValidationError as error:
        return page(request, template, {"errors": error.messages}, status=400)
    return page(request, template, {"done": True, "email": user.email})

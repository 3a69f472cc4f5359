"""The API's only authentication class: simplejwt, refusing suspended users (docs/api-rules.md)."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from core.context import set_actor


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer JWT; inactive, suspended or deleted users are 401. One query per request."""

    def get_raw_token(self, header: bytes) -> bytes | None:
        # simplejwt ignores a header of another scheme, so the request would run anonymously;
        # JWT is our only scheme, so any non-empty header that is not "Bearer <token>" is 401.
        parts = header.split()
        if parts and parts[0] not in authentication.AUTH_HEADER_TYPE_BYTES:
            raise AuthenticationFailed(
                _("Authorization header must be 'Bearer <token>'."),
                code="bad_authorization_header",
            )
        return super().get_raw_token(header)

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if user.suspended_at is not None:
            raise AuthenticationFailed(_("User is suspended"), code="user_suspended")
        return user

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            set_actor(result[0])
            _use_language(request, result[0].language)
        return result


def _use_language(request, language: str) -> None:
    """The signed-in user's language wins over the cookie and Accept-Language that
    LocaleMiddleware went by; "" keeps its choice. LocaleMiddleware's response step sends it
    as Content-Language; RequestContextMiddleware deactivates it when the request ends, so it
    never reaches the next request on the thread."""
    if not language:
        return
    translation.activate(language)
    request.LANGUAGE_CODE = translation.get_language()
    # DRF's Request proxies attribute reads, not writes: the Django request is what
    # LocaleMiddleware reads back.
    django_request = getattr(request, "_request", None)
    if django_request is not None:
        django_request.LANGUAGE_CODE = request.LANGUAGE_CODE

"""The portal's request set-up: the signed-in user is the audit actor, their own language
wins over the cookie and Accept-Language, and no signed-in page is stored by a cache."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from core.context import set_actor

PORTAL_PREFIX = "/portal/"


class PortalMiddleware:
    """After AuthenticationMiddleware and LocaleMiddleware, for /portal/ only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PORTAL_PREFIX):
            return self.get_response(request)
        user = request.user
        signed_in = user.is_authenticated
        if signed_in:
            set_actor(user)
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        response = self.get_response(request)
        if signed_in:
            # Signed-in pages hold personal data: never kept by a browser or shared cache.
            add_never_cache_headers(response)
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        return response

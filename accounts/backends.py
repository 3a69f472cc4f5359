"""Django authentication backend: email login; suspended users are refused everywhere."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.models import normalize_email


class EmailBackend(ModelBackend):
    """ModelBackend that matches the email case-insensitively and refuses suspended users.

    `user_can_authenticate` is also consulted by `get_user`, so a suspension ends live
    Django-admin sessions on their next request.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = kwargs.get("email", username)
        if email is None or password is None:
            return None
        return super().authenticate(request, username=normalize_email(email), password=password)

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and getattr(user, "suspended_at", None) is None

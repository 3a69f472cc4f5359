"""The OpenAPI description of the API's authentication (registered on import, in ready())."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JWTScheme(SimpleJWTScheme):
    """Documents our JWTAuthentication subclass as the Bearer scheme."""

    target_class = "accounts.authentication.JWTAuthentication"
    name = "jwtAuth"

"""The API's only authentication class: simplejwt, refusing suspended users (docs/api-rules.md)."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.models import User
from core.context import set_actor


class _UsersById:
    """What simplejwt's `get_user` asks of the user model (`objects.get(id=…)`,
    `DoesNotExist`), answered by one statement compiled once per database engine (#25).

    Every API request authenticates: building the ORM query for `User.objects.get(pk=…)`
    cost three times the CPU of running it (bench/README.md). The SQL, the columns and the
    engine's converters are the ORM's own, so the user is the one `objects.get` returns
    (tests/accounts/test_authentication_fetch.py compares them field by field)."""

    DoesNotExist = User.DoesNotExist

    def __init__(self) -> None:
        self.objects = self
        self._compiled: dict[str, tuple] = {}

    def _compile(self, vendor: str) -> tuple:
        compiled = self._compiled.get(vendor)
        if compiled is None:
            compiler = User.objects.filter(pk=0).query.get_compiler(DEFAULT_DB_ALIAS)
            sql, _ = compiler.as_sql()
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            names = [field.attname for field in User._meta.concrete_fields]
            compiled = self._compiled[vendor] = (sql, compiler, converters, names)
        return compiled

    def get(self, *, id) -> User:  # `id`: simplejwt passes USER_ID_FIELD as the keyword
        try:
            pk = int(id)
        except (TypeError, ValueError) as error:
            raise User.DoesNotExist from error
        connection = connections[DEFAULT_DB_ALIAS]
        sql, compiler, converters, names = self._compile(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            raise User.DoesNotExist
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        return User.from_db(DEFAULT_DB_ALIAS, names, row)


_users_by_id = _UsersById()


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer JWT; inactive, suspended or deleted users are 401. One query per request."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_model = _users_by_id  # simplejwt's lookup, without the ORM's compile

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

"""Auth, users and photos: parse, call a service, serialize."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import photos, selectors, services
from accounts.filters import UserFilter
from accounts.models import User
from accounts.serializers import (
    DetailSerializer,
    EmailConfirmInputSerializer,
    MeEmailUpdateInputSerializer,
    PasswordChangeInputSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
    PhotoUrlSerializer,
    PromoteInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    SuspendedUserSerializer,
    SuspendInputSerializer,
    TokenObtainInputSerializer,
    TokenPairSerializer,
    UserCreateInputSerializer,
    UserSerializer,
    UserSetRoleInputSerializer,
    UserUpdateInputSerializer,
    photo_url,
)
from audit.services import audit_record_patient_views
from core.exceptions import Unauthenticated
from core.filters import ID_REGEX
from core.permissions import (
    ActionPermissionsMixin,
    AllowAny,
    IsAdminRole,
    IsAuthenticated,
    IsStaffRole,
)
from core.throttles import (
    LoginAttempt,
    LoginRateThrottle,
    PasswordChangeRateThrottle,
    PasswordResetEmailAddressRateThrottle,
    PasswordResetEmailRateThrottle,
    PasswordResetRateThrottle,
    RegisterRateThrottle,
    UploadRateThrottle,
)
from core.validation import valid_input

PASSWORD_RESET_ACCEPTED = {
    "detail": gettext_lazy(
        "If an account exists for this address, a password reset link has been sent."
    )
}
EMAIL_CHANGE_ACCEPTED = {
    "detail": gettext_lazy(
        "A confirmation link has been sent to the new address; the email changes once it is "
        "confirmed."
    )
}


def email_change_from(request: Request, data: dict) -> bool:
    """Take `email` and `current_password` out of a PATCH auth/me/ body and ask for the change
    (True when a confirmation was mailed)."""
    current_password = data.pop("current_password", "")
    if "email" not in data:
        return False
    return services.email_change_request(
        user=request.user, email=data.pop("email"), current_password=current_password
    )


FORCED_RESET_ACCEPTED = {
    "detail": gettext_lazy(
        "The password no longer works, sessions are ended and a reset link has been sent "
        "(unless the account is suspended or deactivated)."
    )
}


PHOTO_UPLOAD_SCHEMA = {
    "multipart/form-data": {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    }
}


def photo_response(request: Request, user: User) -> Response:
    """PUT stores a new photo (200 {photo_url}); DELETE removes it (204)."""
    if request.method == "DELETE":
        services.user_photo_delete(actor=request.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationError(
            {"file": [gettext("Attach the image as the multipart field 'file'.")]}
        )
    try:
        user = services.user_photo_set(actor=request.user, user=user, upload=upload)
    except photos.PhotoTooLarge as error:
        return Response({"detail": str(error)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return Response(PhotoUrlSerializer({"photo_url": photo_url(user)}).data)


class AuthViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """Registration, tokens, the caller's own account and passwords."""

    permission_classes_by_action = {
        "register": AllowAny,
        "token": AllowAny,
        "token_refresh": AllowAny,
        "password_reset": AllowAny,
        "password_reset_confirm": AllowAny,
        "logout": IsAuthenticated,
        "me": IsAuthenticated,
        "me_photo": IsAuthenticated,
        "password_change": IsAuthenticated,
        "email_confirm": AllowAny,
    }
    throttle_classes_by_action = {
        "register": [RegisterRateThrottle],
        # Failed logins per (email, address) and per email: LoginAttempt, in token().
        "token": [LoginRateThrottle],
        "password_reset": [
            PasswordResetRateThrottle,
            PasswordResetEmailAddressRateThrottle,
            PasswordResetEmailRateThrottle,
        ],
        "password_change": [PasswordChangeRateThrottle],
        "me_photo": [UploadRateThrottle],
    }
    pagination_class = None

    def get_throttles(self):
        return [throttle() for throttle in self.throttle_classes_by_action.get(self.action, [])]

    @extend_schema(request=RegisterInputSerializer, responses={201: UserSerializer})
    @action(detail=False, methods=["post"])
    def register(self, request: Request) -> Response:
        user = services.user_register(**valid_input(RegisterInputSerializer, request))
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TokenObtainInputSerializer, responses={200: TokenPairSerializer})
    @action(detail=False, methods=["post"])
    def token(self, request: Request) -> Response:
        data = valid_input(TokenObtainInputSerializer, request)
        attempt = LoginAttempt(request, email=data["email"])
        if not attempt.allowed:
            raise Throttled(wait=attempt.retry_after)
        failed = False
        try:
            tokens = services.auth_login(email=data["email"], password=data["password"])
        except Unauthenticated:
            failed = True  # the attempt keeps its places in the failure counts
            raise
        finally:
            if not failed:
                attempt.did_not_fail()
        return Response(tokens)

    @extend_schema(request=RefreshInputSerializer, responses={200: TokenPairSerializer})
    @action(detail=False, methods=["post"], url_path="token/refresh")
    def token_refresh(self, request: Request) -> Response:
        data = valid_input(RefreshInputSerializer, request)
        return Response(services.token_refresh(refresh=data["refresh"]))

    @extend_schema(request=RefreshInputSerializer, responses={204: None})
    @action(detail=False, methods=["post"])
    def logout(self, request: Request) -> Response:
        data = valid_input(RefreshInputSerializer, request)
        services.auth_logout(user=request.user, refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses={200: UserSerializer})
    @extend_schema(
        methods=["PATCH"],
        request=MeEmailUpdateInputSerializer,
        responses={200: UserSerializer, 202: DetailSerializer},
    )
    @action(detail=False, methods=["get", "patch"])
    def me(self, request: Request) -> Response:
        user = request.user
        if request.method == "PATCH":
            data = valid_input(MeEmailUpdateInputSerializer, request, partial=True)
            email_change = email_change_from(request, data)
            user = services.user_update(actor=request.user, user=user, **data)
            if email_change:
                return Response(EMAIL_CHANGE_ACCEPTED, status=status.HTTP_202_ACCEPTED)
        return Response(UserSerializer(user).data)

    @extend_schema(
        methods=["PUT"], request=PHOTO_UPLOAD_SCHEMA, responses={200: PhotoUrlSerializer}
    )
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(
        detail=False,
        methods=["put", "delete"],
        url_path="me/photo",
        parser_classes=[MultiPartParser],
    )
    def me_photo(self, request: Request) -> Response:
        return photo_response(request, request.user)

    @extend_schema(request=PasswordChangeInputSerializer, responses={204: None})
    @action(detail=False, methods=["post"], url_path="password/change")
    def password_change(self, request: Request) -> Response:
        services.password_change(
            user=request.user, **valid_input(PasswordChangeInputSerializer, request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=PasswordResetInputSerializer,
        responses={202: OpenApiResponse(description="Accepted, whether or not the account exists")},
    )
    @action(detail=False, methods=["post"], url_path="password/reset")
    def password_reset(self, request: Request) -> Response:
        services.password_reset_request(**valid_input(PasswordResetInputSerializer, request))
        return Response(PASSWORD_RESET_ACCEPTED, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PasswordResetConfirmInputSerializer, responses={204: None})
    @action(detail=False, methods=["post"], url_path="password/reset/confirm")
    def password_reset_confirm(self, request: Request) -> Response:
        services.password_reset_confirm(**valid_input(PasswordResetConfirmInputSerializer, request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=EmailConfirmInputSerializer, responses={200: UserSerializer})
    @action(detail=False, methods=["post"], url_path="email/confirm")
    def email_confirm(self, request: Request) -> Response:
        """The API form of the mailed email-change link: the token alone decides."""
        user = services.email_change_confirm(**valid_input(EmailConfirmInputSerializer, request))
        return Response(UserSerializer(user).data)


@extend_schema_view(
    create=extend_schema(request=UserCreateInputSerializer, responses={201: UserSerializer}),
    partial_update=extend_schema(
        request=UserUpdateInputSerializer, responses={200: UserSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class UserViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Clinic user administration: staff read and add patients; admins manage accounts."""

    permission_classes_by_action = {
        "list": IsStaffRole | IsAdminRole,
        "retrieve": IsStaffRole | IsAdminRole,
        "create": IsStaffRole | IsAdminRole,
        "partial_update": IsAdminRole,
        "destroy": IsAdminRole,
        "suspend": IsAdminRole,
        "reactivate": IsAdminRole,
        "promote_to_doctor": IsAdminRole,
        "set_role": IsAdminRole,
        "force_password_reset": IsAdminRole,
    }
    serializer_class = UserSerializer
    filterset_class = UserFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.user_list_visible_to(user=self.request.user)

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        audit_record_patient_views(patient_ids=[u.pk for u in page if u.role == User.Role.PATIENT])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        user = self.get_object()
        if user.role == User.Role.PATIENT:
            audit_record_patient_views(patient_ids=[user.pk])
        return Response(self.get_serializer(user).data)

    def create(self, request: Request) -> Response:
        data = valid_input(UserCreateInputSerializer, request)
        user = services.user_create_account(actor=request.user, **data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        user = self.get_object()
        data = valid_input(UserUpdateInputSerializer, request, partial=True)
        user = services.user_update(actor=request.user, user=user, **data)
        return Response(UserSerializer(user).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.user_deactivate(actor=request.user, user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=SuspendInputSerializer, responses={200: SuspendedUserSerializer})
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        target = self.get_object()  # 404 before 400 (docs/api-rules.md, precedence)
        data = valid_input(SuspendInputSerializer, request)
        user = services.user_suspend(actor=request.user, user=target, **data)
        kept = selectors.user_future_commitments(user=user)
        return Response(SuspendedUserSerializer(user, context={"active_appointments": kept}).data)

    @extend_schema(request=None, responses={200: UserSerializer})
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str) -> Response:
        user = services.user_reactivate(actor=request.user, user=self.get_object())
        return Response(UserSerializer(user).data)

    @extend_schema(request=PromoteInputSerializer, responses={200: UserSerializer})
    @action(detail=True, methods=["post"], url_path="promote-to-doctor")
    def promote_to_doctor(self, request: Request, pk: str) -> Response:
        target = self.get_object()  # 404 before 400 (docs/api-rules.md, precedence)
        data = valid_input(PromoteInputSerializer, request)
        user = services.user_promote_to_doctor(actor=request.user, user=target, **data)
        return Response(UserSerializer(user).data)

    @extend_schema(request=UserSetRoleInputSerializer, responses={200: UserSerializer})
    @action(detail=True, methods=["post"], url_path="set-role")
    def set_role(self, request: Request, pk: str) -> Response:
        target = self.get_object()  # 404 before 400 (docs/api-rules.md, precedence)
        data = valid_input(UserSetRoleInputSerializer, request)
        user = services.user_set_role(actor=request.user, user=target, **data)
        return Response(UserSerializer(user).data)

    @extend_schema(request=None, responses={202: DetailSerializer})
    @action(detail=True, methods=["post"], url_path="force-password-reset")
    def force_password_reset(self, request: Request, pk: str) -> Response:
        services.user_force_password_reset(actor=request.user, user=self.get_object())
        return Response(FORCED_RESET_ACCEPTED, status=status.HTTP_202_ACCEPTED)


class UserPhotoViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """GET users/{id}/photo/: a doctor's photo to anyone; others' to themself, their doctors
    and clinic staff (anyone else gets 404: the photo does not exist for them)."""

    permission_classes_by_action = {"list": AllowAny}
    filter_backends = []
    pagination_class = None

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def list(self, request: Request, user_id: str) -> HttpResponse:
        owner = get_object_or_404(selectors.user_photo_owners(viewer=request.user), pk=user_id)
        if not owner.photo or not selectors.user_photo_visible_to(viewer=request.user, owner=owner):
            raise Http404
        try:
            with owner.photo.open("rb") as photo:  # a small thumbnail: read it whole
                response = HttpResponse(photo.read(), content_type="image/jpeg")
        except FileNotFoundError as error:  # replaced (old file deleted) since we read the row
            raise Http404 from error
        if owner.role == User.Role.PATIENT:  # seen by anyone else, it is a record read
            audit_record_patient_views(patient_ids=[owner.pk])
        response["Cache-Control"] = (
            "public, max-age=86400" if owner.role == User.Role.DOCTOR else "private, no-store"
        )
        return response

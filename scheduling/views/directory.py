"""The public doctor directory: doctors, their availability and reviews; a doctor's own
profile at doctors/me/."""

from __future__ import annotations

from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services as account_services
from accounts.serializers import DoctorMeUpdateInputSerializer, PhotoUrlSerializer
from accounts.views import PHOTO_UPLOAD_SCHEMA, photo_response
from core.filters import ID_REGEX, parse_window
from core.ordering import MappedOrderingFilter
from core.permissions import ActionPermissionsMixin, AllowAny, IsDoctor
from core.response_cache import (
    ANY_AVAILABILITY,
    DIRECTORY,
    PAGE_PARAMS,
    availability_scope,
    cached_response,
)
from core.throttles import UploadRateThrottle
from core.validation import valid_input
from scheduling import selectors
from scheduling.filters import VISIT_TYPE_HELP, DoctorFilter, VisitTypeField
from scheduling.serializers import (
    AvailabilitySerializer,
    DirectoryStatsSerializer,
    DoctorDetailSerializer,
    DoctorMeSerializer,
    DoctorSerializer,
    ReviewSerializer,
)
from scheduling.views.windows import WINDOW_PARAMETERS


class DoctorViewSet(ActionPermissionsMixin, viewsets.ReadOnlyModelViewSet):
    """The public doctor directory, and a doctor's own profile at doctors/me/."""

    permission_classes_by_action = {
        "list": AllowAny,
        "retrieve": AllowAny,
        "me": IsDoctor,
        "me_photo": IsDoctor,
        "stats": AllowAny,
    }
    serializer_class = DoctorSerializer
    filterset_class = DoctorFilter
    filter_backends = [*viewsets.ReadOnlyModelViewSet.filter_backends, MappedOrderingFilter]
    ordering_map = {
        "last_name": ("user__last_name", "user__first_name", "user_id"),
        "-last_name": ("-user__last_name", "-user__first_name", "-user_id"),
        "-rating_average": (
            F("rating_average").desc(nulls_last=True),
            "user__last_name",
            "user__first_name",
            "user_id",
        ),
    }
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        return selectors.doctor_list_public()

    def _cache_scopes(self) -> tuple[str, ...]:
        """The directory; filtered by free blocks, every doctor's availability as well."""
        if self.request.query_params.keys() & {"available_from", "available_to"}:
            return (DIRECTORY, ANY_AVAILABILITY)
        return (DIRECTORY,)

    def list(self, request: Request, *args, **kwargs) -> Response:
        build = partial(super().list, request, *args, **kwargs)
        params = (*DoctorFilter.base_filters, MappedOrderingFilter.param, *PAGE_PARAMS)
        return cached_response(request, scopes=self._cache_scopes(), params=params, build=build)

    @extend_schema(responses={200: DoctorDetailSerializer})
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        build = partial(self._detail, request)
        return cached_response(request, scopes=self._cache_scopes(), params=(), build=build)

    def _detail(self, request: Request) -> Response:
        """The doctor and the rating histogram: two queries (and the specialties' prefetch)."""
        profile = self.get_object()
        histogram = selectors.doctor_rating_histogram(doctor_id=profile.user_id)
        return Response(
            DoctorDetailSerializer(profile, context={"rating_histogram": histogram}).data
        )

    @extend_schema(request=None, responses={200: DirectoryStatsSerializer})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request) -> Response:
        """The directory in numbers (visible data only), cached like the directory. A
        completed visit changes no doctor, so completions bump `availability:any`, which
        this answer depends on too."""
        return cached_response(
            request, scopes=(DIRECTORY, ANY_AVAILABILITY), params=(), build=self._stats
        )

    def _stats(self) -> Response:
        return Response(DirectoryStatsSerializer(selectors.directory_stats()).data)

    @extend_schema(methods=["GET"], request=None, responses={200: DoctorMeSerializer})
    @extend_schema(
        methods=["PATCH"],
        request=DoctorMeUpdateInputSerializer,
        responses={200: DoctorMeSerializer},
    )
    @action(
        detail=False,
        methods=["get", "patch"],
        filter_backends=[],
        pagination_class=None,
    )
    def me(self, request: Request) -> Response:
        profile = get_object_or_404(selectors.doctor_profile_of(user=request.user))
        if request.method == "PATCH":
            data = valid_input(DoctorMeUpdateInputSerializer, request, partial=True)
            account_services.doctor_profile_update(actor=request.user, profile=profile, **data)
            profile = selectors.doctor_profile_of(user=request.user).get()
        return Response(DoctorMeSerializer(profile).data)

    @extend_schema(
        methods=["PUT"], request=PHOTO_UPLOAD_SCHEMA, responses={200: PhotoUrlSerializer}
    )
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(
        detail=False,
        methods=["put", "delete"],
        url_path="me/photo",
        parser_classes=[MultiPartParser],
        throttle_classes=[UploadRateThrottle],
        filter_backends=[],
        pagination_class=None,
    )
    def me_photo(self, request: Request) -> Response:
        """The same stored photo as auth/me/photo/ (one photo per user)."""
        return photo_response(request, request.user)


@extend_schema(
    parameters=[
        *WINDOW_PARAMETERS,
        OpenApiParameter("visit_type", str, description=VISIT_TYPE_HELP),
    ],
    responses={200: AvailabilitySerializer(many=True)},
)
class AvailabilityViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """A public doctor's free blocks that can still be booked, ordered by start."""

    permission_classes_by_action = {"list": AllowAny}
    serializer_class = AvailabilitySerializer
    filter_backends = []

    def get_queryset(self):
        # Only whether the doctor is public: no profile, no rating subqueries.
        doctor_id = get_object_or_404(
            selectors.doctor_list_public(ratings=False).values_list("user_id", flat=True),
            user_id=self.kwargs["doctor_id"],
        )
        start, end = parse_window(self.request.query_params)
        return selectors.time_block_list_free(
            doctor_id=doctor_id, start=start, end=end, visit_type=self._visit_type()
        )

    def _visit_type(self):
        """`?visit_type=<id|slug|general>`; an unknown one is a 400. Resolved once."""
        if not hasattr(self, "_resolved_visit_type"):
            value = self.request.query_params.get("visit_type")
            try:
                self._resolved_visit_type = VisitTypeField(required=False).clean(value)
            except DjangoValidationError as error:
                raise ValidationError({"visit_type": error.messages}) from error
        return self._resolved_visit_type

    def list(self, request: Request, doctor_id: str) -> Response:
        # A bad window or type is a 400 now, even where the same URL was valid moments ago.
        parse_window(request.query_params)
        self._visit_type()
        return cached_response(
            request,
            scopes=[availability_scope(doctor_id)],
            params=("from", "to", "visit_type", *PAGE_PARAMS),
            build=partial(self._page, request),
        )

    def _page(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class DoctorReviewViewSet(ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A public doctor's visible reviews, newest first."""

    permission_classes_by_action = {"list": AllowAny}
    serializer_class = ReviewSerializer
    filter_backends = [MappedOrderingFilter]
    ordering_map = {
        "-created_at": ("-created_at", "id"),
        "rating": ("rating", "-created_at", "id"),
        "-rating": ("-rating", "-created_at", "id"),
    }

    def get_queryset(self):
        doctors = selectors.doctor_list_public(ratings=False)
        doctor = get_object_or_404(doctors, user_id=self.kwargs["doctor_id"])
        return selectors.review_list_public(doctor_id=doctor.user_id, viewer=self.request.user)

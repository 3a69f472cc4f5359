"""Review endpoints: write a review of a visit, edit it, vote on others, list a doctor's."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import ActionPermissionsMixin, AllowAny, IsPatient
from accounts.selectors import doctor_list_public
from medappt.filters import ID_REGEX
from medappt.ordering import MappedOrderingFilter
from scheduling import selectors, services
from scheduling.models import Review
from scheduling.serializers import (
    ReviewCreateInputSerializer,
    ReviewSerializer,
    ReviewUpdateInputSerializer,
    VoteInputSerializer,
    VoteResultSerializer,
)


def _valid(serializer_class, request: Request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _public(review: Review, viewer) -> dict:
    fresh = selectors.review_list_public(doctor_id=review.doctor_id, viewer=viewer).filter(
        pk=review.pk
    )
    return ReviewSerializer(fresh.first() or review).data


@extend_schema(request=ReviewCreateInputSerializer, responses={201: ReviewSerializer})
class AppointmentReviewViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """POST appointments/{id}/review/: the patient reviews their completed visit."""

    permission_classes_by_action = {"create": IsPatient}
    serializer_class = ReviewSerializer

    def create(self, request: Request, appointment_id: str) -> Response:
        appointment = get_object_or_404(
            selectors.appointment_list_visible_to(user=request.user), pk=appointment_id
        )
        data = _valid(ReviewCreateInputSerializer, request)
        review = services.review_create(actor=request.user, appointment=appointment, **data)
        return Response(_public(review, request.user), status=status.HTTP_201_CREATED)


@extend_schema_view(
    partial_update=extend_schema(
        request=ReviewUpdateInputSerializer, responses={200: ReviewSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class ReviewViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """The author edits or deletes a review within 7 days; patients vote on others'."""

    permission_classes_by_action = {
        "partial_update": IsPatient,
        "destroy": IsPatient,
        "vote": IsPatient,
    }
    serializer_class = ReviewSerializer
    lookup_value_regex = ID_REGEX
    http_method_names = ["post", "patch", "delete", "options"]

    def get_queryset(self):
        return selectors.review_list_visible_to(user=self.request.user).select_related("author")

    def _own_review(self) -> Review:
        review = self.get_object()
        if review.author_id != self.request.user.pk:
            raise PermissionDenied("Only the author can change this review.")
        return review

    def partial_update(self, request: Request, pk: str) -> Response:
        review = self._own_review()
        data = _valid(ReviewUpdateInputSerializer, request, partial=True)
        try:
            review = services.review_update(actor=request.user, review=review, **data)
        except Review.DoesNotExist as error:  # deleted by a concurrent request meanwhile
            raise Http404 from error
        return Response(_public(review, request.user))

    def destroy(self, request: Request, pk: str) -> Response:
        try:
            services.review_delete(actor=request.user, review=self._own_review())
        except Review.DoesNotExist as error:  # deleted by a concurrent request meanwhile
            raise Http404 from error
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=VoteInputSerializer, responses={200: VoteResultSerializer})
    @action(detail=True, methods=["post"])
    def vote(self, request: Request, pk: str) -> Response:
        review = self.get_object()
        data = _valid(VoteInputSerializer, request)
        try:
            services.review_vote(actor=request.user, review=review, value=int(data["value"]))
        except Review.DoesNotExist as error:  # deleted by its author meanwhile
            raise Http404 from error
        summary = selectors.review_vote_summary(review=review, voter=request.user)
        return Response(VoteResultSerializer(summary).data)


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
        doctor = get_object_or_404(doctor_list_public(), user_id=self.kwargs["doctor_id"])
        return selectors.review_list_public(doctor_id=doctor.user_id, viewer=self.request.user)

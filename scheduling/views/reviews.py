"""Reviews: a patient reviews a visit, edits it, votes on others' (a doctor's reviews are in
the directory)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, IsPatient
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.models import Review
from scheduling.serializers import (
    ReviewCreateInputSerializer,
    ReviewSerializer,
    ReviewUpdateInputSerializer,
    VoteInputSerializer,
    VoteResultSerializer,
)


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
        data = valid_input(ReviewCreateInputSerializer, request)
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
            raise PermissionDenied(gettext("Only the author can change this review."))
        return review

    def partial_update(self, request: Request, pk: str) -> Response:
        review = self._own_review()
        data = valid_input(ReviewUpdateInputSerializer, request, partial=True)
        review = services.review_update(actor=request.user, review=review, **data)
        return Response(_public(review, request.user))

    def destroy(self, request: Request, pk: str) -> Response:
        services.review_delete(actor=request.user, review=self._own_review())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=VoteInputSerializer, responses={200: VoteResultSerializer})
    @action(detail=True, methods=["post"])
    def vote(self, request: Request, pk: str) -> Response:
        review = self.get_object()
        data = valid_input(VoteInputSerializer, request)
        services.review_vote(actor=request.user, review=review, value=int(data["value"]))
        summary = selectors.review_vote_summary(review=review, voter=request.user)
        return Response(VoteResultSerializer(summary).data)

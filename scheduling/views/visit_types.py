"""Visit types: a public list, admin writes; which types a doctor offers (DESIGN-R2 R2-8)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.filters import ID_REGEX
from core.permissions import ActionPermissionsMixin, AllowAny, IsAdminRole
from core.schema import AutoSchema
from core.validation import valid_input
from scheduling import selectors, services
from scheduling.filters import VisitTypeListFilter
from scheduling.serializers import (
    DoctorVisitTypesInputSerializer,
    VisitTypeCreateInputSerializer,
    VisitTypeSerializer,
    VisitTypeUpdateInputSerializer,
)


@extend_schema_view(
    create=extend_schema(
        request=VisitTypeCreateInputSerializer, responses={201: VisitTypeSerializer}
    ),
    partial_update=extend_schema(
        request=VisitTypeUpdateInputSerializer, responses={200: VisitTypeSerializer}
    ),
    destroy=extend_schema(
        responses={204: None}, description="Deactivates the type: tagged rows keep it."
    ),
)
class VisitTypeViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Active visit types for everyone (admins also see inactive ones); admins write."""

    permission_classes_by_action = {
        "list": AllowAny,
        "retrieve": AllowAny,
        "create": IsAdminRole,
        "partial_update": IsAdminRole,
        "destroy": IsAdminRole,
    }
    serializer_class = VisitTypeSerializer
    filterset_class = VisitTypeListFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.visit_type_list_visible_to(user=self.request.user)

    def create(self, request: Request) -> Response:
        data = valid_input(VisitTypeCreateInputSerializer, request)
        visit_type = services.visit_type_create(actor=request.user, **data)
        return Response(VisitTypeSerializer(visit_type).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        visit_type = self.get_object()
        data = valid_input(VisitTypeUpdateInputSerializer, request, partial=True)
        visit_type = services.visit_type_update(actor=request.user, visit_type=visit_type, **data)
        return Response(VisitTypeSerializer(visit_type).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.visit_type_deactivate(actor=request.user, visit_type=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PageAnswerSchema(AutoSchema):
    """PUT answers the list's page, like GET."""

    def _is_list_view(self, serializer=None) -> bool:
        return True


class DoctorVisitTypeViewSet(ActionPermissionsMixin, viewsets.GenericViewSet):
    """The active types a public doctor offers (a page like every list); an admin replaces
    the set with PUT."""

    schema = PageAnswerSchema()

    permission_classes_by_action = {"list": AllowAny, "replace": IsAdminRole}
    serializer_class = VisitTypeSerializer
    filter_backends = []

    def _doctor(self):
        return get_object_or_404(
            selectors.doctor_list_public(ratings=False), user_id=self.kwargs["doctor_id"]
        ).user

    def _page(self, request: Request, doctor_id: int) -> Response:
        types = selectors.visit_types_offered_by(
            selectors.visit_type_list_visible_to(user=None), doctor_id
        )
        page = self.paginate_queryset(types)
        return self.get_paginated_response(VisitTypeSerializer(page, many=True).data)

    def list(self, request: Request, doctor_id: str) -> Response:
        return self._page(request, self._doctor().pk)

    @extend_schema(
        request=DoctorVisitTypesInputSerializer,
        responses={200: VisitTypeSerializer},
        description="Admins: the doctor offers exactly these active types; answers the new "
        "list's first page.",
    )
    def replace(self, request: Request, doctor_id: str) -> Response:
        doctor = self._doctor()
        data = valid_input(DoctorVisitTypesInputSerializer, request)
        services.doctor_visit_types_set(
            actor=request.user, doctor=doctor, visit_types=data["visit_types"]
        )
        return self._page(request, doctor.pk)

"""Role permissions, composed per action in each viewset (STYLE.md rules 12-14)."""

from __future__ import annotations

from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated

from core.roles import Role

__all__ = [
    "AllowAny",
    "IsAdminRole",
    "IsAuthenticated",
    "IsDoctor",
    "IsPatient",
    "IsStaffRole",
    "has_role",
]


def has_role(request, *roles: str) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.role in roles)


class IsPatient(BasePermission):
    """The caller is a patient."""

    def has_permission(self, request, view) -> bool:
        return has_role(request, Role.PATIENT)


class IsDoctor(BasePermission):
    """The caller is a doctor."""

    def has_permission(self, request, view) -> bool:
        return has_role(request, Role.DOCTOR)


class IsStaffRole(BasePermission):
    """The caller is front-desk staff."""

    def has_permission(self, request, view) -> bool:
        return has_role(request, Role.STAFF)


class IsAdminRole(BasePermission):
    """The caller is a clinic administrator."""

    def has_permission(self, request, view) -> bool:
        return has_role(request, Role.ADMIN)


class ActionPermissionsMixin:
    """Reads the viewset's `permission_classes_by_action` mapping; unlisted actions are 403.

    Every permission is ANDed with IsAuthenticated unless the action is AllowAny, so an
    anonymous caller gets 401 before any role check says 403.
    """

    permission_classes_by_action: dict = {}

    def get_permissions(self):
        if self._has_no_handler():
            # Nothing to guard: dispatch answers 405 whoever asks (not a 401/403 role refusal).
            return []
        action = getattr(self, "action", None) or "metadata"
        if action == "metadata":
            # OPTIONS describes the endpoint (name, renderers, parsers), no data: anyone may
            # ask, as anyone may read the schema.
            return [AllowAny()]
        permission = self.permission_classes_by_action.get(action)
        if permission is None:
            permission = self.permission_classes_by_action.get("default", IsAdminRole)
        if permission is AllowAny:
            return [AllowAny()]
        return [IsAuthenticated(), permission()]

    def _has_no_handler(self) -> bool:
        request = getattr(self, "request", None)
        if request is None or getattr(self, "action", None) is not None:
            return False
        method = request.method.lower()
        return method not in self.http_method_names or not hasattr(self, method)

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic.base import RedirectView

from core.docs import RedocView, SchemaView, SwaggerView
from core.exceptions import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("medappt.api")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"^api/", api_not_found),
    path("calendar/", include("formats.urls")),
    path("fhir/", include("formats.fhir.urls")),
    path("portal/", include("portal.urls")),
    path("", RedirectView.as_view(url="/portal/", permanent=False)),
]

# Errors Django answers itself (outside DRF's exception handler) are JSON under /api/ too.
handler400 = "core.exceptions.bad_request"
handler403 = "core.exceptions.permission_denied"
handler404 = "core.exceptions.page_not_found"
handler500 = "core.exceptions.server_error"

# No /media/ route, not even with DEBUG: uploaded photos are served only by users/{id}/photo/,
# which decides who may see them.

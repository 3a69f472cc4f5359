"""The product's URLs plus the benchmark's ceiling: a trivial JSON endpoint served the way
every API endpoint is (all middleware, the URL resolver, DRF's dispatch and JSON renderer),
doing no work of its own: no authentication, no permission check, no database.

It is placed after the whole API, so resolving it walks every API route first, and before
the JSON 404 catch-all. It exists only in the benchmark's server (bench_settings).
"""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from medappt.urls import urlpatterns as product_urlpatterns


class CeilingView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        return Response({"status": "ok"})


CEILING_PATH = "api/v1/bench-ceiling/"
_catch_all = next(i for i, p in enumerate(product_urlpatterns) if str(p.pattern) == "^api/")
urlpatterns = [
    *product_urlpatterns[:_catch_all],
    path(CEILING_PATH, CeilingView.as_view()),
    *product_urlpatterns[_catch_all:],
]

"""The product's URLs plus two benchmark-only views.

- The ceiling: a trivial JSON endpoint served the way every API endpoint is (all middleware,
  the URL resolver, DRF's dispatch and JSON renderer), doing no work of its own: no
  authentication, no permission check, no database.
- The raw-SQL floor of the patient's list: the same answer as `GET appointments/` for a
  patient's first page, built with no ORM at all (the token checked by simplejwt, the user
  and the page each one hand-written statement, the count a window function). It is not
  product code: it skips everything the API does for the general case (filters, ordering,
  other roles, pages past the first), and exists to measure the least any implementation
  that reads the database per request could cost (bench/README.md). The harness checks
  that its body equals the real endpoint's before measuring it.

Both sit after the whole API, so resolving them walks every API route first, and before the
JSON 404 catch-all. They exist only in the benchmark's server (bench_settings).
"""

from django.db import connection
from django.urls import path
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from core.fields import utc_iso
from medappt.urls import urlpatterns as product_urlpatterns


class CeilingView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        return Response({"status": "ok"})


USER_SQL = "SELECT role FROM accounts_user WHERE id = %s AND is_active AND suspended_at IS NULL"
PAGE_SQL = """
SELECT a.id, a.patient_id, a.doctor_id, a.time_block_id, a.start, a."end", a.status,
       a.reason, a.notes, a.cancellation_reason, a.cancelled_by_id, a.rescheduled_from_id,
       d.first_name, d.last_name, p.first_name, p.last_name, dp.location, dp.timezone,
       a.created_at, a.updated_at, a.confirmed_at, a.cancelled_at, a.completed_at,
       a.cancellation_code, count(*) OVER (), a.arrived_at, a.seen_at, a.checked_in_by_id,
       a.visit_type_id
  FROM scheduling_appointment a
  JOIN accounts_user p ON p.id = a.patient_id
  JOIN accounts_user d ON d.id = a.doctor_id
  LEFT JOIN accounts_doctorprofile dp ON dp.user_id = a.doctor_id
 WHERE a.patient_id = %s
 ORDER BY a.start, a.id
 LIMIT 20
"""


def _name(first: str, last: str) -> str:
    return f"{first} {last}".strip()


class PatientListFloorView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        try:
            user_id = int(AccessToken(raw)["user_id"]) if scheme == "Bearer" else None
        except (TokenError, KeyError, ValueError) as error:
            raise AuthenticationFailed() from error
        with connection.cursor() as cursor:
            cursor.execute(USER_SQL, [user_id])
            row = cursor.fetchone()
            if row is None or row[0] != "patient":
                raise AuthenticationFailed()
            cursor.execute(PAGE_SQL, [user_id])
            rows = cursor.fetchall()
        results = [
            {
                "id": r[0],
                "patient": r[1],
                "doctor": r[2],
                "time_block": r[3],
                "visit_type": r[28],
                "start": utc_iso(r[4]),
                "end": utc_iso(r[5]),
                "status": r[6],
                "reason": r[7],
                "notes": r[8],
                "cancellation_reason": r[9],
                "cancellation_code": r[23],
                "cancelled_by": r[10],
                "rescheduled_from": r[11],
                "doctor_name": _name(r[12], r[13]),
                "patient_name": _name(r[14], r[15]),
                "doctor_location": r[16] if r[16] is not None else "",
                "doctor_timezone": r[17],
                "created_at": utc_iso(r[18]),
                "updated_at": utc_iso(r[19]),
                "confirmed_at": utc_iso(r[20]),
                "cancelled_at": utc_iso(r[21]),
                "completed_at": utc_iso(r[22]),
                "arrived_at": utc_iso(r[25]),
                "seen_at": utc_iso(r[26]),
                "checked_in_by": r[27],
            }
            for r in rows
        ]
        count = rows[0][24] if rows else 0
        following = request.build_absolute_uri("/api/v1/appointments/?page=2")
        return Response(
            {
                "count": count,
                "next": following if count > len(results) else None,
                "previous": None,
                "results": results,
            }
        )


CEILING_PATH = "api/v1/bench-ceiling/"
PATIENT_LIST_FLOOR_PATH = "api/v1/bench-floor/appointments/"
_catch_all = next(i for i, p in enumerate(product_urlpatterns) if str(p.pattern) == "^api/")
urlpatterns = [
    *product_urlpatterns[:_catch_all],
    path(CEILING_PATH, CeilingView.as_view()),
    path(PATIENT_LIST_FLOOR_PATH, PatientListFloorView.as_view()),
    *product_urlpatterns[_catch_all:],
]

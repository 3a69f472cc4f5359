"""The error contract (docs/api-rules.md): JSON bodies, status codes and their precedence."""

import pytest
from django.core.cache import cache
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from accounts.models import User
from core.exceptions import CANNOT_TARGET_SELF
from core.throttles import LoginRateThrottle
from tests.support.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/v1/auth/register/"
TOKEN_URL = "/api/v1/auth/token/"


def registration(email: str = "new.patient@example.com") -> dict:
    return {
        "email": email,
        "password": "a-long-enough-pass",
        "first_name": "New",
        "last_name": "Patient",
    }


def assert_json_detail(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("detail"), str)
    assert body["detail"]
    return body


# ---------------------------------------------------------------------------
# 404 and 405
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/api/nope/",
        "/api/v1/nope/",
        "/api/v1/users",  # no trailing slash: still JSON, never an HTML page
        "/api/v2/users/",
    ],
)
def test_unknown_path_under_api_is_json_404(clinic_admin_client, url):
    assert_json_detail(clinic_admin_client.get(url), 404)
    assert_json_detail(clinic_admin_client.post(url, {}), 404)


@pytest.mark.parametrize("role", ["anon", "patient", "doctor", "staff", "admin"])
def test_unknown_method_on_existing_endpoint_is_json_405_for_every_role(role_clients, role):
    client = role_clients[role]
    assert_json_detail(client.put("/api/v1/auth/me/", {}), 405)
    assert_json_detail(client.put(REGISTER_URL, registration()), 405)
    assert_json_detail(client.delete("/api/v1/doctors/"), 405)
    assert not User.objects.filter(email="new.patient@example.com").exists()


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_unknown_method_on_schema_and_docs_is_json_405(anon_client, url):
    assert_json_detail(anon_client.post(url, {}), 405)


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_bad_token_on_schema_and_docs_is_json_401(anon_client, url):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_json_detail(anon_client.get(url), 401)


def test_put_on_users_collection_is_405_not_a_role_refusal(patient_client, clinic_admin_client):
    assert_json_detail(patient_client.put("/api/v1/users/", {}), 405)
    assert_json_detail(clinic_admin_client.put("/api/v1/users/", {}), 405)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users/abc/",
        "/api/v1/users/1.5/",
        "/api/v1/users/-1/",
        "/api/v1/users/99999999999999999999999999/",
        "/api/v1/users/9223372036854775808/",
        "/api/v1/doctors/abc/",
    ],
)
def test_non_integer_or_out_of_range_id_in_detail_path_is_json_404(clinic_admin_client, url):
    assert_json_detail(clinic_admin_client.get(url), 404)


def test_unknown_integer_id_is_json_404(clinic_admin_client):
    assert_json_detail(clinic_admin_client.get("/api/v1/users/987654/"), 404)


# ---------------------------------------------------------------------------
# 400, 413
# ---------------------------------------------------------------------------
def test_malformed_json_body_is_json_400(anon_client):
    response = anon_client.post(REGISTER_URL, data='{"email": ', content_type="application/json")
    assert_json_detail(response, 400)
    assert not User.objects.exists()


def test_field_errors_are_keyed_by_field(anon_client):
    response = anon_client.post(REGISTER_URL, {"email": "not-an-email"})
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body["email"], list)
    assert isinstance(body["password"], list)


def test_body_over_the_json_limit_is_413_and_nothing_is_written(anon_client, settings):
    settings.MAX_JSON_BODY_BYTES = 200
    payload = registration()
    payload["first_name"] = "x" * 150  # valid on its own: only the size is wrong
    response = anon_client.post(REGISTER_URL, payload)
    body = assert_json_detail(response, 413)
    assert "200" in body["detail"]
    assert response["X-Request-ID"]
    assert not User.objects.exists()


def test_413_is_decided_on_content_length_before_the_body_is_read(anon_client, settings):
    # The test client refuses to read past the bytes really sent, so declaring more than is
    # sent proves the middleware answered from the header alone.
    too_big = settings.MAX_JSON_BODY_BYTES + 1
    response = anon_client.generic(
        "POST",
        REGISTER_URL,
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(too_big),
    )
    assert_json_detail(response, 413)


def test_413_comes_before_401(anon_client, settings):
    response = anon_client.generic(
        "PATCH",
        "/api/v1/auth/me/",
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.MAX_JSON_BODY_BYTES + 1),
    )
    assert_json_detail(response, 413)


def test_body_at_the_limit_is_not_refused(anon_client, settings):
    settings.MAX_JSON_BODY_BYTES = 2000
    response = anon_client.post(REGISTER_URL, registration())
    assert response.status_code == 201


def test_413_is_readable_by_allowed_browser_origins(anon_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = anon_client.generic(
        "POST",
        REGISTER_URL,
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.MAX_JSON_BODY_BYTES + 1),
        HTTP_ORIGIN="https://app.example.com",
    )
    assert response.status_code == 413
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"


# ---------------------------------------------------------------------------
# 409
# ---------------------------------------------------------------------------
def test_conflict_body_has_detail_and_code(clinic_admin_client, clinic_admin):
    response = clinic_admin_client.post(
        f"/api/v1/users/{clinic_admin.pk}/suspend/", {"reason": "test"}
    )
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == CANNOT_TARGET_SELF
    assert body["detail"]
    clinic_admin.refresh_from_db()
    assert clinic_admin.suspended_at is None


# ---------------------------------------------------------------------------
# Status precedence: 401 → 403 → 429 → 404
# ---------------------------------------------------------------------------
def test_anonymous_on_admin_only_endpoint_is_401_not_403(anon_client, patient):
    response = anon_client.post(f"/api/v1/users/{patient.pk}/suspend/", {"reason": "x"})
    assert_json_detail(response, 401)
    assert response.has_header("WWW-Authenticate")
    assert_json_detail(anon_client.get("/api/v1/users/"), 401)


def test_bad_token_on_admin_only_endpoint_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_json_detail(anon_client.get("/api/v1/users/"), 401)


def test_patient_on_admin_only_endpoint_is_403(patient_client, other_patient):
    response = patient_client.post(f"/api/v1/users/{other_patient.pk}/suspend/", {"reason": "x"})
    assert_json_detail(response, 403)
    assert_json_detail(patient_client.get("/api/v1/users/"), 403)
    other_patient.refresh_from_db()
    assert other_patient.suspended_at is None


def test_role_refusal_403_comes_before_404(patient_client):
    # The caller may never use this endpoint, so whether the id exists is not revealed.
    assert_json_detail(patient_client.get("/api/v1/users/987654/"), 403)


def exhaust_login_throttle(client) -> None:
    rate = LoginRateThrottle().num_requests
    for attempt in range(rate):
        response = client.post(
            TOKEN_URL, {"email": f"nobody{attempt}@example.com", "password": "wrong"}
        )
        assert response.status_code == 401


def test_exhausted_login_throttle_is_429_with_retry_after(anon_client):
    exhaust_login_throttle(anon_client)
    response = anon_client.post(TOKEN_URL, {"email": "nobody@example.com", "password": "wrong"})
    assert_json_detail(response, 429)
    assert int(response["Retry-After"]) > 0


def test_throttle_is_decided_before_the_view_so_a_correct_guess_reveals_nothing(
    anon_client, patient
):
    exhaust_login_throttle(anon_client)
    response = anon_client.post(TOKEN_URL, {"email": patient.email, "password": DEFAULT_PASSWORD})
    assert_json_detail(response, 429)
    assert "access" not in response.json()


def test_login_throttle_counts_per_client_address(anon_client, patient):
    exhaust_login_throttle(anon_client)
    response = anon_client.post(
        TOKEN_URL,
        {"email": patient.email, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200


# A throttled lookup endpoint built from the project's own pieces (JWT authentication, the
# exception handler, the client-address login throttle): no production endpoint yet combines
# a throttle with a detail lookup, and the precedence must hold for those that will.
class _UserIdSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id"]


class _ThrottledLookup(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]
    queryset = User.objects.all()
    serializer_class = _UserIdSerializer


urlpatterns = [path("throttled/<int:pk>/", _ThrottledLookup.as_view())]


@pytest.mark.urls(__name__)
def test_throttled_request_is_429_before_a_404(anon_client):
    cache.clear()
    rate = LoginRateThrottle().num_requests
    for _ in range(rate):
        assert_json_detail(anon_client.get("/throttled/987654/"), 404)
    response = anon_client.get("/throttled/987654/")
    assert_json_detail(response, 429)
    assert int(response["Retry-After"]) > 0

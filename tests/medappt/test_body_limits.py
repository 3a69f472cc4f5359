"""Body-size limits (docs/api-rules.md): a declared Content-Length over the limit is refused
from the header alone (medappt/tests/test_errors.py); a body without one (chunked transfer
encoding, which the server marks `wsgi.input_terminated`) is read only up to the limit."""

from __future__ import annotations

import io
import json

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.models import User
from core.exceptions import RequestBodyTooLarge, exception_handler

REGISTER_URL = "/api/v1/auth/register/"
PHOTO_URL = "/api/v1/auth/me/photo/"


class CountingStream(io.BytesIO):
    """A wsgi.input that remembers how many bytes were taken from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int | None = -1, /) -> bytes:
        data = super().readline(size)
        self.consumed += len(data)
        return data


def unsized_environ(
    path: str, stream: io.BytesIO, *, method: str = "POST", terminated: bool = True
) -> dict:
    """A WSGI environ for a request whose body has no Content-Length, as gunicorn passes a
    chunked request on."""
    request = RequestFactory().generic(
        method,
        path,
        CONTENT_TYPE="application/json",
        **{"wsgi.input": stream, "wsgi.input_terminated": terminated},
    )
    environ = dict(request.environ)
    assert "CONTENT_LENGTH" not in environ
    return environ


def call_wsgi(environ: dict) -> tuple[int, dict[str, str], bytes]:
    """Run the environ through Django's real WSGI handler, every middleware included."""
    started: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    # As Django's test client does: the request's start and end must not close (and so
    # touch) the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, start_response)
        body = b"".join(response)
        response.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return started["status"], started["headers"], body


def test_an_unsized_body_over_the_limit_is_413_json_and_read_no_further(settings):
    settings.MAX_JSON_BODY_BYTES = 1024
    stream = CountingStream(b"[" + b"1," * 2_000_000 + b"1]")  # about 4 MB

    status, headers, body = call_wsgi(unsized_environ(REGISTER_URL, stream))

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"detail": "Request body too large: at most 1024 bytes."}
    assert headers["X-Request-ID"]
    assert stream.consumed <= settings.MAX_JSON_BODY_BYTES + 1


def test_upload_paths_allow_the_larger_upload_limit_for_unsized_bodies(settings):
    settings.MAX_JSON_BODY_BYTES = 1024
    settings.MAX_UPLOAD_BODY_BYTES = 64 * 1024
    big_for_json = b"x" * 10_000

    status, _, _ = call_wsgi(unsized_environ(PHOTO_URL, CountingStream(big_for_json), method="PUT"))
    assert status == 401  # past the size check; the anonymous caller is refused next

    over = CountingStream(b"x" * (settings.MAX_UPLOAD_BODY_BYTES + 10))
    status, _, body = call_wsgi(unsized_environ(PHOTO_URL, over, method="PUT"))
    assert status == 413
    assert "65536" in json.loads(body)["detail"]


@pytest.mark.django_db
def test_an_unsized_body_within_the_limit_is_parsed_as_usual():
    payload = {
        "email": "chunked@example.com",
        "password": "a-long-enough-pass",
        "first_name": "Chunked",
        "last_name": "Upload",
    }
    # Through the test client, which runs the same handler and middleware but keeps this
    # test's transaction open across the request.
    response = APIClient().generic(
        "POST",
        REGISTER_URL,
        content_type="application/json",
        **{
            "wsgi.input": CountingStream(json.dumps(payload).encode()),
            "wsgi.input_terminated": True,
        },
    )

    assert response.status_code == 201, response.content
    assert User.objects.filter(email="chunked@example.com").exists()


@pytest.mark.django_db
def test_an_unsized_body_over_the_limit_writes_nothing(settings):
    settings.MAX_JSON_BODY_BYTES = 100
    payload = {
        "email": "chunked@example.com",
        "password": "a-long-enough-pass",
        "first_name": "x" * 120,
        "last_name": "Upload",
    }
    response = APIClient().generic(
        "POST",
        REGISTER_URL,
        content_type="application/json",
        **{
            "wsgi.input": CountingStream(json.dumps(payload).encode()),
            "wsgi.input_terminated": True,
        },
    )
    assert response.status_code == 413
    assert set(response.json()) == {"detail"}
    assert not User.objects.exists()


def test_an_unterminated_input_without_length_is_not_read_at_all():
    # Without wsgi.input_terminated the server promises nothing about the stream's end, so
    # (as Django itself does) the body counts as empty and nothing is read from it.
    stream = CountingStream(b"x" * 10_000_000)
    status, _, body = call_wsgi(unsized_environ(REGISTER_URL, stream, terminated=False))
    assert stream.consumed == 0
    assert status == 400  # an empty registration: its fields are missing
    assert "email" in json.loads(body)


def test_the_exception_handler_maps_a_stream_over_the_limit_to_413():
    response = exception_handler(RequestBodyTooLarge(2048), {})
    assert response.status_code == 413
    assert response.data == {"detail": "Request body too large: at most 2048 bytes."}

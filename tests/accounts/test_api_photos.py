"""Profile photos: upload by content, bounded before
decoding, re-encoded to a square JPEG without metadata under a random key, and served by an
authenticated view that applies who may see whom.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile, PngImagePlugin

from accounts import photos, services
from accounts.models import User
from audit.models import AuditEvent
from tests.support.clients import client_for
from tests.support.factories import CancelledAppointmentFactory, InactivePatientFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
ME_PHOTO = f"{API}/auth/me/photo/"
DOCTOR_ME_PHOTO = f"{API}/doctors/me/photo/"
STORED_NAME = re.compile(r"^photos/[0-9a-f]{32}\.jpg$")
SECRET_COMMENT = b"Home: 42 Elm Street, back door key under the mat"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------
def image_bytes(fmt: str, size: tuple[int, int] = (80, 60), mode: str = "RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_gps_exif() -> bytes:
    """A JPEG carrying camera EXIF, a GPS position and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel 12"  # Model
    exif[0x8825] = {  # GPSInfo
        1: "N",
        2: (52.0, 31.0, 12.0),
        3: "E",
        4: (13.0, 24.0, 36.0),
    }
    return image_bytes("JPEG", (300, 200), exif=exif.tobytes(), comment=SECRET_COMMENT)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG announcing width x height with almost no pixel data: tiny to send, and any
    attempt to decode it would allocate width * height * 3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def put_photo(client, data: bytes, url: str = ME_PHOTO, **kwargs):
    return client.put(url, {"file": upload(data, **kwargs)}, format="multipart")


def stored(user: User) -> Path:
    from django.conf import settings

    user.refresh_from_db()
    assert user.photo, "no photo stored"
    return Path(settings.MEDIA_ROOT) / user.photo.name


def audit_rows(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="user.photo_changed", **filters).order_by("id"))


# ---------------------------------------------------------------------------
# Upload
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "size", "mode"),
    [
        ("JPEG", (640, 480), "RGB"),
        ("PNG", (300, 900), "RGBA"),
        ("PNG", (120, 120), "P"),
        ("WEBP", (100, 150), "RGB"),
        ("JPEG", (40, 30), "L"),
    ],
)
def test_upload_stores_a_square_jpeg_thumbnail(patient, patient_client, fmt, size, mode):
    response = put_photo(patient_client, image_bytes(fmt, size, mode), name=f"me.{fmt.lower()}")

    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    version = Path(patient.photo.name).stem
    assert response.json() == {"photo_url": f"{API}/users/{patient.pk}/photo/?v={version}"}
    with Image.open(stored(patient)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.mode == "RGB"
        width, height = thumbnail.size
        assert width == height <= photos.THUMBNAIL_SIDE
    me = patient_client.get(f"{API}/auth/me/").json()
    assert me["photo_url"] == response.json()["photo_url"]


def test_stored_photo_carries_no_exif_gps_or_comment(patient, patient_client):
    original = jpeg_with_gps_exif()
    with Image.open(io.BytesIO(original)) as check:  # the upload really carries them
        assert check.getexif().get_ifd(0x8825)
        assert check.info["comment"] == SECRET_COMMENT

    assert put_photo(patient_client, original).status_code == 200

    path = stored(patient)
    with Image.open(path) as thumbnail:
        assert not thumbnail.getexif()
        assert not thumbnail.getexif().get_ifd(0x8825)
        for key in ("exif", "comment", "icc_profile", "xmp"):
            assert key not in thumbnail.info
    raw = path.read_bytes()
    for leak in (b"Exif", b"PhoneMaker", b"PhoneModel", SECRET_COMMENT):
        assert leak not in raw


def test_png_text_chunks_do_not_reach_the_stored_photo(patient, patient_client):
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", SECRET_COMMENT.decode())
    text.add_text("Author", "Jane Patient")
    data = image_bytes("PNG", (64, 64), pnginfo=text)

    assert put_photo(patient_client, data, name="me.png").status_code == 200

    raw = stored(patient).read_bytes()
    assert SECRET_COMMENT not in raw
    assert b"Jane Patient" not in raw


def test_exif_orientation_is_applied_before_the_metadata_goes(patient, patient_client):
    image = Image.new("RGB", (100, 100), "red")
    image.paste(Image.new("RGB", (100, 50), "blue"), (0, 50))  # red on top, blue below
    exif = Image.Exif()
    exif[0x0112] = 3  # Orientation: rotate 180 to display
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())

    assert put_photo(patient_client, out.getvalue()).status_code == 200

    with Image.open(stored(patient)) as thumbnail:
        top = thumbnail.getpixel((thumbnail.width // 2, 5))
        bottom = thumbnail.getpixel((thumbnail.width // 2, thumbnail.height - 5))
    assert top[2] > 200 > top[0]  # blue shows on top, as the camera meant
    assert bottom[0] > 200 > bottom[2]


def test_camera_multi_picture_jpeg_is_accepted(patient, patient_client):
    out = io.BytesIO()
    first, second = Image.new("RGB", (64, 64), "red"), Image.new("RGB", (64, 64), "blue")
    first.save(out, format="MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(out.getvalue())) as check:
        assert check.format == "MPO"  # what Pillow calls a phone's JPEG with extra frames

    assert put_photo(patient_client, out.getvalue()).status_code == 200
    with Image.open(stored(patient)) as thumbnail:
        assert thumbnail.format == "JPEG"


def test_storage_key_is_random_and_the_old_file_goes_after_commit(
    patient, patient_client, django_capture_on_commit_callbacks
):
    data = image_bytes("JPEG")
    with django_capture_on_commit_callbacks(execute=True):
        first = put_photo(patient_client, data, name="holiday-selfie.jpg")
    first_path = stored(patient)
    first_name = patient.photo.name
    assert STORED_NAME.match(first_name)
    assert "holiday" not in first_name

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = put_photo(patient_client, data, name="holiday-selfie.jpg")

    assert len(callbacks) == 1
    second_path = stored(patient)
    assert STORED_NAME.match(patient.photo.name)
    assert patient.photo.name != first_name  # same bytes, same name: still a new key
    assert second.json()["photo_url"] != first.json()["photo_url"]
    assert second_path.exists()
    assert not first_path.exists()


def test_old_file_stays_until_the_transaction_commits(patient, patient_client):
    put_photo(patient_client, image_bytes("JPEG"))
    first_path = stored(patient)
    # Without the commit (the test transaction never commits) the old file must remain.
    put_photo(patient_client, image_bytes("PNG"), name="x.png")
    assert first_path.exists()


def test_upload_is_audited(patient, patient_client):
    put_photo(patient_client, image_bytes("JPEG"), name="secret-name.jpg")
    [event] = audit_rows()
    assert (event.actor_id, event.target_type, event.target_id) == (
        patient.pk,
        "user",
        str(patient.pk),
    )
    assert "secret-name" not in str(event.data)


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (b"just some text, not an image\n", "photo.jpg", "image/jpeg"),
        (image_bytes("GIF"), "photo.gif", "image/gif"),
        (image_bytes("GIF"), "photo.png", "image/png"),  # renamed GIF
        (image_bytes("BMP"), "photo.jpg", "image/jpeg"),
        (image_bytes("TIFF"), "photo.jpg", "image/jpeg"),
        (image_bytes("JPEG")[:200], "photo.jpg", "image/jpeg"),  # truncated
        (b"", "photo.jpg", "image/jpeg"),
    ],
    ids=["text", "gif", "renamed-gif", "bmp", "tiff", "truncated-jpeg", "empty"],
)
def test_only_jpeg_png_and_webp_content_is_accepted(
    patient, patient_client, data, name, content_type
):
    response = put_photo(patient_client, data, name=name, content_type=content_type)

    assert response.status_code == 400
    assert list(response.json()) == ["file"]
    patient.refresh_from_db()
    assert not patient.photo
    assert not audit_rows()


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail loudly if anything tries to decode pixel data."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize(
    ("width", "height"), [(20_000, 20_000), (5_000, 5_000), (4_097, 10), (10, 4_097)]
)
def test_oversized_dimensions_are_refused_before_decoding(
    patient, patient_client, no_decoding, width, height
):
    data = png_header_only(width, height)
    assert len(data) < 200

    response = put_photo(patient_client, data, name="huge.png", content_type="image/png")

    assert response.status_code == 400
    assert response.json() == {"file": ["Images are at most 4096 x 4096 pixels."]}
    patient.refresh_from_db()
    assert not patient.photo


def test_a_4096_pixel_side_is_allowed(patient, patient_client):
    response = put_photo(patient_client, image_bytes("PNG", (4096, 2)), name="wide.png")
    assert response.status_code == 200


def test_upload_over_5_mb_is_413(patient, patient_client):
    data = image_bytes("JPEG") + b"\0" * (photos.MAX_PHOTO_BYTES + 1 - len(image_bytes("JPEG")))
    assert len(data) == photos.MAX_PHOTO_BYTES + 1

    response = put_photo(patient_client, data)

    assert response.status_code == 413
    assert "detail" in response.json()
    patient.refresh_from_db()
    assert not patient.photo
    assert not audit_rows()


def test_upload_of_exactly_5_mb_is_read(patient, patient_client):
    response = put_photo(patient_client, b"\0" * photos.MAX_PHOTO_BYTES)
    assert response.status_code == 400  # read and refused as not an image, not 413


def test_body_over_6_mib_is_refused_by_the_middleware(patient, patient_client, settings):
    data = b"\0" * (settings.MAX_UPLOAD_BODY_BYTES + 1)

    response = put_photo(patient_client, data)

    assert response.status_code == 413
    assert str(settings.MAX_UPLOAD_BODY_BYTES) in response.json()["detail"]
    assert not audit_rows()


@pytest.mark.parametrize(
    "body", [{}, {"photo": upload(b"x")}, {"file": "not a file"}], ids=["empty", "other", "text"]
)
def test_upload_without_a_file_is_400(patient, patient_client, body):
    response = patient_client.put(ME_PHOTO, body, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_upload_must_be_multipart(patient_client):
    response = patient_client.put(ME_PHOTO, {"file": "x"}, format="json")
    assert response.status_code == 415


def test_anonymous_cannot_upload_or_delete(anon_client):
    assert put_photo(anon_client, image_bytes("JPEG")).status_code == 401
    assert anon_client.delete(ME_PHOTO).status_code == 401
    assert put_photo(anon_client, image_bytes("JPEG"), url=DOCTOR_ME_PHOTO).status_code == 401


def test_delete_removes_the_photo(patient, patient_client, django_capture_on_commit_callbacks):
    put_photo(patient_client, image_bytes("JPEG"))
    path = stored(patient)

    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.delete(ME_PHOTO)

    assert response.status_code == 204
    assert not path.exists()
    patient.refresh_from_db()
    assert not patient.photo
    assert patient_client.get(f"{API}/auth/me/").json()["photo_url"] is None
    assert client_for(patient).get(f"{API}/users/{patient.pk}/photo/").status_code == 404
    events = audit_rows(actor_id=patient.pk)
    assert len(events) == 2  # set, then removed


def test_delete_without_a_photo_is_204_and_records_nothing(patient_client):
    assert patient_client.delete(ME_PHOTO).status_code == 204
    assert not audit_rows()


# ---------------------------------------------------------------------------
# doctors/me/photo/
# ---------------------------------------------------------------------------
def test_doctor_photo_is_the_same_photo_and_public(doctor, doctor_client, anon_client):
    response = put_photo(doctor_client, image_bytes("PNG"), url=DOCTOR_ME_PHOTO, name="d.png")

    assert response.status_code == 200
    url = response.json()["photo_url"]
    assert url.startswith(f"{API}/users/{doctor.pk}/photo/")
    assert doctor_client.get(f"{API}/auth/me/").json()["photo_url"] == url
    assert doctor_client.get(f"{API}/doctors/me/").json()["photo_url"] == url
    assert anon_client.get(f"{API}/doctors/{doctor.pk}/").json()["photo_url"] == url
    [listed] = anon_client.get(f"{API}/doctors/").json()["results"]
    assert listed["photo_url"] == url

    served = anon_client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served.content == stored(doctor).read_bytes()
    assert "public" in served["Cache-Control"]
    [event] = audit_rows()
    assert event.actor_id == doctor.pk


def test_doctor_deletes_their_photo_through_doctors_me(doctor, doctor_client):
    put_photo(doctor_client, image_bytes("JPEG"))  # set through auth/me/photo/
    assert doctor_client.delete(DOCTOR_ME_PHOTO).status_code == 204
    doctor.refresh_from_db()
    assert not doctor.photo


@pytest.mark.parametrize("role", ["patient", "staff", "admin"])
def test_doctors_me_photo_is_for_doctors_only(role_clients, role):
    client = role_clients[role]
    assert put_photo(client, image_bytes("JPEG"), url=DOCTOR_ME_PHOTO).status_code == 403
    assert client.delete(DOCTOR_ME_PHOTO).status_code == 403
    assert not User.objects.exclude(photo="").exists()


# ---------------------------------------------------------------------------
# Serving users/{id}/photo/
# ---------------------------------------------------------------------------
@pytest.fixture
def patient_with_photo(patient, patient_client, doctor):
    """The patient has a photo, and `doctor` once had (a cancelled) appointment with them."""
    assert put_photo(patient_client, image_bytes("JPEG")).status_code == 200
    CancelledAppointmentFactory(patient=patient, time_block__doctor=doctor)
    return patient


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("self", 200),
        ("staff", 200),
        ("admin", 200),
        ("their_doctor", 200),
        ("anon", 404),
        ("other_patient", 404),
        ("unrelated_doctor", 404),
    ],
)
def test_patient_photo_is_served_only_to_them_their_doctors_and_staff(
    role_clients, patient_with_photo, other_patient, other_doctor, viewer, expected
):
    clients = {
        "self": role_clients["patient"],
        "staff": role_clients["staff"],
        "admin": role_clients["admin"],
        "their_doctor": role_clients["doctor"],
        "anon": role_clients["anon"],
        "other_patient": client_for(other_patient),
        "unrelated_doctor": client_for(other_doctor),
    }

    response = clients[viewer].get(f"{API}/users/{patient_with_photo.pk}/photo/")

    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "image/jpeg"
        assert response.content == stored(patient_with_photo).read_bytes()
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]
    else:
        assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("viewer", ["anon", "patient", "staff"])
def test_doctor_photo_is_served_to_anyone(role_clients, other_doctor, viewer):
    put_photo(client_for(other_doctor), image_bytes("JPEG"), url=DOCTOR_ME_PHOTO)
    response = role_clients[viewer].get(f"{API}/users/{other_doctor.pk}/photo/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_photo_of_a_user_without_one_unknown_or_inactive_is_404(clinic_admin_client, patient):
    inactive = InactivePatientFactory()
    services.user_photo_set(
        actor=inactive, user=inactive, upload=upload(image_bytes("JPEG"), name="a.jpg")
    )
    for user_id in (patient.pk, 999_999, inactive.pk, "abc", "9" * 30):
        response = clinic_admin_client.get(f"{API}/users/{user_id}/photo/")
        assert response.status_code == 404, user_id


def test_photo_whose_file_is_gone_is_404_not_500(clinic_admin_client, patient_with_photo):
    stored(patient_with_photo).unlink()  # e.g. replaced by a concurrent upload meanwhile
    response = clinic_admin_client.get(f"{API}/users/{patient_with_photo.pk}/photo/")
    assert response.status_code == 404


def test_photo_serving_queries_are_few(
    django_assert_max_num_queries, role_clients, patient_with_photo
):
    with django_assert_max_num_queries(3):  # the caller, the owner, the doctor's visit check
        response = role_clients["doctor"].get(f"{API}/users/{patient_with_photo.pk}/photo/")
    assert response.status_code == 200


# ---------------------------------------------------------------------------
# OpenAPI
# ---------------------------------------------------------------------------
def test_schema_documents_the_multipart_uploads(anon_client):
    response = anon_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = schema["components"]["schemas"][name]
        return node

    for path in ("/api/v1/auth/me/photo/", "/api/v1/doctors/me/photo/"):
        operation = schema["paths"][path]["put"]
        content = operation["requestBody"]["content"]
        assert "multipart/form-data" in content, path
        body = resolve(content["multipart/form-data"]["schema"])
        assert body["properties"]["file"] == {"type": "string", "format": "binary"}
        assert "file" in body.get("required", [])
        assert "delete" in schema["paths"][path]
    served = schema["paths"]["/api/v1/users/{user_id}/photo/"]["get"]["responses"]["200"]
    assert "image/jpeg" in served["content"]

"""Profile photos: recognised by content, bounded before decoding, re-encoded without metadata.

One photo per user, stored through Django's storage API under a random key. Every photo is
served by an authenticated view (`users/{id}/photo/`): a doctor's to anyone, anyone else's
only to themself, their doctors and clinic staff (DESIGN.md §5 Reviews and photos).
"""

from __future__ import annotations

import io
import uuid
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.models import User
from audit.services import audit_record

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_SIDE = 4096
THUMBNAIL_SIDE = 512
# MPO is how Pillow names a camera JPEG carrying extra pictures (phones write them).
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
OPENED_FORMATS = ["JPEG", "PNG", "WEBP"]  # the JPEG opener also yields MPO


class PhotoTooLarge(Exception):
    """The upload is over MAX_PHOTO_BYTES."""


def _read_limited(upload) -> bytes:
    if upload.size is not None and upload.size > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(f"Photos are at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    data = upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(f"Photos are at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    return data


def _thumbnail(data: bytes) -> bytes:
    """A square JPEG thumbnail of a JPEG, PNG or WebP image; no EXIF or other metadata."""
    invalid = ValidationError({"file": ["Upload a JPEG, PNG or WebP image."]})
    too_big = ValidationError(
        {"file": [f"Images are at most {MAX_PHOTO_SIDE} x {MAX_PHOTO_SIDE} pixels."]}
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Reads the header only; `formats` keeps every other parser (EPS, ...) away.
            image = Image.open(io.BytesIO(data), formats=OPENED_FORMATS)
            if image.format not in ACCEPTED_FORMATS:
                raise invalid
            width, height = image.size
            if width > MAX_PHOTO_SIDE or height > MAX_PHOTO_SIDE:
                raise too_big
            image.load()
            image = ImageOps.exif_transpose(image)
            image = ImageOps.fit(image.convert("RGB"), (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow refuses these from the header alone: far above MAX_PHOTO_SIDE on a side.
        raise too_big from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise invalid from error
    # Pillow carries `info` (a JPEG comment, PNG text chunks, ...) through convert() and
    # resize(), and the JPEG encoder writes info["comment"] back: drop it all.
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)  # no exif= → no EXIF
    return out.getvalue()


@transaction.atomic
def user_photo_set(*, actor: User, user: User, upload) -> User:
    """Replace the user's photo with a re-encoded thumbnail of the upload."""
    thumbnail = _thumbnail(_read_limited(upload))
    user = User.objects.select_for_update().get(pk=user.pk)
    old_name = user.photo.name if user.photo else ""
    user.photo.save(f"{uuid.uuid4().hex}.jpg", ContentFile(thumbnail), save=False)
    user.save(update_fields=["photo"])
    audit_record(action="user.photo_changed", target=user, actor=actor, data={"photo": "set"})
    if old_name:
        storage = user.photo.storage
        transaction.on_commit(lambda: storage.delete(old_name))
    return user


@transaction.atomic
def user_photo_delete(*, actor: User, user: User) -> User:
    """Remove the user's photo (a no-op when there is none)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.photo:
        return user
    old_name, storage = user.photo.name, user.photo.storage
    user.photo = ""
    user.save(update_fields=["photo"])
    audit_record(action="user.photo_changed", target=user, actor=actor, data={"photo": "removed"})
    transaction.on_commit(lambda: storage.delete(old_name))
    return user


def can_view_photo(*, viewer: User, owner: User) -> bool:
    """Doctors' photos are public; others' go to the owner, their doctors and staff."""
    if owner.role == User.Role.DOCTOR:
        return True
    if not viewer.is_authenticated:
        return False
    if viewer.pk == owner.pk or viewer.role in (User.Role.STAFF, User.Role.ADMIN):
        return True
    if viewer.role == User.Role.DOCTOR:
        known = getattr(owner, "treated_by_viewer", None)  # photo_owners() read it already
        if known is not None:
            return known
        from scheduling.models import Appointment

        return Appointment.objects.filter(doctor=viewer, patient=owner).exists()
    return False


def photo_owners(*, viewer: User) -> QuerySet[User]:
    """Active users whose photo may be asked for; for a doctor viewer each carries whether
    they are the doctor's patient (`treated_by_viewer`), so can_view_photo asks nothing more
    and the read's audit row fits in the same number of queries."""
    owners = User.objects.filter(is_active=True)
    if viewer.is_authenticated and viewer.role == User.Role.DOCTOR:
        from scheduling.models import Appointment

        visits = Appointment.objects.filter(doctor_id=viewer.pk, patient=OuterRef("pk"))
        owners = owners.annotate(treated_by_viewer=Exists(visits))
    return owners

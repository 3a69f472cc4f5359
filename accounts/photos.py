"""Profile photo images: recognised by content, bounded before decoding, re-encoded without
metadata. No writes here: `services.user_photo_set` stores the result.

One photo per user, stored through Django's storage API under a random key. Every photo is
served by `users/{id}/photo/`, which applies `selectors.user_photo_visible_to`.
"""

from __future__ import annotations

import io
import warnings

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_SIDE = 4096
THUMBNAIL_SIDE = 512
# MPO is how Pillow names a camera JPEG carrying extra pictures (phones write them).
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
OPENED_FORMATS = ["JPEG", "PNG", "WEBP"]  # the JPEG opener also yields MPO


class PhotoTooLarge(Exception):
    """The upload is over MAX_PHOTO_BYTES."""


def _too_large_message() -> str:
    return gettext("Photos are at most %(megabytes)d MB.") % {
        "megabytes": MAX_PHOTO_BYTES // (1024 * 1024)
    }


def read_limited(upload) -> bytes:
    if upload.size is not None and upload.size > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(_too_large_message())
    data = upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(_too_large_message())
    return data


def thumbnail(data: bytes) -> bytes:
    """A square JPEG thumbnail of a JPEG, PNG or WebP image; no EXIF or other metadata."""
    invalid = ValidationError({"file": [gettext("Upload a JPEG, PNG or WebP image.")]})
    too_big = ValidationError(
        {
            "file": [
                gettext("Images are at most %(side)d x %(side)d pixels.") % {"side": MAX_PHOTO_SIDE}
            ]
        }
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

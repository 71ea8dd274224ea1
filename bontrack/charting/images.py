"""Reading an uploaded photo safely, and writing it back without its metadata.

- **Size**: at most ``MAX_UPLOAD_BYTES`` (a tablet's photo is a few MB).
- **Format**: JPEG, PNG or WebP, judged by Pillow from the bytes, never by the file name.
- **Decompression bombs**: an image of more than ``MAX_PIXELS`` pixels is refused before its
  pixels are decoded (Pillow reads the size from the header; ``Image.MAX_IMAGE_PIXELS`` makes
  Pillow itself refuse, and its warning is turned into an error).
- **Metadata**: the camera's orientation is applied to the pixels, then the pixels alone are
  copied into a new image and encoded as JPEG: EXIF (GPS, camera, time), XMP, ICC and comments
  are not carried over.
- **Thumbnail**: made once, at upload.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; tablets take 8 to 12
ALLOWED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "MPO": "JPEG"}
THUMBNAIL_SIZE = (360, 360)
JPEG_QUALITY = 90

# Pillow refuses images above twice this at open and warns above it; the warning becomes an
# error below. Process-wide: no image bontrack reads (photos, PDF images) is that large.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageRejectedError(ValueError):
    """The upload is not a photo bontrack stores; the message says why, in plain words."""


@dataclass(frozen=True)
class CleanImage:
    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int
    original_format: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jpeg).hexdigest()


def _read_limited(stream: IO[bytes], size: int | None) -> bytes:
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise ImageRejectedError(_too_large(size))
    data = stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejectedError(_too_large(size))
    if not data:
        raise ImageRejectedError("the file is empty")
    return data


def _too_large(size: int | None) -> str:
    mb = f"{size / 1024 / 1024:.0f} MB" if size else "larger"
    return f"the file is too large ({mb}): photos of at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB"


def clean_photo(stream: IO[bytes], size: int | None = None) -> CleanImage:
    """The upload's pixels as a metadata-free JPEG and its thumbnail, or ``ImageRejectedError``."""
    data = _read_limited(stream, size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                width, height = probe.size
        except UnidentifiedImageError:
            raise ImageRejectedError(
                "this file is not an image (a photo is a JPEG, PNG or WebP file)"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejectedError(
                f"the image is too large in pixels (more than {MAX_PIXELS:,}): "
                "a decompression bomb, or not a photo"
            ) from None
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageRejectedError(f"the image is damaged or truncated: {error}") from None
        if kind not in ALLOWED_FORMATS:
            raise ImageRejectedError(
                f"unsupported image format {kind or 'unknown'}: take a JPEG, PNG or WebP photo"
            )
        if width * height > MAX_PIXELS:
            raise ImageRejectedError(
                f"the image is too large in pixels ({width}×{height}): a decompression bomb, "
                "or not a photo"
            )
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = _rgb(upright)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejectedError(
                "the image is too large in pixels: a decompression bomb"
            ) from None
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageRejectedError(f"the image is damaged or truncated: {error}") from None
    # Only the pixels: a new image from the raw bytes carries no info, EXIF, XMP or ICC profile.
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    thumb = bare.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=82, optimize=True)
    return CleanImage(
        out.getvalue(), small.getvalue(), bare.width, bare.height, ALLOWED_FORMATS[kind]
    )


def _rgb(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency is laid on white (a PNG screenshot or a scan)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def signature_png(data_url: str) -> bytes:
    """A signature drawn on the pad: a PNG data URL, decoded, checked and re-encoded; a blank
    pad is refused."""
    import base64
    import binascii

    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise ImageRejectedError("the signature is missing: sign on the pad")
    if len(data_url) > 2 * 1024 * 1024:
        raise ImageRejectedError("the signature image is too large")
    try:
        raw = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejectedError("the signature could not be read: sign again") from None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as image:
                if image.format != "PNG" or image.width * image.height > 4_000_000:
                    raise ImageRejectedError("the signature could not be read: sign again")
                image.load()
                rgba = image.convert("RGBA")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageRejectedError("the signature could not be read: sign again") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejectedError("the signature image is too large") from None
    ink = _ink_pixels(rgba)
    if ink < 50:
        raise ImageRejectedError("the signature pad is empty: sign on the pad")
    bare = Image.frombytes("RGBA", rgba.size, rgba.tobytes())
    out = io.BytesIO()
    bare.save(out, "PNG", optimize=True)
    return out.getvalue()


def _ink_pixels(rgba: Image.Image) -> int:
    """Pixels drawn: opaque and dark (the pad draws dark ink on a transparent canvas)."""
    alpha = rgba.getchannel("A")
    dark = rgba.convert("L").point(lambda v: 255 if v < 160 else 0)
    drawn = Image.composite(
        dark, Image.new("L", rgba.size, 0), alpha.point(lambda a: 255 if a > 64 else 0)
    )
    histogram = drawn.histogram()
    return int(histogram[255])

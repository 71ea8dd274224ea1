"""Test data for the charting tests: real image files (good and bad), a signature drawn as a
PNG data URL, a glabellar patient with signed sessions; all built through the services."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from PIL import ExifTags, Image, ImageDraw

from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from tests import builders

GLABELLAR = [
    builders.sessions.PointInput("procerus", "midline", Decimal(4)),
    builders.sessions.PointInput("corrugator", "left", Decimal(4)),
    builders.sessions.PointInput("corrugator", "left", Decimal(4)),
    builders.sessions.PointInput("corrugator", "right", Decimal(4)),
    builders.sessions.PointInput("corrugator", "right", Decimal(4)),
]


def jpeg(width: int = 320, height: int = 240, color: str = "#c9a27e", **save: object) -> bytes:
    image = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), "#8a5a3c"
    )
    out = io.BytesIO()
    image.save(out, "JPEG", **save)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A photo whose EXIF says where it was taken (London), by which camera, and that it was
    held sideways (orientation 6: the pixels are to be turned a quarter)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TabletCam"
    exif[ExifTags.Base.Model] = "Clinic Tablet 9"
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 26.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    return jpeg(400, 300, exif=exif.tobytes())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb_header(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that claims 900 million pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_bomb_real() -> bytes:
    """A real decompression bomb: 81 million black pixels compressed to a few kilobytes."""
    image = Image.new("1", (9000, 9000), 0)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "BMP")
    return out.getvalue()


def thirty_megabytes() -> bytes:
    return jpeg() + b"\0" * (30 * 1024 * 1024)


def signature(strokes: int = 3) -> str:
    image = Image.new("RGBA", (600, 180), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for n in range(strokes):
        draw.line(
            [(30 + n * 150, 140), (90 + n * 150, 40), (150 + n * 150, 130)],
            fill=(16, 24, 40, 255),
            width=4,
        )
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def blank_signature() -> str:
    out = io.BytesIO()
    Image.new("RGBA", (600, 180), (0, 0, 0, 0)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def glabellar_session(
    s: builders.Staff,
    p: Patient,
    when: datetime,
    product: str = "onabotulinumtoxinA",
    size: int = 100,
    number: str | None = None,
    units: Decimal = Decimal(4),
) -> TreatmentSession:
    stock = builders.lot(
        s, product=product, number=number or f"G-{when:%j%H}-{product[:4]}", size=size, vials=2
    )
    vial = builders.open_vial(s, stock, diluent="2.5", at=when - timedelta(hours=1))
    points = [builders.sessions.PointInput(pt.site, pt.side, units) for pt in GLABELLAR]
    return builders.signed_session(
        s, p, when, vial, product=product, indication="glabellar-lines", injections=points
    )


def days_ago(n: int, hour: int = 10) -> datetime:
    return (timezone.now() - timedelta(days=n)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )

"""Clinical photos: real bad files are refused with a clear error and nothing stored; a photo's
EXIF (GPS, camera) is gone when read back; reads are audited; the comparison lists the sessions
in between."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import ExifTags, Image

from bontrack.audit.models import AuditEntry
from bontrack.charting.models import Photo
from bontrack.charting.services import photos
from bontrack.core.errors import ServiceError
from tests import builders
from tests.charting import support

pytestmark = pytest.mark.django_db


def _upload(s, p, data: bytes, **values):
    values.setdefault("indication", "glabellar-lines")
    values.setdefault("view", "maximal-frown")
    values.setdefault("timepoint", "before")
    values.setdefault("taken_on", timezone.localdate())
    return photos.upload_photo(
        s.actor("nurse"),
        p.id,
        upload=io.BytesIO(data),
        size=len(data),
        today=timezone.localdate(),
        **values,
    )


@pytest.fixture
def world():
    s = builders.staff()
    return s, builders.patient(s)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"Dear patient, this is a letter, not a photo.\n" * 20, "not an image"),
        (support.png_bomb_header(), "decompression bomb"),
        (support.png_bomb_real(), "decompression bomb"),
        (support.thirty_megabytes(), "too large (30 MB)"),
        (support.bmp(), "unsupported image format BMP"),
        (b"", "empty"),
        (support.jpeg()[:300], "damaged or truncated"),
    ],
    ids=["text-renamed-jpg", "bomb-header", "bomb-real", "30-MB", "bmp", "empty", "truncated"],
)
def test_bad_uploads_are_refused_clearly_and_store_nothing(world, clinical_files, data, words):
    s, p = world
    with pytest.raises(ServiceError) as refused:
        _upload(s, p, data)
    assert refused.value.field == "photo"
    assert words in refused.value.message
    assert refused.value.message.startswith("nothing was stored")
    assert not Photo.objects.exists()
    assert not list(clinical_files.rglob("*.*"))
    assert not AuditEntry.objects.filter(object_type="photo").exists()


def test_gps_and_camera_exif_are_gone_when_read_back_and_the_pixels_are_upright(world):
    s, p = world
    original = support.jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as image:  # the test file really carries them
        exif = image.getexif()
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert exif[ExifTags.Base.Model] == "Clinic Tablet 9"
        assert image.size == (400, 300)
    photo = _upload(s, p, original)
    _, stored = photos.read_photo_file(s.actor("physician"), photo.id)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert "exif" not in image.info
        assert "icc_profile" not in image.info
        assert image.size == (300, 400)  # orientation 6 applied to the pixels, then dropped
    assert b"Exif" not in stored
    assert b"TabletCam" not in stored
    assert b"Clinic Tablet" not in stored
    _, thumb = photos.read_photo_file(s.actor("physician"), photo.id, thumbnail=True)
    assert b"Exif" not in thumb
    with Image.open(io.BytesIO(thumb)) as image:
        assert max(image.size) <= 360
    assert photo.sha256
    assert photo.original_format == "JPEG"


def test_every_file_read_writes_an_audit_entry(world):
    s, p = world
    photo = _upload(s, p, support.jpeg())
    before = AuditEntry.objects.filter(object_type__startswith="photo").count()
    photos.read_photo_file(s.actor("auditor"), photo.id)
    photos.read_photo_file(s.actor("physician"), photo.id, thumbnail=True)
    reads = AuditEntry.objects.filter(action="read", object_type__startswith="photo").order_by(
        "seq"
    )
    assert reads.count() == 2
    assert before == 1  # the upload's create entry
    assert {e.patient_id for e in reads} == {p.id}
    assert [e.username for e in reads] == ["a-auditor", "a-physician"]


def test_views_are_the_catalogs_and_wrong_values_are_named(world):
    s, p = world
    assert photos.photo_views("glabellar-lines") == [
        ("at-rest", "At rest"),
        ("maximal-frown", "At maximal frown"),
    ]
    assert [v for v, _ in photos.photo_views("blepharospasm")] == ["eyes-open", "eyes-closed"]
    assert [v for v, _ in photos.photo_views("cervical-dystonia")] == ["front", "back"]
    for values, field in (
        ({"view": "eyes-open"}, "view"),
        ({"timepoint": "someday"}, "timepoint"),
        ({"indication": "chronic-migraine"}, "view"),
        ({"taken_on": timezone.localdate() + timedelta(days=1)}, "taken_on"),
    ):
        with pytest.raises(ServiceError) as refused:
            _upload(s, p, support.jpeg(), **values)
        assert refused.value.field == field


def test_compare_puts_the_same_view_of_two_dates_side_by_side_with_the_sessions_between(world):
    s, p = world
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=250))
    days = (200, 105, 10)
    signed = [support.glabellar_session(s, p, support.days_ago(n)) for n in days]
    taken = []
    for _n, session in zip(days, signed, strict=True):
        taken.append(
            _upload(
                s,
                p,
                support.jpeg(color="#d0a080"),
                taken_on=session.plan_date,
                session_id=session.id,
            )
        )
    _upload(s, p, support.jpeg(), view="at-rest", taken_on=signed[0].plan_date)
    after = _upload(s, p, support.jpeg(), timepoint="after", taken_on=signed[2].plan_date)
    found = photos.compare(
        s.actor("physician"), p.id, indication="glabellar-lines", view="maximal-frown"
    )
    assert [ph.id for ph in found.series] == [ph.id for ph in taken]  # one per visit: "before"
    assert (found.earlier.id, found.later.id) == (taken[0].id, taken[2].id)
    # before photo of visit 1 ... before photo of visit 3: visits 1 and 2 were given in between.
    assert [x.id for x in found.between] == [signed[0].id, signed[1].id]
    chosen = photos.compare(
        s.actor("physician"),
        p.id,
        indication="glabellar-lines",
        view="maximal-frown",
        first_id=after.id,
        second_id=taken[1].id,
    )
    assert (chosen.earlier.id, chosen.later.id) == (taken[1].id, after.id)
    assert [x.id for x in chosen.between] == [signed[1].id, signed[2].id]


def test_one_visits_before_and_after_photos_are_compared_without_picking_anything(world):
    s, p = world
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=250))
    signed = support.glabellar_session(s, p, support.days_ago(14))
    before = _upload(s, p, support.jpeg(), taken_on=signed.plan_date, session_id=signed.id)
    after = _upload(s, p, support.jpeg(), timepoint="after", taken_on=timezone.localdate())
    found = photos.compare(
        s.actor("physician"), p.id, indication="glabellar-lines", view="maximal-frown"
    )
    assert (found.earlier.id, found.later.id) == (before.id, after.id)
    assert [x.id for x in found.between] == [signed.id]
    assert [x.id for x in found.every] == [before.id, after.id]
    # Picking the after photo alone puts it beside the visit's before photo.
    picked = photos.compare(
        s.actor("physician"),
        p.id,
        indication="glabellar-lines",
        view="maximal-frown",
        second_id=after.id,
    )
    assert (picked.earlier.id, picked.later.id) == (before.id, after.id)
    with pytest.raises(ServiceError) as refused:
        photos.compare(
            s.actor("physician"),
            p.id,
            indication="glabellar-lines",
            view="maximal-frown",
            first_id=after.id,
            second_id=after.id,
        )
    assert "two different photos" in refused.value.message

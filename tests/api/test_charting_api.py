"""The charting routes over HTTP, as a client uses them: the appointment book and the next visit
after a signing, photos uploaded and read back without their metadata, refused uploads that name
the field and store nothing, a signed form's PDF whose hash is the listed one, plans from a saved
plan and by repeat last (never across products), and the reminder list."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import ExifTags, Image

from bontrack.audit.models import AuditEntry
from bontrack.charting.models import Appointment, Photo
from bontrack.charting.services.consent_forms import consent_risks
from bontrack.charting.services.plans import save_plan
from bontrack.treatments.models import TreatmentSession
from tests.api.support import Upload, World, error_shape_problems, use_temporary_clinical_storage
from tests.charting import support as charting

pytestmark = pytest.mark.django_db

PLUS_TWO = dt_timezone(timedelta(hours=2))


@pytest.fixture(autouse=True)
def clinical_files(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "clinical-files"
    use_temporary_clinical_storage(settings, folder)
    return folder


def _errors(response: Any) -> list[tuple[str | None, str]]:
    assert error_shape_problems(response) == []
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _audit_after(world: World, seq: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(clinic=world.a.clinic, seq__gt=seq).order_by("seq"))


def _last_seq(world: World) -> int:
    head = AuditEntry.objects.filter(clinic=world.a.clinic).order_by("-seq").first()
    return head.seq if head else 0


# -- appointments and the next visit ------------------------------------------------------------


def test_book_list_change_status_then_sign_and_take_up_the_next_visit(world: World):
    plan = world.plan
    today = plan.plan_date.isoformat()
    starts = world.administered.astimezone(PLUS_TWO)  # the client's own offset

    booked = world.call(
        "front_desk",
        "POST",
        "/patients/{patient}/appointments",
        {
            "indication": "chronic-migraine",
            "starts_at": starts.isoformat(),
            "minutes": 20,
            "injector_id": str(world.a.physician.id),
            "notes": "Bring the headache diary.",
            "confirm": True,  # the visit signed below may be at any hour of any day
        },
    )
    assert booked.status_code == 201, booked.content
    visit = booked.json()
    assert visit["status"] == "booked"
    assert visit["patient_id"] == str(world.patient.id)
    assert visit["injector_id"] == str(world.a.physician.id)
    assert visit["injector"] == "Pat Physician"
    assert visit["booked_by"] == str(world.a.front_desk.id)
    # The same instant, shown in the clinic's time zone (UTC) rather than the client's +02:00.
    assert _moment(visit["starts_at"]) == starts
    assert _moment(visit["starts_at"]).utcoffset() == timedelta(0)

    book = world.call("nurse_injector", "GET", f"/appointments?start={today}&end={today}")
    assert book.status_code == 200, book.content
    assert book.json()["time_zone"] == "UTC"
    assert [a["id"] for a in book.json()["appointments"]] == [visit["id"]]
    tomorrow = (plan.plan_date + timedelta(days=1)).isoformat()
    later = world.call("nurse_injector", "GET", f"/appointments?start={tomorrow}&end={tomorrow}")
    assert later.json()["appointments"] == []

    arrived = world.call(
        "front_desk", "POST", f"/appointments/{visit['id']}/status", {"status": "arrived"}
    )
    assert arrived.status_code == 200, arrived.content
    assert arrived.json()["status"] == "arrived"

    unsigned = world.call("physician", "GET", "/sessions/{plan}/next-visit")
    assert unsigned.status_code == 409, unsigned.content

    signed = world.call(
        "physician",
        "POST",
        "/sessions/{plan}/sign",
        {"administered_at": world.administered.isoformat(), "vial_ids": [str(world.plan_vial.id)]},
    )
    assert signed.status_code == 200, signed.content
    # Signing completes the day's open appointment of the patient for the indication.
    mine = world.call("front_desk", "GET", "/patients/{patient}/appointments").json()
    assert [(a["id"], a["status"]) for a in mine] == [(visit["id"], "completed")]
    reopened = world.call(
        "front_desk", "POST", f"/appointments/{visit['id']}/status", {"status": "booked"}
    )
    assert reopened.status_code == 409, reopened.content
    assert _errors(reopened) == [("status", "this appointment is already completed")]

    proposal = world.call("physician", "GET", "/sessions/{plan}/next-visit")
    assert proposal.status_code == 200, proposal.content
    proposed = proposal.json()
    due = proposed["due"]
    assert due["basis"] == "label"
    assert due["interval_days"] == 84  # BOTOX for chronic migraine: every 12 weeks
    assert due["due"] == (plan.plan_date + timedelta(days=84)).isoformat()
    patient_due = world.call("physician", "GET", "/patients/{patient}/due").json()["due"]
    assert due == next(d for d in patient_due if d["indication"] == "chronic-migraine")
    # The first open day from the due date (Monday to Friday, 08:00 to 18:00, by default).
    suggested = _moment(proposed["suggested_at"])
    assert 0 <= (suggested.date() - date.fromisoformat(due["due"])).days <= 2
    assert suggested.weekday() < 5
    assert 8 <= suggested.hour < 18
    assert proposed["booked"] is None  # the completed visit is not the next one

    next_booking = world.call(
        "front_desk",
        "POST",
        "/patients/{patient}/appointments",
        {
            "indication": "chronic-migraine",
            "starts_at": proposed["suggested_at"],
            "proposed_by_session_id": str(plan.id),
        },
    )
    assert next_booking.status_code == 201, next_booking.content
    assert next_booking.json()["proposed_by_session_id"] == str(plan.id)
    assert next_booking.json()["minutes"] == 30
    again = world.call("physician", "GET", "/sessions/{plan}/next-visit").json()
    assert again["booked"]["id"] == next_booking.json()["id"]
    assert _moment(again["booked"]["starts_at"]) == _moment(proposed["suggested_at"])


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("?start=2026-03-01&end=2026-04-01", "end", "at most 31 days from start (asked for 32)"),
        ("?start=2026-03-10&end=2026-03-09", "end", "is before start"),
        ("?start=2026-02-30", "start", "is not a real date"),
    ],
    ids=["32 days", "backwards", "not a date"],
)
def test_the_book_is_read_a_month_at_most(world: World, query: str, field: str, words: str):
    response = world.call("front_desk", "GET", "/appointments" + query)
    assert response.status_code in (400, 422), response.content
    [(named, message)] = _errors(response)
    assert named == field
    assert words in message


def test_thirty_one_days_are_listed_in_one_call(world: World):
    world.appointment  # noqa: B018 (tomorrow's visit)
    start = timezone.localdate() - timedelta(days=29)
    end = start + timedelta(days=30)
    response = world.call("auditor", "GET", f"/appointments?start={start}&end={end}")
    assert response.status_code == 200, response.content
    assert [a["id"] for a in response.json()["appointments"]] == [str(world.appointment.id)]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (lambda w: {"starts_at": "2026-11-25T09:30:00"}, 422, "starts_at"),
        (lambda w: {"minutes": 2}, 400, "minutes"),
        (lambda w: {"indication": "hiccups"}, 400, "indication"),
        (lambda w: {"injector_id": str(w.a.front_desk.id)}, 400, "injector_id"),
        (
            lambda w: {"proposed_by_session_id": str(w.nurse_signed.id)},
            400,
            "proposed_by_session_id",
        ),
    ],
    ids=[
        "naive time",
        "2 minutes",
        "unknown indication",
        "front desk as injector",
        "another patient's session",
    ],
)
def test_a_refused_booking_names_the_field_and_books_nothing(
    world: World, change: Any, status: int, field: str
):
    body = {
        "indication": "chronic-migraine",
        "starts_at": (world.now + timedelta(days=3)).isoformat(),
        **change(world),
    }
    world.patient  # noqa: B018
    response = world.call("front_desk", "POST", "/patients/{patient}/appointments", body)
    assert response.status_code == status, response.content
    assert [f for f, _ in _errors(response)] == [field]
    assert not Appointment.objects.exists()


# -- photos -------------------------------------------------------------------------------------


def _photo_upload(data: bytes, name: str = "frown.jpg", **fields: str) -> Upload:
    values = {"indication": "glabellar-lines", "view": "maximal-frown", "timepoint": "before"}
    return Upload({"photo": (name, data)}, {**values, **fields})


def test_a_photo_comes_back_re_encoded_without_its_exif_and_every_read_is_audited(world: World):
    original = charting.jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as image:  # the test file really carries them
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert image.getexif()[ExifTags.Base.Model] == "Clinic Tablet 9"
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    uploaded = world.call(
        "nurse_injector", "POST", "/patients/{patient}/photos", _photo_upload(original)
    )
    assert uploaded.status_code == 201, uploaded.content
    photo = uploaded.json()
    assert photo["view_name"] == "At maximal frown"
    assert photo["taken_on"] == timezone.localdate().isoformat()  # the clinic's today
    assert (photo["width"], photo["height"]) == (300, 400)  # turned upright
    assert photo["original_format"] == "JPEG"
    assert photo["uploaded_by"] == str(world.a.nurse.id)
    assert _moment(photo["recorded_at"]).utcoffset() == timedelta(0)
    other = world.call(
        "physician",
        "POST",
        "/patients/{patient}/photos",
        _photo_upload(charting.jpeg(), "rest.png", view="at-rest", taken_on=yesterday),
    )
    assert other.status_code == 201, other.content

    listed = world.call("auditor", "GET", "/patients/{patient}/photos")
    assert listed.status_code == 200, listed.content
    assert [(p["id"], p["view"], p["taken_on"]) for p in listed.json()] == [
        (other.json()["id"], "at-rest", yesterday),
        (photo["id"], "maximal-frown", timezone.localdate().isoformat()),
    ]
    only = world.call("auditor", "GET", "/patients/{patient}/photos?indication=blepharospasm")
    assert only.json() == []

    seq = _last_seq(world)
    image = world.call("auditor", "GET", f"/photos/{photo['id']}/image")
    assert image.status_code == 200, image.content
    assert image["Content-Type"] == "image/jpeg"
    assert image["Cache-Control"] == "no-store"
    stored = image.content
    assert hashlib.sha256(stored).hexdigest() == photo["sha256"] == image["X-Content-SHA256"]
    assert b"Exif" not in stored
    assert b"TabletCam" not in stored
    assert b"Clinic Tablet" not in stored
    with Image.open(io.BytesIO(stored)) as read_back:
        assert read_back.format == "JPEG"
        assert not read_back.getexif()
        assert "icc_profile" not in read_back.info
        assert read_back.size == (300, 400)
    thumbnail = world.call("physician", "GET", f"/photos/{photo['id']}/thumbnail")
    assert thumbnail.status_code == 200, thumbnail.content
    assert b"Exif" not in thumbnail.content
    with Image.open(io.BytesIO(thumbnail.content)) as small:
        assert max(small.size) <= 360
    reads = [(e.action, e.object_type, e.patient_id, e.username) for e in _audit_after(world, seq)]
    assert reads == [
        ("read", "photo", world.patient.id, "a-auditor"),
        ("read", "photo-thumbnail", world.patient.id, "a-physician"),
    ]


@pytest.mark.parametrize(
    ("upload", "field", "words"),
    [
        (_photo_upload(charting.bmp(), "scan.bmp"), "photo", "unsupported image format BMP"),
        (
            _photo_upload(b"Dear patient, this is a letter.\n" * 20, "letter.jpg"),
            "photo",
            "not an image",
        ),
        (_photo_upload(charting.png_bomb_header(), "bomb.png"), "photo", "decompression bomb"),
        (_photo_upload(charting.jpeg()[:300], "cut.jpg"), "photo", "damaged or truncated"),
        (
            Upload({}, {"indication": "glabellar-lines", "view": "at-rest", "timepoint": "before"}),
            "photo",
            "choose a photo",
        ),
        (_photo_upload(charting.jpeg(), view="profile"), "view", "not profile"),
        (_photo_upload(charting.jpeg(), timepoint="later"), "timepoint", "must be one of"),
        (_photo_upload(charting.jpeg(), indication=""), "indication", "is required"),
        (_photo_upload(charting.jpeg(), taken_on="25/11/2026"), "taken_on", "YYYY-MM-DD"),
        (_photo_upload(charting.jpeg(), taken_on="2999-01-01"), "taken_on", "in the future"),
        (_photo_upload(charting.jpeg(), session_id="the last one"), "session_id", "UUID"),
    ],
    ids=[
        "bmp",
        "text named .jpg",
        "bomb",
        "truncated",
        "no file",
        "unknown view",
        "unknown timepoint",
        "no indication",
        "not a date",
        "future",
        "not an id",
    ],
)
def test_a_refused_upload_names_the_field_and_stores_nothing(
    world: World, clinical_files: Path, upload: Upload, field: str, words: str
):
    world.patient  # noqa: B018
    seq = _last_seq(world)
    response = world.call("physician", "POST", "/patients/{patient}/photos", upload)
    assert response.status_code == 400, response.content
    [(named, message)] = _errors(response)
    assert named == field
    assert words in message
    assert not Photo.objects.exists()
    assert not [p for p in clinical_files.rglob("*") if p.is_file()]
    assert _audit_after(world, seq) == []


def test_a_session_of_another_indication_is_refused_for_a_photo(world: World, clinical_files: Path):
    response = world.call(
        "physician",
        "POST",
        "/patients/{patient}/photos",
        _photo_upload(charting.jpeg(), session_id=str(world.signed.id)),
    )
    assert response.status_code == 400, response.content
    assert [f for f, _ in _errors(response)] == ["session_id"]
    assert not Photo.objects.exists()
    assert not [p for p in clinical_files.rglob("*") if p.is_file()]


# -- consent forms ------------------------------------------------------------------------------


def test_the_signed_pdf_downloads_with_the_listed_sha256(world: World):
    form = world.consent_form
    listed = world.call("nurse_injector", "GET", "/patients/{patient}/consent-forms")
    assert listed.status_code == 200, listed.content
    [item] = listed.json()
    assert item["id"] == str(form.id)
    assert item["indication"] == "chronic-migraine"
    assert item["template_version"] == 1
    assert item["signer_role"] == "patient"
    assert item["consent_id"] == str(form.consent_id)
    assert item["withdrawn_on"] is None
    risks = consent_risks("chronic-migraine", "onabotulinumtoxinA")
    assert [r["code"] for r in item["risks"]] == [r.code for r in risks] != []

    seq = _last_seq(world)
    pdf = world.call("auditor", "GET", f"/consent-forms/{form.id}/pdf")
    assert pdf.status_code == 200, pdf.content
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == item["pdf_sha256"]
    assert pdf["X-Content-SHA256"] == item["pdf_sha256"]
    assert pdf["X-Content-Intact"] == "yes"
    [entry] = _audit_after(world, seq)
    assert (entry.action, entry.object_type, entry.patient_id) == (
        "read",
        "consent-form",
        world.patient.id,
    )


# -- saved plans and repeat last ----------------------------------------------------------------


def _points(session: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["site"], p["side"], p["units"]) for p in session["injections"]]


def test_a_plan_from_a_saved_plan_is_an_ordinary_checked_plan(world: World):
    shared = world.saved_plan
    own = save_plan(
        world.a.actor("physician"), name="My biceps", session_id=world.signed.id, shared=False
    )
    listed = world.call("nurse_injector", "GET", "/saved-plans")
    assert listed.status_code == 200, listed.content
    assert [(s["id"], s["shared"], s["total_units"]) for s in listed.json()] == [
        (str(shared.id), True, "300")
    ]
    assert {s["id"] for s in world.call("physician", "GET", "/saved-plans").json()} == {
        str(shared.id),
        str(own.id),
    }
    assert world.call("physician", "GET", "/saved-plans?product=abobotulinumtoxinA").json() == []
    refused = world.call(
        "nurse_injector",
        "POST",
        f"/saved-plans/{own.id}/sessions",
        {"patient_id": str(world.patient2.id)},
    )
    assert refused.status_code == 403, refused.content

    plan_date = (timezone.localdate() + timedelta(days=7)).isoformat()
    made = world.call(
        "nurse_injector",
        "POST",
        "/saved-plans/{saved_plan}/sessions",
        {"patient_id": str(world.patient2.id), "plan_date": plan_date},
    )
    assert made.status_code == 201, made.content
    session = made.json()
    assert session["status"] == "plan"
    assert session["patient_id"] == str(world.patient2.id)
    assert (session["product"], session["indication"]) == (
        "onabotulinumtoxinA",
        "upper-limb-spasticity",
    )
    assert session["plan_date"] == plan_date
    assert _points(session) == [("biceps-brachii", "left", "50")] * 6
    assert session["total_units"] == "300"
    rechecked = world.call("nurse_injector", "POST", f"/sessions/{session['id']}/check")
    assert session["check"]["verdict"] == rechecked.json()["verdict"]
    assert TreatmentSession.objects.get(pk=session["id"]).origin.saved_plan_id == shared.id


def test_repeat_last_repeats_the_same_product_only(world: World):
    world.signed  # noqa: B018 (BOTOX for spasticity, 6 x 50 U)
    before = TreatmentSession.objects.count()
    across = world.call(
        "physician",
        "POST",
        "/patients/{patient}/repeat-last",
        {"indication": "upper-limb-spasticity", "product": "abobotulinumtoxinA"},
    )
    assert across.status_code == 400, across.content
    [(field, message)] = _errors(across)
    assert field == "product"
    assert "never repeated across products" in message
    assert TreatmentSession.objects.count() == before

    repeated = world.call(
        "physician",
        "POST",
        "/patients/{patient}/repeat-last",
        {"indication": "upper-limb-spasticity", "product": "onabotulinumtoxinA"},
    )
    assert repeated.status_code == 201, repeated.content
    session = repeated.json()
    assert session["product"] == "onabotulinumtoxinA"
    assert session["plan_date"] == timezone.localdate().isoformat()
    assert _points(session) == [("biceps-brachii", "left", "50")] * 6
    assert TreatmentSession.objects.get(pk=session["id"]).origin.source_session_id == (
        world.signed.id
    )
    nothing = world.call(
        "physician",
        "POST",
        "/patients/{patient}/repeat-last",
        {"indication": "cervical-dystonia", "product": "onabotulinumtoxinA"},
    )
    assert nothing.status_code == 400, nothing.content
    assert [f for f, _ in _errors(nothing)] == ["product"]


# -- reminders ----------------------------------------------------------------------------------


def test_reminders_list_who_is_due_with_nothing_booked_as_json_and_csv(world: World):
    world.nurse_signed  # noqa: B018 (patient 2: chronic migraine two weeks ago, due in 70 days)
    due_on = (world.two_weeks_ago.date() + timedelta(days=84)).isoformat()

    soon = world.call("auditor", "GET", "/reminders?days=30")
    assert soon.status_code == 200, soon.content
    assert soon.json()["rows"] == []

    seq = _last_seq(world)
    listed = world.call("auditor", "GET", "/reminders?days=80")
    assert listed.status_code == 200, listed.content
    assert listed.json()["days"] == 80
    [row] = listed.json()["rows"]
    assert (row["patient_id"], row["indication"], row["due"]) == (
        str(world.patient2.id),
        "chronic-migraine",
        due_on,
    )
    assert row["contactable"] is False
    assert row["why_not"] == "no agreement to be contacted"
    assert [(e.action, e.patient_id) for e in _audit_after(world, seq)] == [
        ("read", world.patient2.id)
    ]

    seq = _last_seq(world)
    exported = world.call("auditor", "GET", "/reminders?days=80&format=csv")
    assert exported.status_code == 200, exported.content
    assert exported["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(r["record_number"], r["indication"], r["due"]) for r in rows] == [
        ("P-2", "chronic-migraine", due_on)
    ]
    assert [(e.action, e.patient_id) for e in _audit_after(world, seq)] == [
        ("disclose", world.patient2.id)
    ]

    booked = world.call(
        "front_desk",
        "POST",
        "/patients/{patient2}/appointments",
        {
            "indication": "chronic-migraine",
            "starts_at": datetime.combine(
                date.fromisoformat(due_on), datetime.min.time(), tzinfo=UTC
            ).isoformat(),
            "confirm": True,  # midnight: outside the opening hours
        },
    )
    assert booked.status_code == 201, booked.content
    assert world.call("auditor", "GET", "/reminders?days=80").json()["rows"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("?days=0", "days"), ("?days=366", "days"), ("?indication=hiccups", "indication")],
)
def test_a_bad_reminder_filter_names_the_field(world: World, query: str, field: str):
    response = world.call("physician", "GET", "/reminders" + query)
    assert response.status_code == 400, response.content
    assert [f for f, _ in _errors(response)] == [field]


# -- opening hours, warnings before booking, the reminder preview --------------------------------


def _next_weekday(weekday: int, hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=2)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_the_administrator_sets_the_opening_hours_and_everyone_reads_them(world: World):
    read = world.call("front_desk", "GET", "/clinic/opening-hours")
    assert read.status_code == 200, read.content
    assert read.json()["opening_hours"]["mon"] == [["08:00", "18:00"]]
    assert read.json()["opening_hours"]["sun"] == []
    week = {"mon": [["08:00", "12:30"], ["13:30", "18:00"]], "sat": [["09:00", "12:00"]]}
    put = world.call(
        "clinic_admin",
        "PUT",
        "/clinic/opening-hours",
        {"opening_hours": week, "contact_email": "desk@clinic.example"},
    )
    assert put.status_code == 200, put.content
    body = put.json()
    assert body["opening_hours"]["mon"] == week["mon"]
    assert body["opening_hours"]["tue"] == []  # a day left out is closed
    assert body["contact_email"] == "desk@clinic.example"
    assert body["reminder_reply_to"] == f"{world.a.clinic.name} <desk@clinic.example>"
    bad = world.call(
        "clinic_admin",
        "PUT",
        "/clinic/opening-hours",
        {"opening_hours": {"mon": [["12:00", "08:00"]]}},
    )
    assert bad.status_code == 400, bad.content
    assert _errors(bad) == [("opening_hours.mon[0]", "closes at 08:00, not after it opens")]
    unchanged = world.call("front_desk", "GET", "/clinic/opening-hours").json()
    assert unchanged["opening_hours"]["mon"] == week["mon"]


def test_an_overlapping_or_closed_time_is_refused_with_409_until_confirmed(world: World):
    first = {
        "indication": "chronic-migraine",
        "starts_at": _next_weekday(2, 10).isoformat(),
        "injector_id": str(world.a.physician.id),
    }
    assert (
        world.call("front_desk", "POST", "/patients/{patient}/appointments", first).status_code
        == 201
    )
    overlapping = {**first, "starts_at": _next_weekday(2, 10).replace(minute=15).isoformat()}
    warned = world.call("front_desk", "POST", "/patients/{patient}/appointments", overlapping)
    assert warned.status_code == 409, warned.content
    [(field, message)] = _errors(warned)
    assert field == "starts_at"
    assert "already has a visit 10:00–10:30" in message
    assert message.endswith("choose another time, or confirm to book it anyway")
    assert Appointment.objects.count() == 1
    sunday = {**first, "starts_at": _next_weekday(6, 10).isoformat()}
    closed = world.call("front_desk", "POST", "/patients/{patient}/appointments", sunday)
    assert closed.status_code == 409
    assert "outside the opening hours (Sunday: closed)" in _errors(closed)[0][1]
    confirmed = world.call(
        "front_desk", "POST", "/patients/{patient}/appointments", {**sunday, "confirm": True}
    )
    assert confirmed.status_code == 201, confirmed.content


def test_the_reminder_preview_shows_each_email_and_sends_nothing(world: World, mailoutbox):
    from bontrack.patients.services import update_patient

    world.nurse_signed  # noqa: B018 (patient 2: chronic migraine two weeks ago)
    update_patient(
        world.a.actor("physician"),
        world.patient2.id,
        timezone.localdate(),
        contact_agreed=True,
        contact_method="email",
        email="pat2@example.org",
    )
    seq = _last_seq(world)
    preview = world.call("nurse_injector", "GET", "/reminders/preview?days=80")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    [mail] = body["messages"]
    assert mail["to"] == "pat2@example.org"
    assert mail["subject"] == f"Time to book your next visit at {world.a.clinic.name}"
    assert "chronic migraine" in mail["body"]
    assert body["reply_to"].endswith("<desk@a.clinic.test>")
    assert len(body["digest"]) == 64
    assert mailoutbox == []
    assert [(e.action, e.object_type) for e in _audit_after(world, seq)] == [
        ("read", "reminder-preview")
    ]
    assert world.call("auditor", "GET", "/reminders/preview").status_code == 403

"""The charting pages (issue 9) with Django's test client: who opens which page, another
clinic's photos answer 404, a guessed address never serves a file, uploads and signatures
through the pages, and the hooks on the patient, session, plan and Today pages."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.charting.models import Photo, SignedConsentForm
from bontrack.charting.services import consent_forms, photos
from bontrack.charting.services.appointments import book_appointment
from tests import builders
from tests.charting import support
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db

ROLES = builders.CLINIC_A_PERSONAS
CHART = {"physician", "nurse_injector", "auditor", "clinic_admin"}
CLINICAL = {"physician", "nurse_injector"}


@pytest.fixture(autouse=True)
def clinical_files(settings, tmp_path: Path) -> Path:
    folder = tmp_path / "clinical-files"
    settings.STORAGES = {
        **settings.STORAGES,
        "clinical": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": "/nowhere/"},
        },
    }
    return folder


def _photo(pages: Pages, *, other: bool = False, **values) -> Photo:
    staff, patient = (pages.other, pages.other_patient) if other else (pages.staff, pages.patient)
    data = support.jpeg()
    values.setdefault("indication", "glabellar-lines")
    values.setdefault("view", "maximal-frown")
    values.setdefault("timepoint", "before")
    values.setdefault("taken_on", timezone.localdate())
    return photos.upload_photo(
        staff.actor("nurse"),
        patient.id,
        upload=__import__("io").BytesIO(data),
        size=len(data),
        today=timezone.localdate(),
        **values,
    )


def _signed_form(pages: Pages) -> SignedConsentForm:
    title, body = consent_forms.standard_wording("glabellar-lines")
    template = consent_forms.publish_template(
        pages.staff.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    return consent_forms.sign_consent_form(
        pages.staff.actor("nurse"),
        pages.patient.id,
        template_id=template.id,
        product="onabotulinumtoxinA",
        signer_name="Alex Doe",
        signer_role="patient",
        signature=support.signature(),
    )


@pytest.mark.parametrize("role", ROLES)
def test_the_charting_pages_open_for_the_roles_allowed_and_403_for_the_others(pages, role):
    photo = _photo(pages)
    _photo(pages, taken_on=timezone.localdate() - timedelta(days=90))
    form = _signed_form(pages)
    p = pages.patient.id
    allowed = {
        f"/patients/{p}/photos/": CHART,
        f"/patients/{p}/photos/compare?indication=glabellar-lines&view=maximal-frown": CHART,
        f"/photos/{photo.id}/image": CHART,
        f"/photos/{photo.id}/thumbnail": CHART,
        f"/patients/{p}/consent-form?indication=glabellar-lines": CLINICAL,
        f"/consent-forms/{form.id}.pdf": CHART,
        "/consent-forms/": CHART,
        "/appointments/": set(ROLES),
        "/reminders/": CHART,
        "/reminders.csv": CHART,
        "/saved-plans/": CLINICAL,
        f"/patients/{p}/": set(ROLES),
        f"/sessions/{pages.signed.id}/": CHART,
    }
    client = pages.client(role)
    for path, roles in allowed.items():
        response = client.get(path)
        expected = 200 if role in roles else 403
        assert response.status_code == expected, (role, path, response.status_code)
        if path.endswith("/image") and expected == 200:
            assert response["Content-Type"] == "image/jpeg"
            assert "no-store" in response["Cache-Control"]
            assert response.content.startswith(b"\xff\xd8")


def test_another_clinics_photos_and_forms_answer_404_and_are_logged(pages):
    theirs = _photo(pages, other=True)
    client = pages.client("physician")
    before = SecurityEvent.objects.filter(kind="refused-access").count()
    for path in (
        f"/photos/{theirs.id}/image",
        f"/photos/{theirs.id}/thumbnail",
        f"/patients/{pages.other_patient.id}/photos/",
        f"/patients/{pages.other_patient.id}/photos/compare?indication=glabellar-lines",
        f"/patients/{pages.other_patient.id}/consent-form",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"\xff\xd8" not in response.content
    assert SecurityEvent.objects.filter(kind="refused-access").count() == before + 5
    other = pages.client("other_clinic")
    mine = _photo(pages)
    assert other.get(f"/photos/{mine.id}/image").status_code == 404


def test_a_guessed_address_never_serves_a_file(pages, clinical_files):
    photo = _photo(pages)
    form = _signed_form(pages)
    client = pages.client("physician")
    stored = sorted(str(p.relative_to(clinical_files)) for p in clinical_files.rglob("*.*"))
    assert stored
    assert photo.file_name in stored
    assert form.pdf_name in stored
    guesses = [f"/photos/{uuid.uuid4()}/image", f"/consent-forms/{uuid.uuid4()}.pdf"]
    for name in stored:
        guesses += [f"/{name}", f"/media/{name}", f"/nowhere/{name}", f"/static/{name}"]
        guesses += [f"/clinical-files/{name}", f"/var/clinical-files/{name}"]
    for path in guesses:
        response = client.get(path)
        assert response.status_code == 404, path
        assert not response.content.startswith((b"\xff\xd8", b"%PDF")), path


def test_uploading_through_the_page_stores_a_clean_photo_or_says_why_not(pages):
    client = pages.client("nurse_injector")
    url = f"/patients/{pages.patient.id}/photos/"
    fields = {
        "indication": "glabellar-lines",
        "view": "maximal-frown",
        "timepoint": "before",
        "taken_on": timezone.localdate().isoformat(),
    }
    bad = SimpleUploadedFile("frown.jpg", b"just some text, not a photo" * 10, "image/jpeg")
    response = client.post(url, {**fields, "photo": bad}, follow=True)
    assert "The photo was not stored: nothing was stored: this file is not an image" in (
        response.content.decode()
    )
    assert not Photo.objects.exists()
    good = SimpleUploadedFile("frown.jpg", support.jpeg_with_gps(), "image/jpeg")
    response = client.post(url, {**fields, "photo": good}, follow=True)
    assert "Photo stored" in response.content.decode()
    photo = Photo.objects.get()
    page = client.get(url).content.decode()
    assert f"/photos/{photo.id}/thumbnail" in page
    assert 'accept="image/*"' in page
    # No capture attribute: a tablet offers its gallery and files besides the camera.
    assert 'id="photo-file" accept="image/*" required' in page
    image = client.get(f"/photos/{photo.id}/image").content
    assert b"Exif" not in image
    assert b"Clinic Tablet" not in image
    again = SimpleUploadedFile("frown.jpg", support.jpeg(), "image/jpeg")
    assert pages.client("auditor").post(url, {**fields, "photo": again}).status_code == 403


def test_compare_page_shows_both_dates_the_overlay_and_the_sessions_between(pages):
    first = _photo(pages, taken_on=pages.signed.plan_date - timedelta(days=1))
    last = _photo(pages, taken_on=timezone.localdate())
    body = (
        pages.client("physician")
        .get(
            f"/patients/{pages.patient.id}/photos/compare?indication=glabellar-lines"
            "&view=maximal-frown"
        )
        .content.decode()
    )
    assert f"/photos/{first.id}/image" in body
    assert f"/photos/{last.id}/image" in body
    assert 'type="range"' in body
    assert "data-ghost" in body
    assert "No signed session between these two photos." in body  # the spasticity session is
    # another indication's


def test_signing_a_consent_on_the_page_and_reading_its_pdf(pages):
    title, body = consent_forms.standard_wording("glabellar-lines")
    consent_forms.publish_template(
        pages.staff.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    client = pages.client("nurse_injector")
    url = f"/patients/{pages.patient.id}/consent-form"
    page = client.get(url + "?indication=glabellar-lines&product=onabotulinumtoxinA").content
    assert b"Eyelid ptosis" in page
    assert b"signature-pad" in page
    assert b"signature-pad.js" in page
    template = consent_forms.current_template(pages.staff.clinic.id, "glabellar-lines")
    fields = {
        "indication": "glabellar-lines",
        "product": "onabotulinumtoxinA",
        "template_id": str(template.id),
        "signer_name": "Alex Doe",
        "signer_role": "patient",
    }
    refused = client.post(url, {**fields, "signature": support.blank_signature()})
    assert b"the signature pad is empty" in refused.content
    response = client.post(url, {**fields, "signature": support.signature()}, follow=True)
    assert "Consent signed and stored as a PDF" in response.content.decode()
    form = SignedConsentForm.objects.get()
    pdf = pages.client("auditor").get(f"/consent-forms/{form.id}.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == form.pdf_sha256 == pdf["X-Content-SHA256"]
    assert pdf["X-Content-Intact"] == "yes"
    patient_page = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert f"/consent-forms/{form.id}.pdf" in patient_page
    withdrawn = client.post(
        f"/patients/{pages.patient.id}/consents/{form.consent_id}/withdraw",
        {"reason": "Changed her mind"},
        follow=True,
    )
    assert "Withdrawal recorded" in withdrawn.content.decode()
    form.consent.refresh_from_db()
    assert form.consent.withdrawn_on is not None


def test_repeat_last_from_the_patient_page_opens_a_checked_plan_with_the_changes_first(pages):
    client = pages.client("physician")
    page = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert "Repeat last: Adult upper limb spasticity · BOTOX 300 U" in page
    response = client.post(
        f"/patients/{pages.patient.id}/repeat-last",
        {"indication": "upper-limb-spasticity", "product": "onabotulinumtoxinA"},
    )
    assert response.status_code == 302
    editor = client.get(response["Location"]).content.decode()
    assert "Changed since the last visit" in editor
    assert 'id="workspace"' in editor
    refused = client.post(
        f"/patients/{pages.patient.id}/repeat-last",
        {"indication": "upper-limb-spasticity", "product": "abobotulinumtoxinA"},
        follow=True,
    )
    assert "never repeated across products" in refused.content.decode()


def test_the_signed_session_proposes_the_next_visit_and_books_it(pages):
    client = pages.client("physician")
    body = client.get(f"/sessions/{pages.signed.id}/").content.decode()
    assert "Next visit" in body
    assert "Book the next visit" in body
    due = pages.signed.plan_date + timedelta(days=84)
    assert due.strftime("%A %-d %B %Y") in body
    response = client.post(
        f"/patients/{pages.patient.id}/appointments",
        {
            "indication": "upper-limb-spasticity",
            "starts_at": f"{due.isoformat()}T10:00",
            "proposed_by_session_id": str(pages.signed.id),
            "next": f"/sessions/{pages.signed.id}/",
        },
    )
    assert response["Location"] == f"/sessions/{pages.signed.id}/"
    assert "booked" in client.get(f"/sessions/{pages.signed.id}/").content.decode()
    # A foreign address is never where the form sends you.
    evil = client.post(
        f"/patients/{pages.patient.id}/appointments",
        {"indication": "upper-limb-spasticity", "starts_at": "x", "next": "//evil.example/"},
    )
    assert evil["Location"].startswith("/patients/")


def test_todays_appointments_are_on_the_today_page_for_the_front_desk(pages):
    book_appointment(
        pages.staff.actor("front_desk"),
        pages.patient.id,
        indication="chronic-migraine",
        # Noon of the clinic's today (UTC): "in five minutes" is tomorrow after 23:55.
        starts_at=timezone.now().replace(hour=12, minute=0, second=0, microsecond=0),
        confirm=True,  # today may be a day the clinic is closed
    )
    body = pages.client("front_desk").get("/").content.decode()
    assert "Appointments today" in body
    assert "Doe, Alex" in body
    assert AuditEntry.objects.filter(object_type="appointment-book").exists()


def test_reminders_page_sends_and_exports(pages, mailoutbox):
    body = pages.client("nurse_injector").get("/reminders/?days=60").content.decode()
    assert "Reminders" in body
    response = pages.client("nurse_injector").get("/reminders.csv?days=60")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().startswith("record_number,given_name")
    assert pages.client("auditor").post("/reminders/", {"days": "30"}).status_code == 403

"""Issue 9 in a real browser (Playwright driving Debian's Chromium), in the demo clinic: the
nurse injector takes before photos of Elena (glabellar lines), has her sign the consent on the
pad, repeats last visit's 20 U, signs, and compares the photos of three visits side by side and
as a ghost overlay; then the patients due next month with nothing booked get a reminder e-mail
and appear in the CSV. Screenshots 20 to 29 go to var/screenshots/ (look at them)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core import mail

from bontrack.audit.services import verify_clinic_chain
from bontrack.charting.models import Photo, SignedConsentForm
from bontrack.ops.demo_charting import face
from bontrack.treatments.models import TreatmentSession
from tests.web.test_browser import SHOTS, browser, shot  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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


def _images_loaded(page) -> None:
    """Every image of the page has loaded (polled from here: the pages' CSP forbids the string
    evaluation that Playwright's wait_for_function uses)."""
    for _ in range(100):
        if page.locator("img").evaluate_all(
            "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)"
        ):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the page's images did not load")


def _sign_on(page, selector: str) -> None:
    """Write a signature on the pad with the mouse: three strokes."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    for n in range(3):
        start = x + w * (0.1 + n * 0.28)
        page.mouse.move(start, y + h * 0.75)
        page.mouse.down()
        for step in range(1, 13):
            page.mouse.move(start + step * w * 0.018, y + h * (0.75 - 0.5 * ((step % 6) / 6)))
        page.mouse.up()


def test_photos_consent_on_the_pad_repeat_last_compare_and_reminders(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Patient

    demo = build_demo()
    elena = Patient.objects.get(clinic=demo.clinic, record_number="BT-0007")
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    base = live_server.url

    page.goto(f"{base}/login/")
    page.fill("#id_username", "nurse")
    page.fill("#id_password", demo.passwords["nurse"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")
    expect(page.locator("#appointments-today")).to_contain_text("Rossi, Elena")
    shot(page, "20-today-appointments")

    # Before photos, from the tablet's camera (here: files of the same kind).
    page.goto(f"{base}/patients/{elena.id}/photos/?indication=glabellar-lines")
    for view, depth in (("at-rest", 0.9), ("maximal-frown", 0.9)):
        page.select_option("#photo-view", view)
        page.select_option("#photo-timepoint", "before")
        page.set_input_files(
            "#photo-file",
            files=[{"name": f"{view}.jpg", "mimeType": "image/jpeg", "buffer": face(view, depth)}],
        )
        page.click("#photo-upload button[type=submit]")
        expect(page.locator(".alert.success")).to_contain_text("Photo stored")
    expect(page.locator("#photo-rows .photo-tile")).to_have_count(8)
    _images_loaded(page)
    shot(page, "21-photos")

    # Her consent ran out: she signs the glabellar form on the pad.
    page.goto(f"{base}/patients/{elena.id}/")
    page.click("text=Sign a consent form")
    page.select_option("#consent-indication", "glabellar-lines")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#risks")).to_contain_text("Eyelid ptosis")
    expect(page.locator("#risks")).not_to_contain_text("Facial paresis")  # Daxxify's, not BOTOX's
    page.click("#sign-consent")  # an empty pad is refused on the page
    expect(page.locator("[data-pad-error]")).to_be_visible()
    _sign_on(page, "#pad-patient")
    expect(page.locator("#pad-patient")).to_have_class("signature-pad signed")
    shot(page, "22-consent-pad")
    page.click("#sign-consent")
    expect(page.locator(".alert.success")).to_contain_text("Consent signed and stored as a PDF")
    expect(page.locator("#consent-forms")).to_contain_text("valid")
    shot(page, "28-patient-charting")
    form = SignedConsentForm.objects.get(patient=elena)
    pdf = page.request.get(f"{base}/consent-forms/{form.id}.pdf")
    assert pdf.body().startswith(b"%PDF")
    assert pdf.headers["x-content-sha256"] == form.pdf_sha256
    (SHOTS / "consent.pdf").write_bytes(pdf.body())

    # Repeat last visit's 20 U: a normal plan, checked; what changed comes first.
    page.locator("button.repeat-last", has_text="glabellar lines · BOTOX 20 U").click()
    expect(page.locator("#changes-since")).to_contain_text("Changed since the last visit")
    expect(page.locator("#totals")).to_contain_text("20 U")
    page.locator("#vials form", has_text="Reconstitute").first.locator("button").click()
    expect(page.locator("#vials .vial.chosen")).to_have_count(1)
    acknowledge = page.locator("#findings button", has_text="Acknowledge")
    while left := acknowledge.count():
        acknowledge.first.click()
        expect(acknowledge).to_have_count(left - 1)  # the findings re-rendered
    expect(page.locator("#sign button.go")).to_be_enabled()
    shot(page, "23-repeat-last-plan")
    if page.locator("#sign-confirm").count():  # signing asks for the password again
        page.fill("#sign-confirm", demo.passwords["nurse"])
    page.click("#sign button.go")
    expect(page.locator(".page-head .badge")).to_contain_text("Signed")
    signed = TreatmentSession.objects.filter(patient=elena, signed_at__isnull=False).latest(
        "signed_at"
    )
    assert signed.signed_by_id == demo.members["nurse"].id
    assert signed.session_vials.get().drawn_units == 20  # the draw is stored with the signature
    expect(page.locator("#next-visit")).to_contain_text("Due from")
    shot(page, "24-signed-next-visit")

    # Three visits side by side, two of them compared, and the ghost overlay.
    page.goto(
        f"{base}/patients/{elena.id}/photos/compare?indication=glabellar-lines&view=maximal-frown"
    )
    expect(page.locator("#visits .visit")).to_have_count(3)
    expect(page.locator("#between tbody tr")).to_have_count(2)
    _images_loaded(page)
    shot(page, "25-compare")
    page.locator("#ghost-opacity").fill("80")
    expect(page.locator("#ghost-value")).to_have_text("80 %")
    opacity = page.locator("[data-ghost] img.top").evaluate("img => img.style.opacity")
    assert opacity == "0.8"
    page.locator("#overlay").screenshot(path=str(SHOTS / "26-ghost-overlay.png"))
    assert (
        Photo.objects.filter(patient=elena, view="maximal-frown", timepoint="before").count() == 3
    )

    # Due next month with nothing booked: the reminder e-mails, and the CSV for phoning.
    mail.outbox.clear()
    page.goto(f"{base}/reminders/?days=31")
    expect(page.locator("#reminder-list")).to_contain_text("Kim, Grace")
    expect(page.locator("#reminder-list")).to_contain_text("Brandt, Hugo")
    expect(page.locator("#reminder-list")).not_to_contain_text("Rossi, Elena")
    shot(page, "27-reminders")
    page.click("#preview-reminders")
    expect(page.locator("h1")).to_contain_text("Preview the reminders")
    assert mail.outbox == []
    page.click("#send-reminders")
    expect(page.locator(".alert.success")).to_contain_text("sent")
    assert "grace.kim@example.org" in {m.to[0] for m in mail.outbox}
    assert "hugo.brandt@example.org" not in {m.to[0] for m in mail.outbox}
    text = page.request.get(f"{base}/reminders.csv?days=31").text()
    records = {row["record_number"] for row in csv.DictReader(io.StringIO(text))}
    assert {"BT-0008", "BT-0009"} <= records
    assert "BT-0007" not in records

    page.goto(f"{base}/appointments/")
    expect(page.locator("h1")).to_contain_text("Appointments")
    shot(page, "29-appointments")

    assert errors == [], errors
    assert verify_clinic_chain(demo.clinic.id).intact
    context.close()

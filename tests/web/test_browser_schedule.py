"""The schedule, photos and reminders on a tablet (1024×768) in a real browser, in the demo clinic:
the photo input lets the tablet offer its gallery (no forced camera) and any after photo goes
beside a before photo from the page; the front desk books from the week view's free slots and is
warned before double-booking the patient; the reminder e-mails are previewed, name no treatment
in the subject and come from the clinic's address. Screenshots 60 to 66 go to var/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail

from bontrack.charting.models import Appointment, Photo
from tests.web.test_browser import browser, shot  # noqa: F401 (the browser fixture)

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


def _sign_in(browser, base: str, username: str, password: str):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1024, "height": 768}, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")
    return page


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_photos_compare_any_after_photo_beside_a_before_photo_on_a_tablet(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Patient

    demo = build_demo()
    elena = Patient.objects.get(clinic=demo.clinic, record_number="BT-0007")
    page = _sign_in(browser, live_server.url, "nurse", demo.passwords["nurse"])
    page.goto(f"{live_server.url}/patients/{elena.id}/photos/?indication=glabellar-lines")
    file_input = page.locator("#photo-file")
    assert file_input.get_attribute("capture") is None  # the tablet offers gallery and files too
    assert file_input.get_attribute("accept") == "image/*"
    expect(page.locator("#upload")).to_contain_text("pick it from the gallery")

    page.goto(
        f"{live_server.url}/patients/{elena.id}/photos/compare"
        "?indication=glabellar-lines&view=maximal-frown"
    )
    after = Photo.objects.filter(patient=elena, view="maximal-frown", timepoint="after").latest(
        "taken_on"
    )
    before = Photo.objects.filter(patient=elena, view="maximal-frown", timepoint="before").latest(
        "taken_on"
    )
    # Any two photos from the page: the last visit's before photo beside its after photo.
    page.select_option("#pick-a", str(before.id))
    page.select_option("#pick-b", str(after.id))
    page.click("#compare-pick button[type=submit]")
    pair = page.locator("#side-by-side figcaption")
    expect(pair.nth(0)).to_contain_text(before.taken_on.strftime("%-d %b %Y"))
    expect(pair.nth(0)).to_contain_text("Before treatment")
    expect(pair.nth(1)).to_contain_text(after.taken_on.strftime("%-d %b %Y"))
    expect(pair.nth(1)).to_contain_text("After treatment")
    # Each after photo's own button puts it beside the photo on the left.
    expect(page.locator("#other-photos a.button").first).to_contain_text("Beside")
    _no_sideways_scroll(page)
    shot(page, "60-compare-before-after-tablet")
    assert page.errors == [], page.errors


def test_book_from_a_free_slot_and_be_warned_before_double_booking(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from bontrack.ops.demo import build_demo

    demo = build_demo()
    page = _sign_in(browser, live_server.url, "frontdesk", demo.passwords["frontdesk"])
    page.goto(f"{live_server.url}/appointments/")
    expect(page.locator("#opening-hours")).to_contain_text("Sunday")
    expect(page.locator("#opening-hours")).to_contain_text("closed")
    slots = page.locator(".slot:not(.busy)")
    assert slots.count() >= 5 * 20  # five open days of 08:00 to 18:00 in half hours
    sunday = page.locator(".appointment-day").filter(has_text="Sunday")
    expect(sunday.locator(".slot")).to_have_count(0)
    _no_sideways_scroll(page)
    shot(page, "61-week-slots-tablet")

    slot = page.locator(".appointment-day .slot:not(.busy)").nth(4)
    label = slot.get_attribute("aria-label")
    slot.click()
    expect(page.locator("h1")).to_contain_text("Book an appointment")
    page.fill("#ap-q", "Rossi")
    page.click("#find-patient button[type=submit]")
    page.click("#patient-matches a:has-text('Rossi, Elena')")
    page.select_option("#ap-ind", "glabellar-lines")
    shot(page, "62-book-from-slot-tablet")
    page.click("#book-slot")
    expect(page.locator(".alert.success")).to_contain_text("Booked for")
    booked = Appointment.objects.filter(patient__record_number="BT-0007").count()

    # The same half hour again for the same patient: a warning, nothing booked until confirmed.
    page.locator(f".slot[aria-label^='{label.split(',')[0]}']").click()
    page.fill("#ap-q", "BT-0007")
    page.click("#find-patient button[type=submit]")
    page.click("#patient-matches a:has-text('Rossi, Elena')")
    page.click("#book-slot")
    expect(page.locator("h1")).to_contain_text("Check before booking")
    expect(page.locator("#booking-warnings")).to_contain_text("Elena Rossi already has a visit")
    assert Appointment.objects.filter(patient__record_number="BT-0007").count() == booked
    shot(page, "63-double-booking-warning-tablet")
    page.click("#book-anyway")
    expect(page.locator(".alert.success")).to_contain_text("Booked for")
    assert Appointment.objects.filter(patient__record_number="BT-0007").count() == booked + 1
    assert page.errors == [], page.errors


def test_reminders_are_previewed_then_sent_from_the_clinics_address(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from bontrack.ops.demo import build_demo

    demo = build_demo()
    mail.outbox.clear()
    page = _sign_in(browser, live_server.url, "nurse", demo.passwords["nurse"])
    page.goto(f"{live_server.url}/reminders/?days=31")
    expect(page.locator("#reminder-sender")).to_contain_text("reception@demo-clinic.example")
    page.click("#preview-reminders")
    expect(page.locator("h1")).to_contain_text("Preview the reminders")
    mail_card = page.locator(".reminder-mail").filter(has_text="Grace")
    expect(mail_card).to_contain_text("grace.kim@example.org")
    expect(mail_card.locator(".mail-head")).to_contain_text("Time to book your next visit at")
    expect(mail_card.locator(".mail-head")).not_to_contain_text("glabellar")
    expect(mail_card.locator(".mail-body")).to_contain_text("call us on +44 20 7946 0100")
    expect(page.locator("#confirm-send")).not_to_contain_text("Brandt")  # phone calls only
    count = page.locator(".reminder-mail").count()
    assert mail.outbox == []  # nothing goes before the confirm step
    _no_sideways_scroll(page)
    shot(page, "64-reminder-preview-tablet")
    page.click("#send-reminders")
    expect(page.locator(".alert.success")).to_contain_text(f"{count} reminders sent")
    assert len(mail.outbox) == count
    [message] = [m for m in mail.outbox if m.to == ["grace.kim@example.org"]]
    assert "glabellar" not in message.subject.lower()
    assert message.reply_to == [
        "Demo Neurology & Aesthetics Clinic <reception@demo-clinic.example>"
    ]
    assert page.errors == [], page.errors

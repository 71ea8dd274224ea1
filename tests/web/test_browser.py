"""The clinician's whole flow in a real browser: Playwright driving Debian's Chromium.

sign in → plan PREEMPT on the body map → see the cumulative-dose block → override it with a reason
→ sign → print the note → recall the lot → the patient appears in the recall list.

Screenshots of the main pages go to var/screenshots/ (look at them: the pages must be clean).
Without /usr/bin/chromium the test skips saying why; under CI=true it fails instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from bontrack.audit.services import verify_clinic_chain
from bontrack.treatments.models import TreatmentSession
from tests import builders
from tests.conftest import in_ci

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# One folder whichever test worker takes the picture (settings.VAR_DIR is the worker's own).
SHOTS = (
    Path(os.environ.get("BONTRACK_VAR_DIR") or Path(__file__).parents[2] / "var") / "screenshots"
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = (
            "browser tests need Debian's Chromium at /usr/bin/chromium "
            "(apt-get install chromium; .ci/run installs it)"
        )
        if in_ci():
            pytest.fail(f"{reason} (CI=true: a test that needs Chromium fails)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django then refuses ORM
    # calls unless told that this (test) thread is synchronous code.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            yield chromium
            chromium.close()


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_sign_in_plan_preempt_override_sign_print_and_recall(browser, live_server):
    from playwright.sync_api import expect

    # A stroke survivor: 300 U for arm spasticity six weeks ago, now to be treated for migraine.
    s = builders.staff()
    p = builders.patient(s, weight_kg=Decimal(82))
    builders.consent(s, p, "chronic-migraine")
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=60))
    stock = builders.lot(s, number="C7421A", vials=4)
    earlier = timezone.now() - timedelta(weeks=6)
    builders.signed_session(
        s,
        p,
        earlier,
        builders.open_vial(s, stock, at=earlier - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[builders.sessions.PointInput("biceps-brachii", "left", Decimal(50))] * 6,
    )

    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    base = live_server.url

    # Sign in.
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    shot(page, "01-sign-in")
    page.fill("#id_username", "a-physician")
    page.fill("#id_password", s.password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")
    shot(page, "02-today")

    # Find the patient and plan PREEMPT.
    page.fill("input[name=q]", "Doe")
    page.press("input[name=q]", "Enter")
    page.click("text=Doe, Alex")
    expect(page.locator("h1")).to_contain_text("Alex Doe")
    shot(page, "03-patient")
    page.click("text=Plan a session")
    expect(page.locator("#indication")).to_have_value("chronic-migraine")
    expect(page.locator("input[name=protocol][value=preempt-155]")).to_be_checked()
    page.click("text=Create the plan")
    expect(page.locator("#totals")).to_contain_text("155 U")

    # The body map: 31 points; a click on one opens its editor, and the totals follow a change.
    markers = page.locator(".bodymaps .bm-point")
    expect(markers).to_have_count(31)
    page.locator('.bm-point[data-site="procerus"]').click()
    expect(page.locator("#point-editor")).to_contain_text("Procerus")
    page.fill("#point-units", "10")
    page.click("#point-editor button[value=save]")
    expect(page.locator("#totals")).to_contain_text("160 U")
    page.locator('.bm-point[data-site="procerus"]').click()
    page.fill("#point-units", "5")
    page.click("#point-editor button[value=save]")
    expect(page.locator("#totals")).to_contain_text("155 U")
    expect(page.locator("#point-editor")).to_have_count(0)

    # The cumulative-dose block, with its numbers and source.
    block = page.locator('.finding[data-rule="cumulative-dose"]')
    expect(block).to_contain_text("455 U")
    expect(block).to_contain_text("400 U")
    expect(block).to_contain_text("Source:")
    expect(page.locator("#findings .verdict")).to_contain_text("Blocked")
    expect(page.locator("#sign button.go")).to_be_disabled()
    shot(page, "04-plan-blocked")

    # Reconstitute a vial of the lot for this plan: mL per point appear.
    page.locator("#vials form", has_text="Reconstitute").first.locator("button").click()
    expect(page.locator("#totals")).to_contain_text("5 U per 0.1 mL")
    expect(page.locator("#vials .vial.chosen")).to_contain_text("C7421A")

    # Override the block with a reason (a prescriber), acknowledge every warning.
    block.locator("textarea").fill("Migraine disabling; spasticity dose was the minimum, reviewed.")
    block.locator("input.confirm").fill(s.password)  # overriding asks for the password again
    block.locator("button", has_text="Override").click()
    expect(page.locator('.finding[data-rule="cumulative-dose"] .decided')).to_contain_text(
        "Overridden by Pat Physician"
    )
    acknowledge = page.locator("#findings button", has_text="Acknowledge")
    while left := acknowledge.count():
        acknowledge.first.click()
        expect(acknowledge).to_have_count(left - 1)  # the findings re-rendered
    expect(page.locator("#sign button.go")).to_be_enabled()
    shot(page, "05-plan-ready")

    # A tablet in landscape sees the same editor, one column.
    page.set_viewport_size({"width": 1024, "height": 768})
    shot(page, "06-plan-tablet")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Sign, with the password again.
    page.fill("#sign-confirm", s.password)
    page.click("#sign button.go")
    expect(page.locator("h1")).to_contain_text("Chronic migraine")
    expect(page.locator(".page-head .badge")).to_contain_text("Signed")
    session = TreatmentSession.objects.get(patient=p, indication="chronic-migraine")
    assert session.is_signed
    assert session.signed_by_id == s.physician.id
    shot(page, "07-signed")

    # The printable note, and its PDF.
    page.click("text=Procedure note")
    expect(page.locator("h1")).to_contain_text("procedure note")
    note = page.locator("article.note")
    expect(note).to_contain_text("C7421A")
    expect(note).to_contain_text("5 U per 0.1 mL")
    expect(note).to_contain_text("Migraine disabling")
    expect(note).to_contain_text(session.catalog_version)
    expect(note).to_contain_text("Pat Physician")
    shot(page, "08-note")
    page.emulate_media(media="print")
    shot(page, "09-note-print")
    page.emulate_media(media="screen")
    pdf = page.request.get(f"{base}/sessions/{session.id}/note.pdf")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    (SHOTS / "note.pdf").write_bytes(pdf.body())

    # Recall the lot: the patient appears in the recall list, with contact details.
    page.goto(f"{base}/inventory/")
    shot(page, "10-inventory")
    page.click("text=C7421A")
    page.click("summary:has-text('Mark this lot recalled')")
    page.fill("#recall-reason", "Manufacturer notice 2026-11")
    page.click("button:has-text('Recall lot C7421A')")
    exposures = page.locator("#exposures")
    expect(exposures).to_contain_text("Alex Doe")
    expect(exposures).to_contain_text("P-1")
    expect(exposures.locator("tbody tr")).to_have_count(2)
    shot(page, "11-recall")
    csv = page.request.get(f"{base}/inventory/lots/{stock.id}/exposures.csv")
    assert csv.status == 200
    assert "Alex Doe" in csv.text()

    page.goto(f"{base}/")
    expect(page.locator("#recalls")).to_contain_text("C7421A")
    shot(page, "12-today-after-recall")

    # An address that does not exist: a plain page, never a trace.
    page.goto(f"{base}/patients/00000000-0000-0000-0000-000000000000/")
    expect(page.locator("h1")).to_have_text("Not found")
    shot(page, "13-not-found")

    assert errors == [], errors
    assert verify_clinic_chain(s.clinic.id).intact
    context.close()


def test_outcome_charts_and_the_due_page_of_the_demo_clinic(browser, live_server):
    """The demo clinic's follow-up in a real browser: Maria's headache days (a 50 % responder,
    with the baseline, 30 % and 50 % lines), Owen's (NICE TA260 says stop), James's Modified
    Ashworth per muscle group (by rank), and the Due page. Screenshots: 14 to 17."""
    from playwright.sync_api import expect

    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Patient

    demo = build_demo()
    record = {
        p.record_number: p.id for p in Patient.objects.filter(clinic=demo.clinic).order_by("id")
    }
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("#id_username", "physician")
    page.fill("#id_password", demo.passwords["physician"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")

    page.goto(f"{base}/patients/{record['BT-0001']}/#outcomes")
    migraine = page.locator("#outcomes-chronic-migraine")
    expect(migraine.locator(".outcome-verdict").first).to_contain_text(
        "responder (−52 % after 2 cycles)"
    )
    expect(migraine.locator(".outcome-svg").first).to_contain_text("baseline 25")
    shot(page, "14-patient-outcomes")

    page.goto(f"{base}/patients/{record['BT-0006']}/")
    owen = page.locator("#outcomes-chronic-migraine .outcome").first
    expect(owen.locator(".outcome-verdict")).to_contain_text("NICE TA260 stopping rule")
    owen.screenshot(path=str(SHOTS / "15-outcome-stop.png"))

    page.goto(f"{base}/patients/{record['BT-0002']}/")
    arm = page.locator("#outcomes-upper-limb-spasticity")
    expect(arm.locator(".outcome-svg")).to_have_count(2)
    # The form's value field follows the scale: MAS asks for a level and the muscle group.
    arm.locator("summary", has_text="Record a result").click()
    expect(arm.locator("select[name=value]")).to_contain_text("1+")
    # (The hidden muscle group beside it belongs to "Continue despite this verdict".)
    muscle_group = arm.locator("input[name=muscle_group]:not([type=hidden])")
    expect(muscle_group).to_be_visible()
    arm.locator("select[name=scale]").select_option("gas-t-score")
    expect(arm.locator("input[name=value][type=number]")).to_be_visible()
    expect(muscle_group).to_have_count(0)
    arm.screenshot(path=str(SHOTS / "16-outcome-ashworth.png"))

    page.goto(f"{base}/due/")
    expect(page.locator("h1")).to_contain_text("Due for retreatment")
    expect(page.locator("#due-list")).to_contain_text("BT-0001")
    shot(page, "17-due")

    # The adverse-event report: an event after Maria's last session, counted by severity.
    from bontrack.audit.services import Actor
    from bontrack.outcomes.services import record_adverse_event
    from bontrack.treatments.models import TreatmentSession

    last = TreatmentSession.objects.filter(patient_id=record["BT-0001"]).latest("plan_date")
    record_adverse_event(
        Actor(demo.members["physician"], "127.0.0.1"),
        last.id,
        term="neck-pain",
        onset_date=last.plan_date + timedelta(days=2),
        severity="mild",
        serious=False,
        relatedness="probable",
        outcome="recovered",
    )
    page.goto(f"{base}/reports/adverse-events/")
    expect(page.locator(".ae-group")).to_contain_text("Neck pain")
    shot(page, "18-ae-report")

    # A headache diary with a bad row, checked first (a dry run lists it by line and column).
    page.goto(f"{base}/patients/{record['BT-0001']}/diary")
    page.set_input_files(
        "#diary-file",
        files=[
            {
                "name": "diary.csv",
                "mimeType": "text/csv",
                "buffer": b"date,headache,migraine,hours,acute_medication\n"
                b"2026-01-01,yes,no,3,yes\n2026-01-02,perhaps,no,,no\n",
            }
        ],
    )
    page.click("button[value=dry-run]")
    expect(page.locator("#diary-errors")).to_contain_text("headache")
    shot(page, "19-diary-dry-run")
    assert errors == [], errors
    context.close()

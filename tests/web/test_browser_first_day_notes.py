"""A clinic's first day in Chromium: the note and technique typed before signing (kept while the
points change, signed with the record), the banner once every block is overridden, a draft
cancelled from the editor, the consent block leading to the form, and the front desk's Today
without treatments, products or units. Screenshots: var/screenshots/first-day-*.png."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.charting.services import consent_forms
from bontrack.treatments import services
from bontrack.treatments.models import TreatmentSession
from tests import builders
from tests.web.test_browser import browser, shot  # noqa: F401  (the module's Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTE = "Examination: 18 headache days last month, tender trapezius.\nTolerance: good."


def signed_in(browser, base: str, username: str, password: str, size=(1280, 800)):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")
    return context, page, problems


def world():
    s = builders.staff()
    p = builders.patient(s, weight_kg=Decimal(82))
    builders.consent(s, p, "chronic-migraine")
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=60))
    stock = builders.lot(s, number="C7421A", vials=6)
    earlier = timezone.now() - timedelta(weeks=6)
    builders.signed_session(
        s,
        p,
        earlier,
        builders.open_vial(s, stock, at=earlier - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[builders.sessions.PointInput("biceps-brachii", "left", Decimal(50))] * 6,
    )
    return s, p, stock


def plan_for(s, p, indication="chronic-migraine", protocol="preempt-155"):
    return services.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication=indication,
        plan_date=timezone.localdate(),
        protocol=protocol,
    )


def test_a_note_typed_before_signing_survives_point_changes_and_is_signed(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s, p, _ = world()
    session = plan_for(s, p)
    context, page, problems = signed_in(browser, live_server.url, "a-physician", s.password)
    page.goto(f"{live_server.url}/sessions/{session.id}/")
    expect(page.locator("#findings .verdict")).to_contain_text("Blocked")

    page.fill("#note-text", NOTE)
    page.select_option("#note-guidance", "emg")
    page.fill("#note-needle", "30 G 13 mm")
    # A change of points re-renders the workspace: the typed note stays.
    page.locator('.bm-point[data-site="procerus"]').click()
    page.fill("#point-units", "5")
    page.click("#point-editor button[value=save]")
    expect(page.locator("#point-editor")).to_have_count(0)
    expect(page.locator("#note-text")).to_have_value(NOTE)

    block = page.locator('.finding[data-rule="cumulative-dose"]')
    block.locator("textarea").fill("Migraine disabling; spasticity dose was the minimum.")
    block.locator("input.confirm").fill(s.password)
    block.locator("button", has_text="Override").click()
    expect(block.locator(".decided")).to_contain_text("Overridden")
    acknowledge = page.locator("#findings button", has_text="Acknowledge")
    while left := acknowledge.count():
        acknowledge.first.click()
        expect(acknowledge).to_have_count(left - 1)  # the findings re-rendered
    verdict = page.locator("#findings .verdict")
    expect(verdict).not_to_contain_text("Blocked")
    expect(verdict).to_contain_text("Every block was overridden by a prescriber")
    page.locator("#vials form", has_text="Reconstitute").first.locator("button").click()
    expect(page.locator("#vials .vial.chosen")).to_have_count(1)

    for name, size in (("desktop", (1280, 800)), ("tablet", (1024, 768)), ("phone", (390, 844))):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.locator("#note").scroll_into_view_if_needed()
        shot(page, f"first-day-plan-note-{name}")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.fill("#sign-confirm", s.password)
    page.click("#sign button.go")
    expect(page.locator(".page-head .badge")).to_contain_text("Signed")
    signed = TreatmentSession.objects.get(pk=session.pk)
    assert signed.notes == NOTE
    assert (signed.guidance, signed.needle) == ("emg", "30 G 13 mm")
    assert services.verify_digest(signed)
    expect(page.locator("#record-note")).to_contain_text("18 headache days last month")
    expect(page.locator("#technique")).to_contain_text("EMG")
    expect(page.locator("text=BLOCKS OVERRIDDEN")).to_be_visible()
    shot(page, "first-day-signed-with-note")
    page.click("text=Aftercare sheet")
    expect(page.locator("h1")).to_contain_text("After your botulinum toxin treatment")
    expect(page.locator("#aftercare")).to_contain_text("Neck pain or stiffness")
    shot(page, "first-day-aftercare")
    assert problems == [], problems
    context.close()


def test_a_draft_is_cancelled_from_the_editor_and_leaves_today(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s, p, _ = world()
    session = plan_for(s, p)
    context, page, problems = signed_in(browser, live_server.url, "a-nurse", s.password)
    expect(page.locator("#planned")).to_contain_text("Doe, Alex")
    page.click("#planned >> text=Open plan")
    page.click("#cancel-plan summary")
    page.fill("#cancel-reason", "planned for the wrong indication")
    page.locator("#cancel-plan button", has_text="Cancel the plan").click()
    expect(page).to_have_url(re.compile(rf"/patients/{p.id}/"))
    expect(page.locator(".alert.success, .messages")).to_contain_text("was cancelled")
    page.goto(f"{live_server.url}/")
    expect(page.locator("#planned")).to_contain_text("No plans dated today")
    assert session.events.get().kind == "cancelled"
    assert problems == [], problems
    context.close()


def test_the_consent_block_leads_to_the_form_and_to_a_paper_consent(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s, p, _ = world()
    title, body = consent_forms.standard_wording("glabellar-lines")
    consent_forms.publish_template(
        s.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    session = plan_for(s, p, "glabellar-lines", "glabellar-20")
    context, page, problems = signed_in(browser, live_server.url, "a-physician", s.password)
    page.goto(f"{live_server.url}/sessions/{session.id}/")
    consent = page.locator("#consent-next")
    expect(consent).to_be_visible()
    expect(page.locator("#sign")).to_contain_text("record the patient's consent")
    shot(page, "first-day-consent-block")
    consent.locator("text=Record a paper consent").click()
    expect(page).to_have_url(re.compile(rf"/patients/{p.id}/#consents"))
    page.go_back()
    page.locator("#consent-next >> text=Sign the consent form on screen").click()
    expect(page).to_have_url(re.compile(r"/consent-form\?indication=glabellar-lines"))
    expect(page.locator("body")).to_contain_text(title)
    assert problems == [], problems
    context.close()


def test_the_front_desk_sees_no_treatment_product_or_units_on_today(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s, p, _ = world()
    plan_for(s, p)
    context, page, problems = signed_in(browser, live_server.url, "a-frontdesk", s.password)
    planned = page.locator("#planned")
    expect(planned).to_contain_text("Doe, Alex")
    for clinical in ("155", "BOTOX", "Migraine", "BLOCK"):
        expect(planned).not_to_contain_text(clinical)
    shot(page, "first-day-front-desk-today")
    assert problems == [], problems
    context.close()

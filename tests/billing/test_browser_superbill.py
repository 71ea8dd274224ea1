"""Issue 19's "done when" in a real browser (Playwright driving Debian's Chromium): the physician
signs in, opens a signed PREEMPT session and clicks Superbill: the J0585 line of 155 billing units
and its JW line of 45 are there, the pages break no Content-Security-Policy and have no serious
accessibility violation (axe-core), and the PDF prints.
Screenshots billing-01 to billing-04 go to var/screenshots/."""

from __future__ import annotations

import pytest

from tests.billing.support import billing_clinic
from tests.web.test_browser import SHOTS, browser, shot  # noqa: F401 (the browser fixture)
from tests.web.test_browser_axe import serious_violations
from tests.web.test_browser_security import _page, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_one_click_from_the_signed_session_to_the_superbill_with_jw(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt()
    base = live_server.url
    page, problems = _page(browser)

    _sign_in(page, base, "a-physician", clinic.staff.password)
    expect(page.locator("h1")).to_contain_text("Today")
    page.goto(f"{base}/sessions/{session.id}/")
    page.locator(".page-head .actions a", has_text="Superbill").click()

    expect(page.locator("article#superbill h1")).to_have_text("Superbill")
    drug = page.locator('tr[data-line-code="J0585"][data-modifiers=""]')
    expect(drug).to_contain_text("155")
    expect(drug).to_contain_text("N400023392102")
    waste = page.locator('tr[data-line-code="J0585"][data-modifiers="JW"]')
    expect(waste).to_contain_text("JW")
    expect(waste).to_contain_text("45")
    expect(page.locator("#diagnosis")).to_contain_text("G43.709")
    inaccessible = serious_violations(page)
    shot(page, "billing-01-superbill")
    page.emulate_media(media="print")
    shot(page, "billing-02-superbill-print")
    page.emulate_media(media="screen")

    pdf = page.request.get(f"{base}/sessions/{session.id}/superbill.pdf")
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")
    (SHOTS / "superbill.pdf").write_bytes(pdf.body())

    # From the superbill to the patient's billing page, and the claims of the last 30 days.
    page.locator(".page-head .actions a", has_text="Patient's billing").click()
    expect(page.locator("#current-coverage")).to_contain_text("Medicare Part B")
    expect(page.locator('#diagnoses tr[data-indication="chronic-migraine"]')).to_contain_text(
        "G43.709"
    )
    inaccessible += serious_violations(page)
    shot(page, "billing-03-patient-billing")
    page.locator("nav a", has_text="Billing").click()
    expect(page.locator(f'#exportable tr[data-session="{session.id}"]')).to_contain_text("JW")
    inaccessible += serious_violations(page)
    shot(page, "billing-04-claims")
    assert problems == []
    assert inaccessible == [], "\n".join(inaccessible)

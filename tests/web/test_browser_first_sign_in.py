"""A clinic's first sign-in in a real browser (Playwright driving Debian's Chromium, as
test_browser.py): the prescriber's second-factor set-up inside the app's layout, explained, ending
on a link to Today; and a refused result on the patient page, explained beside its field with what
was typed kept.

Screenshots go to var/screenshots/ (first-sign-in-*.png).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.outcomes.models import Assessment
from tests import builders
from tests.security.test_sign_in import code_for
from tests.web.test_browser import browser, shot  # noqa: F401 (the browser fixture)
from tests.web.test_browser_security import _page, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.mfa
def test_a_prescribers_first_sign_in_explains_the_second_factor_and_continues_to_today(
    browser,  # noqa: F811
    live_server,
):
    from playwright.sync_api import expect

    s = builders.staff()
    base = live_server.url
    page, problems = _page(browser)
    _sign_in(page, base, "a-physician", s.password)

    # The app's own layout, a heading and the reason, not a bare library page.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    expect(page.locator("header.topbar .brand")).to_have_text("bontrack")
    expect(page.locator("main h1")).to_have_text("Set up your second factor")
    why = page.locator("#why-second-factor")
    expect(why).to_contain_text("Prescribers and clinic administrators")
    expect(why).to_contain_text("about two minutes")
    background = page.locator("main .card").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert background == "rgb(255, 255, 255)"  # the stylesheet's cards, not unstyled markup
    shot(page, "first-sign-in-01-why")

    page.get_by_role("link", name="Set up the app").click()
    expect(page.locator("main h1")).to_have_text("Set up the authenticator app")
    expect(page.locator("ol.steps > li")).to_have_count(3)
    secret = page.locator("#authenticator_secret").input_value()
    shot(page, "first-sign-in-02-steps")

    # A wrong code is said beside the field.
    page.fill("#id_code", "000000")
    page.click("main button[type=submit]")
    expect(page.locator("#code-error")).to_contain_text("Type the code the app shows now")
    page.fill("#id_code", code_for(secret))
    page.click("main button[type=submit]")

    # The recovery codes, what they are for, and the way on.
    expect(page.locator("main h1")).to_have_text("Keep your recovery codes")
    expect(page.locator("main")).to_contain_text("Each code works once")
    assert len(page.locator("#recovery_codes").input_value().split()) == 10
    shot(page, "first-sign-in-03-recovery-codes")
    page.locator("#continue").click()
    expect(page.locator("h1")).to_contain_text("Today")

    # Back on the second-factor page later: what is on, and the same way on.
    page.goto(f"{base}/accounts/2fa/")
    expect(page.locator("#totp .badge")).to_have_text("on")
    expect(page.locator("#continue")).to_have_text("Continue to Today")
    shot(page, "first-sign-in-04-second-factor-on")
    assert problems == []


def test_a_refused_result_is_explained_beside_its_field_and_keeps_what_was_typed(
    browser,  # noqa: F811
    live_server,
):
    from playwright.sync_api import expect

    s = builders.staff()
    p = builders.patient(s, weight_kg=Decimal(70))
    builders.consent(s, p, "chronic-migraine")
    builders.sessions.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    base = live_server.url
    page, problems = _page(browser)
    _sign_in(page, base, "a-physician", s.password)
    page.goto(f"{base}/patients/{p.id}/")
    form = page.locator("#record-chronic-migraine")
    form.locator("summary").click()
    start = (timezone.localdate() - timedelta(days=27)).isoformat()  # 28 days to today
    form.locator("select[name=timepoint]").select_option("baseline")
    form.locator("input[name=period_start]").fill(start)
    form.locator("input[name=value]").fill("16")
    form.get_by_role("button", name="Record the result").click()

    form = page.locator("#record-chronic-migraine")
    expect(form).to_have_attribute("open", "")
    expect(form.locator("#period-chronic-migraine-error")).to_have_text(
        "give both ends of the period, or a single day"
    )
    expect(form.locator("input[name=period_start]")).to_have_value(start)
    expect(form.locator("input[name=value]")).to_have_value("16")
    expect(form.locator("select[name=timepoint]")).to_have_value("baseline")
    assert page.locator("main > .alert").count() == 0  # nothing at the top of the page
    form.scroll_into_view_if_needed()
    shot(page, "first-sign-in-05-result-refused-beside-the-field")

    form.locator("input[name=period_end]").fill(timezone.localdate().isoformat())
    form.get_by_role("button", name="Record the result").click()
    expect(page.locator(".alert.success")).to_contain_text("recorded")
    assert Assessment.objects.filter(patient=p).count() == 1
    assert problems == []

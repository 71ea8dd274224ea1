"""The plan editor from the keyboard alone (Playwright driving Debian's Chromium): PREEMPT from
the new plan to the signature without a mouse. Tab reaches every point of the body map, Enter or
Space opens its editor and no other key does, Escape closes it and focus goes back to the point,
the focused point is visibly ringed, and no page logs an error (the CSP forbids the eval that a
key filter in hx-trigger would need). Screenshot 50 goes to var/screenshots/."""

from __future__ import annotations

import pytest

from tests.web.test_browser import SHOTS, browser, shot  # noqa: F401 (the browser fixture)
from tests.web.test_browser_touch import _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, selector: str, limit: int = 400) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        if page.evaluate(
            "s => !!document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def focused(page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return (e.getAttribute('aria-label') || e.id || e.tagName); }"
    )


def test_a_preempt_plan_is_made_and_signed_from_the_keyboard_alone(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Patient
    from bontrack.treatments.models import TreatmentSession

    demo = build_demo()
    james = Patient.objects.get(clinic=demo.clinic, record_number="BT-0002")
    password = demo.passwords["physician"]
    base = live_server.url
    page, problems = _open(browser, "laptop")
    keys = page.keyboard

    page.goto(f"{base}/login/")
    tab_to(page, "#id_username")
    keys.type("physician")
    keys.press("Tab")
    keys.type(password)
    keys.press("Enter")
    expect(page.locator("h1")).to_contain_text("Today")

    page.goto(f"{base}/patients/{james.id}/plan")
    tab_to(page, "#indication")
    page.select_option("#indication", "chronic-migraine")  # a select's own keyboard list
    expect(page.locator("input[name=protocol][value=preempt-155]")).to_be_checked()
    tab_to(page, "#new-plan button[type=submit]")
    keys.press("Enter")
    expect(page.locator("#totals")).to_contain_text("155 U")
    points = page.locator(".bodymaps .bm-point")
    expect(points).to_have_count(31)
    editor = page.locator("#point-editor")

    # Every point is a stop of the Tab order.
    assert points.evaluate_all("ps => ps.every(p => p.tabIndex === 0)")

    # Another key on a point does nothing; Enter opens its editor, with the units focused.
    tab_to(page, '.bm-point[data-site="procerus"]')
    ring = page.locator('.bm-point[data-site="procerus"] circle').evaluate(
        "c => getComputedStyle(c).strokeWidth"
    )
    assert ring == "4px", ring  # the focus ring
    keys.press("a")
    keys.press("ArrowDown")
    page.wait_for_timeout(300)
    expect(editor).to_have_count(0)
    keys.press("Enter")
    expect(editor).to_contain_text("Procerus")
    expect(page.locator("#point-units")).to_be_focused()

    # Escape closes it unchanged, and focus is back on the point.
    keys.type("9")
    keys.press("Escape")
    expect(editor).to_have_count(0)
    expect(page.locator('.bm-point[data-site="procerus"]')).to_be_focused()
    expect(page.locator("#totals")).to_contain_text("155 U")

    # Space opens it too; Enter in the units saves them.
    keys.press(" ")
    expect(page.locator("#point-units")).to_be_focused()
    page.locator("#point-units").select_text()
    keys.type("10")
    keys.press("Enter")
    expect(page.locator("#totals")).to_contain_text("160 U")
    expect(editor).to_have_count(0)
    expect(page.locator('.bm-point[data-site="procerus"]')).to_be_focused()
    keys.press("Enter")
    page.locator("#point-units").select_text()
    keys.type("5")
    keys.press("Enter")
    expect(page.locator("#totals")).to_contain_text("155 U")

    # "Same on the other side" on a corrugator: the other side already matches, nothing is added.
    tab_to(page, '.bm-point[data-site="corrugator"][data-side="left"]')
    keys.press("Enter")
    expect(editor).to_contain_text("Corrugator")
    tab_to(page, "#point-mirror")
    keys.press("Enter")
    expect(editor).to_have_count(0)
    expect(points).to_have_count(31)
    shot(page, "50-keyboard-plan")

    # The block: a prescriber overrides it with a reason and the password again.
    block = page.locator('.finding[data-rule="cumulative-dose"]')
    tab_to(page, '.finding[data-rule="cumulative-dose"] textarea')
    keys.type("Disabling migraine; the arm dose was reviewed with the patient.")
    keys.press("Tab")
    keys.type(password)
    keys.press("Enter")
    expect(block.locator(".decided")).to_contain_text("Overridden by")
    acknowledge = page.locator("#findings button", has_text="Acknowledge")
    while left := acknowledge.count():
        tab_to(page, "#findings form:has(input[value=acknowledge]) button")
        keys.press("Enter")
        # The findings re-render when the answer comes back: wait for it, not for the network
        # to be idle (on a busy machine the swap may land after that).
        expect(acknowledge).to_have_count(left - 1)

    # Vials: 155 U needs two of the lot's 100 U vials, reconstituted; then sign with the password.
    for opened in (1, 2):
        tab_to(page, '#vials form[action$="/vials/open"] button')
        keys.press("Enter")
        expect(page.locator("#vials .vial.chosen")).to_have_count(opened)
    expect(page.locator("#sign-confirm")).to_be_enabled()
    tab_to(page, "#sign-confirm")
    keys.type(password)
    keys.press("Enter")
    expect(page.locator(".page-head .badge")).to_contain_text("Signed")
    assert TreatmentSession.objects.get(patient=james, indication="chronic-migraine").is_signed

    page.context.close()
    assert problems == [], "\n".join(problems)

"""Touch and small screens in a real browser (Playwright driving Debian's Chromium): at 1280×800,
1024×768 (a tablet, touch) and 390×844 (a phone, touch) no page scrolls sideways, the main links
are reachable, and on touch screens every target of the body map (a point or an empty site) is at
least 44×44 CSS px with no two overlapping, for the crowded plans: PREEMPT (its back view, the
glabella), axillary hyperhidrosis (two arcs of ten) and upper-limb spasticity (the forearm's
empty sites). Screenshots 40 to 49 go to var/screenshots/: look at them, the editor must be clean.
"""

from __future__ import annotations

import itertools

import pytest

from tests.web.test_browser import SHOTS, browser, shot  # noqa: F401 (the browser fixture)
from tests.web.test_browser_security import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "tablet": {"viewport": {"width": 1024, "height": 768}, "has_touch": True},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "has_touch": True,
        "is_mobile": True,
        "device_scale_factor": 2,
    },
}
TOUCH = ("tablet", "phone")
SMALLEST_TARGET = 44.0


def _open(browser, size: str):  # noqa: F811
    context = browser.new_context(**SIZES[size])
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None,
    )
    return page, problems


def sideways_scroll(page) -> int:
    """How many CSS px the page is wider than the window (0: nothing scrolls sideways)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


# The innermost elements that reach past the window's right edge: what makes a page scroll.
WIDEST = """() => {
  const edge = document.documentElement.clientWidth + 1;
  const past = e => e.getBoundingClientRect().right > edge;
  return [...document.querySelectorAll("body *")]
    .filter(e => past(e) && ![...e.children].some(past))
    .slice(0, 6)
    .map(e => `${e.tagName}.${e.className} ${(e.textContent || "").trim().slice(0, 30)}`);
}"""


def targets_too_small_or_overlapping(page) -> list[str]:
    boxes = page.locator(".bodymaps .bm-point, .bodymaps .bm-ghost").evaluate_all(
        """gs => gs.map(g => {
            const r = g.getBoundingClientRect();
            return [g.getAttribute('aria-label'), r.left, r.top, r.width, r.height];
        })"""
    )
    assert boxes, "the body map has no targets"
    found = [
        f"{label}: {w:.1f}×{h:.1f} px" for label, _, _, w, h in boxes if min(w, h) < SMALLEST_TARGET
    ]
    for (a, ax, ay, aw, ah), (b, bx, by, bw, bh) in itertools.combinations(boxes, 2):
        if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
            found.append(f"{a} overlaps {b}")
    return found


def _plan(page, base: str, patient_id, indication: str, protocol: str | None) -> str:
    page.goto(f"{base}/patients/{patient_id}/plan")
    page.select_option("#indication", indication)
    if protocol:
        page.check(f"input[name=protocol][value={protocol}]")
    else:
        page.click("summary:has-text('No protocol?')")
        page.select_option("#first-site", "biceps-brachii")
        page.select_option("#first-side", "left")
        page.fill("#first-units", "50")
    page.click("text=Create the plan")
    page.wait_for_selector(".bodymaps .bm-point")
    return page.url


@pytest.fixture
def demo(live_server):
    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Patient

    built = build_demo()
    built.record = {p.record_number: p.id for p in Patient.objects.filter(clinic=built.clinic)}
    return built


def test_the_plan_editor_fits_every_size_with_targets_for_gloved_fingers(
    browser,  # noqa: F811
    live_server,
    demo,
):
    from playwright.sync_api import expect

    base = live_server.url
    page, problems = _open(browser, "laptop")
    _sign_in(page, base, "physician", demo.passwords["physician"])
    plans = {
        "preempt": _plan(page, base, demo.record["BT-0002"], "chronic-migraine", "preempt-155"),
        "axillary": _plan(
            page,
            base,
            demo.record["BT-0003"],
            "axillary-hyperhidrosis",
            "axillary-hyperhidrosis-100",
        ),
        "forearm": _plan(page, base, demo.record["BT-0005"], "upper-limb-spasticity", None),
    }
    page.context.close()

    too_small: dict[str, list[str]] = {}
    for n, size in enumerate(SIZES):
        page, console = _open(browser, size)
        _sign_in(page, base, "physician", demo.passwords["physician"])
        expect(page.locator("h1")).to_contain_text("Today")
        for name, url in plans.items():
            page.goto(url)
            expect(page.locator("#totals")).to_be_visible()
            assert sideways_scroll(page) <= 0, f"{name} at {size} scrolls sideways"
            if name == "preempt":
                expect(page.locator(".bodymaps .bm-point")).to_have_count(31)
                shot(page, f"4{n}-plan-editor-{size}")
            if size in TOUCH:
                too_small[f"{name} at {size}"] = targets_too_small_or_overlapping(page)
        problems += console
        page.context.close()

    assert {k: v for k, v in too_small.items() if v} == {}
    assert problems == [], "\n".join(problems)


def test_no_main_page_scrolls_sideways_on_a_phone_and_the_menu_opens(
    browser,  # noqa: F811
    live_server,
    demo,
):
    from playwright.sync_api import expect

    from bontrack.inventory.models import Lot
    from bontrack.treatments.models import TreatmentSession

    base = live_server.url
    maria = demo.record["BT-0001"]
    signed = TreatmentSession.objects.filter(patient_id=maria, signed_at__isnull=False).latest(
        "signed_at"
    )
    lot = Lot.objects.filter(clinic=demo.clinic).first()
    pages = [
        "/",
        "/patients/",
        f"/patients/{maria}/",
        f"/sessions/{signed.id}/",
        f"/sessions/{signed.id}/note",
        "/inventory/",
        f"/inventory/lots/{lot.id}/",
        "/due/",
        "/reminders/",
        "/appointments/",
        "/consent-forms/",
        "/saved-plans/",
        f"/patients/{maria}/photos/",
        "/reports/adverse-events/",
    ]
    page, problems = _open(browser, "phone")
    page.goto(f"{base}/login/")
    assert sideways_scroll(page) <= 0
    _sign_in(page, base, "physician", demo.passwords["physician"])
    expect(page.locator("h1")).to_contain_text("Today")

    # The main links fold behind the Menu button, which opens them as full-size targets.
    nav = page.locator("#main-nav")
    expect(nav).to_be_hidden()
    page.click(".menu-toggle")
    expect(nav).to_be_visible()
    expect(nav.locator("a", has_text="Consent forms")).to_be_visible()
    expect(nav.locator("a", has_text="Saved plans")).to_be_visible()
    for box in nav.locator("a").evaluate_all(
        "links => links.map(a => a.getBoundingClientRect().height)"
    ):
        assert box >= SMALLEST_TARGET
    shot(page, "47-phone-menu")
    nav.locator("a", has_text="Saved plans").click()
    expect(page.locator("h1")).to_contain_text("Saved plans")

    wide = {}
    for path in pages:
        page.goto(f"{base}{path}")
        if sideways_scroll(page) > 0:
            wide[path] = page.evaluate(WIDEST)
    shot(page, "48-phone-reports")
    page.goto(f"{base}/patients/{maria}/")
    shot(page, "49-phone-patient")
    page.context.close()
    assert wide == {}
    assert problems == [], "\n".join(problems)

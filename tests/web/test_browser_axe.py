"""Accessibility of every main page, checked by axe-core in a real browser (Playwright driving
Debian's Chromium). axe's script comes inside the axe-playwright-python wheel and Playwright
injects it, so nothing loads from outside and the pages' CSP stays as it is. No page may have a
serious or critical violation; the plan editor is checked with a point's editor open as well."""

from __future__ import annotations

import pytest

from tests.web.test_browser import browser  # noqa: F401 (the browser fixture)
from tests.web.test_browser_security import _sign_in
from tests.web.test_browser_touch import _open, _plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"][:4])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def test_no_main_page_has_a_serious_accessibility_violation(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from bontrack.inventory.models import Lot
    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Patient
    from bontrack.treatments.models import TreatmentSession

    demo = build_demo()
    record = {p.record_number: p.id for p in Patient.objects.filter(clinic=demo.clinic)}
    maria = record["BT-0001"]
    signed = TreatmentSession.objects.filter(patient_id=maria, signed_at__isnull=False).latest(
        "signed_at"
    )
    lot = Lot.objects.filter(clinic=demo.clinic).first()
    base = live_server.url
    found: list[str] = []

    page, problems = _open(browser, "laptop")
    page.goto(f"{base}/login/")
    found += serious_violations(page)
    _sign_in(page, base, "physician", demo.passwords["physician"])
    expect(page.locator("h1")).to_contain_text("Today")
    editor = _plan(page, base, record["BT-0002"], "chronic-migraine", "preempt-155")
    for path in [
        "/",
        "/patients/",
        f"/patients/{maria}/",
        editor.removeprefix(base),
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
    ]:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        found += serious_violations(page)
    page.goto(editor)
    page.locator('.bm-point[data-site="procerus"]').click()
    expect(page.locator("#point-editor")).to_contain_text("Procerus")
    found += serious_violations(page)
    page.context.close()

    page, admin_problems = _open(browser, "laptop")
    _sign_in(page, base, "admin", demo.passwords["admin"])
    page.goto(f"{base}/audit/")
    expect(page.locator("h1")).to_contain_text("Audit")
    found += serious_violations(page)
    page.context.close()

    assert found == [], "\n".join(found)
    assert problems + admin_problems == [], "\n".join(problems + admin_problems)

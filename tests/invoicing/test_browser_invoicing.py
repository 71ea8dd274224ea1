"""The front desk at the end of a cosmetic visit, in Chromium on a phone: sets the price, issues
the invoice, takes the payment and reads the day's takings; no page scrolls sideways and none
logs an error (the content security policy included)."""

from __future__ import annotations

import pytest

from tests import builders
from tests.invoicing.support import glabellar_session
from tests.web.test_browser import browser, shot  # noqa: F401 (the browser fixture)
from tests.web.test_browser_security import _sign_in
from tests.web.test_browser_touch import _open, sideways_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_front_desk_prices_invoices_and_is_paid_on_a_phone(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s = builders.staff()
    session = glabellar_session(s)
    base = live_server.url
    page, problems = _open(browser, "phone")
    _sign_in(page, base, "a-frontdesk", s.password)
    expect(page.locator("h1")).to_contain_text("Today")

    page.goto(f"{base}/prices/")
    page.select_option("#id_product", "onabotulinumtoxinA")
    page.select_option("#id_kind", "per-unit")
    page.fill("#id_amount", "12.00")
    page.fill("#id_currency", "USD")
    page.fill("#id_tax_rate", "10")
    page.fill("#id_valid_from", "2020-01-01")
    page.click("#set-price button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("Price set")
    expect(page.locator("#price-list")).to_contain_text("USD 12.00")
    assert sideways_scroll(page) <= 0
    shot(page, "invoicing-01-prices")

    page.goto(f"{base}/sessions/{session.id}/invoice")
    expect(page.locator("#invoice-preview")).to_contain_text("240.00")
    assert sideways_scroll(page) <= 0
    page.click("#invoice-preview button[type=submit]")
    expect(page.locator("#invoice-total")).to_have_text("USD 264.00")
    page.fill("#payment-amount", "264.00")
    page.select_option("#payment-method", "card")
    page.click("#record-payment button[type=submit]")
    expect(page.locator("#invoice-balance")).to_have_text("USD 0.00")
    assert sideways_scroll(page) <= 0
    shot(page, "invoicing-02-invoice-paid")

    page.goto(f"{base}/takings/")
    expect(page.locator("#takings")).to_contain_text("264.00")
    expect(page.locator("#day-invoices")).to_contain_text("Alex Doe")
    assert sideways_scroll(page) <= 0
    shot(page, "invoicing-03-takings")
    page.context.close()
    assert problems == [], "\n".join(problems)

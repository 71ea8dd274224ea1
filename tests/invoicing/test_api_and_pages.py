"""The invoicing API and pages: the front desk prices, invoices a cosmetic session, takes a
payment and reads the day's takings through /api/v1 and through the pages; both show the same
invoice; the PDF downloads; the nurse reads and takes no money; errors keep the one shape; the
pages show product, units and area and nothing else of the record."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.invoicing.models import Invoice, Payment, PriceEntry
from tests import builders
from tests.api.support import error_shape_problems
from tests.invoicing.support import glabellar_session, invoiced_session, set_price

pytestmark = pytest.mark.django_db


class Api:
    """Calls /api/v1 as one member of clinic A, with a bearer token asked for as a client would."""

    def __init__(self, s: builders.Staff, username: str) -> None:
        self.client = Client()
        answer = self.client.post(
            "/api/v1/auth/token",
            {"username": username, "password": s.password},
            content_type="application/json",
        )
        assert answer.status_code == 201, answer.content
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['token']}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", **self.auth)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.post(
            f"/api/v1{path}", json.dumps(body), content_type="application/json", **self.auth
        )


def page_client(member: Any) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


class InvoiceFacts(HTMLParser):
    """The invoice's figures as the page carries them in data- attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.invoice: dict[str, str] = {}
        self.lines: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if "invoice" in data:
            self.invoice = data
        elif "line" in data:
            self.lines.append(data)


def facts(html: str) -> InvoiceFacts:
    parser = InvoiceFacts()
    parser.feed(html)
    return parser


@pytest.mark.postgres(sqlite=True)
def test_the_front_desk_prices_invoices_takes_a_payment_and_reads_the_takings():
    s = builders.staff()
    session = glabellar_session(s)
    desk = Api(s, "a-frontdesk")

    priced = desk.post(
        "/prices",
        {
            "product": "onabotulinumtoxinA",
            "kind": "per-unit",
            "amount": 12.5,
            "tax_rate": 8,
            "currency": "USD",
            "valid_from": (timezone.localdate().replace(day=1)).isoformat(),
        },
    )
    assert priced.status_code == 201, priced.content
    assert priced.json()["amount"] == "12.50"
    listed = desk.get("/prices").json()
    assert [(p["product"], p["kind"], p["amount"]) for p in listed["current"]] == [
        ("onabotulinumtoxinA", "per-unit", "12.50")
    ]

    issued = desk.post(f"/sessions/{session.id}/invoice", {})
    assert issued.status_code == 201, issued.content
    invoice = issued.json()
    # 20 U × 12.50 = 250.00; 8 % tax = 20.00.
    assert [(x["quantity"], x["unit"], x["amount"], x["tax"]) for x in invoice["lines"]] == [
        ("20", "U", "250.00", "20.00")
    ]
    assert (invoice["number"], invoice["total"], invoice["balance"]) == (1, "270.00", "270.00")

    paid = desk.post(
        f"/invoices/{invoice['id']}/payments",
        {"amount": 200, "method": "card", "reference": "slip 0042"},
    )
    assert paid.status_code == 201, paid.content
    assert (paid.json()["paid"], paid.json()["balance"]) == ("200.00", "70.00")
    over = desk.post(f"/invoices/{invoice['id']}/payments", {"amount": 70.01, "method": "cash"})
    assert over.status_code == 400
    assert error_shape_problems(over) == []
    assert over.json()["errors"][0]["field"] == "amount"
    refunded = desk.post(
        f"/invoices/{invoice['id']}/refunds",
        {"amount": 20, "method": "card", "reason": "Touch-up not needed"},
    )
    assert refunded.status_code == 201, refunded.content
    found = desk.get(f"/invoices/{invoice['id']}").json()
    assert (found["paid"], found["refunded"], found["balance"]) == ("200.00", "20.00", "90.00")
    assert [p["reference"] for p in found["payments"]] == ["slip 0042"]
    assert [r["reason"] for r in found["refunds"]] == ["Touch-up not needed"]

    takings = desk.get("/takings").json()
    assert takings["date"] == timezone.localdate().isoformat()
    assert [(r["currency"], r["method"], r["net"]) for r in takings["rows"]] == [
        ("USD", "card", "180.00")
    ]
    exported = desk.get(f"/takings.csv?date={timezone.localdate().isoformat()}")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows == [
        ["date", "currency", "method", "payments", "refunds", "net", "entries"],
        [timezone.localdate().isoformat(), "USD", "card", "200.00", "20.00", "180.00", "2"],
    ]

    # The page shows the same invoice, and its PDF downloads.
    pages = page_client(s.front_desk)
    shown = pages.get(f"/sessions/{session.id}/invoice")
    assert shown.status_code == 200
    on_page = facts(shown.content.decode())
    assert on_page.invoice == {
        "invoice": "1",
        "currency": "USD",
        "subtotal": found["subtotal"],
        "tax": found["tax"],
        "total": found["total"],
        "paid": found["paid"],
        "refunded": found["refunded"],
        "balance": found["balance"],
    }
    assert [(x["quantity"], x["amount"], x["line-tax"]) for x in on_page.lines] == [
        (x["quantity"], x["amount"], x["tax"]) for x in found["lines"]
    ]
    pdf = pages.get(f"/sessions/{session.id}/invoice.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    printed = AuditEntry.objects.filter(clinic=s.clinic, action="print", object_type="invoice")
    assert [e.patient_id for e in printed] == [session.patient_id]


def test_the_nurse_reads_an_invoice_and_takes_no_money():
    s = builders.staff()
    invoice = invoiced_session(s)
    nurse = Api(s, "a-nurse")
    assert nurse.get(f"/invoices/{invoice.id}").json()["total"] == "264.00"
    refused = nurse.post(f"/invoices/{invoice.id}/payments", {"amount": 10, "method": "cash"})
    assert refused.status_code == 403
    assert error_shape_problems(refused) == []
    assert (
        nurse.post(
            "/prices", {"product": "onabotulinumtoxinA", "kind": "per-unit", "amount": 1}
        ).status_code
        == 403
    )
    assert not Payment.objects.exists()
    page = page_client(s.nurse).post(
        f"/sessions/{invoice.session_id}/invoice/payments", {"amount": "10", "method": "cash"}
    )
    assert page.status_code == 403
    assert not Payment.objects.exists()


def test_the_api_refuses_in_the_one_shape():
    s = builders.staff()
    session = glabellar_session(s)
    desk = Api(s, "a-frontdesk")
    unpriced = desk.post(f"/sessions/{session.id}/invoice", {})
    assert unpriced.status_code == 400
    assert error_shape_problems(unpriced) == []
    assert "set a per-area price for Glabellar lines" in unpriced.json()["errors"][0]["message"]
    bad = desk.post("/prices", {"product": "onabotulinumtoxinA", "kind": "per-vial", "amount": 1})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "kind"
    text = desk.post(
        "/prices", {"product": "onabotulinumtoxinA", "kind": "per-unit", "amount": "12.00"}
    )
    assert text.status_code == 422
    set_price(s)
    assert desk.post(f"/sessions/{session.id}/invoice", {}).status_code == 201
    again = desk.post(f"/sessions/{session.id}/invoice", {})
    assert again.status_code == 409
    assert error_shape_problems(again) == []
    assert Invoice.objects.count() == 1


def test_the_front_desk_issues_and_is_paid_on_the_pages_without_clinical_detail():
    s = builders.staff()
    session = glabellar_session(s, notes="Patient anxious about needles; ptosis risk discussed.")
    desk = page_client(s.front_desk)
    before = desk.get(f"/sessions/{session.id}/invoice").content.decode()
    assert "no price for this session" in before
    answer = desk.post(
        "/prices/new",
        {
            "product": "onabotulinumtoxinA",
            "kind": "per-area",
            "area": "glabellar-20",
            "indication": "",
            "amount": "250.00",
            "currency": "usd",
            "tax_rate": "0",
            "valid_from": timezone.localdate().replace(day=1).isoformat(),
        },
    )
    assert answer.status_code == 302, answer.content.decode()
    prices = desk.get("/prices/").content.decode()
    assert "Glabellar lines, 20 U (BOTOX Cosmetic)" in prices
    assert "USD 250.00" in prices

    preview = desk.get(f"/sessions/{session.id}/invoice").content.decode()
    assert "Issue the invoice" in preview
    issued = desk.post(f"/sessions/{session.id}/invoice/issue", {"kind": ""})
    assert issued.status_code == 302
    assert PriceEntry.objects.get().amount == Decimal("250.00")
    paid = desk.post(
        f"/sessions/{session.id}/invoice/payments",
        {"amount": "250.00", "method": "cash", "reference": ""},
    )
    assert paid.status_code == 302
    shown = desk.get(f"/sessions/{session.id}/invoice").content.decode()
    assert facts(shown).invoice["balance"] == "0.00"
    assert "Payment recorded: USD 250.00 by cash." in shown
    # Product, units and area; never the sites, the notes or the findings.
    assert "BOTOX (onabotulinumtoxinA), 20 U given" in shown
    for clinical in ("corrugator", "procerus", "ptosis", "anxious", "Corrugator", "Procerus"):
        assert clinical not in shown
    # The front desk cannot open the session page itself.
    assert desk.get(f"/sessions/{session.id}/").status_code == 403

    takings = desk.get("/takings/").content.decode()
    assert "250.00" in takings
    assert "Alex Doe" in takings
    exported = desk.get("/takings.csv")
    assert exported.status_code == 200
    assert b"USD,cash,250.00,0.00,250.00,1" in exported.content


def test_the_pages_refuse_with_words_and_keep_the_form():
    s = builders.staff()
    invoice = invoiced_session(s)
    desk = page_client(s.front_desk)
    over = desk.post(
        f"/sessions/{invoice.session_id}/invoice/payments", {"amount": "500", "method": "cash"}
    )
    assert over.status_code == 400
    assert "The payment was not recorded: amount: more than the balance due" in (
        over.content.decode()
    )
    no_reason = desk.post(
        f"/sessions/{invoice.session_id}/invoice/refunds", {"amount": "1", "method": "cash"}
    )
    assert no_reason.status_code == 400
    assert "The refund was not recorded: reason: fill this in" in no_reason.content.decode()
    bad_price = desk.post(
        "/prices/new",
        {"product": "onabotulinumtoxinA", "kind": "per-area", "amount": "10", "tax_rate": "0"},
    )
    assert bad_price.status_code == 400
    assert "The price was not set: area: a per-area price names its area" in (
        bad_price.content.decode()
    )
    assert not Payment.objects.exists()


def test_the_session_page_offers_the_invoice_of_a_cosmetic_session():
    s = builders.staff()
    session = glabellar_session(s)
    page = page_client(s.physician).get(f"/sessions/{session.id}/").content.decode()
    assert f'href="/sessions/{session.id}/invoice">Invoice</a>' in page
    auditor = page_client(s.auditor).get(f"/sessions/{session.id}/invoice")
    assert auditor.status_code == 200
    assert "Issue the invoice" not in auditor.content.decode()


def test_the_pdf_of_a_session_not_invoiced_yet_leads_back_to_its_invoice_page():
    s = builders.staff()
    session = glabellar_session(s)
    desk = page_client(s.front_desk)
    answer = desk.get(f"/sessions/{session.id}/invoice.pdf", follow=True)
    assert answer.redirect_chain == [(f"/sessions/{session.id}/invoice", 302)]
    assert "this session has no invoice yet: issue it first" in answer.content.decode()

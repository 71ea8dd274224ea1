"""Payments and refunds against an invoice: balance = total − payments + refunds; a payment above
the balance and a refund above what was paid are refused; the day's takings per method and
currency, as figures and as a CSV file."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.invoicing import services as invoicing
from bontrack.invoicing.models import Payment, Refund
from tests import builders
from tests.invoicing.support import (
    cosmetic_patient,
    glabellar_session,
    invoiced_session,
    set_price,
)

pytestmark = pytest.mark.django_db


def test_a_payment_in_full():
    s = builders.staff()
    invoice = invoiced_session(s)  # 264.00 USD
    invoicing.record_payment(
        s.actor("front_desk"), invoice.id, amount=Decimal("264.00"), method="card", reference="A1"
    )
    found = invoicing.read_invoice(s.actor("front_desk"), invoice.id)
    assert (found.paid, found.refunded, found.balance) == (Decimal("264.00"), 0, 0)
    assert [(p.amount, p.method, p.reference) for p in found.payments] == [
        (Decimal("264.00"), "card", "A1")
    ]
    with pytest.raises(ConflictError, match="paid in full"):
        invoicing.record_payment(s.actor("front_desk"), invoice.id, amount=1, method="cash")


def test_partial_payments_and_a_payment_above_the_balance():
    s = builders.staff()
    invoice = invoiced_session(s)
    desk = s.actor("front_desk")
    invoicing.record_payment(desk, invoice.id, amount=Decimal("100.00"), method="cash")
    assert invoicing.read_invoice(desk, invoice.id).balance == Decimal("164.00")
    with pytest.raises(ServiceError) as refused:
        invoicing.record_payment(desk, invoice.id, amount=Decimal("164.01"), method="card")
    assert refused.value.field == "amount"
    assert refused.value.message == (
        "more than the balance due (164.00 USD): record at most the balance"
    )
    invoicing.record_payment(desk, invoice.id, amount=Decimal("164.00"), method="card")
    assert invoicing.read_invoice(desk, invoice.id).balance == 0
    assert Payment.objects.filter(invoice=invoice).count() == 2


def test_refunds_up_to_what_was_paid_and_the_balance_they_leave():
    s = builders.staff()
    invoice = invoiced_session(s)
    desk = s.actor("front_desk")
    with pytest.raises(ServiceError, match=r"more than was paid \(0.00 USD may be refunded\)"):
        invoicing.record_refund(
            desk, invoice.id, amount=Decimal(10), reason="Goodwill", method="cash"
        )
    invoicing.record_payment(desk, invoice.id, amount=Decimal("200.00"), method="card")
    invoicing.record_refund(
        desk, invoice.id, amount=Decimal("50.00"), reason="Asymmetry touch-up free", method="card"
    )
    with pytest.raises(ServiceError) as refused:
        invoicing.record_refund(
            desk, invoice.id, amount=Decimal("150.01"), reason="Complaint", method="card"
        )
    assert refused.value.message == "more than was paid (150.00 USD may be refunded)"
    found = invoicing.read_invoice(desk, invoice.id)
    # Balance = total − payments + refunds = 264.00 − 200.00 + 50.00.
    assert (found.paid, found.refunded, found.balance) == (
        Decimal("200.00"),
        Decimal("50.00"),
        Decimal("114.00"),
    )
    assert [(r.amount, r.reason) for r in found.refunds] == [
        (Decimal("50.00"), "Asymmetry touch-up free")
    ]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"amount": Decimal(0)}, "amount", "greater than 0"),
        ({"amount": Decimal("-5")}, "amount", "greater than 0"),
        ({"amount": Decimal("1.005")}, "amount", "at most 2 decimals"),
        ({"method": "bitcoin"}, "method", "must be one of cash, card, bank-transfer"),
        ({"received_at": timezone.now() + timedelta(hours=1)}, "received_at", "in the future"),
    ],
)
def test_what_a_payment_must_be(values: dict[str, object], field: str, words: str):
    s = builders.staff()
    invoice = invoiced_session(s)
    given: dict[str, object] = {"amount": Decimal(10), "method": "cash", **values}
    with pytest.raises(ServiceError) as refused:
        invoicing.record_payment(s.actor("front_desk"), invoice.id, **given)  # type: ignore[arg-type]
    assert (refused.value.field, words in refused.value.message) == (field, True)
    assert not Payment.objects.exists()


def test_a_refund_needs_its_reason():
    s = builders.staff()
    invoice = invoiced_session(s)
    invoicing.record_payment(s.actor("front_desk"), invoice.id, amount=10, method="cash")
    with pytest.raises(ServiceError) as refused:
        invoicing.record_refund(
            s.actor("front_desk"), invoice.id, amount=5, reason="  ", method="cash"
        )
    assert refused.value.field == "reason"
    assert not Refund.objects.exists()


def test_the_nurse_reads_invoices_but_takes_no_money_and_the_front_desk_does():
    s = builders.staff()
    invoice = invoiced_session(s)
    assert invoicing.read_invoice(s.actor("nurse"), invoice.id).total == Decimal("264.00")
    with pytest.raises(ForbiddenError):
        invoicing.record_payment(s.actor("nurse"), invoice.id, amount=10, method="cash")
    with pytest.raises(ForbiddenError):
        invoicing.record_refund(s.actor("nurse"), invoice.id, amount=1, reason="x", method="cash")
    invoicing.record_payment(s.actor("front_desk"), invoice.id, amount=10, method="cash")
    entries = AuditEntry.objects.filter(clinic=s.clinic, object_type="payment")
    assert [(e.action, e.patient_id, e.username) for e in entries] == [
        ("create", invoice.patient_id, "a-frontdesk")
    ]


def test_the_days_takings_per_method_and_currency():
    s = builders.staff()
    desk = s.actor("front_desk")
    first = invoiced_session(s, "C-1")  # 264.00 USD
    second = invoiced_session(s, "C-2")
    invoicing.record_payment(desk, first.id, amount=Decimal("264.00"), method="card")
    invoicing.record_payment(desk, second.id, amount=Decimal("100.00"), method="cash")
    invoicing.record_payment(desk, second.id, amount=Decimal("64.00"), method="card")
    invoicing.record_refund(desk, first.id, amount=Decimal("20.00"), reason="Fee", method="cash")
    # Yesterday's payment is yesterday's takings.
    invoicing.record_payment(
        desk,
        second.id,
        amount=Decimal("50.00"),
        method="cheque",
        received_at=timezone.now() - timedelta(days=1),
    )
    # Dysport priced in euros: another currency, never added to dollars.
    set_price(s, product="abobotulinumtoxinA", currency="EUR", amount="4.00")
    dysport = glabellar_session(s, cosmetic_patient(s, "C-3"), product="abobotulinumtoxinA")
    in_euros = invoicing.issue_invoice(desk, dysport.id)
    assert (in_euros.currency, in_euros.total) == ("EUR", Decimal("200.00"))  # 50 U × 4.00
    invoicing.record_payment(desk, in_euros.id, amount=Decimal("200.00"), method="cash")
    found = invoicing.day_takings(desk)
    assert [(r.currency, r.method, r.payments, r.refunds, r.net, r.count) for r in found.rows] == [
        ("EUR", "cash", Decimal("200.00"), Decimal("0.00"), Decimal("200.00"), 1),
        ("USD", "cash", Decimal("100.00"), Decimal("20.00"), Decimal("80.00"), 2),
        ("USD", "card", Decimal("328.00"), Decimal("0.00"), Decimal("328.00"), 2),
    ]
    assert [(t.currency, t.net) for t in found.totals()] == [
        ("EUR", Decimal("200.00")),
        ("USD", Decimal("408.00")),
    ]
    yesterday = invoicing.day_takings(desk, timezone.localdate() - timedelta(days=1))
    assert [(r.method, r.payments) for r in yesterday.rows] == [("cheque", Decimal("50.00"))]

    exported = invoicing.takings_csv(desk)
    assert exported.name == f"takings-{timezone.localdate().isoformat()}.csv"
    assert exported.rows == [
        [timezone.localdate().isoformat(), "EUR", "cash", "200.00", "0.00", "200.00", "1"],
        [timezone.localdate().isoformat(), "USD", "cash", "100.00", "20.00", "80.00", "2"],
        [timezone.localdate().isoformat(), "USD", "card", "328.00", "0.00", "328.00", "2"],
    ]
    text = io.StringIO(",".join(exported.columns) + "\n")
    assert next(csv.reader(text)) == [
        "date",
        "currency",
        "method",
        "payments",
        "refunds",
        "net",
        "entries",
    ]
    assert AuditEntry.objects.filter(clinic=s.clinic, object_type="takings").count() == 3

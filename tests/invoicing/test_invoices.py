"""A signed session's invoice: lines derived from the record at the prices of the day of
treatment, never typed; numbered per clinic in order without gaps; refused, naming what to price,
when a price is missing; a medical session invoiced only as self-pay (billing.md 7.3, 7.7)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.invoicing import services as invoicing
from bontrack.invoicing.models import Invoice
from bontrack.treatments import services as sessions
from tests import builders
from tests.invoicing.support import (
    cosmetic_patient,
    glabellar_session,
    invoiced_session,
    set_price,
)

pytestmark = pytest.mark.django_db


def lines_of(invoice: Invoice) -> list[tuple[str, str, str, str, str, str]]:
    return [
        (r["description"], r["quantity"], r["unit"], r["unit_price"], r["amount"], r["tax"])
        for r in invoice.lines
    ]


def test_a_glabellar_session_at_a_price_per_unit():
    """20 U of BOTOX at 12.00 a unit with 10 % tax: 20 × 12.00 = 240.00, tax 24.00, 264.00."""
    s = builders.staff()
    price = set_price(s, amount="12.00", tax_rate="10")
    session = glabellar_session(s)
    invoice = invoicing.issue_invoice(s.actor("front_desk"), session.id)
    units, unit_price, rate = Decimal(20), Decimal("12.00"), Decimal(10)
    amount = units * unit_price
    tax = amount * rate / 100
    assert lines_of(invoice) == [
        ("BOTOX (onabotulinumtoxinA)", "20", "U", "12.00", f"{amount:.2f}", f"{tax:.2f}")
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (amount, tax, amount + tax)
    assert invoice.total == Decimal("264.00")
    assert invoice.currency == "USD"
    assert invoice.price_versions == [str(price.id)]
    assert (invoice.number, invoice.patient_id, invoice.self_pay) == (1, session.patient_id, False)


def test_a_glabellar_session_at_a_price_per_area():
    """The area is the session's protocol; one line whatever the units, 250.00 with 20 % tax."""
    s = builders.staff()
    set_price(s, amount="12.00")
    area = set_price(s, kind="per-area", area="glabellar-20", amount="250.00", tax_rate="20")
    invoice = invoicing.issue_invoice(s.actor("front_desk"), glabellar_session(s).id)
    assert lines_of(invoice) == [
        ("Glabellar lines, 20 U (BOTOX Cosmetic)", "1", "area", "250.00", "250.00", "50.00")
    ]
    assert invoice.lines[0]["detail"] == "BOTOX (onabotulinumtoxinA), 20 U given"
    assert invoice.total == Decimal("300.00")
    assert invoice.price_versions == [str(area.id)]


def test_the_caller_may_choose_how_the_session_is_priced():
    s = builders.staff()
    set_price(s, kind="per-area", area="glabellar-20", amount="250.00")
    set_price(s, kind="per-session", amount="199.00")
    invoice = invoicing.issue_invoice(
        s.actor("front_desk"), glabellar_session(s).id, kind="per-session"
    )
    assert lines_of(invoice) == [("Treatment session", "1", "session", "199.00", "199.00", "0.00")]


def test_a_price_for_the_indication_wins_over_the_price_for_every_indication():
    s = builders.staff()
    set_price(s, amount="12.00")
    set_price(s, amount="11.00", indication="glabellar-lines")
    invoice = invoicing.issue_invoice(s.actor("front_desk"), glabellar_session(s).id)
    assert invoice.total == Decimal("220.00")


def test_amounts_are_rounded_to_the_cent_half_up_on_each_line():
    """22.5 U at 12.35: 277.875 → 277.88; tax 7.5 % of 277.88 = 20.841 → 20.84."""
    s = builders.staff()
    set_price(s, amount="12.35", tax_rate="7.5")
    session = glabellar_session(
        s,
        injections=[
            sessions.PointInput("procerus", "midline", Decimal("4.5")),
            sessions.PointInput("corrugator", "left", Decimal(9)),
            sessions.PointInput("corrugator", "right", Decimal(9)),
        ],
    )
    invoice = invoicing.issue_invoice(s.actor("front_desk"), session.id)
    assert lines_of(invoice) == [
        ("BOTOX (onabotulinumtoxinA)", "22.5", "U", "12.35", "277.88", "20.84")
    ]
    assert invoice.total == Decimal("298.72")


def test_the_prices_of_the_day_of_treatment_apply():
    s = builders.staff()
    set_price(s, amount="10.00")
    set_price(s, amount="14.00", valid_from=timezone.localdate() - timedelta(days=1))
    earlier = glabellar_session(s, at=timezone.now() - timedelta(days=3))
    today = glabellar_session(s, cosmetic_patient(s, "C-2"))
    assert invoicing.issue_invoice(s.actor("front_desk"), earlier.id).total == Decimal("200.00")
    assert invoicing.issue_invoice(s.actor("front_desk"), today.id).total == Decimal("280.00")


def test_the_units_as_amended_are_invoiced():
    s = builders.staff()
    set_price(s, amount="10.00")
    session = glabellar_session(s)
    sessions.amend(
        s.actor("physician"),
        session.id,
        reason="The corrugators had 6 U each, not 8 U",
        injections=[
            sessions.PointInput("procerus", "midline", Decimal(4)),
            sessions.PointInput("corrugator", "left", Decimal(6)),
            sessions.PointInput("corrugator", "right", Decimal(6)),
        ],
    )
    invoice = invoicing.issue_invoice(s.actor("front_desk"), session.id)
    assert lines_of(invoice)[0][1] == "16"
    assert invoice.total == Decimal("160.00")


def test_a_missing_price_is_refused_naming_what_to_price():
    s = builders.staff()
    set_price(s, product="abobotulinumtoxinA", amount="4.00")  # not this session's product
    session = glabellar_session(s)
    with pytest.raises(ServiceError) as refused:
        invoicing.issue_invoice(s.actor("front_desk"), session.id)
    assert refused.value.status == 400
    assert refused.value.message == (
        "no price for this session: set a per-area price for Glabellar lines, 20 U (BOTOX "
        "Cosmetic), or a per-unit price for BOTOX (onabotulinumtoxinA), or a per-session price "
        "for BOTOX (onabotulinumtoxinA) (Prices page)"
    )
    with pytest.raises(ServiceError) as chosen:
        invoicing.issue_invoice(s.actor("front_desk"), session.id, kind="per-unit")
    assert chosen.value.field == "kind"
    assert "set a per-unit price for BOTOX (onabotulinumtoxinA)" in chosen.value.message
    assert not Invoice.objects.exists()


def test_a_medical_session_is_invoiced_only_as_self_pay():
    s = builders.staff()
    set_price(s, kind="per-area", area="preempt-155", amount="900.00")
    patient = builders.patient(s)
    builders.consent(s, patient, "chronic-migraine")
    when = timezone.now() - timedelta(hours=1)
    session = builders.signed_session(
        s, patient, when, builders.open_vial(s, builders.lot(s), at=when - timedelta(hours=1))
    )
    with pytest.raises(ServiceError) as refused:
        invoicing.issue_invoice(s.actor("front_desk"), session.id)
    assert refused.value.field == "self_pay"
    assert "claim to the patient's insurance" in refused.value.message
    invoice = invoicing.issue_invoice(s.actor("front_desk"), session.id, self_pay=True)
    assert invoice.self_pay
    assert lines_of(invoice) == [
        ("PREEMPT, 155 U in 31 fixed sites", "1", "area", "900.00", "900.00", "0.00")
    ]


def test_one_invoice_per_session_and_only_of_a_record_that_stands():
    s = builders.staff()
    invoice = invoiced_session(s)
    with pytest.raises(ConflictError, match="already invoiced: invoice 1"):
        invoicing.issue_invoice(s.actor("front_desk"), invoice.session_id)
    wrong = glabellar_session(s, cosmetic_patient(s, "C-2"))
    sessions.mark_entered_in_error(
        s.actor("physician"), wrong.id, reason="Charted on the wrong patient", toxin_given=True
    )
    with pytest.raises(ConflictError, match="entered in error"):
        invoicing.issue_invoice(s.actor("front_desk"), wrong.id)
    plan = sessions.plan_session(
        s.actor("physician"),
        cosmetic_patient(s, "C-3").id,
        product="onabotulinumtoxinA",
        indication="glabellar-lines",
        plan_date=timezone.localdate(),
        protocol="glabellar-20",
    )
    with pytest.raises(ConflictError, match="only a signed session"):
        invoicing.issue_invoice(s.actor("front_desk"), plan.id)
    assert Invoice.objects.count() == 1


def test_numbers_are_per_clinic_in_order_and_a_refused_issue_uses_none():
    s = builders.staff()
    other = builders.staff("Clinic B", prefix="b")
    first = invoiced_session(s, "C-1")
    unpriced = glabellar_session(s, cosmetic_patient(s, "C-2"), product="incobotulinumtoxinA")
    with pytest.raises(ServiceError, match="no price"):
        invoicing.issue_invoice(s.actor("front_desk"), unpriced.id)
    second = invoiced_session(s, "C-3")
    elsewhere = invoiced_session(other, "C-1")
    third = invoiced_session(s, "C-4")
    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert elsewhere.number == 1
    numbers = sorted(Invoice.objects.filter(clinic=s.clinic).values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))


def test_issuing_is_audited_and_needs_billing_write():
    s = builders.staff()
    set_price(s)
    session = glabellar_session(s)
    for role in ("nurse", "auditor"):
        with pytest.raises(ForbiddenError):
            invoicing.issue_invoice(s.actor(role), session.id)
    invoice = invoicing.issue_invoice(s.actor("front_desk"), session.id)
    written = AuditEntry.objects.filter(clinic=s.clinic, object_type="invoice").get()
    assert (written.action, written.patient_id, written.username) == (
        "create",
        session.patient_id,
        "a-frontdesk",
    )
    assert written.detail == {
        "session": str(session.id),
        "number": 1,
        "total": "240.00",
        "currency": "USD",
    }
    assert written.object_id == str(invoice.id)


def test_another_clinics_session_is_not_found():
    s = builders.staff()
    other = builders.staff("Clinic B", prefix="b")
    set_price(other)
    session = glabellar_session(s)
    with pytest.raises(ServiceError) as refused:
        invoicing.issue_invoice(other.actor("front_desk"), session.id)
    assert refused.value.status == 404
    assert not Invoice.objects.exists()

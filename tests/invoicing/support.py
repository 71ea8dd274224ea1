"""The invoicing tests' builders: a cosmetic patient and a signed glabellar session (20 U of
onabotulinumtoxinA, the catalog's glabellar-20 protocol), and prices set as a clinic sets them,
through the services."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from bontrack.domain.catalog import catalog
from bontrack.invoicing import services as invoicing
from bontrack.invoicing.models import Invoice, PriceEntry
from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from tests import builders

PRODUCT = "onabotulinumtoxinA"
# The catalog's glabellar protocol of each product used here.
GLABELLAR_OF = {
    "onabotulinumtoxinA": "glabellar-20",
    "abobotulinumtoxinA": "glabellar-dysport-50",
    "incobotulinumtoxinA": "glabellar-xeomin-20",
}
# Prices start a month before the sessions of the tests, so that a session given in the small
# hours of a clinic-local day still finds them.
PRICED_FROM_DAYS = 30


def cosmetic_patient(s: builders.Staff, record: str = "C-1") -> Patient:
    patient = builders.patient(s, record=record, born=date(1985, 3, 2))
    builders.consent(s, patient, "glabellar-lines")
    return patient


def glabellar_session(
    s: builders.Staff,
    patient: Patient | None = None,
    *,
    at: datetime | None = None,
    **plan: Any,
) -> TreatmentSession:
    """A glabellar-lines session signed by the physician an hour ago (or ``at``): the product's
    glabellar protocol (BOTOX's 20 U by default) unless ``injections`` are given."""
    patient = patient or cosmetic_patient(s)
    when = at or timezone.now() - timedelta(hours=1)
    product = plan.setdefault("product", PRODUCT)
    sizes = catalog().products[product].vial_sizes
    stock = builders.lot(
        s,
        product=product,
        number=f"G-{patient.record_number}-{when:%H%M%S%f}",
        size=int(Decimal(100) if Decimal(100) in sizes else sizes[-1]),
        vials=2,
    )
    plan.setdefault("indication", "glabellar-lines")
    if "injections" not in plan:
        plan.setdefault("protocol", GLABELLAR_OF[product])
    return builders.signed_session(
        s, patient, when, builders.open_vial(s, stock, at=when - timedelta(minutes=30)), **plan
    )


def set_price(
    s: builders.Staff,
    *,
    kind: str = "per-unit",
    amount: str = "12.00",
    tax_rate: str = "0",
    role: str = "front_desk",
    **values: Any,
) -> PriceEntry:
    values.setdefault("product", PRODUCT)
    values.setdefault("currency", "USD")
    values.setdefault("valid_from", timezone.localdate() - timedelta(days=PRICED_FROM_DAYS))
    return invoicing.set_price(
        s.actor(role), kind=kind, amount=Decimal(amount), tax_rate=Decimal(tax_rate), **values
    )


def priced_session(s: builders.Staff, record: str = "C-1") -> TreatmentSession:
    """A glabellar session of a new patient, signed and not invoiced, at 12.00 USD a unit with
    10 % tax unless the clinic has prices already."""
    if not PriceEntry.objects.filter(clinic=s.clinic).exists():
        set_price(s, amount="12.00", tax_rate="10")
    return glabellar_session(s, cosmetic_patient(s, record))


def invoiced_session(s: builders.Staff, record: str = "C-1") -> Invoice:
    """A glabellar session invoiced at 12.00 USD a unit with 10 % tax: 240.00 + 24.00 = 264.00."""
    session = priced_session(s, record)
    return invoicing.issue_invoice(s.actor("front_desk"), session.id)


def paid_and_refunded(s: builders.Staff, record: str = "C-1") -> Invoice:
    """An invoiced session (264.00 USD) paid 100.00 by card, 10.00 of it refunded: one row of
    each appended kind of the invoicing app."""
    invoice = invoiced_session(s, record)
    desk = s.actor("front_desk")
    invoicing.record_payment(desk, invoice.id, amount=Decimal("100.00"), method="card")
    invoicing.record_refund(
        desk, invoice.id, amount=Decimal("10.00"), reason="Goodwill", method="card"
    )
    return invoice

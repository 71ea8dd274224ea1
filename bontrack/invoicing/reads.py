"""What an invoice and a day's takings show, read once for the API, the pages and the PDF alike.

Every function here reads; none checks access or writes an audit entry. The callers open the
invoice first through the access funnel (``services.read_invoice``), which is where the clinic
boundary and the read entries live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from bontrack.core.scoping import related_row
from bontrack.invoicing.models import Invoice, Payment, PaymentMethod, Refund
from bontrack.invoicing.pricing import Line, money_text
from bontrack.treatments.services import local_date

METHOD_WORDS = dict(PaymentMethod.choices)


@dataclass(frozen=True, slots=True)
class PaymentRead:
    id: UUID
    amount: Decimal
    method: str
    reference: str
    received_at: datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class RefundRead:
    id: UUID
    amount: Decimal
    method: str
    reason: str
    at: datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class InvoiceRead:
    """One issued invoice as it now stands: its lines and totals as issued, what was paid and
    refunded since, and the balance due (total − payments + refunds)."""

    invoice: Invoice
    clinic_name: str
    patient_name: str
    record_number: str
    birth_date: date
    date_of_service: date
    issued_by: str
    lines: tuple[Line, ...]
    payments: tuple[PaymentRead, ...]
    refunds: tuple[RefundRead, ...]

    @property
    def id(self) -> UUID:
        return self.invoice.id

    @property
    def number(self) -> int:
        return self.invoice.number

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def subtotal(self) -> Decimal:
        return self.invoice.subtotal

    @property
    def tax(self) -> Decimal:
        return self.invoice.tax

    @property
    def total(self) -> Decimal:
        return self.invoice.total

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0.00"))

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid + self.refunded

    @property
    def refundable(self) -> Decimal:
        """What may still be paid back: what was paid less what was refunded already."""
        return self.paid - self.refunded


def invoice_read(invoice: Invoice) -> InvoiceRead:
    """The invoice with its payments and refunds (three queries), the patient and the session
    loaded with it."""
    session, patient = related_row(invoice, "session"), related_row(invoice, "patient")
    tz = invoice.clinic.time_zone
    moment = session.administered_at or session.signed_at
    return InvoiceRead(
        invoice=invoice,
        clinic_name=invoice.clinic.name,
        patient_name=f"{patient.given_name} {patient.family_name}",
        record_number=patient.record_number,
        birth_date=patient.birth_date,
        date_of_service=local_date(tz, moment) if moment is not None else session.plan_date,
        issued_by=invoice.issued_by.display_name,
        lines=tuple(Line.from_stored(row) for row in invoice.lines),
        payments=tuple(
            PaymentRead(p.id, p.amount, p.method, p.reference, p.received_at, _name(p))
            for p in Payment.objects.filter(clinic_id=invoice.clinic_id, invoice=invoice)
            .select_related("recorded_by__user")
            .order_by("received_at", "id")
        ),
        refunds=tuple(
            RefundRead(r.id, r.amount, r.method, r.reason, r.at, _name(r))
            for r in Refund.objects.filter(clinic_id=invoice.clinic_id, invoice=invoice)
            .select_related("recorded_by__user")
            .order_by("at", "id")
        ),
    )


def _name(row: object) -> str:
    member = getattr(row, "recorded_by", None)
    return member.display_name if member is not None else ""


@dataclass(frozen=True, slots=True)
class TakingsRow:
    """One currency and method of a day: money received, money paid back, and the difference."""

    currency: str
    method: str
    payments: Decimal
    refunds: Decimal
    count: int

    @property
    def net(self) -> Decimal:
        return self.payments - self.refunds


@dataclass(frozen=True, slots=True)
class Takings:
    """A clinic-local day's takings, per currency and method (never added across currencies)."""

    day: date
    rows: tuple[TakingsRow, ...]

    def totals(self) -> tuple[TakingsRow, ...]:
        """One row per currency, its method "all"."""
        by_currency: dict[str, TakingsRow] = {}
        for row in self.rows:
            held = by_currency.get(row.currency)
            by_currency[row.currency] = TakingsRow(
                row.currency,
                "all",
                row.payments + (held.payments if held else 0),
                row.refunds + (held.refunds if held else 0),
                row.count + (held.count if held else 0),
            )
        return tuple(by_currency[c] for c in sorted(by_currency))


TAKINGS_COLUMNS = ("date", "currency", "method", "payments", "refunds", "net", "entries")


def takings_csv_rows(takings: Takings) -> list[list[str]]:
    """The takings file's rows: one per currency and method, amounts with two places."""
    return [
        [
            takings.day.isoformat(),
            row.currency,
            row.method,
            money_text(row.payments),
            money_text(row.refunds),
            money_text(row.net),
            str(row.count),
        ]
        for row in takings.rows
    ]

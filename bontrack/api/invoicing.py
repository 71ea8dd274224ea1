"""Self-pay money: the price list, a session's invoice, payments and refunds, the day's takings.

Each route calls the service the pages call (bontrack/invoicing/services.py) with the same
permission: ``billing.read`` to read, ``billing.write`` to price, invoice and take money. An
invoice answers with what the invoice page shows (bontrack/invoicing/reads.py), amounts as
strings with two places in the invoice's currency.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut, In
from bontrack.core.csvfiles import csv_response
from bontrack.domain.units import format_decimal
from bontrack.invoicing import reads, services
from bontrack.invoicing.models import Payment, PriceEntry, Refund
from bontrack.invoicing.pricing import money_text
from bontrack.plan_input import AwareDateTime, IsoDate, Number

router = Router(tags=["invoicing"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
Kind = Literal["per-unit", "per-area", "per-session"]
Method = Literal["cash", "card", "bank-transfer", "cheque", "other"]
Money = str  # amounts leave the API as strings with two places ("240.00"), never floats


# --- Schemas ---------------------------------------------------------------------------------


class PriceIn(In):
    limits_from = PriceEntry

    product: str
    kind: Kind
    amount: Number
    tax_rate: Number = Decimal(0)
    # ISO 4217; left out: the currency of the clinic's latest price.
    currency: str | None = None
    area: str = ""  # a protocol code, for a per-area price
    indication: str = ""  # blank: every indication
    valid_from: IsoDate | None = None


class PriceOut(Schema):
    id: UUID
    product: str
    kind: str
    area: str
    indication: str
    amount: Money
    currency: str
    tax_rate: str
    valid_from: date
    recorded_by: str
    recorded_at: datetime
    replaces: UUID | None


class PriceListOut(Schema):
    on: date
    current: list[PriceOut]
    upcoming: list[PriceOut]


class InvoiceIn(In):
    # A medical session invoiced to the patient who pays for it (billing.md 7.7).
    self_pay: bool = False
    # How the session is priced; left out: an area price, else a per-unit, else a per-session.
    kind: Kind | None = None


class LineOut(Schema):
    description: str
    detail: str
    quantity: str
    unit: str
    unit_price: Money
    tax_rate: str
    amount: Money
    tax: Money
    price_id: UUID


class PaymentOut(Schema):
    id: UUID
    amount: Money
    method: str
    reference: str
    received_at: datetime
    recorded_by: str


class RefundOut(Schema):
    id: UUID
    amount: Money
    method: str
    reason: str
    at: datetime
    recorded_by: str


class InvoiceOut(Schema):
    id: UUID
    number: int
    session_id: UUID
    patient_id: UUID
    patient_name: str
    record_number: str
    date_of_service: date
    issued_at: datetime
    issued_by: str
    self_pay: bool
    currency: str
    lines: list[LineOut]
    subtotal: Money
    tax: Money
    total: Money
    paid: Money
    refunded: Money
    balance: Money
    payments: list[PaymentOut]
    refunds: list[RefundOut]
    price_versions: list[UUID]


class PaymentIn(In):
    limits_from = Payment

    amount: Number
    method: Method
    reference: str = ""
    received_at: AwareDateTime | None = None  # left out: now


class RefundIn(In):
    limits_from = Refund

    amount: Number
    method: Method
    reason: str


class TakingsRowOut(Schema):
    currency: str
    method: str  # a payment method, or "all" in the totals
    payments: Money
    refunds: Money
    net: Money
    entries: int


class TakingsOut(Schema):
    date: date
    rows: list[TakingsRowOut]
    totals: list[TakingsRowOut]


# --- Shapes ----------------------------------------------------------------------------------


def price_out(entry: PriceEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "product": entry.product,
        "kind": entry.kind,
        "area": entry.area,
        "indication": entry.indication,
        "amount": money_text(entry.amount),
        "currency": entry.currency,
        "tax_rate": format_decimal(entry.tax_rate),
        "valid_from": entry.valid_from,
        "recorded_by": entry.recorded_by.display_name,
        "recorded_at": entry.recorded_at,
        "replaces": entry.replaces_id,
    }


def invoice_out(found: reads.InvoiceRead) -> dict[str, Any]:
    invoice = found.invoice
    return {
        "id": invoice.id,
        "number": invoice.number,
        "session_id": invoice.session_id,
        "patient_id": invoice.patient_id,
        "patient_name": found.patient_name,
        "record_number": found.record_number,
        "date_of_service": found.date_of_service,
        "issued_at": invoice.issued_at,
        "issued_by": found.issued_by,
        "self_pay": invoice.self_pay,
        "currency": invoice.currency,
        "lines": [line.stored() for line in found.lines],
        "subtotal": money_text(found.subtotal),
        "tax": money_text(found.tax),
        "total": money_text(found.total),
        "paid": money_text(found.paid),
        "refunded": money_text(found.refunded),
        "balance": money_text(found.balance),
        "payments": [
            {
                "id": p.id,
                "amount": money_text(p.amount),
                "method": p.method,
                "reference": p.reference,
                "received_at": p.received_at,
                "recorded_by": p.recorded_by,
            }
            for p in found.payments
        ],
        "refunds": [
            {
                "id": r.id,
                "amount": money_text(r.amount),
                "method": r.method,
                "reason": r.reason,
                "at": r.at,
                "recorded_by": r.recorded_by,
            }
            for r in found.refunds
        ],
        "price_versions": invoice.price_versions,
    }


def _takings_row(row: reads.TakingsRow) -> dict[str, Any]:
    return {
        "currency": row.currency,
        "method": row.method,
        "payments": money_text(row.payments),
        "refunds": money_text(row.refunds),
        "net": money_text(row.net),
        "entries": row.count,
    }


# --- Routes ----------------------------------------------------------------------------------


@router.get(
    "/prices", response={200: PriceListOut, **ERRORS}, openapi_extra=needs(Perm.BILLING_READ)
)
def list_prices(request: HttpRequest, on: IsoDate | None = None) -> Any:
    """The price list valid on `on` (the clinic's today by default): per product, kind, area and
    indication, the latest version valid that day; and the versions recorded to start later."""
    found = services.price_list(actor_of(request), on)
    return {
        "on": found.on,
        "current": [price_out(e) for e in found.current],
        "upcoming": [price_out(e) for e in found.upcoming],
    }


@router.post("/prices", response={201: PriceOut, **ERRORS}, openapi_extra=needs(Perm.BILLING_WRITE))
def set_price(request: HttpRequest, body: PriceIn) -> Any:
    """Record a price: a new version of the price of (product, kind, area, indication), valid
    from `valid_from` (today by default). Earlier versions stay in the history."""
    entry = services.set_price(actor_of(request), **body.model_dump())
    return Status(201, price_out(entry))


@router.post(
    "/sessions/{session_id}/invoice",
    response={201: InvoiceOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_WRITE),
)
def issue_invoice(request: HttpRequest, session_id: UUID, body: InvoiceIn) -> Any:
    """Issue the invoice of a signed session: a cosmetic one, or a medical one with
    `self_pay: true`. Its lines are derived from the record and the prices valid on the day of
    treatment; a missing price answers 400 naming what to price; a second invoice 409."""
    actor = actor_of(request)
    invoice = services.issue_invoice(actor, session_id, self_pay=body.self_pay, kind=body.kind)
    return Status(201, invoice_out(reads.invoice_read(invoice)))


@router.get(
    "/invoices/{invoice_id}",
    response={200: InvoiceOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def read_invoice(request: HttpRequest, invoice_id: UUID) -> Any:
    return invoice_out(services.read_invoice(actor_of(request), invoice_id))


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: InvoiceOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_WRITE),
)
def record_payment(request: HttpRequest, invoice_id: UUID, body: PaymentIn) -> Any:
    """Record money received (no card is processed here); more than the balance answers 400.
    The answer is the invoice with its new balance."""
    payment = services.record_payment(actor_of(request), invoice_id, **body.model_dump())
    return Status(201, invoice_out(reads.invoice_read(payment.invoice)))


@router.post(
    "/invoices/{invoice_id}/refunds",
    response={201: InvoiceOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_WRITE),
)
def record_refund(request: HttpRequest, invoice_id: UUID, body: RefundIn) -> Any:
    """Record money paid back, with its reason; more than was paid answers 400. The answer is the
    invoice with its new balance."""
    refund = services.record_refund(actor_of(request), invoice_id, **body.model_dump())
    return Status(201, invoice_out(reads.invoice_read(refund.invoice)))


@router.get(
    "/takings", response={200: TakingsOut, **ERRORS}, openapi_extra=needs(Perm.BILLING_READ)
)
def takings(request: HttpRequest, date: IsoDate | None = None) -> Any:
    """A clinic-local day's payments and refunds per currency and method (today by default)."""
    found = services.day_takings(actor_of(request), date)
    return {
        "date": found.day,
        "rows": [_takings_row(r) for r in found.rows],
        "totals": [_takings_row(r) for r in found.totals()],
    }


@router.get(
    "/takings.csv",
    response={**ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The day's takings as CSV (columns: "
                + ", ".join(reads.TAKINGS_COLUMNS)
                + ")",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
        **needs(Perm.BILLING_READ),
    },
)
def takings_csv(request: HttpRequest, date: IsoDate | None = None) -> HttpResponse:
    """The same figures as `GET /takings`, one row per currency and method; the export is
    itself audited."""
    found = services.takings_csv(actor_of(request), date)
    return csv_response(found.name, found.columns, found.rows)

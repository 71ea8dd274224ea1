"""Self-pay money: the clinic's price list, a signed session's invoice, the payments and refunds
recorded against it, and a day's takings (docs/billing.md, "Cosmetic invoices").

A cosmetic session is invoiced, never claimed; a medical one is invoiced only when the patient
pays for it themselves, marked self-pay (billing.md 7.3, 7.7). An invoice's lines are derived from
the signed record and the prices valid on the day of treatment (``pricing.py``); nobody types
them. Invoices are numbered per clinic in order and without gaps: the number is taken under a
lock in the transaction that writes the invoice, so a refused or rolled-back issue uses none.

Writes need ``billing.write``, reads ``billing.read``; every row is reached through the access
funnel and every write and read of a patient's invoice leaves its audit entry in the same
transaction. Lock order: the patient, then the clinic's invoice numbers or the invoice, then the
audit chain.
"""

from __future__ import annotations

import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from uuid import UUID

from django.db import connection
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from bontrack.access import INVOICE, SESSION, access, chart_open_to, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.units import Units, format_decimal
from bontrack.invoicing import reads
from bontrack.invoicing.models import Invoice, Payment, PaymentMethod, PriceEntry, Refund
from bontrack.invoicing.pricing import (
    CENT,
    MAX_AMOUNT,
    Price,
    Priced,
    PriceKind,
    PricingError,
    Treated,
    area_words,
    current_prices,
    is_cosmetic,
    money,
    money_text,
    price_session,
    product_words,
)
from bontrack.patients.models import Patient
from bontrack.treatments.models import Injection, SessionEvent, TreatmentSession
from bontrack.treatments.records import (
    COUNTING_STATUSES,
    current_points,
    status_of,
    total_units,
)
from bontrack.treatments.services import local_date, lock_patient

_CURRENCY = re.compile(r"[A-Z]{3}")
# A payment's time may be given for money taken a little earlier; never ahead of the clock.
FUTURE_TOLERANCE = timedelta(minutes=5)
RESTRICTED_WORDS = "restricted patient: break glass or ask their care team"


# --- The price list ------------------------------------------------------------------------


def _clinic_today(actor: Actor) -> date:
    return local_date(actor.clinic.time_zone, timezone.now())


def _decimal(value: Decimal | int | str, field: str) -> Decimal:
    if isinstance(value, bool):
        raise ServiceError(field, "give a number, e.g. 12.50")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise ServiceError(field, "give a number, e.g. 12.50") from None
    if not number.is_finite():
        raise ServiceError(field, "give a number, e.g. 12.50")
    return number


def checked_amount(value: Decimal | int | str, field: str, *, positive: bool) -> Decimal:
    """A sum of money as given: not negative (greater than 0 when ``positive``), at most the
    largest amount stored, and to the cent."""
    number = _decimal(value, field)
    if positive and number <= 0:
        raise ServiceError(field, "must be greater than 0")
    if number < 0:
        raise ServiceError(field, "must not be negative")
    if number > MAX_AMOUNT:
        raise ServiceError(field, f"must be at most {MAX_AMOUNT}")
    if number != number.quantize(CENT):
        raise ServiceError(field, "give at most 2 decimals, e.g. 12.50")
    return money(number)


def _tax_rate(value: Decimal | int | str) -> Decimal:
    rate = _decimal(value, "tax_rate")
    if rate < 0 or rate > 100:
        raise ServiceError("tax_rate", "must be a percentage from 0 to 100, e.g. 7.5")
    if rate != rate.quantize(Decimal("0.001")):
        raise ServiceError("tax_rate", "give at most 3 decimals, e.g. 8.875")
    return rate


def _clinic_currency(actor: Actor) -> str | None:
    """The currency of the clinic's latest price: the one a new price takes when none is given."""
    latest = (
        PriceEntry.objects.filter(clinic_id=actor.membership.clinic_id)
        .order_by("-recorded_at", "-id")
        .values_list("currency", flat=True)
        .first()
    )
    return str(latest) if latest is not None else None


def _checked_price_key(product: str, kind: str, area: str, indication: str) -> None:
    known = catalog()
    if product not in known.products:
        raise ServiceError("product", f"unknown product code {product!r}")
    if kind not in set(PriceKind):
        raise ServiceError("kind", f"must be one of {', '.join(PriceKind)}")
    if kind == PriceKind.PER_AREA:
        protocol = known.protocols.get(area)
        if not area:
            raise ServiceError("area", "a per-area price names its area: a protocol code")
        if protocol is None:
            raise ServiceError("area", f"unknown protocol code {area!r}")
        if protocol.product != product:
            raise ServiceError(
                "area", f"{protocol.name} is a protocol of {product_words(protocol.product)}"
            )
    elif area:
        raise ServiceError("area", "only a per-area price names an area")
    if indication and indication not in known.indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")


def set_price(
    actor: Actor,
    *,
    product: str,
    kind: str,
    amount: Decimal | int | str,
    tax_rate: Decimal | int | str = Decimal(0),
    currency: str | None = None,
    area: str = "",
    indication: str = "",
    valid_from: date | None = None,
) -> PriceEntry:
    """Record a price: a new version of the price of (product, kind, area, indication), from
    ``valid_from`` (the clinic's today by default). The version it follows stays in the history
    and is named by it; nothing is rewritten."""
    require(actor, Perm.BILLING_WRITE)
    area, indication = area.strip(), indication.strip()
    _checked_price_key(product, kind, area, indication)
    checked = checked_amount(amount, "amount", positive=False)
    rate = _tax_rate(tax_rate)
    with clinical_transaction(actor) as trail:
        chosen = (currency or "").strip().upper() or _clinic_currency(actor)
        if chosen is None:
            raise ServiceError("currency", "give the clinic's currency: ISO 4217, e.g. USD or EUR")
        if not _CURRENCY.fullmatch(chosen):
            raise ServiceError("currency", "give three letters of ISO 4217, e.g. USD or EUR")
        replaces = (
            PriceEntry.objects.filter(
                clinic_id=actor.membership.clinic_id,
                product=product,
                kind=kind,
                area=area,
                indication=indication,
            )
            .order_by("-recorded_at", "-id")
            .first()
        )
        entry = PriceEntry.objects.create(
            clinic_id=actor.membership.clinic_id,
            product=product,
            kind=kind,
            area=area,
            indication=indication,
            amount=checked,
            currency=chosen,
            tax_rate=rate,
            valid_from=valid_from or _clinic_today(actor),
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
            replaces=replaces,
        )
        trail.record(
            "create",
            "price",
            entry.id,
            product=product,
            kind=kind,
            area=area,
            indication=indication,
            amount=money_text(checked),
            currency=chosen,
            tax_rate=format_decimal(rate),
            valid_from=entry.valid_from.isoformat(),
        )
    return entry


def _price(entry: PriceEntry) -> Price:
    return Price(
        id=str(entry.id),
        product=entry.product,
        kind=entry.kind,
        area=entry.area,
        indication=entry.indication,
        amount=entry.amount,
        currency=entry.currency,
        tax_rate=entry.tax_rate,
        valid_from=entry.valid_from,
    )


def _entries(clinic_id: UUID, product: str | None = None) -> list[PriceEntry]:
    """The clinic's price versions in the order they were recorded."""
    rows = PriceEntry.objects.filter(clinic_id=clinic_id)
    if product is not None:
        rows = rows.filter(product=product)
    return list(rows.select_related("recorded_by__user").order_by("recorded_at", "id"))


@dataclass(frozen=True)
class PriceList:
    """The prices valid on ``on`` (one per product, kind, area and indication) and the versions
    recorded to start later."""

    on: date
    current: tuple[PriceEntry, ...]
    upcoming: tuple[PriceEntry, ...]


def price_list(actor: Actor, on: date | None = None) -> PriceList:
    require(actor, Perm.BILLING_READ)
    day = on or _clinic_today(actor)
    entries = _entries(actor.membership.clinic_id)
    by_id = {str(e.id): e for e in entries}
    current = tuple(by_id[p.id] for p in current_prices(map(_price, entries), day))
    upcoming = tuple(
        sorted(
            (e for e in entries if e.valid_from > day),
            key=lambda e: (e.valid_from, e.product, e.kind, e.area, e.indication),
        )
    )
    return PriceList(day, current, upcoming)


# --- A session's invoice -------------------------------------------------------------------


def date_of_service(session: TreatmentSession) -> date:
    """The clinic-local day the toxin was given: the day whose prices apply."""
    moment = session.administered_at or session.signed_at
    if moment is None:
        return session.plan_date
    return local_date(session.clinic.time_zone, moment)


def treated(session: TreatmentSession) -> Treated:
    """What the invoice may show of the signed record, as it now stands (amended values)."""
    units = Units(session.product, total_units(current_points(session)))
    return Treated(session.product, session.indication, session.protocol, units)


def _refuse_uninvoiceable(session: TreatmentSession, *, self_pay: bool) -> None:
    if not session.is_signed:
        raise ConflictError(None, "only a signed session is invoiced: sign it first")
    if session.external:
        raise ConflictError(None, "a dose given elsewhere is not invoiced here")
    if status_of(session) not in COUNTING_STATUSES:
        raise ConflictError(None, "this session was entered in error: it is not invoiced")
    found = (
        Invoice.objects.filter(clinic_id=session.clinic_id, session=session)
        .values_list("number", flat=True)
        .first()
    )
    if found is not None:
        raise ConflictError(None, f"this session is already invoiced: invoice {found}")
    if not is_cosmetic(session.indication) and not self_pay:
        raise ServiceError(
            "self_pay",
            "a medical session's charges go on a claim to the patient's insurance; if the "
            "patient pays for it themselves, invoice it as self-pay",
        )


def _priced(session: TreatmentSession, kind: str | None) -> Priced:
    day = date_of_service(session)
    prices = current_prices(map(_price, _entries(session.clinic_id, session.product)), day)
    try:
        return price_session(treated(session), prices, kind)
    except PricingError as refused:
        raise ServiceError(refused.field, refused.message) from None


def _next_number(clinic_id: UUID) -> int:
    """The clinic's next invoice number, taken under a lock held until the transaction ends, so
    that two issues never take the same number and a rolled-back one leaves no gap. SQLite's
    IMMEDIATE transaction already holds the database's write lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"invoice-number:{clinic_id}"]
            )
    last = Invoice.objects.filter(clinic_id=clinic_id).aggregate(last=Max("number"))["last"]
    return int(last or 0) + 1


def issue_invoice(
    actor: Actor, session_id: UUID | str, *, self_pay: bool = False, kind: str | None = None
) -> Invoice:
    """Issue the invoice of a signed session: a cosmetic one, or a medical one the patient pays
    for (``self_pay``). Its lines follow from the record and the prices valid on the day of
    treatment; ``kind`` chooses per unit, per area or per session (by default the most specific
    price the clinic set). A missing price is refused, naming what to price."""
    require(actor, Perm.BILLING_WRITE)
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.BILLING_WRITE)
        lock_patient(session.clinic_id, session.patient_id)
        _refuse_uninvoiceable(session, self_pay=self_pay)
        priced = _priced(session, kind)
        invoice = Invoice.objects.create(
            clinic_id=session.clinic_id,
            session=session,
            patient_id=session.patient_id,
            number=_next_number(session.clinic_id),
            self_pay=not is_cosmetic(session.indication),
            issued_at=timezone.now(),
            issued_by=actor.membership,
            lines=[line.stored() for line in priced.lines],
            subtotal=priced.subtotal,
            tax=priced.tax,
            total=priced.total,
            currency=priced.currency,
            price_versions=list(priced.price_ids),
        )
        trail.record(
            "create",
            "invoice",
            invoice.id,
            session.patient_id,
            session=str(session.id),
            number=invoice.number,
            total=money_text(invoice.total),
            currency=invoice.currency,
        )
    return invoice


def read_invoice(actor: Actor, invoice_id: UUID | str, action: str = "read") -> reads.InvoiceRead:
    """Open an invoice (``action="print"`` for its PDF); one entry of its patient's trail."""
    if action not in ("read", "print"):
        raise ServiceError("action", "must be read or print")
    with clinical_transaction(actor) as trail:
        invoice = access(actor, INVOICE, invoice_id, Perm.BILLING_READ)
        trail.record(action, "invoice", invoice.id, invoice.patient_id)
        return reads.invoice_read(invoice)


@dataclass(frozen=True)
class SessionBilling:
    """What the invoice page of a session shows: the invoice when there is one; before it, the
    lines it would have, or why it cannot be issued."""

    session: TreatmentSession
    patient_name: str
    record_number: str
    date_of_service: date
    treated: Treated
    cosmetic: bool
    invoice: reads.InvoiceRead | None
    preview: Priced | None
    refusal: str


def session_billing(actor: Actor, session_id: UUID | str) -> SessionBilling:
    """Open a session for its invoice (one read entry of its patient's trail: the invoice's when
    it has one, else the session's)."""
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.BILLING_READ)
        invoice = (
            in_clinic(Invoice.objects.all(), session.clinic_id, "session", "patient")
            .select_related("clinic", "issued_by__user")
            .filter(session=session)
            .first()
        )
        preview, refusal = None, ""
        if invoice is None:
            trail.record("read", "session", session.id, session.patient_id, invoice=False)
            try:
                _refuse_uninvoiceable(session, self_pay=True)
                preview = _priced(session, None)
            except ServiceError as refused:
                refusal = refused.message
        else:
            trail.record("read", "invoice", invoice.id, session.patient_id)
        patient = session.patient
        return SessionBilling(
            session=session,
            patient_name=f"{patient.given_name} {patient.family_name}",
            record_number=patient.record_number,
            date_of_service=date_of_service(session),
            treated=treated(session),
            cosmetic=is_cosmetic(session.indication),
            invoice=reads.invoice_read(invoice) if invoice is not None else None,
            preview=preview,
            refusal=refusal,
        )


def invoice_of_session(actor: Actor, session_id: UUID | str, perm: Perm) -> Invoice:
    """A session's invoice, the session reached through the funnel for ``perm``."""
    session = access(actor, SESSION, session_id, perm)
    invoice = Invoice.objects.filter(clinic_id=session.clinic_id, session=session).first()
    if invoice is None:
        raise ConflictError(None, "this session has no invoice yet: issue it first")
    return invoice


# --- Payments and refunds ------------------------------------------------------------------


def _method(method: str) -> str:
    if method not in PaymentMethod.values:
        raise ServiceError("method", f"must be one of {', '.join(PaymentMethod.values)}")
    return method


def _locked_invoice(actor: Actor, invoice_id: UUID | str) -> Invoice:
    """The invoice, its row locked until the transaction ends on PostgreSQL, so that two
    payments recorded at once cannot together pay more than the balance."""
    invoice = access(actor, INVOICE, invoice_id, Perm.BILLING_WRITE)
    if connection.vendor == "postgresql":
        list(
            Invoice.objects.select_for_update(no_key=True)
            .filter(clinic_id=invoice.clinic_id, pk=invoice.pk)
            .values("pk")
        )
    return invoice


def record_payment(
    actor: Actor,
    invoice_id: UUID | str,
    *,
    amount: Decimal | int | str,
    method: str,
    reference: str = "",
    received_at: datetime | None = None,
) -> Payment:
    """Money received against an invoice; more than the balance due is refused."""
    require(actor, Perm.BILLING_WRITE)
    checked = checked_amount(amount, "amount", positive=True)
    _method(method)
    if received_at is not None:
        if timezone.is_naive(received_at):
            raise ServiceError("received_at", "must include a UTC offset")
        if received_at > timezone.now() + FUTURE_TOLERANCE:
            raise ServiceError("received_at", "is in the future")
    with clinical_transaction(actor) as trail:
        invoice = _locked_invoice(actor, invoice_id)
        due = reads.invoice_read(invoice).balance
        if due <= 0:
            raise ConflictError("amount", "this invoice is paid in full")
        if checked > due:
            raise ServiceError(
                "amount",
                f"more than the balance due ({money_text(due)} {invoice.currency}): "
                "record at most the balance",
            )
        payment = Payment.objects.create(
            clinic_id=invoice.clinic_id,
            invoice=invoice,
            amount=checked,
            method=method,
            reference=reference.strip(),
            received_at=received_at or timezone.now(),
            recorded_by=actor.membership,
        )
        trail.record(
            "create",
            "payment",
            payment.id,
            invoice.patient_id,
            invoice=str(invoice.id),
            number=invoice.number,
            amount=money_text(checked),
            currency=invoice.currency,
            method=method,
        )
    return payment


def record_refund(
    actor: Actor,
    invoice_id: UUID | str,
    *,
    amount: Decimal | int | str,
    reason: str,
    method: str,
) -> Refund:
    """Money paid back on an invoice, with why; more than was paid (less what was refunded
    already) is refused."""
    require(actor, Perm.BILLING_WRITE)
    checked = checked_amount(amount, "amount", positive=True)
    _method(method)
    if not reason.strip():
        raise ServiceError("reason", "say why the money is paid back")
    with clinical_transaction(actor) as trail:
        invoice = _locked_invoice(actor, invoice_id)
        refundable = reads.invoice_read(invoice).refundable
        if checked > refundable:
            raise ServiceError(
                "amount",
                f"more than was paid ({money_text(refundable)} {invoice.currency} may be refunded)",
            )
        refund = Refund.objects.create(
            clinic_id=invoice.clinic_id,
            invoice=invoice,
            amount=checked,
            reason=reason.strip(),
            method=method,
            recorded_by=actor.membership,
            at=timezone.now(),
        )
        trail.record(
            "create",
            "refund",
            refund.id,
            invoice.patient_id,
            invoice=str(invoice.id),
            number=invoice.number,
            amount=money_text(checked),
            currency=invoice.currency,
            method=method,
        )
    return refund


# --- The day's takings ---------------------------------------------------------------------


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The clinic-local day as a half-open interval of moments."""
    start = datetime.combine(day, time(0, 0), tzinfo=zoneinfo.ZoneInfo(tz))
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zoneinfo.ZoneInfo(tz))
    return start, end


def _takings(actor: Actor, day: date) -> reads.Takings:
    start, end = day_bounds(day, actor.clinic.time_zone)
    clinic = actor.membership.clinic_id
    received: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    paid_back: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for currency, method, amount in (
        Payment.objects.filter(clinic_id=clinic, received_at__gte=start, received_at__lt=end)
        .filter(invoice__clinic_id=clinic)
        .values_list("invoice__currency", "method", "amount")
    ):
        received[(currency, method)].append(amount)
    for currency, method, amount in (
        Refund.objects.filter(clinic_id=clinic, at__gte=start, at__lt=end)
        .filter(invoice__clinic_id=clinic)
        .values_list("invoice__currency", "method", "amount")
    ):
        paid_back[(currency, method)].append(amount)
    order = {m: n for n, m in enumerate(PaymentMethod.values)}
    keys = sorted(set(received) | set(paid_back), key=lambda k: (k[0], order.get(k[1], 99)))
    return reads.Takings(
        day,
        tuple(
            reads.TakingsRow(
                currency,
                method,
                sum(received[(currency, method)], Decimal("0.00")),
                sum(paid_back[(currency, method)], Decimal("0.00")),
                len(received[(currency, method)]) + len(paid_back[(currency, method)]),
            )
            for currency, method in keys
        ),
    )


def day_takings(actor: Actor, day: date | None = None) -> reads.Takings:
    """Per currency and method, the payments received and the refunds paid on a clinic-local
    day (today by default), and what is left of them."""
    require(actor, Perm.BILLING_READ)
    chosen = day or _clinic_today(actor)
    with clinical_transaction(actor) as trail:
        trail.record("read", "takings", chosen.isoformat())
        return _takings(actor, chosen)


@dataclass(frozen=True)
class CsvFile:
    name: str
    columns: tuple[str, ...]
    rows: list[list[str]]


def takings_csv(actor: Actor, day: date | None = None) -> CsvFile:
    """The day's takings as a CSV file (the API's and the Takings page's download)."""
    require(actor, Perm.BILLING_READ)
    chosen = day or _clinic_today(actor)
    with clinical_transaction(actor) as trail:
        trail.record("export", "takings", chosen.isoformat())
        found = _takings(actor, chosen)
    return CsvFile(
        f"takings-{chosen.isoformat()}.csv", reads.TAKINGS_COLUMNS, reads.takings_csv_rows(found)
    )


@dataclass(frozen=True)
class DayInvoice:
    """An invoice of the day's list: the patient's name only when their chart is open to the
    reader (a restricted one is named as such)."""

    session_id: UUID
    number: int
    patient_name: str
    total: Decimal
    balance: Decimal
    currency: str


@dataclass(frozen=True)
class NotInvoiced:
    """A cosmetic session given that day and not yet invoiced."""

    session_id: UUID
    patient_name: str
    product: str
    units: str
    area: str


@dataclass(frozen=True)
class DayDesk:
    """What the front desk works from on a day: the invoices issued and the cosmetic sessions
    still to invoice. One read entry per patient named."""

    invoices: tuple[DayInvoice, ...]
    not_invoiced: tuple[NotInvoiced, ...]


def day_desk(actor: Actor, day: date) -> DayDesk:
    require(actor, Perm.BILLING_READ)
    start, end = day_bounds(day, actor.clinic.time_zone)
    clinic = actor.membership.clinic_id
    cosmetic = [code for code, found in catalog().indications.items() if found.cosmetic]
    issued = list(
        in_clinic(Invoice.objects.all(), clinic, "session", "patient")
        .filter(issued_at__gte=start, issued_at__lt=end)
        .select_related("clinic", "issued_by__user")
        .order_by("number")
    )
    waiting = [
        s
        for s in TreatmentSession.objects.filter(
            clinic_id=clinic,
            administered_at__gte=start,
            administered_at__lt=end,
            signed_at__isnull=False,
            external=False,
            indication__in=cosmetic,
            patient__clinic_id=clinic,
        )
        .exclude(
            Exists(
                Invoice.objects.filter(clinic_id=OuterRef("clinic_id"), session_id=OuterRef("pk"))
            )
        )
        .select_related("patient", "signed_by")
        .prefetch_related(
            prefetch_in_clinic("events", SessionEvent, clinic),
            prefetch_in_clinic("injections", Injection, clinic),
        )
        .order_by("administered_at")
        if status_of(s) in COUNTING_STATUSES
    ]
    shown: set[UUID] = set()

    def name_of(patient: Patient) -> str:
        if not chart_open_to(actor.membership, patient):
            return RESTRICTED_WORDS
        shown.add(patient.id)
        return f"{patient.given_name} {patient.family_name}"

    invoices = []
    for invoice in issued:
        read = reads.invoice_read(invoice)
        invoices.append(
            DayInvoice(
                invoice.session_id,
                invoice.number,
                name_of(invoice.patient),
                read.total,
                read.balance,
                invoice.currency,
            )
        )
    not_invoiced = []
    for session in waiting:
        given = treated(session)
        not_invoiced.append(
            NotInvoiced(
                session.id,
                name_of(session.patient),
                product_words(session.product),
                given.units.text,
                area_words(session.protocol) if session.protocol else "",
            )
        )
    with clinical_transaction(actor) as trail:
        for patient_id in sorted(shown, key=str):
            trail.record("read", "patient", patient_id, patient_id, takings=day.isoformat())
    return DayDesk(tuple(invoices), tuple(not_invoiced))

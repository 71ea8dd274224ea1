"""The billing report of a period, read once for the API, its CSV and the page alike
(docs/billing.md, "Reports and FHIR").

Dates are the clinic's local days, from ``start`` to ``end`` included. The report has three parts,
and none of them adds units of two products together (billing.md 1: units are product-specific):

- **Units, per product**: the units given in the signed sessions of the period (as amended; a
  session entered in error or a dose given elsewhere does not count), the units wasted by the
  vials of the period once closed (a vial's size less every draw, B.30: a vial counts on the
  clinic-local day it was opened, or closed when nobody opened it), and the billing units the
  current charge sets of the period claim as given and as discarded (the JW lines).
- **Charges, per CPT and HCPCS code** and modifier set: how many lines and billing units the
  current charge sets of the period carry, and how many of them the claims file exports
  (``reads.claims_file``: complete, confirmed, covered claims). No money: bontrack holds no fee
  schedule, so a claim's amounts are the clinic's billing system's.
- **Revenue, per currency, product and area**: the invoices of the sessions given in the period
  (the area is the protocol the session followed), their totals as issued, and what was paid
  and refunded against them to date. Amounts of different currencies are never added.

``billing_report`` reads in a constant number of queries whatever the number of sessions;
``read_report`` and ``export_report`` are the entry points of the API and the pages: they check
``billing.read`` and the period, and record one audit entry (the figures identify nobody).
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.billing.capture import local_date
from bontrack.billing.models import ChargeSet
from bontrack.billing.reads import CLAIM_COLUMNS, claims_file
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import not_replaced, prefetch_in_clinic
from bontrack.domain.billing import billing_catalog, charge_set_from_json
from bontrack.domain.units import Units, format_decimal
from bontrack.inventory.models import Vial, VialClosing
from bontrack.invoicing.models import Invoice, Payment, Refund
from bontrack.invoicing.pricing import money_text
from bontrack.treatments.models import Injection, SessionEvent, SessionVial, TreatmentSession
from bontrack.treatments.records import COUNTING_STATUSES, current_points, status_of, total_units
from bontrack.treatments.supply import vial_states

# A report covers at most a year, as the claims file does.
MAX_DAYS = 366
CPT = "CPT"
HCPCS = "HCPCS"
NO_FEE_SCHEDULE = (
    "Claims carry codes and billing units, never amounts: bontrack holds no fee schedule, so "
    "what a claim is worth is for the clinic's billing system."
)
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class ProductRow:
    """One product's units in the period, and the billing units its claims carry (in billing
    units of its HCPCS code, never in the product's units)."""

    product: str
    sessions: int
    given: Units
    wasted: Units
    vials_closed: int
    hcpcs: str | None  # None: the billing catalog has no HCPCS code for it (never claimed)
    administered_billing_units: int
    jw_billing_units: int


@dataclass(frozen=True, slots=True)
class ChargeRow:
    """The lines of one code and modifier set on the period's current charge sets; ``exported``:
    those the claims file exports. ``product``: the product a HCPCS line bills ("" for a CPT
    procedure)."""

    system: str  # CPT or HCPCS
    code: str
    modifiers: tuple[str, ...]
    product: str
    lines: int
    billing_units: int
    exported_lines: int
    exported_billing_units: int


@dataclass(frozen=True, slots=True)
class RevenueRow:
    """The invoices of one currency, product and area (the session's protocol, "" when it
    followed none); ``self_pay``: medical sessions the patient paid for, not cosmetic ones."""

    currency: str
    product: str
    area: str
    self_pay: bool
    invoices: int
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    paid: Decimal
    refunded: Decimal

    @property
    def net_received(self) -> Decimal:
        return self.paid - self.refunded

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid + self.refunded


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    """Every invoice of the period in one currency."""

    currency: str
    invoices: int
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    paid: Decimal
    refunded: Decimal

    @property
    def net_received(self) -> Decimal:
        return self.paid - self.refunded

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid + self.refunded


def amounts_text(row: RevenueRow | CurrencyTotal) -> dict[str, str]:
    """A row's sums as the API, the page and the CSV write money: two decimals, no symbol."""
    return {
        "subtotal": money_text(row.subtotal),
        "tax": money_text(row.tax),
        "total": money_text(row.total),
        "paid": money_text(row.paid),
        "refunded": money_text(row.refunded),
        "net_received": money_text(row.net_received),
        "balance": money_text(row.balance),
    }


UNITS_COLUMNS = (
    "product",
    "sessions",
    "units_given",
    "units_wasted",
    "vials_closed",
    "hcpcs",
    "administered_billing_units",
    "jw_billing_units",
)
CHARGE_COLUMNS = (
    "code_system",
    "code",
    "modifiers",
    "product",
    "lines",
    "billing_units",
    "exported_lines",
    "exported_billing_units",
)
REVENUE_COLUMNS = (
    "currency",
    "product",
    "area",
    "invoiced_as",
    "invoices",
    "subtotal",
    "tax",
    "total",
    "paid",
    "refunded",
    "net_received",
    "balance",
)
ALL = "all"


def invoiced_as(self_pay: bool) -> str:
    return "self-pay" if self_pay else "cosmetic"


@dataclass(frozen=True, slots=True)
class BillingReport:
    start: date
    end: date
    products: tuple[ProductRow, ...]
    charges: tuple[ChargeRow, ...]
    revenue: tuple[RevenueRow, ...]
    totals: tuple[CurrencyTotal, ...]

    def csv_rows(self) -> list[tuple[str, ...]]:
        """The report's file: the units per product, then after a blank line the charges per
        code, then the revenue per currency, product and area with each currency's total
        (product, area and invoiced_as "all")."""
        out: list[tuple[str, ...]] = [UNITS_COLUMNS]
        out += [
            (
                p.product,
                str(p.sessions),
                format_decimal(p.given.amount),
                format_decimal(p.wasted.amount),
                str(p.vials_closed),
                p.hcpcs or "",
                str(p.administered_billing_units),
                str(p.jw_billing_units),
            )
            for p in self.products
        ]
        out += [(), CHARGE_COLUMNS]
        out += [
            (
                c.system,
                c.code,
                " ".join(c.modifiers),
                c.product,
                str(c.lines),
                str(c.billing_units),
                str(c.exported_lines),
                str(c.exported_billing_units),
            )
            for c in self.charges
        ]
        out += [(), REVENUE_COLUMNS]
        out += [
            (
                r.currency,
                r.product,
                r.area,
                invoiced_as(r.self_pay),
                str(r.invoices),
                *_money(r.subtotal, r.tax, r.total, r.paid, r.refunded, r.net_received, r.balance),
            )
            for r in self.revenue
        ]
        out += [
            (
                t.currency,
                ALL,
                ALL,
                ALL,
                str(t.invoices),
                *_money(t.subtotal, t.tax, t.total, t.paid, t.refunded, t.net_received, t.balance),
            )
            for t in self.totals
        ]
        return out


def _money(*amounts: Decimal) -> tuple[str, ...]:
    return tuple(money_text(a) for a in amounts)


# --- Entry points ------------------------------------------------------------------------------


def clinic_today(actor: Actor) -> date:
    return local_date(actor.clinic.time_zone, timezone.now())


def report_period(actor: Actor, start: date | None, end: date | None) -> tuple[date, date]:
    """The period asked for; by default the clinic's current month up to today."""
    last = end or clinic_today(actor)
    first = start or last.replace(day=1)
    if last < first:
        raise ServiceError("end", f"is before the start ({first.isoformat()})")
    if (last - first).days >= MAX_DAYS:
        raise ServiceError("end", f"a billing report covers at most {MAX_DAYS} days")
    return first, last


def read_report(actor: Actor, start: date | None = None, end: date | None = None) -> BillingReport:
    """The report of a period (the current month by default); one read entry."""
    require(actor, Perm.BILLING_READ)
    first, last = report_period(actor, start, end)
    with clinical_transaction(actor) as trail:
        found = billing_report(actor.membership.clinic_id, actor.clinic.time_zone, first, last)
        trail.record("read", "billing-report", f"{first.isoformat()}/{last.isoformat()}", None)
    return found


def export_report(
    actor: Actor, start: date | None = None, end: date | None = None
) -> tuple[str, list[tuple[str, ...]]]:
    """The report as a CSV file: its name and rows (the first row a header); one export entry."""
    require(actor, Perm.BILLING_READ)
    first, last = report_period(actor, start, end)
    with clinical_transaction(actor) as trail:
        found = billing_report(actor.membership.clinic_id, actor.clinic.time_zone, first, last)
        trail.record(
            "export", "billing-report-csv", f"{first.isoformat()}/{last.isoformat()}", None
        )
    return report_filename(first, last), found.csv_rows()


def report_filename(start: date, end: date) -> str:
    return f"bontrack-billing-report-{start.isoformat()}-{end.isoformat()}.csv"


# --- The read ----------------------------------------------------------------------------------


def day_bounds(start: date, end: date, time_zone: str) -> tuple[datetime, datetime]:
    """The instants from the start of ``start`` to the start of the day after ``end``, in the
    clinic's zone."""
    zone = zoneinfo.ZoneInfo(time_zone)
    return (
        datetime.combine(start, time(0), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone),
    )


def billing_report(
    clinic_id: UUID, time_zone: str, start: date, end: date, now: datetime | None = None
) -> BillingReport:
    """The clinic's report of the local days ``start`` to ``end`` (see the module docstring)."""
    now = now or timezone.now()
    lo, hi = day_bounds(start, end, time_zone)
    given = _units_given(clinic_id, lo, hi)
    wasted = _units_wasted(clinic_id, time_zone, start, end, lo, hi, now)
    charges, billed = _charges(clinic_id, start, end)
    catalog = billing_catalog()
    products = []
    for product in sorted(set(given) | set(wasted) | set(billed)):
        sessions, units_given = given.get(product, (0, Decimal(0)))
        vials, units_wasted = wasted.get(product, (0, Decimal(0)))
        administered, jw = billed.get(product, (0, 0))
        entry = catalog.product(product)
        products.append(
            ProductRow(
                product=product,
                sessions=sessions,
                given=Units(product, units_given),
                wasted=Units(product, units_wasted),
                vials_closed=vials,
                hcpcs=entry.hcpcs if entry is not None else None,
                administered_billing_units=administered,
                jw_billing_units=jw,
            )
        )
    revenue, totals = _revenue(clinic_id, lo, hi)
    return BillingReport(start, end, tuple(products), charges, revenue, totals)


def _units_given(clinic_id: UUID, lo: datetime, hi: datetime) -> dict[str, tuple[int, Decimal]]:
    """Per product: the signed sessions given in the period that still count, and their units
    as they now stand (three queries)."""
    sessions = (
        TreatmentSession.objects.filter(
            clinic_id=clinic_id,
            external=False,
            signed_at__isnull=False,
            administered_at__gte=lo,
            administered_at__lt=hi,
        )
        .select_related("signed_by")
        .prefetch_related(
            prefetch_in_clinic("injections", Injection, clinic_id),
            prefetch_in_clinic("events", SessionEvent, clinic_id),
        )
    )
    found: dict[str, tuple[int, Decimal]] = {}
    for session in sessions:
        events = list(session.events.all())
        if status_of(session, events) not in COUNTING_STATUSES:
            continue
        count, units = found.get(session.product, (0, Decimal(0)))
        found[session.product] = (count + 1, units + total_units(current_points(session, events)))
    return found


def _units_wasted(
    clinic_id: UUID,
    time_zone: str,
    start: date,
    end: date,
    lo: datetime,
    hi: datetime,
    now: datetime,
) -> dict[str, tuple[int, Decimal]]:
    """Per product: the vials of the period closed by ``now``, and what they wasted. A vial's
    day is the clinic-local day it was opened (reconstituted, or first drawn); one nobody
    opened counts on the day it was closed (waste recorded by hand)."""
    candidates = (
        Vial.objects.filter(clinic_id=clinic_id, lot__clinic_id=clinic_id)
        .filter(
            Q(reconstituted_at__gte=lo, reconstituted_at__lt=hi)
            | Q(
                pk__in=VialClosing.objects.filter(
                    clinic_id=clinic_id, at__gte=lo, at__lt=hi
                ).values("vial_id")
            )
            | Q(
                pk__in=SessionVial.objects.filter(
                    clinic_id=clinic_id,
                    session__clinic_id=clinic_id,
                    session__signed_at__isnull=False,
                    session__administered_at__gte=lo,
                    session__administered_at__lt=hi,
                ).values("vial_id")
            )
        )
        .select_related("lot")
    )
    vials = list(candidates)
    if not vials:
        return {}
    found: dict[str, tuple[int, Decimal]] = {}
    for state in vial_states(vials, time_zone).values():
        moment = state.opened_at or state.closes_at
        if moment is None or not state.closed(now):
            continue
        if not start <= local_date(time_zone, moment) <= end:
            continue
        product = state.vial.lot.product
        count, units = found.get(product, (0, Decimal(0)))
        found[product] = (count + 1, units + state.wasted(now))
    return found


Key = tuple[str, str, tuple[str, ...], str]


def _charges(
    clinic_id: UUID, start: date, end: date
) -> tuple[tuple[ChargeRow, ...], dict[str, tuple[int, int]]]:
    """The lines of the current charge sets of the period per code, with the claims file's
    share; and per product the billing units claimed as given and as discarded (JW)."""
    lines: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    billed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    current = (
        ChargeSet.objects.filter(
            clinic_id=clinic_id,
            session__clinic_id=clinic_id,
            date_of_service__gte=start,
            date_of_service__lte=end,
        )
        .filter(not_replaced(ChargeSet, "replaces"))
        .values_list("charges", "session__product")
    )
    for charges, product in current:
        if not charges:
            continue  # an incomplete set, or a voiding one
        stored = charge_set_from_json(charges)
        if stored.invoice_only:
            continue
        for line in stored.lines:
            procedure = line.kind == "procedure"
            key = (
                CPT if procedure else HCPCS,
                line.code,
                line.modifiers,
                "" if procedure else product,
            )
            lines[key][0] += 1
            lines[key][1] += line.billing_units
            if line.kind == "drug":
                billed[product][0] += line.billing_units
            elif line.kind == "waste":
                billed[product][1] += line.billing_units
    exported = _exported(clinic_id, start, end)
    rows = tuple(
        ChargeRow(
            system=system,
            code=code,
            modifiers=modifiers,
            product=product,
            lines=count,
            billing_units=units,
            exported_lines=exported.get((code, modifiers), (0, 0))[0],
            exported_billing_units=exported.get((code, modifiers), (0, 0))[1],
        )
        for (system, code, modifiers, product), (count, units) in sorted(lines.items())
    )
    return rows, {p: (a, w) for p, (a, w) in billed.items()}


def _exported(
    clinic_id: UUID, start: date, end: date
) -> dict[tuple[str, tuple[str, ...]], tuple[int, int]]:
    """Lines and billing units per code and modifier set in the claims file of the period."""
    code_at = CLAIM_COLUMNS.index("code")
    modifiers_at = CLAIM_COLUMNS.index("modifiers")
    units_at = CLAIM_COLUMNS.index("billing_units")
    found: dict[tuple[str, tuple[str, ...]], tuple[int, int]] = {}
    for row in claims_file(clinic_id, start, end).rows:
        key = (row[code_at], tuple(row[modifiers_at].split()))
        count, units = found.get(key, (0, 0))
        found[key] = (count + 1, units + int(row[units_at]))
    return found


def _period_invoices(clinic_id: UUID, lo: datetime, hi: datetime) -> QuerySet[Invoice]:
    """The invoices of the sessions given in the period (signed, when no injection time)."""
    return Invoice.objects.filter(clinic_id=clinic_id, session__clinic_id=clinic_id).filter(
        Q(session__administered_at__gte=lo, session__administered_at__lt=hi)
        | Q(
            session__administered_at__isnull=True,
            session__signed_at__gte=lo,
            session__signed_at__lt=hi,
        )
    )


def _sums(rows: Iterable[tuple[UUID, Decimal | None]]) -> dict[UUID, Decimal]:
    return {invoice_id: amount or ZERO for invoice_id, amount in rows}


def _revenue(
    clinic_id: UUID, lo: datetime, hi: datetime
) -> tuple[tuple[RevenueRow, ...], tuple[CurrencyTotal, ...]]:
    """Per currency, product and area: the period's invoices as issued, and what was paid and
    refunded on them to date (three queries)."""
    invoices = _period_invoices(clinic_id, lo, hi)
    issued = list(
        invoices.values_list(
            "id",
            "currency",
            "subtotal",
            "tax",
            "total",
            "self_pay",
            "session__product",
            "session__protocol",
        )
    )
    if not issued:
        return (), ()
    paid = _sums(
        Payment.objects.filter(clinic_id=clinic_id, invoice__in=invoices)
        .values("invoice_id")
        .annotate(amount=Sum("amount"))
        .order_by()
        .values_list("invoice_id", "amount")
    )
    refunded = _sums(
        Refund.objects.filter(clinic_id=clinic_id, invoice__in=invoices)
        .values("invoice_id")
        .annotate(amount=Sum("amount"))
        .order_by()
        .values_list("invoice_id", "amount")
    )
    groups: dict[tuple[str, str, str, bool], list[Decimal]] = {}
    counts: dict[tuple[str, str, str, bool], int] = defaultdict(int)
    for invoice_id, currency, subtotal, tax, total, self_pay, product, protocol in issued:
        key = (currency, product, protocol, self_pay)
        amounts = (subtotal, tax, total, paid.get(invoice_id, ZERO), refunded.get(invoice_id, ZERO))
        held = groups.setdefault(key, [ZERO] * len(amounts))
        groups[key] = [a + b for a, b in zip(held, amounts, strict=True)]
        counts[key] += 1
    rows = tuple(
        RevenueRow(key[0], key[1], key[2], key[3], counts[key], *groups[key])
        for key in sorted(groups)
    )
    totals: dict[str, list[Decimal]] = {}
    invoices_of: dict[str, int] = defaultdict(int)
    for row in rows:
        amounts = (row.subtotal, row.tax, row.total, row.paid, row.refunded)
        held = totals.setdefault(row.currency, [ZERO] * len(amounts))
        totals[row.currency] = [a + b for a, b in zip(held, amounts, strict=True)]
        invoices_of[row.currency] += row.invoices
    return rows, tuple(
        CurrencyTotal(currency, invoices_of[currency], *totals[currency])
        for currency in sorted(totals)
    )

"""The billing report of a period as JSON and as CSV: units given and wasted per product, the
claims' lines per CPT and HCPCS code, the invoices' revenue per currency, product and area
(``bontrack/billing/reports.py``; docs/billing.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut, UnitsText
from bontrack.billing import reports
from bontrack.core.csvfiles import csv_response
from bontrack.domain.units import format_decimal
from bontrack.plan_input import IsoDate

router = Router(tags=["billing"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
Money = str  # two places ("240.00"), never floats


class ProductUnitsOut(Schema):
    product: str
    sessions: int
    units_given: UnitsText
    units_wasted: UnitsText
    vials_closed: int
    hcpcs: str | None
    administered_billing_units: int
    jw_billing_units: int


class ChargeOut(Schema):
    code_system: str
    code: str
    modifiers: list[str]
    product: str
    lines: int
    billing_units: int
    exported_lines: int
    exported_billing_units: int


class RevenueOut(Schema):
    currency: str
    product: str
    area: str
    invoiced_as: str
    invoices: int
    subtotal: Money
    tax: Money
    total: Money
    paid: Money
    refunded: Money
    net_received: Money
    balance: Money


class CurrencyTotalOut(Schema):
    currency: str
    invoices: int
    subtotal: Money
    tax: Money
    total: Money
    paid: Money
    refunded: Money
    net_received: Money
    balance: Money


class BillingReportOut(Schema):
    start: date
    end: date
    products: list[ProductUnitsOut]
    charges: list[ChargeOut]
    revenue: list[RevenueOut]
    currency_totals: list[CurrencyTotalOut]


def report_out(found: reports.BillingReport) -> dict[str, Any]:
    return {
        "start": found.start,
        "end": found.end,
        "products": [
            {
                "product": p.product,
                "sessions": p.sessions,
                "units_given": format_decimal(p.given.amount),
                "units_wasted": format_decimal(p.wasted.amount),
                "vials_closed": p.vials_closed,
                "hcpcs": p.hcpcs,
                "administered_billing_units": p.administered_billing_units,
                "jw_billing_units": p.jw_billing_units,
            }
            for p in found.products
        ],
        "charges": [
            {
                "code_system": c.system,
                "code": c.code,
                "modifiers": list(c.modifiers),
                "product": c.product,
                "lines": c.lines,
                "billing_units": c.billing_units,
                "exported_lines": c.exported_lines,
                "exported_billing_units": c.exported_billing_units,
            }
            for c in found.charges
        ],
        "revenue": [
            {
                "currency": r.currency,
                "product": r.product,
                "area": r.area,
                "invoiced_as": reports.invoiced_as(r.self_pay),
                "invoices": r.invoices,
                **reports.amounts_text(r),
            }
            for r in found.revenue
        ],
        "currency_totals": [
            {"currency": t.currency, "invoices": t.invoices, **reports.amounts_text(t)}
            for t in found.totals
        ],
    }


@router.get(
    "/billing/report",
    response={200: BillingReportOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def billing_report(
    request: HttpRequest, start: IsoDate | None = None, end: IsoDate | None = None
) -> Any:
    """The clinic-local days `start` to `end` (at most 366; by default the current month up to
    today): per product the units given, the units wasted by the vials closed and the billing
    units claimed as given and as JW; per CPT and HCPCS code and modifiers the lines and billing
    units of the current charge sets and of the claims file (no amounts: bontrack holds no fee
    schedule); per currency, product and area the invoices' totals, paid and refunded. Units of
    two products are never added; nor are two currencies."""
    return report_out(reports.read_report(actor_of(request), start, end))


@router.get(
    "/billing/report.csv",
    response={**ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The same figures as `GET /billing/report`, in three blocks "
                "separated by a blank line, each with its header: "
                + ", ".join(reports.UNITS_COLUMNS)
                + "; "
                + ", ".join(reports.CHARGE_COLUMNS)
                + "; "
                + ", ".join(reports.REVENUE_COLUMNS)
                + " (each currency's total has product, area and invoiced_as `all`)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
        **needs(Perm.BILLING_READ),
    },
)
def billing_report_csv(
    request: HttpRequest, start: IsoDate | None = None, end: IsoDate | None = None
) -> HttpResponse:
    """The report as CSV; the export is itself audited."""
    name, (header, *rows) = reports.export_report(actor_of(request), start, end)
    return csv_response(name, header, rows)

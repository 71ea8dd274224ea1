"""The billing report page: a period's units given and wasted per product (a table and a chart
drawn on the server), the claims' lines per CPT and HCPCS code, and the invoices' revenue per
currency, product and area, with the same figures as CSV (``bontrack/billing/reports.py``, which
the API reads too, and which records the audit entries)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.billing import reports
from bontrack.core.csvfiles import csv_response
from bontrack.core.errors import ServiceError
from bontrack.invoicing.pricing import area_words
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.billing_chart import charts_of


def _period(request: HttpRequest) -> tuple[date | None, date | None, str]:
    """The days asked for (``?start=&end=``; none: the service's default, this month so far),
    and what was wrong with them."""
    found: dict[str, date | None] = {"start": None, "end": None}
    problems = []
    for name in found:
        text = request.GET.get(name, "").strip()
        if not text:
            continue
        try:
            found[name] = date.fromisoformat(text)
        except ValueError:
            problems.append(f"{name}: give a date as YYYY-MM-DD, not {text[:20]!r}")
    return found["start"], found["end"], "; ".join(problems)


def _refusal(error: ServiceError) -> str:
    if error.status in (403, 404):
        raise error
    return f"{error.field}: {error.message}" if error.field else error.message


def report_context(found: reports.BillingReport) -> dict[str, Any]:
    return {
        "products": [
            {
                "row": p,
                "name": present.product_name(p.product),
                "given": present.units(p.given.amount),
                "wasted": present.units(p.wasted.amount),
            }
            for p in found.products
        ],
        "charts": charts_of(found.products),
        "charges": [
            {
                "row": c,
                "modifiers": " ".join(c.modifiers),
                "product_name": present.product_name(c.product) if c.product else "",
            }
            for c in found.charges
        ],
        "revenue": [
            {
                "row": r,
                "product_name": present.product_name(r.product),
                "area": area_words(r.area) if r.area else "",
                "invoiced_as": reports.invoiced_as(r.self_pay),
                **reports.amounts_text(r),
            }
            for r in found.revenue
        ],
        "totals": [{"row": t, **reports.amounts_text(t)} for t in found.totals],
    }


def _page(
    request: HttpRequest,
    found: reports.BillingReport | None,
    start: date | None,
    end: date | None,
    error: str,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "found": found,
        "start": found.start if found is not None else start,
        "end": found.end if found is not None else end,
        "error": error,
        "no_fee_schedule": reports.NO_FEE_SCHEDULE,
        "nav": "billing",
    }
    if found is not None:
        context.update(report_context(found))
    return render(request, "web/billing_report.html", context, status=status)


@clinic_view(Perm.BILLING_READ)
def report_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    start, end, error = _period(request)
    if error:
        return _page(request, None, start, end, error, 400)
    try:
        found = reports.read_report(actor, start, end)
    except ServiceError as refused:
        return _page(request, None, start, end, _refusal(refused), refused.status)
    return _page(request, found, start, end, "")


@clinic_view(Perm.BILLING_READ)
def report_csv(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The report's CSV (the service's export entry), or the page saying what was wrong."""
    start, end, error = _period(request)
    if error:
        return _page(request, None, start, end, error, 400)
    try:
        name, (header, *rows) = reports.export_report(actor, start, end)
    except ServiceError as refused:
        return _page(request, None, start, end, _refusal(refused), refused.status)
    return csv_response(name, header, rows)

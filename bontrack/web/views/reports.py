"""The adverse-event report: counts by product and indication, then by term and severity, over a
period (``bontrack.outcomes.reports``, the API's report), and its per-event CSV export with the
patients by pseudonym or record number (one disclosure entry per patient)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.csvfiles import csv_response
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes import reports
from bontrack.outcomes.models import SEVERITIES
from bontrack.web import present
from bontrack.web.access import clinic_view


def _filters(request: HttpRequest) -> tuple[dict[str, Any], str]:
    options: dict[str, Any] = {
        "start": None,
        "end": None,
        "product": request.GET.get("product", "") or None,
        "indication": request.GET.get("indication", "") or None,
    }
    for name in ("start", "end"):
        text = request.GET.get(name, "")
        if text:
            try:
                options[name] = date.fromisoformat(text)
            except ValueError:
                return options, f"{name}: give a date as YYYY-MM-DD, not {text[:20]!r}"
    return options, ""


@clinic_view(Perm.CHART_READ)
def adverse_events(request: HttpRequest, actor: Actor) -> HttpResponse:
    options, error = _filters(request)
    found = None
    if not error:
        try:
            found = reports.adverse_event_report(actor, **options)
        except ServiceError as refused:
            if refused.status in (403, 404):
                raise
            error = f"{refused.field}: {refused.message}" if refused.field else refused.message
    groups = []
    if found is not None:
        for group in found["groups"]:
            groups.append(
                {
                    **group,
                    "product_name": present.product_name(group["product"]),
                    "indication_name": present.indication_name(group["indication"]),
                    "terms": [
                        {**t, "severities": [t["by_severity"][s] for s in SEVERITIES]}
                        for t in group["terms"]
                    ],
                }
            )
    cat = catalog()
    return render(
        request,
        "web/ae_report.html",
        {
            "found": found,
            "groups": groups,
            "error": error,
            "severities": SEVERITIES,
            "start": found["start"] if found else options["start"],
            "end": found["end"] if found else options["end"],
            "product": options["product"] or "",
            "indication": options["indication"] or "",
            "products": [(code, present.product_name(code)) for code in cat.products],
            "indications": [(i.code, i.name) for i in cat.indications.values()],
            "query": request.GET.urlencode(),
            "nav": "reports",
        },
    )


@clinic_view(Perm.CHART_READ)
def adverse_events_export(request: HttpRequest, actor: Actor) -> HttpResponse:
    """One row per event with the fields a pharmacovigilance report asks for; the service writes
    one disclosure entry per patient. Filters it refuses go back to the report page."""
    options, error = _filters(request)
    identify = request.GET.get("identify", "pseudonym")
    if not error:
        try:
            rows = reports.adverse_event_export(actor, identify=identify, **options)
            columns = reports.EXPORT_COLUMNS
            return csv_response(
                "adverse-events.csv", columns, ([row[c] for c in columns] for row in rows)
            )
        except ServiceError as refused:
            if refused.status in (403, 404):
                raise
    query = request.GET.copy()
    query.pop("identify", None)
    return HttpResponseRedirect(f"/reports/adverse-events/?{query.urlencode()}")

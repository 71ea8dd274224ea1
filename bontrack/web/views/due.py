"""The Due page: the clinic's patients due for retreatment in the next weeks (the due rows of
``bontrack.outcomes.reads``: the same read as the API's due list, over the Today page's service),
by indication or injector, with the dates that decide and a CSV download (one disclosure entry per
patient)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.csvfiles import csv_response
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes import reads
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.charting import injectors

WEEKS = (1, 2, 4, 6, 8, 12, 26)
DEFAULT_WEEKS = 4


def _filters(request: HttpRequest) -> tuple[dict[str, Any], str]:
    """The filters asked for (weeks, indication, injector) and what was wrong with them."""
    weeks_text = request.GET.get("weeks", "") or str(DEFAULT_WEEKS)
    injector_text = request.GET.get("injector", "")
    options: dict[str, Any] = {
        "weeks": DEFAULT_WEEKS,
        "indication": request.GET.get("indication", "") or None,
        "injector_id": None,
    }
    try:
        options["weeks"] = int(weeks_text)
    except ValueError:
        return options, f"weeks: give a whole number, not {weeks_text[:20]!r}"
    if injector_text:
        try:
            options["injector_id"] = UUID(injector_text)
        except ValueError:
            return options, "injector: not a member of this clinic"
    return options, ""


def _shown(row: reads.DueRowRead) -> dict[str, Any]:
    """A due row with its treatment in words."""
    return {
        "row": row,
        "due": row.due,
        "indication": present.indication_short(row.due.indication),
        "product": present.brand(row.due.product),
    }


@clinic_view(Perm.CHART_READ)
def due_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    options, error = _filters(request)
    found = None
    if not error:
        try:
            found = reads.due_rows(actor, **options)
        except ServiceError as refused:
            if refused.status in (403, 404):
                raise
            error = f"{refused.field}: {refused.message}" if refused.field else refused.message
    # B.32: who would be due but whose verdict says stop or non-responder is listed apart.
    rows = [_shown(r) for r in found.rows] if found is not None else []
    held = [_shown(r) for r in found.held] if found is not None else []
    query = request.GET.urlencode()
    return render(
        request,
        "web/due.html",
        {
            "found": found,
            "rows": rows,
            "held": held,
            "error": error,
            "weeks": options["weeks"],
            "weeks_choices": sorted({*WEEKS, options["weeks"]}),
            "indication": options["indication"] or "",
            "injector": str(options["injector_id"] or ""),
            "indications": [(i.code, i.name) for i in catalog().indications.values()],
            "injectors": [(str(m.id), m.display_name) for m in injectors(actor)],
            "csv_query": query,
            "can_plan": actor.membership.can(Perm.PLAN_WRITE),
            "today": present.clinic_today(actor.clinic.time_zone),
            "nav": "due",
        },
    )


@clinic_view(Perm.CHART_READ)
def due_export(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Every row of the list as CSV; the service writes one disclosure entry per patient. Filters
    the service refuses go back to the page, which says what is wrong with them."""
    options, error = _filters(request)
    if not error:
        try:
            table = reads.due_csv(reads.exported_due_rows(actor, **options))
            return csv_response(table.name, table.columns, table.rows)
        except ServiceError as refused:
            if refused.status in (403, 404):
                raise
    return HttpResponseRedirect(f"/due/?{request.GET.urlencode()}")

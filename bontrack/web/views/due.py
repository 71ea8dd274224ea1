"""The Due page: the clinic's patients due for retreatment in the next weeks (the follow-up's due
list, ``bontrack.outcomes.due``: the same service as the API and the Today page), by indication
or injector, with the dates that decide and a CSV download (one disclosure entry per patient)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm, Role
from bontrack.api.followup import due_csv
from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes import due as due_service
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.outcomes import due_view

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


def _injectors(actor: Actor) -> list[Membership]:
    return list(
        Membership.objects.select_related("user")
        .filter(
            clinic_id=actor.membership.clinic_id,
            active=True,
            role__in=[Role.PRESCRIBER.value, Role.NURSE_INJECTOR.value],
        )
        .order_by("user__last_name", "user__first_name", "user__username")
    )


@clinic_view(Perm.CHART_READ)
def due_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    options, error = _filters(request)
    found = None
    if not error:
        try:
            found = due_service.due_list(actor, **options)
        except ServiceError as refused:
            if refused.status in (403, 404):
                raise
            error = f"{refused.field}: {refused.message}" if refused.field else refused.message
    rows, held = [], []
    if found is not None:
        for r in found.rows:
            rows.append({**due_view(r.due, found.today), "row": r})
        # B.32: would be due, but the verdict says stop or non-responder: listed apart.
        held = [{**due_view(r.due, found.today), "row": r} for r in found.held]
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
            "injectors": [(str(m.id), m.display_name) for m in _injectors(actor)],
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
            return due_csv(due_service.export_due_list(actor, **options))
        except ServiceError as refused:
            if refused.status in (403, 404):
                raise
    return HttpResponseRedirect(f"/due/?{request.GET.urlencode()}")

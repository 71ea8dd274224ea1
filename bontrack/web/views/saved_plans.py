"""Saved plans and repeat last: each creates an ordinary plan (checked like any other) and opens
it in the plan editor; saving a session's points as a named pattern."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.charting.services import plans
from bontrack.core.errors import ServiceError
from bontrack.web import present
from bontrack.web.access import clinic_view


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def repeat_last(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    day = present.clinic_today(actor.clinic.time_zone)
    try:
        session = plans.repeat_last(
            actor,
            patient_id,
            indication=request.POST.get("indication", ""),
            product=request.POST.get("product", ""),
            plan_date=day,
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"Nothing to repeat: {error.message}")
        return HttpResponseRedirect(f"/patients/{patient_id}/")
    return HttpResponseRedirect(f"/sessions/{session.id}/")


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def use_saved(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    day = present.clinic_today(actor.clinic.time_zone)
    try:
        saved_id = UUID(request.POST.get("saved_plan_id", ""))
    except ValueError:
        messages.error(request, "Choose one of the saved plans first.")
        return HttpResponseRedirect(f"/patients/{patient_id}/")
    try:
        session = plans.plan_from_saved(actor, patient_id, saved_id, plan_date=day)
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"The plan was not created: {error.message}")
        return HttpResponseRedirect(f"/patients/{patient_id}/")
    return HttpResponseRedirect(f"/sessions/{session.id}/")


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def save_pattern(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    try:
        saved = plans.save_plan(
            actor,
            name=request.POST.get("name", ""),
            session_id=session_id,
            shared=request.POST.get("shared") == "on",
        )
        messages.success(
            request,
            f"Saved as “{saved.name}” ({present.units(plans.saved_total(saved))} U of "
            f"{present.brand(saved.product)}, {len(saved.points)} points).",
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"Not saved: {error.message}")
    return HttpResponseRedirect(f"/sessions/{session_id}/")


@clinic_view(Perm.PLAN_WRITE, methods=("GET", "POST"))
def saved_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        try:
            plans.retire_saved_plan(actor, request.POST.get("saved_plan_id", ""))
            messages.success(request, "The saved plan was removed from the list.")
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            messages.error(request, error.message)
        return HttpResponseRedirect("/saved-plans/")
    rows = [
        {
            "saved": s,
            "indication": present.indication_short(s.indication),
            "product": present.brand(s.product),
            "total": present.units(plans.saved_total(s)),
            "owner": "mine" if s.owner_id else "the clinic's",
        }
        for s in plans.list_saved_plans(actor)
    ]
    return render(request, "web/saved_plans.html", {"rows": rows, "nav": "saved-plans"})

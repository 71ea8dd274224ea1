"""Patients: search, the patient page (what it shows is ``web/patient_page.py``), recording a
consent, planning a session."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.patients import services as patients
from bontrack.treatments import services as sessions
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.forms import AddPointForm, ConsentForm, first_error
from bontrack.web.patient_page import patient_page_context


@clinic_view(Perm.DEMOGRAPHICS_READ, methods=("GET", "POST"))
def patient_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    # The search is posted: a name never goes in an address (logs, history; DESIGN 3.4).
    query = request.POST.get("q", "").strip()[:100] if request.method == "POST" else ""
    found = patients.list_patients(actor, query)
    day = present.clinic_today(actor.clinic.time_zone)
    rows = [{"patient": p, "age": present.age_on(p.birth_date, day)} for p in found]
    template = "web/partials/patient_rows.html" if request.htmx else "web/patients.html"  # type: ignore[attr-defined]
    context = {"rows": rows, "q": query, "nav": "patients"}
    context["can_register"] = actor.membership.can(Perm.DEMOGRAPHICS_WRITE)
    return render(request, template, context)


@clinic_view(Perm.DEMOGRAPHICS_READ)
def patient_detail(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    return render(request, "web/patient.html", patient_page_context(actor, patient_id))


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def add_consent(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The consent was not recorded: {first_error(form)}")
    else:
        try:
            patients.record_consent(actor, patient_id, **form.cleaned_data)
            messages.success(request, "Consent recorded.")
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            messages.error(request, f"The consent was not recorded: {error.message}")
    return HttpResponseRedirect(f"/patients/{patient_id}/#consents")


def plan_choices(indication: str, product: str) -> dict[str, Any]:
    """Products labelled for the indication first, then the others; the protocols of the chosen
    product for the indication."""
    cat = catalog()
    found = cat.indications.get(indication)
    labelled = [use.product for use in found.labels] if found is not None else []
    products = [(code, present.product_name(code)) for code in labelled if code in cat.products]
    others = [(code, present.product_name(code)) for code in cat.products if code not in labelled]
    if not product or product not in cat.products:
        product = labelled[0] if labelled else next(iter(cat.products))
    protocols = [
        (p.id, f"{p.name} ({present.units(p.total)} U, {len(p.points)} points)")
        for p in cat.protocols.values()
        if p.product == product and indication in p.indications
    ]
    return {
        "indication": indication,
        "product": product,
        "labelled_products": products,
        "other_products": others,
        "protocols": protocols,
        "indications": [(i.code, i.name) for i in cat.indications.values()],
    }


@clinic_view(Perm.PLAN_WRITE, methods=("GET", "POST"))
def new_plan(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    day = present.clinic_today(actor.clinic.time_zone)
    data = request.POST if request.method == "POST" else request.GET
    indication = data.get("indication", "") or "chronic-migraine"
    choices = {**plan_choices(indication, data.get("product", "")), "patient_id": patient_id}
    if request.htmx and request.method == "GET":  # type: ignore[attr-defined]
        return render(request, "web/partials/plan_choices.html", choices)
    error = ""
    if request.method == "POST":
        protocol = data.get("protocol") or None
        first = AddPointForm(data) if protocol is None else None
        injections = None
        if first is not None and first.is_valid():
            injections = [
                sessions.PointInput(
                    first.cleaned_data["site"],
                    first.cleaned_data["side"],
                    first.cleaned_data["units"],
                )
            ]
        try:
            session = sessions.plan_session(
                actor,
                patient_id,
                product=choices["product"],
                indication=indication,
                plan_date=day,
                protocol=protocol,
                injections=injections,
                notes="",
            )
            return HttpResponseRedirect(f"/sessions/{session.id}/")
        except ServiceError as service_error:
            if service_error.status in (403, 404):
                raise
            error = service_error.message
            if service_error.field == "injections":
                error = (
                    "Choose a protocol, or give a first point (site, side, units): "
                    "the others are added on the body map."
                )
    patient = patients.read_patient(actor, patient_id)
    return render(
        request,
        "web/plan_new.html",
        {
            **choices,
            "banner": present.patient_banner(patient, day, True),
            "patient": patient,
            "error": error,
            "point_form": AddPointForm(),
            "nav": "patients",
        },
    )

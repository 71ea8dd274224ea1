"""Registering a patient and changing their details: the front desk records demographics, the
clinicians also the risk factors the checker reads (weight, pregnancy, conditions, medicines,
allergies, infected sites). Each save goes through the patients service, which audits it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.patients import services as patients
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.patient_forms import PatientForm


def _refused_on_the_form(form: PatientForm, error: ServiceError) -> None:
    """A service refusal shown beside the field it names (``conditions[2]`` is ``conditions``);
    a refusal of one field to this role (a birth date once sessions are signed) too."""
    field = (error.field or "").split("[", 1)[0].split(".", 1)[0]
    if error.status == 404 or (error.status == 403 and field not in form.fields):
        raise error
    form.add_error(field if field in form.fields else None, error.message)


def _page(request: HttpRequest, form: PatientForm, **context: Any) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "nav": "patients", **context}
    return render(request, "web/patient_form.html", context, status=status)


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("GET", "POST"))
def register(request: HttpRequest, actor: Actor) -> HttpResponse:
    clinical = actor.membership.can(Perm.PLAN_WRITE)
    if request.method != "POST":
        return _page(request, PatientForm(clinical=clinical), new=True)
    form = PatientForm(request.POST, clinical=clinical)
    if form.is_valid():
        today = present.clinic_today(actor.clinic.time_zone)
        try:
            patient = patients.register_patient(
                actor, today, **form.service_values(today, changed_only=False)
            )
        except ServiceError as error:
            _refused_on_the_form(form, error)
        else:
            messages.success(request, f"{patient.given_name} {patient.family_name} registered.")
            return HttpResponseRedirect(f"/patients/{patient.id}/")
    return _page(request, form, new=True)


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("GET", "POST"))
def edit(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    clinical = actor.membership.can(Perm.PLAN_WRITE)
    # Reading the chart to fill the form is a read of the patient's data: the service audits it.
    patient = patients.read_patient(actor, patient_id)
    initial = PatientForm.initial_of(patient)
    if request.method != "POST":
        return _page(request, PatientForm(initial=initial, clinical=clinical), patient=patient)
    form = PatientForm(request.POST, initial=initial, clinical=clinical)
    if form.is_valid():
        today = present.clinic_today(actor.clinic.time_zone)
        values = form.service_values(today, changed_only=True)
        if not values:
            messages.info(request, "Nothing was changed.")
            return HttpResponseRedirect(f"/patients/{patient.id}/")
        try:
            patients.update_patient(actor, patient.id, today, **values)
        except ServiceError as error:
            _refused_on_the_form(form, error)
        else:
            changed = ", ".join(name.replace("_", " ") for name in sorted(values))
            messages.success(request, f"Saved: {changed}.")
            return HttpResponseRedirect(f"/patients/{patient.id}/")
    return _page(request, form, patient=patient)

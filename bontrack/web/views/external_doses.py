"""Recording from the patient page a dose given elsewhere (another clinic's letter, a discharge
summary): signed as recorded by the clinician, shown on the timeline as given elsewhere, and
counted by the safety check like a dose given here (the same product only)."""

from __future__ import annotations

import re
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.treatments import external
from bontrack.treatments.services import PointInput
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.patient_forms import ExternalDoseForm

# The service names a point's field as "injections[2].side": the form's row and field.
POINT_FIELD = re.compile(r"^injections\[(\d+)\]\.?(\w*)")


def _form_field(form: ExternalDoseForm, error: ServiceError, rows: list[int]) -> str | None:
    field = error.field or ""
    found = POINT_FIELD.match(field)
    if found:
        index, name = int(found.group(1)), found.group(2) or "units"
        if index < len(rows) and f"{name}_{rows[index]}" in form.fields:
            return f"{name}_{rows[index]}"
        return None
    return field if field in form.fields else None


@clinic_view(Perm.SIGN, methods=("GET", "POST"))
def record(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    patient = external.check_patient(actor, patient_id)
    day = present.clinic_today(actor.clinic.time_zone)
    if request.method != "POST":
        form = ExternalDoseForm(initial={"given_on": day})
    else:
        form = ExternalDoseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            given = form.sites_given()
            dose = external.ExternalDose(
                given_on=data["given_on"],
                product=data["product"],
                indication=data["indication"],
                place=data["place"],
                source_document=data["source_document"],
                units=data["units"],
                injections=tuple(PointInput(site, side, units) for _, site, side, units in given),
                notes=data["notes"],
            )
            try:
                external.record_external_dose(actor, patient.id, dose)
            except ServiceError as error:
                if error.status in (403, 404):
                    raise
                form.add_error(_form_field(form, error, [n for n, *_ in given]), error.message)
            else:
                messages.success(
                    request,
                    f"Recorded: {present.product_name(dose.product)} given on "
                    f"{dose.given_on:%-d %b %Y} at {dose.place.strip()}. The safety check "
                    "counts it from now on.",
                )
                return HttpResponseRedirect(f"/patients/{patient.id}/#timeline")
    return render(
        request,
        "web/external_dose.html",
        {
            "form": form,
            "patient": patient,
            "banner": present.patient_banner(patient, day, True),
            "nav": "patients",
        },
        status=400 if form.is_bound and form.errors else 200,
    )

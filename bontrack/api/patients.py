"""Patients: search, register, read, update; consents and diagnoses; the timeline."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from bontrack.access import PATIENT, access
from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import (
    ConsentIn,
    ConsentOut,
    DiagnosisIn,
    DiagnosisOut,
    ErrorOut,
    PatientIn,
    PatientOut,
    PatientPatch,
    PatientSummary,
    TimelineItem,
    WithdrawIn,
    units_text,
)
from bontrack.api.security_schemas import PatientSearchIn
from bontrack.audit.services import clinical_transaction
from bontrack.core.scoping import related_in_clinic
from bontrack.patients import services
from bontrack.patients.models import Patient
from bontrack.treatments import reads

router = Router(tags=["patients"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def patient_out(patient: Patient, clinical: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: getattr(patient, name)
        for name in (
            "id",
            "record_number",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "phone",
            "email",
            "address",
            "contact_agreed",
            "contact_method",
            "restricted",
        )
    }
    data["clinical"] = (
        {
            "weight_kg": units_text(patient.weight_kg) if patient.weight_kg is not None else None,
            "weight_measured_on": patient.weight_measured_on,
            "pregnant": patient.pregnant,
            "breastfeeding": patient.breastfeeding,
            "conditions": patient.conditions,
            "medications": patient.medications,
            "allergies": patient.allergies,
            "infected_sites": patient.infected_sites,
        }
        if clinical
        else None
    )
    return data


def _values(body: PatientIn | PatientPatch, only_set: bool) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=only_set)
    if values.get("infected_sites") is not None:
        values["infected_sites"] = [
            {k: v for k, v in s.items() if v is not None} for s in values["infected_sites"]
        ]
    return values


@router.get(
    "",
    response={200: list[PatientSummary], **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_READ),
)
def list_patients(request: HttpRequest) -> Any:
    """The clinic's patients; one read entry per patient listed. To find one by name or record
    number, POST /patients/search: a name never goes in an address (DESIGN 3.4)."""
    return services.list_patients(actor_of(request), "")


@router.post(
    "/search",
    response={200: list[PatientSummary], **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_READ, reads_only=True),
)
def search_patients(request: HttpRequest, body: PatientSearchIn) -> Any:
    """Patients whose name or record number contains `q`; one read entry per patient found."""
    return services.list_patients(actor_of(request), body.q.strip())


@router.post(
    "",
    response={201: PatientOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_WRITE),
)
def register_patient(request: HttpRequest, body: PatientIn) -> Any:
    actor = actor_of(request)
    patient = services.register_patient(actor, timezone.localdate(), **_values(body, False))
    return Status(201, patient_out(patient, actor.membership.can(Perm.CHART_READ)))


@router.get(
    "/{patient_id}",
    response={200: PatientOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_READ),
)
def read_patient(request: HttpRequest, patient_id: UUID) -> Any:
    actor = actor_of(request)
    patient = services.read_patient(actor, patient_id)
    return patient_out(patient, actor.membership.can(Perm.CHART_READ))


@router.patch(
    "/{patient_id}",
    response={200: PatientOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_WRITE),
)
def update_patient(request: HttpRequest, patient_id: UUID, body: PatientPatch) -> Any:
    actor = actor_of(request)
    patient = services.update_patient(
        actor, patient_id, timezone.localdate(), **_values(body, True)
    )
    return patient_out(patient, actor.membership.can(Perm.CHART_READ))


@router.get(
    "/{patient_id}/timeline",
    response={200: list[TimelineItem], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def timeline(request: HttpRequest, patient_id: UUID) -> Any:
    """Every session of the patient, newest first, with status, totals and overridden findings.
    A constant number of queries, however long the history."""
    actor = actor_of(request)
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        entries = reads.patient_timeline(patient)
        trail.record("read", "timeline", patient.id, patient.id)
    return [
        {
            "id": e.id,
            "status": e.status,
            "plan_date": e.plan_date,
            "product": e.session.product,
            "indication": e.session.indication,
            "total_units": units_text(e.total),
            "injector": e.injector,
            "overridden": [f.rule for f in e.overridden],
            "external": e.external,
            "given_elsewhere_at": e.given_elsewhere_at,
        }
        for e in entries
    ]


@router.post(
    "/{patient_id}/consents",
    response={201: ConsentOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def record_consent(request: HttpRequest, patient_id: UUID, body: ConsentIn) -> Any:
    consent = services.record_consent(actor_of(request), patient_id, **body.model_dump())
    return Status(201, consent)


@router.get(
    "/{patient_id}/consents",
    response={200: list[ConsentOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_consents(request: HttpRequest, patient_id: UUID) -> Any:
    actor = actor_of(request)
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        consents = list(related_in_clinic(patient, "consents").order_by("-signed_on"))
        trail.record("read", "consents", patient.id, patient.id)
    return consents


@router.post(
    "/consents/{consent_id}/withdraw",
    response={200: ConsentOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def withdraw_consent(request: HttpRequest, consent_id: UUID, body: WithdrawIn) -> Any:
    return services.withdraw_consent(actor_of(request), consent_id, on=body.on, reason=body.reason)


@router.post(
    "/{patient_id}/diagnoses",
    response={201: DiagnosisOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def add_diagnosis(request: HttpRequest, patient_id: UUID, body: DiagnosisIn) -> Any:
    return Status(201, services.add_diagnosis(actor_of(request), patient_id, **body.model_dump()))

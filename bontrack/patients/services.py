"""Patients: register, update demographics and risk factors, consents and diagnoses, read."""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError
from django.utils import timezone

from bontrack.access import CONSENT, PATIENT, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.core.scoping import save_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.patients.models import (
    CONTACT_METHODS,
    SEXES,
    Consent,
    ConsentWithdrawal,
    Diagnosis,
    Patient,
)
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.services import recheck_open_plans

DEMOGRAPHIC_FIELDS = (
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
)
CLINICAL_FIELDS = (
    "weight_kg",
    "weight_measured_on",
    "pregnant",
    "breastfeeding",
    "conditions",
    "medications",
    "allergies",
    "infected_sites",
)


# B.35: a birth date more than this many years ago is a typing error, refused as input.
MAX_AGE_YEARS = 120
# The patient values the check reads (B.33): a change re-checks the open plans, and is audited
# with the values before and after.
CHECK_INPUTS = (
    "birth_date",
    "weight_kg",
    "weight_measured_on",
    "pregnant",
    "breastfeeding",
    "conditions",
    "medications",
    "allergies",
    "infected_sites",
)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _clinic_today(actor: Actor) -> date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(actor.membership.clinic.time_zone)).date()


def _plain(value: Any) -> Any:
    """A value as the audit trail stores it (JSON)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def validate_patient_values(values: dict[str, Any], today: date) -> None:
    """Check a patient's values as registering or changing the patient does: sex, contact
    method, birth date, weight and the day it was measured, the catalog's codes of conditions,
    medications, allergies and infected sites. The first problem is raised as a ``ServiceError``
    naming its field. The CSV import checks its rows with it, so an imported patient is judged
    the same way."""
    cat = catalog()
    if "sex" in values and values["sex"] not in SEXES:
        raise ServiceError("sex", f"must be one of {', '.join(SEXES)}")
    if "contact_method" in values and values["contact_method"] not in CONTACT_METHODS:
        raise ServiceError("contact_method", f"must be one of {', '.join(CONTACT_METHODS)}")
    birth = values.get("birth_date")
    if birth is not None and birth > today:
        raise ServiceError("birth_date", "the birth date is in the future: check the year")
    if birth is not None and birth < _years_before(today, MAX_AGE_YEARS):
        raise ServiceError(
            "birth_date",
            f"the birth date is more than {MAX_AGE_YEARS} years ago: check the year",
        )
    weight = values.get("weight_kg")
    if weight is not None and (
        not Decimal(weight).is_finite() or Decimal(weight) <= 0 or Decimal(weight) > 500
    ):
        raise ServiceError("weight_kg", "must be between 0 and 500 kg")
    measured = values.get("weight_measured_on")
    if measured is not None and measured > today:
        raise ServiceError("weight_measured_on", "is in the future")
    known = {
        "conditions": cat.codes_of("condition"),
        "medications": cat.codes_of("drug"),
        "allergies": (*cat.products, *cat.codes_of("allergy")),
    }
    for field, codes in known.items():
        for n, code in enumerate(values.get(field) or []):
            if code not in codes:
                raise ServiceError(f"{field}[{n}]", f"unknown code {code!r}")
    for n, item in enumerate(values.get("infected_sites") or []):
        site = cat.sites.get(item.get("site", ""))
        if site is None:
            raise ServiceError(
                f"infected_sites[{n}].site", f"unknown site code {item.get('site')!r}"
            )
        if item.get("side") is not None and item["side"] not in site.sides:
            raise ServiceError(
                f"infected_sites[{n}].side", f"{site.code} has no {item['side']} side"
            )
    for name in ("record_number", "given_name", "family_name"):
        if name in values and not str(values[name]).strip():
            raise ServiceError(name, "must not be empty")


def register_patient(actor: Actor, today: date, **values: Any) -> Patient:
    require(actor, Perm.DEMOGRAPHICS_WRITE)
    for name in ("record_number", "given_name", "family_name", "birth_date"):
        if values.get(name) in (None, ""):
            raise ServiceError(name, "is required")
    clinical = {
        k: v for k, v in values.items() if k in CLINICAL_FIELDS and v not in (None, [], False)
    }
    if clinical and not actor.membership.can(Perm.PLAN_WRITE):
        raise ServiceError(next(iter(clinical)), "your role records demographics only")
    validate_patient_values(values, today)
    with clinical_transaction(actor) as trail:
        if Patient.objects.filter(
            clinic_id=actor.membership.clinic_id, record_number=values["record_number"]
        ).exists():
            raise ConflictError(
                "record_number", "another patient of this clinic has this record number"
            )
        try:
            patient = Patient.objects.create(clinic_id=actor.membership.clinic_id, **values)
        except (TypeError, IntegrityError) as error:
            raise ServiceError(None, f"cannot register the patient: {error}") from None
        trail.record("create", "patient", patient.id, patient.id)
    return patient


def update_patient(actor: Actor, patient_id: UUID | str, today: date, **values: Any) -> Patient:
    unknown = set(values) - set(DEMOGRAPHIC_FIELDS) - set(CLINICAL_FIELDS) - {"restricted"}
    if unknown:
        raise ServiceError(sorted(unknown)[0], "unknown field")
    clinical = set(values) & (set(CLINICAL_FIELDS) | {"restricted"})
    perm = Perm.PLAN_WRITE if clinical else Perm.DEMOGRAPHICS_WRITE
    validate_patient_values(values, today)
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, perm)
        if "restricted" in values:
            if not actor.membership.can(Perm.OVERRIDE):
                raise ServiceError("restricted", "only a prescriber marks a chart restricted")
            patient.restricted_by = actor.membership if values["restricted"] else None
        if (
            "record_number" in values
            and Patient.objects.filter(
                clinic_id=patient.clinic_id, record_number=values["record_number"]
            )
            .exclude(pk=patient.pk)
            .exists()
        ):
            raise ConflictError(
                "record_number", "another patient of this clinic has this record number"
            )
        changed = {
            name: (_plain(getattr(patient, name)), _plain(value))
            for name, value in values.items()
            if name in CHECK_INPUTS and _plain(getattr(patient, name)) != _plain(value)
        }
        if (
            "birth_date" in changed
            and not actor.membership.can(Perm.CORRECT)
            and TreatmentSession.objects.filter(
                clinic_id=patient.clinic_id, patient=patient, signed_at__isnull=False
            ).exists()
        ):
            raise ForbiddenError(
                "birth_date",
                "this patient has signed sessions, checked against this birth date: only a "
                "prescriber changes it; ask one to correct it",
            )
        for name, value in values.items():
            setattr(patient, name, value)
        restricting = ["restricted_by"] if "restricted" in values else []
        save_in_clinic(patient, [*values, *restricting, "updated_at"])
        if changed:
            recheck_open_plans(patient.id, trail)
        trail.record(
            "update",
            "patient",
            patient.id,
            patient.id,
            fields=sorted(values),
            **(
                {
                    "before": {k: b for k, (b, _) in changed.items()},
                    "after": {k: a for k, (_, a) in changed.items()},
                }
                if changed
                else {}
            ),
        )
    return patient


def read_patient(actor: Actor, patient_id: UUID | str) -> Patient:
    with clinical_transaction(actor) as trail:
        perm = Perm.CHART_READ if actor.membership.can(Perm.CHART_READ) else Perm.DEMOGRAPHICS_READ
        patient = access(actor, PATIENT, patient_id, perm)
        trail.record("read", "patient", patient.id, patient.id)
    return patient


def list_patients(actor: Actor, query: str = "") -> list[Patient]:
    """Search the clinic's patients by name or record number; one read entry per patient shown."""
    require(actor, Perm.DEMOGRAPHICS_READ)
    rows = Patient.objects.filter(clinic_id=actor.membership.clinic_id)
    if query:
        from django.db.models import Q

        rows = rows.filter(
            Q(family_name__icontains=query)
            | Q(given_name__icontains=query)
            | Q(record_number__iexact=query)
        )
    patients = list(rows.order_by("family_name", "given_name")[:200])
    with clinical_transaction(actor) as trail:
        for p in patients:
            trail.record("read", "patient-list", p.id, p.id)
    return patients


def record_consent(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    signed_on: date,
    signed_by: str,
    expires_on: date | None = None,
) -> Consent:
    if indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if not signed_by.strip():
        raise ServiceError("signed_by", "name who signed (the patient, or the guardian of a child)")
    if signed_on > _clinic_today(actor):
        raise ServiceError(
            "signed_on",
            "the consent's date is in the future: record a consent on or after the day it is "
            "signed",
        )
    expiry = expires_on or signed_on + timedelta(days=365)
    if expiry <= signed_on:
        raise ServiceError("expires_on", "must be after the signing date")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        consent = Consent.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            signed_on=signed_on,
            signed_by=signed_by.strip(),
            expires_on=expiry,
            recorded_by=actor.membership,
        )
        trail.record("create", "consent", consent.id, patient.id, indication=indication)
    return consent


def withdraw_consent(actor: Actor, consent_id: UUID | str, *, on: date, reason: str) -> Consent:
    with clinical_transaction(actor) as trail:
        consent = access(actor, CONSENT, consent_id, Perm.PLAN_WRITE)
        if ConsentWithdrawal.objects.filter(clinic_id=consent.clinic_id, consent=consent).exists():
            raise ConflictError(
                None,
                "this consent was already withdrawn: record a new consent if the patient agrees "
                "again",
            )
        consent.withdrawal = ConsentWithdrawal.objects.create(
            clinic_id=consent.clinic_id,
            consent=consent,
            on=on,
            reason=reason,
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
        )
        trail.record(
            "update",
            "consent",
            consent.id,
            consent.patient_id,
            withdrawn=True,
            withdrawal=str(consent.withdrawal.id),
        )
    return consent


def add_diagnosis(
    actor: Actor, patient_id: UUID | str, *, indication: str, icd10: str, noted_on: date
) -> Diagnosis:
    cat = catalog()
    found = cat.indications.get(indication)
    if found is None:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if icd10 not in {c.code for c in found.icd10}:
        codes = ", ".join(c.code for c in found.icd10)
        raise ServiceError(
            "icd10", f"not an ICD-10-CM code of {indication} in the catalog ({codes})"
        )
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        diagnosis = Diagnosis.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            icd10=icd10,
            noted_on=noted_on,
        )
        trail.record("create", "diagnosis", diagnosis.id, patient.id)
    return diagnosis

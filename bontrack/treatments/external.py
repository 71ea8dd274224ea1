"""Doses given elsewhere: recorded here so that the checker counts them like its own.

An external dose is a ``TreatmentSession`` with ``external=True``: the date, product, indication
(a catalog code, or ``other`` for one outside the catalog, e.g. bladder), units, the sites when
known, where it was given and the document it was read from. It is signed at once by whoever
records it (a clinician), so that ``checking.history_of`` counts it exactly like a session given
here: toward the same product's cumulative windows, intervals and the mixed-products rule, never
toward another product's units. Sites that are not known make one point without a site: it
counts in the session's total, never toward a muscle's.

``external_key`` identifies an imported dose (a FHIR MedicationAdministration, a CSV row group):
importing the same dose again finds it and adds nothing.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from django.utils import timezone

from bontrack.access import PATIENT, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.chain import digest
from bontrack.audit.services import Actor, AuditTrail, clinical_transaction
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes import due_state
from bontrack.patients.models import Patient
from bontrack.plan_input import MAX_DECIMALS, MAX_UNITS, has_at_most_decimals
from bontrack.treatments.models import Injection, TreatmentSession
from bontrack.treatments.services import (
    PointInput,
    local_date,
    lock_patient,
    session_document,
    validate_points,
)
from bontrack.treatments.supply import CANON

OTHER_INDICATION = "other"
NOON = time(12, 0)  # an external dose's time is rarely known: noon of its day, clinic time


@dataclass(frozen=True)
class ExternalDose:
    given_on: date
    product: str
    indication: str
    place: str
    source_document: str
    units: Decimal | None = None  # the total; required when no injection names a site
    injections: Sequence[PointInput] = field(default_factory=tuple)
    notes: str = ""
    key: str = ""  # an import's identity of the dose ("" for one recorded by hand)


def validate_external(dose: ExternalDose, today: date, prefix: str = "") -> list[PointInput]:
    """The dose's points (one without a site when the sites are not known); refusals name the
    field."""
    cat = catalog()
    if dose.product not in cat.products:
        raise ServiceError(f"{prefix}product", f"unknown product code {dose.product!r}")
    if dose.indication != OTHER_INDICATION and dose.indication not in cat.indications:
        raise ServiceError(
            f"{prefix}indication",
            f"unknown indication code {dose.indication!r} (use 'other' for one outside the "
            "catalog, e.g. bladder)",
        )
    if dose.given_on > today:
        raise ServiceError(
            f"{prefix}given_on",
            f"{dose.given_on.isoformat()} is in the future (today is {today.isoformat()} at the "
            "clinic): record doses already given",
        )
    if not dose.place.strip():
        raise ServiceError(f"{prefix}place", "say where the dose was given")
    if not dose.source_document.strip():
        raise ServiceError(f"{prefix}source_document", "name the document the dose is read from")
    if dose.injections:
        # An administration read without its site (a Bundle's) stays its own point: two doses
        # of 150 U are never one of 300 U.
        unsited = [p for p in dose.injections if not p.site]
        for p in unsited:
            _valid_total(p.units, f"{prefix}injections")
        sited = [p for p in dose.injections if p.site]
        points = [
            *validate_points(sited, f"{prefix}injections"),
            *(PointInput("", "", p.units, "", p.source_identifier) for p in unsited),
        ]
        total = sum((p.units for p in points), Decimal(0))
        if dose.units is not None and total > dose.units:
            # B.35: a total the listed points exceed contradicts itself.
            raise ServiceError(
                f"{prefix}units",
                f"the injections add up to {format(total.normalize(), 'f')} U, more than the "
                f"stated total of {format(dose.units.normalize(), 'f')} U: correct the total or "
                "the injections",
            )
        if dose.units is not None and total < dose.units:
            # B.35: fewer units in the points than the total is a partial list; the rest was
            # given at sites not known, which count in the total, never toward a muscle's.
            _valid_total(dose.units, prefix)
            return [*points, PointInput("", "", dose.units - total, "")]
        return points
    units = dose.units
    if units is None:
        raise ServiceError(f"{prefix}units", "give the total units, or the injections")
    _valid_total(units, prefix)
    return [PointInput("", "", units, "")]


def _valid_total(units: Decimal, prefix: str) -> None:
    if not units.is_finite() or units <= 0:
        raise ServiceError(f"{prefix}units", "must be greater than 0")
    if units > MAX_UNITS:
        raise ServiceError(f"{prefix}units", f"must be at most {MAX_UNITS:,} U")
    if not has_at_most_decimals(units, MAX_DECIMALS):
        raise ServiceError(f"{prefix}units", f"must have at most {MAX_DECIMALS} decimals")


def clinic_today(actor: Actor) -> date:
    return local_date(actor.membership.clinic.time_zone, timezone.now())


def write_external(
    actor: Actor, trail: AuditTrail, patient: Patient, dose: ExternalDose, points: list[PointInput]
) -> tuple[TreatmentSession, bool]:
    """Inside the caller's transaction, holding the patient's lock: the signed external session,
    and whether it is new (an imported dose already recorded is returned as it is)."""
    if dose.key:
        found = TreatmentSession.objects.filter(
            clinic_id=patient.clinic_id, patient=patient, external=True, external_key=dose.key
        ).first()
        if found is not None:
            return found, False
    session = TreatmentSession.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        product=dose.product,
        indication=dose.indication,
        protocol="",
        plan_date=dose.given_on,
        notes=dose.notes.strip(),
        planned_by=actor.membership,
        catalog_version=catalog().version,
        # Signed under the current canonical form (DESIGN 3.4): no vials, so no draws.
        canon=CANON,
        external=True,
        source_place=dose.place.strip()[:200],
        source_document=dose.source_document.strip()[:300],
        external_key=dose.key,
    )
    Injection.objects.bulk_create(
        Injection(
            clinic_id=patient.clinic_id,
            session=session,
            position=n,
            site=p.site,
            side=p.side,
            units=p.units,
            route=p.route or "",
            source_identifier=p.source_identifier,
        )
        for n, p in enumerate(points)
    )
    zone = zoneinfo.ZoneInfo(actor.membership.clinic.time_zone)
    session.administered_at = datetime.combine(dose.given_on, NOON, tzinfo=zone)
    session.signed_at = timezone.now()
    session.signed_by = actor.membership
    session.digest = digest(session_document(session))
    TreatmentSession.objects.filter(clinic_id=session.clinic_id, pk=session.pk).update(
        administered_at=session.administered_at,
        signed_at=session.signed_at,
        signed_by=session.signed_by,
        digest=session.digest,
    )
    trail.record(
        "create",
        "session",
        session.id,
        patient.id,
        external=True,
        place=session.source_place,
        source_document=session.source_document,
    )
    trail.record("sign", "session", session.id, patient.id, digest=session.digest)
    due_state.refresh(patient.clinic_id, patient.id, locked=True)
    return session, True


def check_patient(actor: Actor, patient_id: UUID | str) -> Patient:
    """The patient whose doses the caller may record (a clinician), read for an import's
    dry run: one read entry."""
    require(actor, Perm.SIGN)
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.SIGN)
        trail.record("read", "external-doses", patient.id, patient.id)
    return patient


def record_external_dose(
    actor: Actor, patient_id: UUID | str, dose: ExternalDose
) -> tuple[TreatmentSession, bool]:
    """Record one dose given elsewhere, signed as recorded by the caller (a clinician)."""
    return record_external_doses(actor, patient_id, [dose])[0]


def record_external_doses(
    actor: Actor, patient_id: UUID | str, doses: Sequence[ExternalDose]
) -> list[tuple[TreatmentSession, bool]]:
    """Several doses of one patient in one transaction (a FHIR Bundle's): all or none."""
    require(actor, Perm.SIGN)
    today = clinic_today(actor)
    checked = [
        (dose, validate_external(dose, today, f"doses[{n}]." if len(doses) > 1 else ""))
        for n, dose in enumerate(doses)
    ]
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.SIGN)
        lock_patient(patient.clinic_id, patient.id)
        return [write_external(actor, trail, patient, dose, points) for dose, points in checked]

"""Build the domain's values from rows and run the same check as `bontrack check`."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from bontrack.accounts.models import Membership
from bontrack.check_output import finding_json, result_json
from bontrack.domain.check import CheckResult, evaluate, requires_weight
from bontrack.domain.rules.findings import Finding
from bontrack.domain.treatment import (
    HistoryEntry,
    InfectedSite,
    Injection,
    Injector,
    Patient,
    Plan,
    Vial,
)
from bontrack.domain.units import Units
from bontrack.patients.models import Patient as PatientRow
from bontrack.treatments.errors import ServiceError
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import counts_toward_limits, current_points, status_of, total_units


def patient_values(row: PatientRow) -> Patient:
    return Patient(
        birth_date=row.birth_date,
        weight_kg=row.weight_kg,
        weight_measured_on=row.weight_measured_on,
        sex=row.sex,
        pregnant=row.pregnant,
        breastfeeding=row.breastfeeding,
        conditions=tuple(row.conditions),
        medications=tuple(row.medications),
        allergies=tuple(row.allergies),
        infected_sites=tuple(InfectedSite(s["site"], s.get("side")) for s in row.infected_sites),
    )


def history_of(row: PatientRow, exclude: TreatmentSession | None = None) -> list[HistoryEntry]:
    """Every signed session of the patient that still counts, with its amended values."""
    sessions = (
        TreatmentSession.objects.filter(patient=row, signed_at__isnull=False)
        .select_related("signed_by")
        .prefetch_related("injections", "events")
    )
    history = []
    for s in sessions:
        if exclude is not None and s.pk == exclude.pk:
            continue
        events = list(s.events.all())
        if not counts_toward_limits(status_of(s, events)):
            continue
        points = current_points(s, events)
        # A dose given elsewhere whose sites are not known is one point without a site: it
        # counts in the session's total, never toward a muscle's.
        injections = tuple(
            Injection(p.site, p.side, Units(s.product, p.units), p.route) for p in points if p.site
        )
        history.append(
            HistoryEntry(
                s.plan_date,
                s.product,
                s.indication,
                Units(s.product, total_units(points)),
                injections,
            )
        )
    return history


def injector_values(membership: Membership | None) -> Injector | None:
    if membership is None:
        return None
    return Injector(
        credentials=tuple(membership.credentials),
        indications=tuple(membership.indications),
        supervised_by=str(membership.supervisor_id) if membership.supervisor_id else None,
    )


def plan_values(session: TreatmentSession) -> Plan:
    points = current_points(session)
    vials = []
    for use in session.session_vials.select_related("vial__lot").all():
        vial, lot = use.vial, use.vial.lot
        vials.append(
            Vial(
                size=Units(lot.product, lot.vial_size_units),
                diluent_ml=vial.diluent_ml,
                reconstituted_at=vial.reconstituted_at,
                lot=lot.lot_number,
                lot_expires=lot.expires_on,
                recalled=lot.recalled_at is not None,
            )
        )
    return Plan(
        date=session.plan_date,
        product=session.product,
        indication=session.indication,
        injections=tuple(
            Injection(p.site, p.side, Units(session.product, p.units), p.route) for p in points
        ),
        protocol=session.protocol or None,
        vials=tuple(vials),
    )


def run_check(session: TreatmentSession, now: datetime) -> CheckResult:
    patient = patient_values(session.patient)
    history = [
        h for h in history_of(session.patient, exclude=session) if h.date <= session.plan_date
    ]
    plan = plan_values(session)
    if patient.weight_kg is None and requires_weight(plan, patient, history):
        raise ServiceError(
            "patient.weight_kg",
            "the patient is a child and a weight-based dose rule applies: record a weight first",
        )
    return evaluate(plan, patient, history, injector_values(session.injector), now)


def fingerprint(finding: Finding | dict[str, Any]) -> str:
    """Identifies one finding of one plan: a changed plan changes its message and asks again."""
    data = finding if isinstance(finding, dict) else finding_json(finding)
    sites = ",".join(f"{s['site']}:{s['side']}" for s in data["sites"])
    text = f"{data['rule']}|{data['severity']}|{data['message']}|{sites}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def stored_result(result: CheckResult) -> dict[str, Any]:
    data = result_json(result)
    for item in data["findings"]:
        item["fingerprint"] = fingerprint(item)
    return data

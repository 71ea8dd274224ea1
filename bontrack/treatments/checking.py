"""Build the domain's values from rows and run the same check as `bontrack check`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bontrack.accounts.models import Membership
from bontrack.check_output import finding_json, result_json
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.domain.check import CheckResult, evaluate, requires_weight
from bontrack.domain.rules.findings import Finding
from bontrack.domain.treatment import (
    HistoryEntry,
    InfectedSite,
    Injection,
    Injector,
    Patient,
    Plan,
    Verdict,
)
from bontrack.domain.treatment import Vial as VialValue
from bontrack.domain.units import Units
from bontrack.outcomes.verdicts import check_verdicts
from bontrack.patients.models import Patient as PatientRow
from bontrack.treatments import supply
from bontrack.treatments.models import Injection as InjectionRow
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.treatments.records import (
    Point,
    counts_toward_limits,
    current_points,
    status_of,
    total_units,
)


def patient_values(row: PatientRow, day: date | None = None) -> Patient:
    """The patient as the check reads them. With ``day`` (a session's date on the records path),
    a weight measured after it is not used (B.37): the patient row holds one weight, so a session
    charted late for a child whose weight was measured since is checked without a weight, and the
    check asks for one measured on or before that date."""
    later = day is not None and row.weight_measured_on is not None and row.weight_measured_on > day
    return Patient(
        birth_date=row.birth_date,
        weight_kg=None if later else row.weight_kg,
        weight_measured_on=None if later else row.weight_measured_on,
        sex=row.sex,
        pregnant=row.pregnant,
        breastfeeding=row.breastfeeding,
        conditions=tuple(row.conditions),
        medications=tuple(row.medications),
        allergies=tuple(row.allergies),
        infected_sites=tuple(InfectedSite(s["site"], s.get("side")) for s in row.infected_sites),
    )


def history_entry(
    session: TreatmentSession, points: Sequence[Point], zone: ZoneInfo
) -> HistoryEntry:
    """A signed session as the check reads it in the history: its current points (amended
    values), when it was given in the clinic's zone (``zone``) and who injected it."""
    return HistoryEntry(
        session.plan_date,
        session.product,
        session.indication,
        Units(session.product, total_units(points)),
        # A dose given elsewhere whose sites are not known is one point without a site: it
        # counts in the session's total, never toward a muscle's.
        tuple(
            Injection(p.site, p.side, Units(session.product, p.units), p.route)
            for p in points
            if p.site
        ),
        administered_at=session.administered_at.astimezone(zone)
        if session.administered_at is not None
        else None,
        injector=None
        if session.external or session.injector is None
        else session.injector.display_name,
    )


def history_of(row: PatientRow, exclude: TreatmentSession | None = None) -> list[HistoryEntry]:
    """Every signed session of the patient that still counts, with its amended values, when it
    was given (in the clinic's time zone) and who injected it."""
    sessions = (
        TreatmentSession.objects.filter(
            clinic_id=row.clinic_id, patient=row, signed_at__isnull=False
        )
        .select_related("signed_by", "injector__user", "clinic")
        .prefetch_related(
            prefetch_in_clinic("injections", InjectionRow, row.clinic_id),
            prefetch_in_clinic("events", SessionEvent, row.clinic_id),
        )
    )
    history = []
    for s in sessions:
        if exclude is not None and s.pk == exclude.pk:
            continue
        events = list(s.events.all())
        if not counts_toward_limits(status_of(s, events)):
            continue
        history.append(history_entry(s, current_points(s, events), ZoneInfo(s.clinic.time_zone)))
    return history


def injector_values(membership: Membership | None) -> Injector | None:
    if membership is None:
        return None
    return Injector(
        credentials=tuple(membership.credentials),
        indications=tuple(membership.indications),
        # Her supervising prescribers (DESIGN 3.4), named together; none: unsupervised (B.21).
        supervised_by=",".join(
            sorted(str(i) for i in membership.supervisors.values_list("id", flat=True))
        )
        or None,
    )


def plan_values(session: TreatmentSession, *, vials: Sequence[VialValue] | None = None) -> Plan:
    """The session as a plan; its vials carry what other sessions drew from them (B.30), or are
    ``vials`` as signing settled them (with this session's draws)."""
    points = current_points(session)
    if vials is None:
        rows = [
            u.vial for u in in_clinic(session.session_vials.all(), session.clinic_id, "vial__lot")
        ]
        vials = supply.domain_vials(session, rows) if rows else ()
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


def run_check(
    session: TreatmentSession,
    now: datetime,
    *,
    vials: Sequence[VialValue] | None = None,
    at_signing: bool = False,
    history: Sequence[HistoryEntry] | None = None,
    verdicts: Sequence[Verdict] | None = None,
) -> CheckResult:
    """``vials``: as signing settled them, with their draws; ``at_signing``: a session signed
    without a vial of its product is refused (B.30). History dated after the session counts too
    (late charting, B.37). ``history`` (``history_of`` without this session) and ``verdicts``
    (``check_verdicts``): when the caller has read them already."""
    patient = patient_values(session.patient, session.plan_date)
    if history is None:
        history = history_of(session.patient, exclude=session)
    plan = plan_values(session, vials=vials)
    if patient.weight_kg is None and requires_weight(plan, patient, history):
        measured = session.patient.weight_measured_on
        if session.patient.weight_kg is not None and measured is not None:
            raise ServiceError(
                "patient.weight_kg",
                f"the patient's weight was measured on {measured.isoformat()}, after this "
                f"session's date {session.plan_date.isoformat()}, and a weight-based dose rule "
                "applies: enter the weight measured on or before that date (with its date) to "
                "chart this session",
            )
        raise ServiceError(
            "patient.weight_kg",
            "the patient is a child and a weight-based dose rule applies: record a weight first",
        )
    return evaluate(
        plan,
        patient,
        history,
        injector_values(session.injector),
        now,
        verdicts=check_verdicts(session.patient, session.indication)
        if verdicts is None
        else tuple(verdicts),
        at_signing=at_signing,
    )


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

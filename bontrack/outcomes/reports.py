"""Adverse-event reports: counts per product and indication, and a per-event export with the
fields a pharmacovigilance report asks for.

Events of a session entered in error are left out (the session did not happen as charted). The
counts identify nobody and write one read entry; the export discloses each patient it lists (one
disclosure entry per patient) and lists only the patients whose chart the caller may open (a
restricted patient's chart is their care team's, DESIGN 3.4). Both cost a constant number of
SQL queries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.treatment import Patient as PatientValues
from bontrack.domain.units import format_decimal
from bontrack.outcomes.due import counting_sessions
from bontrack.outcomes.models import SEVERITIES, AdverseEvent
from bontrack.outcomes.services import clinic_today
from bontrack.treatments.models import (
    Injection,
    SessionEvent,
    SessionEventKind,
    SessionVial,
    TreatmentSession,
)
from bontrack.treatments.records import current_points, total_units
from bontrack.treatments.services import local_date

MAX_DAYS = 5 * 366
IDENTIFY = ("pseudonym", "record-number")


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def report_period(actor: Actor, start: date | None, end: date | None) -> Period:
    """The period asked for; by default the 365 days up to today."""
    last = end or clinic_today(actor)
    first = start or last - timedelta(days=364)
    if last < first:
        raise ServiceError("end", f"is before the start ({first.isoformat()})")
    if (last - first).days > MAX_DAYS:
        raise ServiceError("start", "the period is longer than 5 years")
    return Period(first, last)


def _events(
    actor: Actor, period: Period, product: str | None, indication: str | None
) -> QuerySet[AdverseEvent]:
    cat = catalog()
    if product and product not in cat.products:
        raise ServiceError("product", f"unknown product code {product!r}")
    if indication and indication not in cat.indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    events = AdverseEvent.objects.filter(
        clinic_id=actor.membership.clinic_id,
        session__clinic_id=actor.membership.clinic_id,
        onset_date__gte=period.start,
        onset_date__lte=period.end,
    ).exclude(
        Exists(
            SessionEvent.objects.filter(
                clinic_id=OuterRef("clinic_id"),
                session_id=OuterRef("session_id"),
                kind=SessionEventKind.ENTERED_IN_ERROR,
            )
        )
    )
    if product:
        events = events.filter(session__product=product)
    if indication:
        events = events.filter(session__indication=indication)
    return events


def adverse_event_report(
    actor: Actor,
    *,
    start: date | None = None,
    end: date | None = None,
    product: str | None = None,
    indication: str | None = None,
) -> dict[str, Any]:
    """Counts by product and indication, then by term and severity, over the onset period; with
    the signed sessions given in the period, for scale. Two queries and one read entry."""
    require(actor, Perm.CHART_READ)
    period = report_period(actor, start, end)
    cat = catalog()
    events = _events(actor, period, product, indication)
    counts = (
        events.values("session__product", "session__indication", "term", "severity")
        .annotate(n=Count("id"), serious=Count("id", filter=Q(serious=True)))
        .order_by()
    )
    sessions = counting_sessions(actor.membership.clinic_id).filter(
        plan_date__gte=period.start, plan_date__lte=period.end
    )
    if product:
        sessions = sessions.filter(product=product)
    if indication:
        sessions = sessions.filter(indication=indication)
    given = {
        (row["product"], row["indication"]): row["n"]
        for row in sessions.values("product", "indication").annotate(n=Count("id")).order_by()
    }
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    terms: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in counts:
        key = (row["session__product"], row["session__indication"])
        group = groups.setdefault(
            key,
            {
                "product": key[0],
                "indication": key[1],
                "sessions": given.get(key, 0),
                "events": 0,
                "serious": 0,
            },
        )
        group["events"] += row["n"]
        group["serious"] += row["serious"]
        term = terms[key].setdefault(
            row["term"],
            {
                "term": row["term"],
                "name": cat.adverse_event_terms[row["term"]].name
                if row["term"] in cat.adverse_event_terms
                else row["term"],
                "events": 0,
                "serious": 0,
                "by_severity": dict.fromkeys(SEVERITIES, 0),
            },
        )
        term["events"] += row["n"]
        term["serious"] += row["serious"]
        term["by_severity"][row["severity"]] += row["n"]
    result = []
    for key in sorted(groups):
        group = groups[key]
        group["terms"] = sorted(terms[key].values(), key=lambda t: (-t["events"], t["term"]))
        result.append(group)
    with clinical_transaction(actor) as trail:
        trail.record(
            "read",
            "adverse-event-report",
            f"{period.start.isoformat()}/{period.end.isoformat()}",
            None,
            product=product or "",
            indication=indication or "",
        )
    return {
        "start": period.start,
        "end": period.end,
        "product": product,
        "indication": indication,
        "events": sum(g["events"] for g in result),
        "groups": result,
    }


def pseudonym(clinic_id: object, patient_id: object) -> str:
    """A stable pseudonymous id for a patient in reports that leave the clinic: an HMAC of the
    clinic and patient ids under the server's secret key (the clinic can re-identify by
    recomputing it; nobody else can)."""
    key = settings.SECRET_KEY.encode("utf-8")
    mac = hmac.new(key, f"pv:{clinic_id}:{patient_id}".encode(), hashlib.sha256).hexdigest()
    return f"PV-{mac[:16].upper()}"


# The columns of the per-event export, in order.
EXPORT_COLUMNS = (
    "event_id",
    "patient",
    "age_at_onset",
    "sex",
    "product",
    "brands",
    "lot_numbers",
    "dose_units",
    "indication",
    "session_date",
    "onset_date",
    "days_to_onset",
    "term",
    "term_name",
    "severity",
    "serious",
    "relatedness",
    "outcome",
    "description",
    "reporter",
    "reporter_role",
    "reported_on",
)


def adverse_event_export(
    actor: Actor,
    *,
    start: date | None = None,
    end: date | None = None,
    product: str | None = None,
    indication: str | None = None,
    identify: str = "pseudonym",
) -> list[dict[str, str]]:
    """One row per event (oldest onset first), with the amended dose and the session's lots;
    the patient named by record number or by pseudonym. One disclosure entry per patient."""
    require(actor, Perm.CHART_READ)
    if identify not in IDENTIFY:
        raise ServiceError("identify", f"must be one of {', '.join(IDENTIFY)}")
    period = report_period(actor, start, end)
    cat = catalog()
    membership = actor.membership
    clinic = membership.clinic_id
    involved = TreatmentSession.objects.filter(
        clinic_id=OuterRef("clinic_id"), patient_id=OuterRef("patient_id")
    ).filter(Q(planned_by=membership) | Q(signed_by=membership))
    events = (
        _events(actor, period, product, indication)
        .filter(
            Q(patient__restricted=False)
            | Q(patient__restricted_by=membership)
            | Q(Exists(involved))
        )
        .filter(patient__clinic_id=clinic)
        .select_related("session", "patient", "recorded_by__user")
        .prefetch_related(
            prefetch_in_clinic("session__injections", Injection, clinic),
            prefetch_in_clinic("session__events", SessionEvent, clinic),
            Prefetch(
                "session__session_vials",
                queryset=in_clinic(SessionVial.objects.all(), clinic, "vial__lot"),
            ),
        )
        .order_by("onset_date", "recorded_at", "id")
    )
    rows: list[dict[str, str]] = []
    for e in events:
        s, p = e.session, e.patient
        points = current_points(s, s.events.all())
        lots = sorted({use.vial.lot.lot_number for use in s.session_vials.all()})
        known = cat.products.get(s.product)
        term = cat.adverse_event_terms.get(e.term)
        age = PatientValues(birth_date=p.birth_date).age_on(e.onset_date)
        rows.append(
            {
                "event_id": str(e.id),
                "patient": p.record_number
                if identify == "record-number"
                else pseudonym(p.clinic_id, p.id),
                "age_at_onset": str(age),
                "sex": p.sex,
                "product": s.product,
                "brands": " / ".join(known.brands) if known else "",
                "lot_numbers": "; ".join(lots),
                "dose_units": format_decimal(Decimal(total_units(points))),
                "indication": s.indication,
                "session_date": s.plan_date.isoformat(),
                "onset_date": e.onset_date.isoformat(),
                "days_to_onset": str((e.onset_date - s.plan_date).days),
                "term": e.term,
                "term_name": term.name if term else e.term,
                "severity": e.severity,
                "serious": "yes" if e.serious else "no",
                "relatedness": e.relatedness,
                "outcome": e.outcome,
                "description": e.notes,
                "reporter": e.recorded_by.display_name,
                "reporter_role": e.recorded_by.role,
                "reported_on": local_date(actor.clinic.time_zone, e.recorded_at).isoformat(),
            }
        )
    with clinical_transaction(actor) as trail:
        patients: dict[Any, int] = defaultdict(int)
        for e in events:
            patients[e.patient_id] += 1
        for patient_id, n in patients.items():
            trail.record(
                "disclose",
                "adverse-event-export",
                patient_id,
                patient_id,
                events=n,
                identify=identify,
            )
    return rows

"""Response verdicts from stored data: the patient's assessments and signed sessions, judged by
the same ``judge`` as `bontrack outcome` (DESIGN 3.8).

For each indication, scale and muscle group the patient has results for:

- **cycles** are the patient's signed sessions of that indication that still count (an entered
  in error session does not), in order, numbered from 1; sessions on one day are one cycle;
- **baseline** is the latest result marked ``baseline`` that ends on or before the first cycle
  (else, when every baseline was recorded later or there is no cycle yet, the latest baseline);
- **follow-ups** are the other results (peak effect, before re-injection, follow-up) that start
  once the baseline has ended; a result linked to a session follows that session's cycle.

A series without a baseline has no verdict; it is listed as such.

A ``stop`` or ``non-responder`` verdict reaches the next plan, the due list, the reminders and
the proposed next visit (B.32) until a newer follow-up changes it or a prescriber records
"continue despite this verdict" with a reason (``ContinueDespiteVerdict``, appended by
``outcomes/decisions.py``). Such a decision stands while every follow-up after the verdict it
was taken on still gives that verdict.
Reading every verdict costs three queries, for one patient or for a whole clinic: the
assessments, the counting sessions' days, the decisions.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet

from bontrack.access import PATIENT, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.scoping import not_replaced
from bontrack.domain.catalog import catalog
from bontrack.domain.outcomes import (
    STOPPING,
    Cycle,
    OutcomeSeries,
    OutcomeVerdict,
    Reading,
    judge,
    verdict_changed_since,
)
from bontrack.domain.treatment import Verdict
from bontrack.outcomes.models import Assessment, ContinueDespiteVerdict
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession


@dataclass(frozen=True)
class SeriesVerdict:
    verdict: OutcomeVerdict
    results: int  # the stored results of this series (baseline and follow-ups used)
    # The prescriber's "continue despite this verdict" that still stands (B.32), if any.
    continued: ContinueDespiteVerdict | None = None

    @property
    def stopping(self) -> bool:
        """A stop or non-responder verdict that no standing decision continues despite."""
        return self.verdict.verdict in STOPPING and self.continued is None


@dataclass(frozen=True)
class MissingBaseline:
    indication: str
    scale: str
    muscle_group: str
    results: int


@dataclass(frozen=True)
class PatientVerdicts:
    patient: Patient
    verdicts: list[SeriesVerdict]
    without_baseline: list[MissingBaseline]
    cycles: dict[str, tuple[Cycle, ...]]


@dataclass(frozen=True)
class Counted:
    """A signed session that still counts, as the cycles read it."""

    id: UUID
    patient_id: UUID
    indication: str
    plan_date: date


def counting_readings(clinic_id: UUID) -> QuerySet[Assessment]:
    """The clinic's readings that count (``Assessment.objects``: none a newer reading
    supersedes), with the newer reading looked for inside the clinic."""
    return Assessment.readings.filter(clinic_id=clinic_id).filter(
        not_replaced(Assessment, "supersedes")
    )


def counted_sessions(scope: Q) -> list[Counted]:
    """One query: the signed sessions within ``scope`` that are not entered in error."""
    wrong = SessionEvent.objects.filter(
        clinic_id=OuterRef("clinic_id"),
        session_id=OuterRef("pk"),
        kind=SessionEventKind.ENTERED_IN_ERROR,
    )
    rows = (
        TreatmentSession.objects.filter(scope, signed_at__isnull=False)
        .exclude(Exists(wrong))
        .order_by()
        .values_list("id", "patient_id", "indication", "plan_date")
    )
    return [Counted(*row) for row in rows]


def cycles_of(sessions: Iterable[Counted]) -> dict[str, tuple[Cycle, ...]]:
    """Counting signed sessions per indication, numbered in date order (one per day)."""
    days: dict[str, set[date]] = defaultdict(set)
    for s in sessions:
        days[s.indication].add(s.plan_date)
    return {
        indication: tuple(Cycle(n, day) for n, day in enumerate(sorted(found), start=1))
        for indication, found in days.items()
    }


def _whole_month(start: date, end: date) -> bool:
    last = calendar.monthrange(start.year, start.month)[1]
    return start.day == 1 and end == date(start.year, start.month, last)


def reading_of(assessment: Assessment, after_cycle: int | None) -> Reading:
    value = assessment.value
    if assessment.assessed_on is not None:
        return Reading.on(value, assessment.assessed_on, after_cycle)
    start, end = assessment.start, assessment.end
    if _whole_month(start, end):
        return Reading.in_month(value, start.year, start.month, after_cycle)
    return Reading.over(value, start, end, after_cycle)


def _baseline(results: Sequence[Assessment], cycles: Sequence[Cycle]) -> Assessment | None:
    baselines = [a for a in results if a.timepoint == "baseline"]
    if not baselines:
        return None
    if cycles:
        before = [a for a in baselines if a.end <= cycles[0].date]
        if before:
            baselines = before
    return max(baselines, key=lambda a: (a.end, a.start, a.recorded_at))


def series_of(
    indication: str,
    scale: str,
    muscle_group: str,
    results: Sequence[Assessment],
    cycles: Sequence[Cycle],
    cycle_of_session: dict[UUID, int],
) -> tuple[OutcomeSeries, int] | None:
    """The domain's series for one scale's stored results, or None without a baseline."""
    baseline = _baseline(results, cycles)
    if baseline is None:
        return None
    follow_ups = sorted(
        (a for a in results if a.timepoint != "baseline" and a.start >= baseline.end),
        key=lambda a: (a.end, a.start, a.recorded_at),
    )
    readings = tuple(
        reading_of(a, cycle_of_session.get(a.session_id) if a.session_id else None)
        for a in follow_ups
    )
    series = OutcomeSeries(
        scale=scale,
        baseline=reading_of(baseline, None),
        follow_ups=readings,
        cycles=tuple(cycles),
        indication=indication,
        muscle_group=muscle_group or None,
    )
    return series, 1 + len(readings)


def standing_decision(
    series: OutcomeSeries, verdict: OutcomeVerdict, decisions: Iterable[ContinueDespiteVerdict]
) -> ContinueDespiteVerdict | None:
    """The latest "continue despite this verdict" of the series that still stands: taken on the
    verdict the series gives now, and no follow-up since has given another (B.32)."""
    if verdict.verdict not in STOPPING:
        return None
    for decision in sorted(decisions, key=lambda d: d.decided_at, reverse=True):
        if decision.verdict == verdict.verdict and not verdict_changed_since(
            series, decision.as_of, decision.verdict
        ):
            return decision
    return None


SeriesKey = tuple[str, str, str]  # indication, scale, muscle group ("" for none)


def judge_patient(
    results: Iterable[Assessment],
    counted: Sequence[Counted],
    decisions: Iterable[ContinueDespiteVerdict],
) -> tuple[list[SeriesVerdict], list[MissingBaseline], dict[str, tuple[Cycle, ...]]]:
    """One patient's verdicts from their rows: every series judged, with its standing decision."""
    cycles = cycles_of(counted)
    by_day = {(ind, c.date): c.n for ind, found in cycles.items() for c in found}
    cycle_of_session = {s.id: by_day[(s.indication, s.plan_date)] for s in counted}
    groups: dict[SeriesKey, list[Assessment]] = defaultdict(list)
    for a in results:
        groups[(a.indication, a.scale, a.muscle_group)].append(a)
    decided: dict[SeriesKey, list[ContinueDespiteVerdict]] = defaultdict(list)
    for d in decisions:
        decided[(d.indication, d.scale, d.muscle_group)].append(d)
    verdicts: list[SeriesVerdict] = []
    missing: list[MissingBaseline] = []
    for key, found in sorted(groups.items()):
        ind, scale, muscles = key
        built = series_of(ind, scale, muscles, found, cycles.get(ind, ()), cycle_of_session)
        if built is None:
            missing.append(MissingBaseline(ind, scale, muscles, len(found)))
            continue
        series, used = built
        verdict = judge(series)
        verdicts.append(
            SeriesVerdict(verdict, used, standing_decision(series, verdict, decided.get(key, ())))
        )
    return verdicts, missing, cycles


def verdicts_of(patient: Patient, indication: str | None = None) -> PatientVerdicts:
    """Every series' verdict for a patient whose chart the caller has already opened through
    ``access_patient`` (and whose read entry it writes): the patient page shows the verdicts
    beside the rest of the chart with one read entry. Three queries."""
    scope = Q(clinic_id=patient.clinic_id, patient=patient)
    if indication:
        scope &= Q(indication=indication)
    results = counting_readings(patient.clinic_id).filter(scope)
    decisions = ContinueDespiteVerdict.objects.filter(scope).select_related("decided_by__user")
    verdicts, missing, cycles = judge_patient(results, counted_sessions(scope), decisions)
    return PatientVerdicts(patient, verdicts, missing, cycles)


def domain_verdict(v: OutcomeVerdict) -> Verdict | None:
    """DESIGN 3.3's ``verdicts`` entry for a judged series; None before any follow-up."""
    if v.as_of is None or v.indication is None:
        return None
    return Verdict(
        indication=v.indication,
        scale=v.scale,
        verdict=v.verdict,
        as_of=v.as_of,
        summary=v.summary,
        source=v.source,
        muscle_group=v.muscle_group,
    )


def check_verdicts(patient: Patient, indication: str) -> tuple[Verdict, ...]:
    """The patient's latest verdict per series of ``indication``, for the records path's check
    (B.32): a series a prescriber decided to continue despite is left out while the decision
    stands, so it gives no ``response`` finding. Three queries, whatever the history."""
    found = verdicts_of(patient, indication)
    return tuple(
        verdict
        for v in found.verdicts
        if v.continued is None and (verdict := domain_verdict(v.verdict)) is not None
    )


@dataclass(frozen=True)
class Stopping:
    """Why a patient is held off the due list for an indication (B.32), in the Due page's words."""

    indication: str
    verdicts: tuple[OutcomeVerdict, ...]

    @property
    def label(self) -> str:
        return stop_label(self.verdicts)


def stop_label(verdicts: Sequence[OutcomeVerdict]) -> str:
    """ "stop recommended (NICE TA260)" and/or "not responding on SCALE", in one line."""
    words = []
    if any(v.verdict == "stop" for v in verdicts):
        words.append("stop recommended (NICE TA260)")
    scales = catalog().scales
    for v in verdicts:
        if v.verdict == "non-responder":
            scale = scales.get(v.scale)
            words.append(f"not responding on {scale.label if scale else v.scale}")
    return "; ".join(dict.fromkeys(words))


def stopping_of(found: Sequence[SeriesVerdict], indication: str) -> Stopping | None:
    held = tuple(v.verdict for v in found if v.stopping and v.verdict.indication == indication)
    return Stopping(indication, held) if held else None


class ClinicVerdicts:
    """The clinic's stop and non-responder verdicts, for the due list and reminders: the
    assessments in one query, and only when there are any, the counting sessions' days of those
    patients and the decisions (three queries in all, whatever the clinic's size); each patient
    is judged when first asked about."""

    def __init__(self, clinic_id: UUID, indication: str | None = None) -> None:
        scope = Q(clinic_id=clinic_id)
        if indication:
            scope &= Q(indication=indication)
        self._results: dict[UUID, list[Assessment]] = defaultdict(list)
        for a in counting_readings(clinic_id).filter(scope).order_by():
            self._results[a.patient_id].append(a)
        self._counted: dict[UUID, list[Counted]] = defaultdict(list)
        self._decisions: dict[UUID, list[ContinueDespiteVerdict]] = defaultdict(list)
        self._judged: dict[UUID, list[SeriesVerdict]] = {}
        if not self._results:
            return
        assessed = counting_readings(clinic_id).filter(scope).values("patient_id")
        for s in counted_sessions(scope & Q(patient_id__in=assessed)):
            self._counted[s.patient_id].append(s)
        for d in ContinueDespiteVerdict.objects.filter(scope).order_by():
            self._decisions[d.patient_id].append(d)

    def stopping(self, patient_id: UUID, indication: str) -> Stopping | None:
        """The patient's standing stop or non-responder verdicts of ``indication``, if any."""
        if patient_id not in self._results:
            return None
        if patient_id not in self._judged:
            self._judged[patient_id] = judge_patient(
                self._results[patient_id],
                self._counted.get(patient_id, []),
                self._decisions.get(patient_id, []),
            )[0]
        return stopping_of(self._judged[patient_id], indication)


def patient_verdicts(
    actor: Actor, patient_id: UUID | str, indication: str | None = None
) -> PatientVerdicts:
    """Every series' verdict for the patient (one indication, or all); one read entry."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        found = verdicts_of(patient, indication)
        trail.record("read", "outcome-verdicts", patient.id, patient.id)
    return found


def decision_out(d: ContinueDespiteVerdict) -> dict[str, Any]:
    return {
        "id": d.id,
        "verdict": d.verdict,
        "as_of": d.as_of,
        "summary": d.summary,
        "reason": d.reason,
        "decided_by": d.decided_by.display_name,
        "decided_at": d.decided_at,
    }

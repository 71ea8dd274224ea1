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
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from bontrack.accounts.access import access_patient
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.domain.outcomes import Cycle, OutcomeSeries, OutcomeVerdict, Reading, judge
from bontrack.outcomes.models import Assessment
from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of


@dataclass(frozen=True)
class SeriesVerdict:
    verdict: OutcomeVerdict
    results: int  # the stored results of this series (baseline and follow-ups used)


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


def cycles_of(sessions: Sequence[TreatmentSession]) -> dict[str, tuple[Cycle, ...]]:
    """Counting signed sessions per indication, numbered in date order (one per day)."""
    days: dict[str, list[date]] = defaultdict(list)
    for s in sorted(sessions, key=lambda s: (s.plan_date, s.administered_at or s.created_at)):
        if days[s.indication] and days[s.indication][-1] == s.plan_date:
            continue
        days[s.indication].append(s.plan_date)
    return {
        indication: tuple(Cycle(n, day) for n, day in enumerate(found, start=1))
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


def verdicts_of(patient: Patient, indication: str | None = None) -> PatientVerdicts:
    """Every series' verdict for a patient whose chart the caller has already opened through
    ``access_patient`` (and whose read entry it writes): the patient page shows the verdicts
    beside the rest of the chart with one read entry."""
    results = Assessment.objects.filter(patient=patient)
    sessions = (
        TreatmentSession.objects.filter(patient=patient, signed_at__isnull=False)
        .select_related("signed_by")
        .prefetch_related("events")
    )
    if indication:
        results = results.filter(indication=indication)
        sessions = sessions.filter(indication=indication)
    counting = [s for s in sessions if counts_toward_limits(status_of(s, s.events.all()))]
    cycles = cycles_of(counting)
    by_day = {(ind, c.date): c.n for ind, found in cycles.items() for c in found}
    cycle_of_session = {s.id: by_day[(s.indication, s.plan_date)] for s in counting}
    groups: dict[tuple[str, str, str], list[Assessment]] = defaultdict(list)
    for a in results:
        groups[(a.indication, a.scale, a.muscle_group)].append(a)
    verdicts: list[SeriesVerdict] = []
    missing: list[MissingBaseline] = []
    for (ind, scale, muscles), found in sorted(groups.items()):
        built = series_of(ind, scale, muscles, found, cycles.get(ind, ()), cycle_of_session)
        if built is None:
            missing.append(MissingBaseline(ind, scale, muscles, len(found)))
            continue
        series, used = built
        verdicts.append(SeriesVerdict(judge(series), used))
    return PatientVerdicts(patient, verdicts, missing, cycles)


def patient_verdicts(
    actor: Actor, patient_id: UUID | str, indication: str | None = None
) -> PatientVerdicts:
    """Every series' verdict for the patient (one indication, or all); one read entry."""
    with clinical_transaction(actor) as trail:
        patient = access_patient(actor, patient_id, Perm.CHART_READ)
        found = verdicts_of(patient, indication)
        trail.record("read", "outcome-verdicts", patient.id, patient.id)
    return found

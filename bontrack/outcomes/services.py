"""Follow-up: adverse events, outcome assessments, wear-off reports and headache diaries.

The only code that writes these rows. Each write checks its input against the catalog (scales,
terms), reaches the patient through the access funnels and appends its audit entries in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from django.db import IntegrityError
from django.utils import timezone

from bontrack.access import PATIENT, SESSION, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.units import format_decimal
from bontrack.outcome_input import (
    count_problem,
    period_problem,
    scale_indication_problem,
    value_problem,
)
from bontrack.outcomes import due_state
from bontrack.outcomes.diary import (
    DIARY_INDICATION,
    MONTH_SCALE,
    WINDOW_SCALES,
    Diary,
    RowError,
    month_counts,
    parse_diary,
    window_count,
)
from bontrack.outcomes.models import (
    OUTCOMES,
    RELATEDNESS,
    SEVERITIES,
    TIMEPOINTS,
    AdverseEvent,
    Assessment,
    WearOffReport,
)
from bontrack.outcomes.verdicts import counting_readings
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of
from bontrack.treatments.services import local_date, recheck_open_plans


def record_adverse_event(
    actor: Actor,
    session_id: UUID | str,
    *,
    term: str,
    onset_date: date,
    severity: str,
    serious: bool,
    relatedness: str,
    outcome: str,
    notes: str = "",
) -> AdverseEvent:
    if term not in catalog().adverse_event_terms:
        raise ServiceError(
            "term", f"unknown adverse event term {term!r} (`bontrack catalog` lists them)"
        )
    for field, value, allowed in (
        ("severity", severity, SEVERITIES),
        ("relatedness", relatedness, RELATEDNESS),
        ("outcome", outcome, OUTCOMES),
    ):
        if value not in allowed:
            raise ServiceError(field, f"must be one of {', '.join(allowed)}")
    if term == "other" and not notes.strip():
        raise ServiceError("notes", "describe an 'other' adverse event")
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
        if not session.is_signed:
            raise ConflictError(None, "adverse events follow a signed session")
        if onset_date < session.plan_date:
            raise ServiceError("onset_date", "is before the session")
        event = AdverseEvent.objects.create(
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            session=session,
            term=term,
            onset_date=onset_date,
            severity=severity,
            serious=serious,
            relatedness=relatedness,
            outcome=outcome,
            notes=notes,
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
        )
        trail.record("create", "adverse-event", event.id, session.patient_id, term=term)
    return event


# --- Outcome assessments -----------------------------------------------------------------------


def clinic_today(actor: Actor) -> date:
    """Today in the clinic's time zone (plan dates are the clinic's local dates)."""
    return local_date(actor.clinic.time_zone, timezone.now())


def _counting(session: TreatmentSession) -> bool:
    return session.is_signed and counts_toward_limits(status_of(session))


def _linked_session(
    actor: Actor, session_id: UUID | str, patient: Patient, indication: str
) -> TreatmentSession:
    session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
    if session.patient_id != patient.id:
        raise ServiceError("session_id", "is a session of another patient")
    if session.indication != indication:
        raise ServiceError(
            "session_id", f"treated {session.indication}, not {indication}: link a session of it"
        )
    if not _counting(session):
        raise ServiceError(
            "session_id", f"is not a signed session that counts ({status_of(session)})"
        )
    return session


def record_assessment(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    scale: str,
    value: Decimal | str,
    timepoint: str,
    assessed_on: date | None = None,
    period: tuple[date, date] | None = None,
    session_id: UUID | str | None = None,
    muscle_group: str = "",
    today: date | None = None,
) -> Assessment:
    """Record one result on a catalog scale, checked as `bontrack outcome` checks its input: the
    scale's range and steps (or levels), and the scales the indication is followed with."""
    cat = catalog()
    found = cat.scales.get(scale)
    if found is None:
        raise ServiceError("scale", f"unknown scale code {scale!r} (`bontrack catalog` lists them)")
    problem = scale_indication_problem(found, indication, cat)
    if problem:
        raise ServiceError("indication", problem)
    problem = value_problem(found, value)
    if problem:
        raise ServiceError("value", problem)
    if timepoint not in TIMEPOINTS:
        raise ServiceError("timepoint", f"must be one of {', '.join(TIMEPOINTS)}")
    if period is not None:
        start, end = period
    elif assessed_on is not None:
        start = end = assessed_on
    else:
        raise ServiceError("assessed_on", "give the day it was assessed, or the period it covers")
    if period is not None and assessed_on is not None:
        raise ServiceError("assessed_on", "give the day it was assessed or the period, not both")
    if period is not None:
        problem = period_problem(found, start, end)
        if problem:
            raise ServiceError("period", problem)
        problem = count_problem(found, start, end, value)
        if problem:
            raise ServiceError("value", problem)
    muscle_group = muscle_group.strip()
    if len(muscle_group) > 100:
        raise ServiceError("muscle_group", "must be at most 100 characters")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        day = today or clinic_today(actor)
        where = "period" if period is not None else "assessed_on"
        if end > day:
            raise ServiceError(where, f"ends in the future ({end.isoformat()})")
        if start < patient.birth_date:
            raise ServiceError(where, "is before the patient was born")
        session = None
        if session_id is not None:
            session = _linked_session(actor, session_id, patient, indication)
            if timepoint == "baseline" and end > session.plan_date:
                raise ServiceError(
                    "timepoint",
                    f"a baseline comes before the session it is linked to "
                    f"({session.plan_date.isoformat()})",
                )
            if timepoint != "baseline" and start < session.plan_date:
                raise ServiceError(
                    where,
                    f"a {timepoint} result follows the session it is linked to "
                    f"({session.plan_date.isoformat()})",
                )
        same = counting_readings(patient.clinic_id).filter(
            patient=patient, indication=indication, scale=scale, muscle_group=muscle_group
        )
        same = (
            same.filter(period_start=start, period_end=end)
            if period is not None
            else same.filter(assessed_on=assessed_on)
        )
        if same.exists():
            raise ConflictError(
                where, f"a {scale} result for this {where.replace('_', ' ')} is already recorded"
            )
        number = value if isinstance(value, Decimal) else None
        try:
            assessment = Assessment.objects.create(
                clinic_id=patient.clinic_id,
                patient=patient,
                indication=indication,
                scale=scale,
                value_number=number,
                value_level=value if isinstance(value, str) else "",
                timepoint=timepoint,
                session=session,
                assessed_on=assessed_on,
                period_start=period[0] if period else None,
                period_end=period[1] if period else None,
                muscle_group=muscle_group,
                recorded_by=actor.membership,
                recorded_at=timezone.now(),
            )
        except IntegrityError:
            raise ConflictError(where, f"a {scale} result for it is already recorded") from None
        trail.record(
            "create", "assessment", assessment.id, patient.id, scale=scale, timepoint=timepoint
        )
        # A result may change a verdict that the open plans' checks read (B.32).
        recheck_open_plans(patient.id, trail)
        due_state.refresh(patient.clinic_id, patient.id)
    return assessment


def list_assessments(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str | None = None,
    scale: str | None = None,
) -> list[Assessment]:
    """The patient's results, oldest first; one read entry."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        rows = counting_readings(patient.clinic_id).filter(patient=patient)
        if indication:
            rows = rows.filter(indication=indication)
        if scale:
            rows = rows.filter(scale=scale)
        found = sorted(rows, key=lambda a: (a.end, a.start, a.scale, a.muscle_group))
        trail.record("read", "assessments", patient.id, patient.id)
    return found


# --- Wear-off reports -------------------------------------------------------------------------


def record_wear_off(
    actor: Actor,
    session_id: UUID | str,
    *,
    wore_off_on: date,
    reported_on: date | None = None,
    notes: str = "",
    today: date | None = None,
) -> WearOffReport:
    """The patient says when the session's effect wore off (one report per session)."""
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
        day = today or clinic_today(actor)
        reported = reported_on or day
        if reported > day:
            raise ServiceError("reported_on", "is in the future")
        if not _counting(session):
            raise ConflictError(
                None, f"only a signed session that counts wears off ({status_of(session)})"
            )
        if wore_off_on < session.plan_date:
            raise ServiceError(
                "wore_off_on", f"is before the session ({session.plan_date.isoformat()})"
            )
        if wore_off_on > reported:
            raise ServiceError("wore_off_on", "is after the day it was reported")
        if WearOffReport.objects.filter(clinic_id=session.clinic_id, session=session).exists():
            raise ConflictError("session_id", "this session's wear-off is already reported")
        report = WearOffReport.objects.create(
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            session=session,
            reported_on=reported,
            wore_off_on=wore_off_on,
            notes=notes.strip(),
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
        )
        trail.record(
            "create",
            "wear-off-report",
            report.id,
            session.patient_id,
            days=(wore_off_on - session.plan_date).days,
        )
        due_state.refresh(session.clinic_id, session.patient_id)
    return report


def list_wear_off(actor: Actor, patient_id: UUID | str) -> list[WearOffReport]:
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        found = list(
            in_clinic(WearOffReport.objects.all(), patient.clinic_id, "session")
            .filter(patient=patient)
            .order_by("session__plan_date", "reported_on")
        )
        trail.record("read", "wear-off-reports", patient.id, patient.id)
    return found


# --- Headache diary import --------------------------------------------------------------------


class PeriodChange(StrEnum):
    """What importing a diary does to the stored count of one period."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class DiaryPeriod:
    """A count the import stores (or would store): created, updated or unchanged."""

    scale: str
    start: date
    end: date
    value: int
    timepoint: str
    session_id: UUID | None
    status: PeriodChange


@dataclass(frozen=True)
class DiaryMonth:
    """A calendar month of the diary, stored or not (why not, when not)."""

    month: str
    recorded_days: int
    total_days: int
    headache_days: int
    migraine_days: int
    acute_medication_days: int
    headache_hours: Decimal
    skipped: str = ""


@dataclass
class DiaryImport:
    dry_run: bool
    rows: int
    rows_kept: int
    errors: list[RowError]
    months: list[DiaryMonth] = dataclass_field(default_factory=list)
    periods: list[DiaryPeriod] = dataclass_field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for p in self.periods if p.status == status)


@dataclass(frozen=True)
class _Planned:
    scale: str
    start: date
    end: date
    value: int
    timepoint: str
    session: TreatmentSession | None


def _cycles(patient: Patient, indication: str) -> list[TreatmentSession]:
    """The patient's signed sessions of the indication that count, in order."""
    sessions = (
        TreatmentSession.objects.filter(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            signed_at__isnull=False,
        )
        .select_related("signed_by")
        .prefetch_related(prefetch_in_clinic("events", SessionEvent, patient.clinic_id))
        .order_by("plan_date", "administered_at", "id")
    )
    return [s for s in sessions if counts_toward_limits(status_of(s, list(s.events.all())))]


def _diary_plan(
    diary: Diary, cycles: Sequence[TreatmentSession]
) -> tuple[list[_Planned], list[DiaryMonth]]:
    """What to store: every complete calendar month (headache days), and the 28 days before each
    session when the diary covers them all (headache and migraine days): the first session's is
    the baseline, a later one's the result before re-injection, after the session before it."""
    first = cycles[0].plan_date if cycles else None
    planned: list[_Planned] = []
    months: list[DiaryMonth] = []
    for c in month_counts(diary.days):
        skipped = ""
        if not c.complete:
            skipped = (
                f"incomplete: {c.recorded_days} of {c.total_days} days recorded; a month is "
                "counted only when every day of it is"
            )
        else:
            timepoint = "baseline" if first is None or c.end < first else "follow-up"
            planned.append(_Planned(MONTH_SCALE, c.start, c.end, c.headache_days, timepoint, None))
        months.append(
            DiaryMonth(
                c.month,
                c.recorded_days,
                c.total_days,
                c.headache_days,
                c.migraine_days,
                c.acute_medication_days,
                c.headache_hours,
                skipped,
            )
        )
    previous: TreatmentSession | None = None
    for session in cycles:
        window = window_count(diary.days, session.plan_date)
        usable = window.complete and (previous is None or window.start >= previous.plan_date)
        if usable:
            timepoint = "baseline" if previous is None else "before-reinjection"
            for scale in WINDOW_SCALES:
                value = (
                    window.headache_days if scale == "headache-days-28d" else window.migraine_days
                )
                planned.append(
                    _Planned(scale, window.start, window.end, value, timepoint, previous)
                )
        previous = session
    return planned, months


def import_diary(
    actor: Actor,
    patient_id: UUID | str,
    content: bytes,
    *,
    dry_run: bool = False,
    today: date | None = None,
) -> DiaryImport:
    """Turn a headache diary into stored counts (headache days per calendar month; headache and
    migraine days in the 28 days before each session). Bad rows are reported and left out; the
    counts are upserted by patient, scale and period, so importing the same file twice adds
    nothing, and a changed count is a newer reading appended beside the earlier one. A dry run
    reports what would be stored and writes nothing but its read entry."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        diary = parse_diary(content, today or clinic_today(actor))
        cycles = _cycles(patient, DIARY_INDICATION)
        planned, months = _diary_plan(diary, cycles)
        existing = {
            (a.scale, a.period_start, a.period_end): a
            for a in counting_readings(patient.clinic_id).filter(
                patient=patient,
                indication=DIARY_INDICATION,
                muscle_group="",
                period_start__isnull=False,
                scale__in=[p.scale for p in planned],
            )
        }
        result = DiaryImport(dry_run, diary.rows, len(diary.days), diary.errors, months)
        now = timezone.now()
        for plan in planned:
            found = existing.get((plan.scale, plan.start, plan.end))
            session_id = plan.session.id if plan.session else None
            if found is None:
                status = PeriodChange.CREATED
            elif (
                found.value_number == Decimal(plan.value)
                and found.timepoint == plan.timepoint
                and found.session_id == session_id
            ):
                status = PeriodChange.UNCHANGED
            else:
                status = PeriodChange.UPDATED
            result.periods.append(
                DiaryPeriod(
                    plan.scale, plan.start, plan.end, plan.value, plan.timepoint, session_id, status
                )
            )
            if dry_run or status == PeriodChange.UNCHANGED:
                continue
            detail = {
                "scale": plan.scale,
                "period": f"{plan.start.isoformat()}/{plan.end.isoformat()}",
                "source": "diary",
            }
            reading = {
                "clinic_id": patient.clinic_id,
                "patient": patient,
                "indication": DIARY_INDICATION,
                "scale": plan.scale,
                "value_number": Decimal(plan.value),
                "timepoint": plan.timepoint,
                "session": plan.session,
                "period_start": plan.start,
                "period_end": plan.end,
                "source": "diary",
                "recorded_by": actor.membership,
                "recorded_at": now,
            }
            if found is None:
                found = Assessment.objects.create(**reading)
                trail.record("create", "assessment", found.id, patient.id, **detail)
                continue
            # A newer reading of the period, appended (DESIGN 3.4): the earlier one stays as it
            # was recorded, superseded, and the newest counts.
            was = found.value
            detail["before"] = format_decimal(was) if isinstance(was, Decimal) else was
            detail["supersedes"] = str(found.id)
            newer = Assessment.objects.create(
                **reading,
                revision=found.revision + 1,
                supersedes=found,
            )
            trail.record("update", "assessment", newer.id, patient.id, **detail)
        if dry_run or not (
            result.count(PeriodChange.CREATED) or result.count(PeriodChange.UPDATED)
        ):
            trail.record(
                "read", "diary-import", patient.id, patient.id, dry_run=dry_run, rows=diary.rows
            )
        if not dry_run:
            due_state.refresh(patient.clinic_id, patient.id)
    return result

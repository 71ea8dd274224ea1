"""Follow-up: assessments, wear-off reports, response verdicts, the due list, headache diaries
and adverse-event reports. Parse, call a service, render: the rules live in the services and the
domain."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import StrictStr

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut, In
from bontrack.cli import outcome_json
from bontrack.core.csvfiles import csv_response
from bontrack.core.errors import ServiceError
from bontrack.domain.outcomes import Reading
from bontrack.domain.units import format_decimal
from bontrack.outcome_input import Month, Period
from bontrack.outcomes import decisions, reads, reports, services, verdicts
from bontrack.outcomes.diary import MAX_BYTES
from bontrack.outcomes.models import Assessment, WearOffReport
from bontrack.outcomes.reads import DueDate, DueRowRead
from bontrack.plan_input import IsoDate, Number

router = Router(tags=["follow-up"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
Timepoint = Literal["baseline", "peak-effect", "before-reinjection", "follow-up"]


def _csv_documented(description: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    }


# --- Schemas ---------------------------------------------------------------------------------


class AssessmentIn(In):
    indication: str
    scale: str
    # A number for a numeric scale (within its range and steps), a level's name for an ordinal
    # one (modified-ashworth "1+", gais "improved").
    value: Number | StrictStr
    timepoint: Timepoint
    assessed_on: IsoDate | None = None
    period: Period | None = None
    month: Month | None = None
    session_id: UUID | None = None
    muscle_group: str = ""


class AssessmentOut(Schema):
    id: UUID
    patient_id: UUID
    indication: str
    scale: str
    value: str
    timepoint: str
    session_id: UUID | None
    assessed_on: date | None
    period_start: date | None
    period_end: date | None
    muscle_group: str
    source: str
    recorded_at: datetime


class WearOffIn(In):
    wore_off_on: IsoDate
    reported_on: IsoDate | None = None
    notes: str = ""


class WearOffOut(Schema):
    id: UUID
    patient_id: UUID
    session_id: UUID
    session_date: date
    product: str
    indication: str
    wore_off_on: date
    reported_on: date
    days: int
    notes: str


class ReadingOut(Schema):
    value: str
    when: str
    start: date
    end: date
    after_cycle: int | None


class ContinuedOut(Schema):
    id: UUID
    verdict: str
    as_of: date
    summary: str
    reason: str
    decided_by: str
    decided_at: datetime


class VerdictOut(Schema):
    scale: str
    indication: str | None
    muscle_group: str | None
    verdict: str
    change: str | None
    change_grades: int | None
    change_pct: str | None
    responder_50: bool | None
    reason: str
    source: str
    # DESIGN 3.8: the deciding follow-up's date or period end, and the one-line summary.
    as_of: date | None
    summary: str
    baseline: ReadingOut
    latest: ReadingOut | None
    cycles: int | None
    results: int
    # B.32: the prescriber's "continue despite this verdict" that still stands, if any.
    continued: ContinuedOut | None


class ContinueDespiteIn(In):
    indication: str
    scale: str
    muscle_group: str = ""
    reason: str


class MissingBaselineOut(Schema):
    indication: str
    scale: str
    muscle_group: str
    results: int
    reason: str


class CycleOut(Schema):
    n: int
    date: date


class PatientVerdictsOut(Schema):
    patient_id: UUID
    verdicts: list[VerdictOut]
    without_baseline: list[MissingBaselineOut]
    cycles: dict[str, list[CycleOut]]


class DueOut(Schema):
    indication: str
    product: str
    last_session_id: str
    last_session_date: date
    due: date | None
    basis: str
    earliest: date | None
    interval_days: int | None
    interval_words: str | None
    interval_source: str | None
    wear_off_date: date | None
    wear_off_median_days: int | None
    wear_off_reports: int
    reason: str


class PatientDueOut(Schema):
    patient_id: UUID
    due: list[DueOut]


class DueRowOut(DueOut):
    patient_id: UUID
    record_number: str
    given_name: str
    family_name: str
    phone: str
    email: str
    contact_method: str
    status: str
    booked_on: date | None
    injector_id: UUID | None
    injector: str | None


class HeldRowOut(DueRowOut):
    # Why the patient is not due (B.32): "stop recommended (NICE TA260)" or "not responding on
    # SCALE".
    held_because: str


class DueListOut(Schema):
    today: date
    start: date
    end: date
    total: int
    rows: list[DueRowOut]
    # Patients who would be due but whose verdict says stop or non-responder, listed apart.
    held: list[HeldRowOut]


class RowErrorOut(Schema):
    line: int
    column: str | None
    message: str


class DiaryMonthOut(Schema):
    month: str
    recorded_days: int
    total_days: int
    headache_days: int
    migraine_days: int
    acute_medication_days: int
    headache_hours: str
    stored: bool
    skipped: str


class DiaryPeriodOut(Schema):
    scale: str
    start: date
    end: date
    value: int
    timepoint: str
    session_id: UUID | None
    status: str


class DiaryImportOut(Schema):
    dry_run: bool
    rows: int
    rows_kept: int
    created: int
    updated: int
    unchanged: int
    errors: list[RowErrorOut]
    months: list[DiaryMonthOut]
    periods: list[DiaryPeriodOut]


class TermCountOut(Schema):
    term: str
    name: str
    events: int
    serious: int
    by_severity: dict[str, int]


class ProductIndicationOut(Schema):
    product: str
    indication: str
    sessions: int
    events: int
    serious: int
    terms: list[TermCountOut]


class AdverseEventReportOut(Schema):
    start: date
    end: date
    product: str | None
    indication: str | None
    events: int
    groups: list[ProductIndicationOut]


# --- Rendering -------------------------------------------------------------------------------


def _value_text(value: Decimal | str) -> str:
    return value if isinstance(value, str) else format_decimal(Decimal(value))


def assessment_out(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.id,
        "patient_id": a.patient_id,
        "indication": a.indication,
        "scale": a.scale,
        "value": _value_text(a.value),
        "timepoint": a.timepoint,
        "session_id": a.session_id,
        "assessed_on": a.assessed_on,
        "period_start": a.period_start,
        "period_end": a.period_end,
        "muscle_group": a.muscle_group,
        "source": a.source,
        "recorded_at": a.recorded_at,
    }


def wear_off_out(r: WearOffReport) -> dict[str, Any]:
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "session_id": r.session_id,
        "session_date": r.session.plan_date,
        "product": r.session.product,
        "indication": r.session.indication,
        "wore_off_on": r.wore_off_on,
        "reported_on": r.reported_on,
        "days": (r.wore_off_on - r.session.plan_date).days,
        "notes": r.notes,
    }


def _reading_out(reading: Reading | None) -> dict[str, Any] | None:
    if reading is None:
        return None
    return {
        "value": _value_text(reading.value),
        "when": reading.when(),
        "start": reading.start,
        "end": reading.end,
        "after_cycle": reading.after_cycle,
    }


def due_out(d: DueDate) -> dict[str, Any]:
    return {
        "indication": d.indication,
        "product": d.product,
        "last_session_id": d.last_session_id,
        "last_session_date": d.last_session_date,
        "due": d.due,
        "basis": d.basis,
        "earliest": d.earliest,
        "interval_days": d.interval_days,
        "interval_words": d.interval_words,
        "interval_source": d.interval_source,
        "wear_off_date": d.wear_off_date,
        "wear_off_median_days": d.wear_off_median_days,
        "wear_off_reports": d.wear_off_reports,
        "reason": d.reason,
    }


def due_row_out(r: DueRowRead) -> dict[str, Any]:
    return {
        **due_out(r.due),
        "patient_id": r.patient_id,
        "record_number": r.record_number,
        "given_name": r.given_name,
        "family_name": r.family_name,
        "phone": r.phone,
        "email": r.email,
        "contact_method": r.contact_method,
        "status": r.status,
        "booked_on": r.booked_on,
        "injector_id": r.injector_id,
        "injector": r.injector,
    }


# --- Assessments and wear-off reports ----------------------------------------------------------


def _month_period(month: tuple[int, int]) -> tuple[date, date]:
    year, number = month
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


@router.post(
    "/patients/{patient_id}/assessments",
    response={201: AssessmentOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def record_assessment(request: HttpRequest, patient_id: UUID, body: AssessmentIn) -> Any:
    """Record a result on an outcome scale: a day (`assessed_on`), a period (`period`: [start,
    end]) or a calendar month (`month`: YYYY-MM)."""
    given = [n for n in ("assessed_on", "period", "month") if getattr(body, n) is not None]
    if len(given) > 1:
        raise ServiceError(
            given[1], f"give only one of assessed_on, period or month, not {' and '.join(given)}"
        )
    period = body.period
    if body.month is not None:
        period = _month_period(body.month)
    assessment = services.record_assessment(
        actor_of(request),
        patient_id,
        indication=body.indication,
        scale=body.scale,
        value=body.value,
        timepoint=body.timepoint,
        assessed_on=body.assessed_on,
        period=period,
        session_id=body.session_id,
        muscle_group=body.muscle_group,
    )
    return Status(201, assessment_out(assessment))


@router.get(
    "/patients/{patient_id}/assessments",
    response={200: list[AssessmentOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_assessments(
    request: HttpRequest,
    patient_id: UUID,
    indication: str | None = None,
    scale: str | None = None,
) -> Any:
    found = services.list_assessments(
        actor_of(request), patient_id, indication=indication, scale=scale
    )
    return [assessment_out(a) for a in found]


@router.post(
    "/sessions/{session_id}/wear-off",
    response={201: WearOffOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def record_wear_off(request: HttpRequest, session_id: UUID, body: WearOffIn) -> Any:
    """The day the session's effect wore off, as the patient reports it (one per session)."""
    report = services.record_wear_off(
        actor_of(request),
        session_id,
        wore_off_on=body.wore_off_on,
        reported_on=body.reported_on,
        notes=body.notes,
    )
    return Status(201, wear_off_out(report))


@router.get(
    "/patients/{patient_id}/wear-off",
    response={200: list[WearOffOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_wear_off(request: HttpRequest, patient_id: UUID) -> Any:
    return [wear_off_out(r) for r in services.list_wear_off(actor_of(request), patient_id)]


# --- Verdicts and due dates ---------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/verdicts",
    response={200: PatientVerdictsOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def patient_verdicts(request: HttpRequest, patient_id: UUID, indication: str | None = None) -> Any:
    """ "Is it working?": the verdict of every scale the patient has results for (DESIGN 3.8),
    from the stored assessments and the signed sessions of the indication (the cycles)."""
    found = verdicts.patient_verdicts(actor_of(request), patient_id, indication)
    return {
        "patient_id": found.patient.id,
        "verdicts": [
            {
                **outcome_json(v.verdict),
                "responder_50": v.verdict.responder_50,
                "continued": verdicts.decision_out(v.continued) if v.continued else None,
                "baseline": _reading_out(v.verdict.baseline),
                "latest": _reading_out(v.verdict.latest),
                "cycles": v.verdict.cycles,
                "results": v.results,
            }
            for v in found.verdicts
        ],
        "without_baseline": [
            {
                "indication": m.indication,
                "scale": m.scale,
                "muscle_group": m.muscle_group,
                "results": m.results,
                "reason": "no result marked baseline: record one to judge the response",
            }
            for m in found.without_baseline
        ],
        "cycles": {
            indication: [{"n": c.n, "date": c.date} for c in cycles]
            for indication, cycles in found.cycles.items()
        },
    }


@router.post(
    "/patients/{patient_id}/verdicts/continue",
    response={201: ContinuedOut, **ERRORS},
    openapi_extra=needs(Perm.OVERRIDE),
)
def continue_despite_verdict(
    request: HttpRequest, patient_id: UUID, body: ContinueDespiteIn
) -> Any:
    """A prescriber's "continue despite this verdict" (B.32) for a series whose latest verdict is
    stop or non-responder, with the clinical reason; appended and audited. It lasts until a newer
    follow-up changes the verdict; meanwhile the series gives no `response` finding and the
    patient is due and reminded again."""
    decision = decisions.continue_despite(
        actor_of(request),
        patient_id,
        indication=body.indication,
        scale=body.scale,
        muscle_group=body.muscle_group,
        reason=body.reason,
    )
    return Status(201, verdicts.decision_out(decision))


@router.get(
    "/patients/{patient_id}/due",
    response={200: PatientDueOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def patient_due(request: HttpRequest, patient_id: UUID) -> Any:
    """When the patient is due for retreatment, per indication treated (facts.md 3.7)."""
    shown_for, found = reads.patient_due_dates(actor_of(request), patient_id)
    return {"patient_id": shown_for, "due": [due_out(d) for d in found]}


def due_csv(found: reads.DueListRead) -> HttpResponse:
    """The exported due list as a CSV file (the API's and the Due page's download)."""
    table = reads.due_csv(found)
    return csv_response(table.name, table.columns, table.rows)


@router.get(
    "/due",
    response={200: DueListOut, **ERRORS},
    openapi_extra={
        **_csv_documented("The due list, as JSON or (format=csv) as a CSV file"),
        **needs(Perm.CHART_READ),
    },
)
def due_list(
    request: HttpRequest,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
    limit: int = 500,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Patients due for retreatment in the next `weeks` (and those overdue for up to
    `overdue_weeks`), soonest first. JSON writes one read entry per patient shown (at most
    `limit`); `format=csv` exports every row and writes one disclosure entry per patient."""
    actor = actor_of(request)
    options = {
        "weeks": weeks,
        "overdue_weeks": overdue_weeks,
        "indication": indication,
        "injector_id": injector_id,
    }
    if format == "csv":
        return due_csv(reads.exported_due_rows(actor, **options))  # type: ignore[arg-type]
    shown = reads.due_rows(actor, limit=limit, **options)  # type: ignore[arg-type]
    return {
        "today": shown.today,
        "start": shown.start,
        "end": shown.end,
        "total": shown.total,
        "rows": [due_row_out(r) for r in shown.rows],
        "held": [{**due_row_out(r), "held_because": r.held_because} for r in shown.held],
    }


# --- Headache diary ---------------------------------------------------------------------------


@router.post(
    "/patients/{patient_id}/diary",
    response={200: DiaryImportOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def import_diary(
    request: HttpRequest,
    patient_id: UUID,
    file: UploadedFile = File(...),  # noqa: B008 (django-ninja declares uploads this way)
    dry_run: bool = False,
) -> Any:
    """Import a headache diary (CSV, one row per day: date, headache, migraine, hours,
    acute_medication). Bad rows come back by line, column and reason; the good rows are counted
    (headache days per complete calendar month, headache and migraine days in the 28 days before
    each session) and upserted by patient, scale and period: importing a file twice adds
    nothing. `dry_run=true` reports without storing."""
    if file.size is not None and file.size > MAX_BYTES:
        raise ServiceError("file", f"is larger than {MAX_BYTES:,} bytes")
    content = file.read(MAX_BYTES + 1)
    result = services.import_diary(actor_of(request), patient_id, content, dry_run=dry_run)
    stored = {p.start.strftime("%Y-%m") for p in result.periods if p.scale == "headache-days-month"}
    return {
        "dry_run": result.dry_run,
        "rows": result.rows,
        "rows_kept": result.rows_kept,
        "created": result.count("created"),
        "updated": result.count("updated"),
        "unchanged": result.count("unchanged"),
        "errors": [
            {"line": e.line, "column": e.column, "message": e.message} for e in result.errors
        ],
        "months": [
            {
                "month": m.month,
                "recorded_days": m.recorded_days,
                "total_days": m.total_days,
                "headache_days": m.headache_days,
                "migraine_days": m.migraine_days,
                "acute_medication_days": m.acute_medication_days,
                "headache_hours": format_decimal(m.headache_hours),
                "stored": m.month in stored,
                "skipped": m.skipped,
            }
            for m in result.months
        ],
        "periods": [
            {
                "scale": p.scale,
                "start": p.start,
                "end": p.end,
                "value": p.value,
                "timepoint": p.timepoint,
                "session_id": p.session_id,
                "status": p.status,
            }
            for p in result.periods
        ],
    }


# --- Adverse-event reports --------------------------------------------------------------------


@router.get(
    "/reports/adverse-events",
    response={200: AdverseEventReportOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def adverse_event_report(
    request: HttpRequest,
    start: IsoDate | None = None,
    end: IsoDate | None = None,
    product: str | None = None,
    indication: str | None = None,
) -> Any:
    """Adverse events by product and indication, then by term and severity, with onset in the
    period (by default the 365 days up to today); events of sessions entered in error are left
    out."""
    return reports.adverse_event_report(
        actor_of(request), start=start, end=end, product=product, indication=indication
    )


@router.get(
    "/reports/adverse-events/export",
    response={**ERRORS},
    openapi_extra={
        **_csv_documented("One row per adverse event, for a pharmacovigilance report"),
        **needs(Perm.CHART_READ),
    },
)
def adverse_event_export(
    request: HttpRequest,
    start: IsoDate | None = None,
    end: IsoDate | None = None,
    product: str | None = None,
    indication: str | None = None,
    identify: Literal["pseudonym", "record-number"] = "pseudonym",
) -> Any:
    """A CSV file, one row per adverse event, with the fields a pharmacovigilance report asks
    for; patients by pseudonym (default) or record number. One disclosure entry per patient."""
    rows = reports.adverse_event_export(
        actor_of(request),
        start=start,
        end=end,
        product=product,
        indication=indication,
        identify=identify,
    )
    columns = reports.EXPORT_COLUMNS
    return csv_response("adverse-events.csv", columns, ([row[c] for c in columns] for row in rows))

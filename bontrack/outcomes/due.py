"""Who is due for retreatment: per patient, and the clinic-wide due list (facts.md 3.7).

The dates come from the pure ``bontrack.domain.due``; this module reads the rows it needs. The
clinic-wide list costs a constant number of SQL queries, whatever the clinic's size:

1. the latest counting session per patient and indication: signed, not entered in error (a
   ``NOT EXISTS`` on the session's events), ranked with ``ROW_NUMBER() OVER (PARTITION BY
   patient, indication ORDER BY date DESC)``, with its patient and injector joined;
2. the clinic's wear-off reports of counting sessions (the same ``NOT EXISTS``);
3. the plans already booked (unsigned, not cancelled, from today on);
4. the clinic's outcome assessments and, only when there are any, the counting sessions' days of
   the patients assessed and the "continue despite this verdict" decisions
   (``outcomes.verdicts.ClinicVerdicts``).

A patient whose standing verdict for the indication is ``stop`` or ``non-responder`` (B.32) is
not due: the list holds them apart (``held``), with "stop recommended (NICE TA260)" or "not
responding on SCALE", and the reminders, the phoning CSV and the next-visit proposal, which read
``rows``, leave them out.

The audit trail is written as usual: one read entry per patient shown, or one disclosure entry
per patient exported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import Cast, RowNumber

from bontrack.access import MEMBER, PATIENT, access, require
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.due import Due, DueRules, TreatedSession, due_per_indication, in_window
from bontrack.outcomes.models import WearOffReport
from bontrack.outcomes.services import clinic_today
from bontrack.outcomes.verdicts import ClinicVerdicts
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of

MAX_WEEKS = 104
# What the list reads of each latest session, its patient and its injector: plain values, not
# model instances (a large clinic lists tens of thousands of rows).
# Ids are read as text and made UUIDs only for the rows listed (converting every row's ids
# costs more than the rest of the work).
LIST_FIELDS = (
    "session_text",
    "patient_text",
    "indication",
    "product",
    "plan_date",
    "injector_text",
    "patient__record_number",
    "patient__given_name",
    "patient__family_name",
    "patient__phone",
    "patient__email",
    "patient__contact_agreed",
    "patient__contact_method",
    "injector__user__username",
    "injector__user__first_name",
    "injector__user__last_name",
)


class DueStatus(StrEnum):
    DUE = "due"
    OVERDUE = "overdue"  # the due date has passed


@dataclass(frozen=True)
class DueRow:
    """One patient due for one indication, with what the list shows of them."""

    patient_id: UUID
    record_number: str
    given_name: str
    family_name: str
    phone: str
    email: str
    contact_method: str  # "none" unless the patient agreed to be contacted
    last_session_id: UUID
    injector_id: UUID | None
    injector: str | None
    due: Due
    status: DueStatus
    booked_on: date | None  # a plan already booked for the indication, from today on
    # B.32: why the patient is held apart, not due ("stop recommended (NICE TA260)"); "" if due.
    held_because: str = ""


@dataclass(frozen=True)
class DueList:
    today: date
    start: date  # overdue since (inclusive)
    end: date  # due until (inclusive)
    rows: list[DueRow]
    total: int  # rows before the limit
    # Patients who would be due but whose verdict says stop or non-responder (B.32).
    held: list[DueRow] = field(default_factory=list)


def _entered_in_error() -> Exists:
    return Exists(
        SessionEvent.objects.filter(
            session_id=OuterRef("pk"), kind=SessionEventKind.ENTERED_IN_ERROR
        )
    )


def counting_sessions(clinic_id: UUID) -> QuerySet[TreatmentSession]:
    """Signed sessions that count (co-signature pending and amended included), in SQL."""
    return TreatmentSession.objects.filter(clinic_id=clinic_id, signed_at__isnull=False).exclude(
        _entered_in_error()
    )


def _care_team_filter(membership: Membership) -> Q:
    """A restricted patient's chart is open to their care team only (DESIGN 3.4), in SQL."""
    involved = TreatmentSession.objects.filter(patient_id=OuterRef("patient_id")).filter(
        Q(planned_by=membership) | Q(signed_by=membership)
    )
    return Q(patient__restricted=False) | Q(patient__restricted_by=membership) | Q(Exists(involved))


def latest_sessions(
    membership: Membership, *, indication: str | None = None
) -> QuerySet[TreatmentSession, tuple[Any, ...]]:
    """Query 1: each patient's latest counting session per indication, with patient and
    injector, as ``LIST_FIELDS`` tuples: ``ROW_NUMBER()`` over the counting sessions of the
    patients whose chart the member may open (a filter of whole patients, so it may come before
    the ranking)."""
    sessions = counting_sessions(membership.clinic_id).filter(_care_team_filter(membership))
    if indication:
        sessions = sessions.filter(indication=indication)
    return (
        sessions.annotate(
            latest=Window(
                RowNumber(),
                partition_by=[F("patient_id"), F("indication")],
                order_by=[F("plan_date").desc(), F("administered_at").desc(), F("id").desc()],
            ),
            session_text=_text("id"),
            patient_text=_text("patient_id"),
            injector_text=_text("injector_id"),
        )
        .filter(latest=1)
        .order_by()
        .values_list(*LIST_FIELDS)
    )


def _text(column: str) -> Cast:
    return Cast(column, output_field=CharField())


def _name(username: str | None, first: str | None, last: str | None) -> str | None:
    """``Membership.display_name`` from the joined user columns."""
    if username is None:
        return None
    full = f"{first or ''} {last or ''}".strip()
    return full or username


def wear_off_history(
    clinic_id: UUID, indication: str | None = None
) -> dict[tuple[str, str], list[TreatedSession]]:
    """Query 2: every wear-off report of a counting session, per patient and indication."""
    reports = WearOffReport.objects.filter(
        clinic_id=clinic_id, session__signed_at__isnull=False
    ).exclude(
        Exists(
            SessionEvent.objects.filter(
                session_id=OuterRef("session_id"), kind=SessionEventKind.ENTERED_IN_ERROR
            )
        )
    )
    if indication:
        reports = reports.filter(session__indication=indication)
    found: dict[tuple[str, str], list[TreatedSession]] = defaultdict(list)
    rows = reports.annotate(patient_text=_text("patient_id")).values_list(
        "patient_text",
        "session__indication",
        "session__product",
        "session__plan_date",
        "wore_off_on",
    )
    for patient_id, ind, product, day, wore_off in rows:
        found[(patient_id, ind)].append(TreatedSession(day, product, ind, wore_off_on=wore_off))
    return found


def booked_plans(clinic_id: UUID, today: date) -> dict[tuple[str, str], date]:
    """Query 3: the first plan booked from today on, per patient and indication."""
    cancelled = SessionEvent.objects.filter(
        session_id=OuterRef("pk"), kind=SessionEventKind.CANCELLED
    )
    plans = (
        TreatmentSession.objects.filter(
            clinic_id=clinic_id, signed_at__isnull=True, plan_date__gte=today
        )
        .exclude(Exists(cancelled))
        .annotate(patient_text=_text("patient_id"))
        .values_list("patient_text", "indication", "plan_date")
    )
    found: dict[tuple[str, str], date] = {}
    for patient_id, ind, day in plans:
        key = (patient_id, ind)
        if key not in found or day < found[key]:
            found[key] = day
    return found


def compute_due_list(
    membership: Membership,
    *,
    today: date,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
) -> DueList:
    """The clinic's patients due from ``overdue_weeks`` ago to ``weeks`` ahead, soonest first:
    three queries and the domain's ``due_for`` per patient and indication. No audit entry: the
    callers below write them for what they show or export."""
    start = today - timedelta(weeks=overdue_weeks)
    end = today + timedelta(weeks=weeks)
    rules = DueRules(catalog())
    history = wear_off_history(membership.clinic_id, indication)
    booked = booked_plans(membership.clinic_id, today)
    verdicts = ClinicVerdicts(membership.clinic_id, indication)
    rows: list[DueRow] = []
    held: list[DueRow] = []
    latest = latest_sessions(membership, indication=indication)
    for (
        session_id,
        patient_id,
        ind,
        product,
        day,
        injector,
        record_number,
        given_name,
        family_name,
        phone,
        email,
        agreed,
        method,
        username,
        first_name,
        last_name,
    ) in latest:
        if injector_id is not None and (injector is None or UUID(injector) != injector_id):
            continue  # the filter reads the latest session's injector, so it comes after ranking
        key = (patient_id, ind)
        last = TreatedSession(day, product, ind, key=session_id)
        reported = history.get(key)
        due = rules.due_for([*reported, last] if reported else [last], ind)
        if due is None or not in_window(due, start, end) or due.last_key != last.key:
            continue
        patient = UUID(patient_id)
        stopping = verdicts.stopping(patient, ind)
        (held if stopping is not None else rows).append(
            DueRow(
                patient_id=patient,
                record_number=record_number,
                given_name=given_name,
                family_name=family_name,
                phone=phone if agreed else "",
                email=email if agreed else "",
                contact_method=method if agreed else "none",
                last_session_id=UUID(session_id),
                injector_id=UUID(injector) if injector else None,
                injector=_name(username, first_name, last_name),
                due=due,
                status=DueStatus.OVERDUE
                if due.due is not None and due.due < today
                else DueStatus.DUE,
                booked_on=booked.get(key),
                held_because=stopping.label if stopping is not None else "",
            )
        )
    for found in (rows, held):
        found.sort(
            key=lambda r: (
                r.due.due,
                r.family_name,
                r.given_name,
                r.record_number,
                r.due.indication,
            )
        )
    return DueList(today, start, end, rows, len(rows), held)


def _validated(
    actor: Actor, weeks: int, overdue_weeks: int, indication: str | None, injector_id: UUID | None
) -> None:
    require(actor, Perm.CHART_READ)
    if not 1 <= weeks <= MAX_WEEKS:
        raise ServiceError("weeks", f"must be between 1 and {MAX_WEEKS}")
    if not 0 <= overdue_weeks <= MAX_WEEKS:
        raise ServiceError("overdue_weeks", f"must be between 0 and {MAX_WEEKS}")
    if indication and indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if injector_id is not None:
        access(actor, MEMBER, injector_id)


def due_list(
    actor: Actor,
    *,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
    limit: int = 500,
    today: date | None = None,
) -> DueList:
    """The due list as shown: at most ``limit`` rows; one read entry per patient shown."""
    _validated(actor, weeks, overdue_weeks, indication, injector_id)
    if not 1 <= limit <= 5000:
        raise ServiceError("limit", "must be between 1 and 5000")
    found = compute_due_list(
        actor.membership,
        today=today or clinic_today(actor),
        weeks=weeks,
        overdue_weeks=overdue_weeks,
        indication=indication,
        injector_id=injector_id,
    )
    shown = found.rows[:limit]
    held = found.held[:limit]
    with clinical_transaction(actor) as trail:
        for patient_id in _patients([*shown, *held]):
            trail.record("read", "due-list", patient_id, patient_id)
    return DueList(found.today, found.start, found.end, shown, found.total, held)


def export_due_list(
    actor: Actor,
    *,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
    today: date | None = None,
) -> DueList:
    """Every row of the due list, for a CSV file; one disclosure entry per patient exported.
    Patients held apart by a stop or non-responder verdict (B.32) are not due, so not exported."""
    _validated(actor, weeks, overdue_weeks, indication, injector_id)
    found = compute_due_list(
        actor.membership,
        today=today or clinic_today(actor),
        weeks=weeks,
        overdue_weeks=overdue_weeks,
        indication=indication,
        injector_id=injector_id,
    )
    with clinical_transaction(actor) as trail:
        for patient_id in _patients(found.rows):
            trail.record("disclose", "due-list-export", patient_id, patient_id)
    return found


def _patients(rows: Iterable[DueRow]) -> list[UUID]:
    return list(dict.fromkeys(r.patient_id for r in rows))


def due_of(patient: Patient) -> list[Due]:
    """When a patient whose chart the caller has already opened through ``access_patient`` (and
    whose read entry it writes) is due, per indication treated: the patient page's due dates."""
    sessions = (
        TreatmentSession.objects.filter(patient=patient, signed_at__isnull=False)
        .select_related("signed_by")
        .prefetch_related("events", "wear_off_reports")
    )
    history = []
    for s in sessions:
        status = status_of(s, s.events.all())
        reports = list(s.wear_off_reports.all())
        history.append(
            TreatedSession(
                s.plan_date,
                s.product,
                s.indication,
                wore_off_on=reports[0].wore_off_on if reports else None,
                entered_in_error=not counts_toward_limits(status),
                key=str(s.id),
            )
        )
    return due_per_indication(history)


def patient_due(actor: Actor, patient_id: UUID | str) -> tuple[Patient, list[Due]]:
    """When the patient is due, per indication they were treated for; one read entry."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        found = due_of(patient)
        trail.record("read", "due", patient.id, patient.id)
    return patient, found

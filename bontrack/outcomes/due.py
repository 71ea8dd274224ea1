"""Who is due for retreatment: per patient, and the clinic-wide due list (facts.md 3.7).

The dates come from the pure ``bontrack.domain.due``. The clinic-wide list reads them from the
derived due state (``outcomes.DueState``, kept by ``outcomes.due_state`` in the transactions that
write sessions, wear-off reports, assessments and decisions): the rows of the clinic whose due
date falls in the window, through the ``(clinic, due_on)`` index, with their patient and injector
joined, sorted and limited in SQL; then the plans already booked for the patients listed. Its
cost follows the rows listed, not the clinic's size nor the other clinics'.

A patient whose standing verdict for the indication is ``stop`` or ``non-responder`` (B.32) is
not due: the list holds them apart (``held``), with "stop recommended (NICE TA260)" or "not
responding on SCALE", and the reminders, the phoning CSV and the next-visit proposal, which read
``rows``, leave them out.

The audit trail is written as usual: one read entry per patient shown, or one disclosure entry
per patient exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Exists, F, OrderBy, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Collate

from bontrack.access import MEMBER, PATIENT, access, require
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.due import Due, DueRules, TreatedSession, due_per_indication
from bontrack.outcomes.due_state import STORED_COLUMNS, counting_sessions
from bontrack.outcomes.models import DueState, WearOffReport
from bontrack.outcomes.services import clinic_today
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of

__all__ = [
    "DueList",
    "DueRow",
    "DueStatus",
    "booked_plans",
    "compute_due_list",
    "counting_sessions",
    "due_list",
    "due_of",
    "export_due_list",
    "patient_due",
]

MAX_WEEKS = 104
# What the list reads of each due state row (its stored columns), its patient and its last
# session's injector.
LIST_FIELDS = (
    *STORED_COLUMNS,
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
# Above this many patients listed, the booked plans are read for the whole clinic at once.
BOOKED_BY_PATIENT = 1000


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


def _care_team_filter(membership: Membership) -> Q:
    """A restricted patient's chart is open to their care team only (DESIGN 3.4), in SQL."""
    involved = TreatmentSession.objects.filter(
        clinic_id=membership.clinic_id, patient_id=OuterRef("patient_id")
    ).filter(Q(planned_by=membership) | Q(signed_by=membership))
    return Q(patient__restricted=False) | Q(patient__restricted_by=membership) | Q(Exists(involved))


def _in_code_point_order(column: str) -> Any:
    """Text sorted as Python sorts it (by code point), whatever the database's collation:
    SQLite's default comparison already is; PostgreSQL's "C" collation is."""
    return Collate(F(column), "C") if connection.vendor == "postgresql" else F(column)


def listed_states(
    membership: Membership,
    *,
    start: date,
    end: date,
    indication: str | None = None,
    injector_id: UUID | None = None,
) -> QuerySet[DueState]:
    """The clinic's due state rows due from ``start`` to ``end`` whose chart the member may
    open, soonest first (then family name, given name, record number, indication)."""
    clinic_id = membership.clinic_id
    states = DueState.objects.filter(
        clinic_id=clinic_id, patient__clinic_id=clinic_id, due_on__gte=start, due_on__lte=end
    ).filter(_care_team_filter(membership))
    if indication:
        states = states.filter(indication=indication)
    if injector_id is not None:
        states = states.filter(injector_id=injector_id)
    return states.order_by(
        "due_on",
        OrderBy(_in_code_point_order("patient__family_name")),
        OrderBy(_in_code_point_order("patient__given_name")),
        OrderBy(_in_code_point_order("patient__record_number")),
        OrderBy(_in_code_point_order("indication")),
    )


def _name(username: str | None, first: str | None, last: str | None) -> str | None:
    """``Membership.display_name`` from the joined user columns."""
    if username is None:
        return None
    full = f"{first or ''} {last or ''}".strip()
    return full or username


def booked_plans(
    clinic_id: UUID, today: date, patient_ids: Sequence[UUID] | None = None
) -> dict[tuple[UUID, str], date]:
    """The first plan booked from today on, per patient and indication (of the patients given,
    or of every patient of the clinic)."""
    cancelled = SessionEvent.objects.filter(
        clinic_id=OuterRef("clinic_id"), session_id=OuterRef("pk"), kind=SessionEventKind.CANCELLED
    )
    plans = TreatmentSession.objects.filter(
        clinic_id=clinic_id, signed_at__isnull=True, plan_date__gte=today
    ).exclude(Exists(cancelled))
    if patient_ids is not None:
        plans = plans.filter(patient_id__in=patient_ids)
    found: dict[tuple[UUID, str], date] = {}
    for patient_id, ind, day in plans.order_by().values_list(
        "patient_id", "indication", "plan_date"
    ):
        key = (patient_id, ind)
        if key not in found or day < found[key]:
            found[key] = day
    return found


def _due_of_state(rules: DueRules, row: tuple[Any, ...]) -> Due:
    """The domain's ``Due`` as stored, with the catalog's interval for its product and
    indication."""
    _, ind, product, session_id, last_on, _, due_on, basis, earliest, wear_off, median, reports = (
        row[:12]
    )
    return Due(
        indication=ind,
        product=product,
        last_session=last_on,
        last_key=str(session_id),
        interval=rules.interval(product, ind),
        earliest=earliest,
        wear_off_date=wear_off,
        wear_off_median_days=median,
        wear_off_reports=reports,
        due=due_on,
        basis=basis,
    )


def _rows(
    rules: DueRules,
    found: Iterable[tuple[Any, ...]],
    today: date,
) -> list[tuple[DueRow, tuple[UUID, str]]]:
    rows = []
    for row in found:
        patient_id, ind, _, session_id, _, injector, _, _, _, _, _, _, held_because = row[:13]
        record_number, given, family, phone, email, agreed, method = row[13:20]
        username, first_name, last_name = row[20:23]
        due = _due_of_state(rules, row)
        rows.append(
            (
                DueRow(
                    patient_id=patient_id,
                    record_number=record_number,
                    given_name=given,
                    family_name=family,
                    phone=phone if agreed else "",
                    email=email if agreed else "",
                    contact_method=method if agreed else "none",
                    last_session_id=session_id,
                    injector_id=injector,
                    injector=_name(username, first_name, last_name),
                    due=due,
                    status=DueStatus.OVERDUE
                    if due.due is not None and due.due < today
                    else DueStatus.DUE,
                    booked_on=None,
                    held_because=held_because,
                ),
                (patient_id, ind),
            )
        )
    return rows


def compute_due_list(
    membership: Membership,
    *,
    today: date,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
    limit: int | None = None,
) -> DueList:
    """The clinic's patients due from ``overdue_weeks`` ago to ``weeks`` ahead, soonest first
    (at most ``limit`` rows due and ``limit`` held apart; ``total`` counts every row due), from
    the derived due state. No audit entry: the callers below write them for what they show or
    export."""
    start = today - timedelta(weeks=overdue_weeks)
    end = today + timedelta(weeks=weeks)
    rules = DueRules(catalog())
    states = listed_states(
        membership, start=start, end=end, indication=indication, injector_id=injector_id
    )
    due_states = states.filter(held_because="")
    held_states = states.exclude(held_because="")
    if limit is not None:
        due_states, held_states = due_states[:limit], held_states[:limit]
    listed = _rows(rules, due_states.values_list(*LIST_FIELDS), today)
    held = _rows(rules, held_states.values_list(*LIST_FIELDS), today)
    total = len(listed)
    if limit is not None and total == limit:
        total = states.filter(held_because="").count()
    patients = list(dict.fromkeys(key[0] for _, key in [*listed, *held]))
    booked = (
        booked_plans(
            membership.clinic_id, today, patients if len(patients) <= BOOKED_BY_PATIENT else None
        )
        if patients
        else {}
    )

    def with_booking(found: list[tuple[DueRow, tuple[UUID, str]]]) -> list[DueRow]:
        return [replace(row, booked_on=booked[key]) if key in booked else row for row, key in found]

    return DueList(today, start, end, with_booking(listed), total, with_booking(held))


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
        limit=limit,
    )
    shown = found.rows
    held = found.held
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
    clinic_id = patient.clinic_id
    sessions = (
        TreatmentSession.objects.filter(
            clinic_id=clinic_id, patient=patient, signed_at__isnull=False
        )
        .select_related("signed_by")
        .prefetch_related(
            Prefetch("events", queryset=SessionEvent.objects.filter(clinic_id=clinic_id)),
            Prefetch(
                "wear_off_reports", queryset=WearOffReport.objects.filter(clinic_id=clinic_id)
            ),
        )
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

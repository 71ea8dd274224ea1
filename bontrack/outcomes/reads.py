"""What a due date and a due row show, read once for every place that shows them: the API's due
list and per-patient due dates, the Due page and the CSV both download.

The rows come from the follow-up's due list (``outcomes.due``: who is due, in what order, the
audit entries) and the dates from the domain's ``Due``; this module turns them into typed,
frozen values holding every field any of those places shows, so that the API, the page and the
CSV cannot disagree on who is due, in what order, when and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from bontrack.audit.services import Actor
from bontrack.domain.due import Due
from bontrack.outcomes import due as due_service

# Which date sets the due date, in words, when only one of them exists.
SET_BY_WEAR_OFF = "the wear-off history"
SET_BY_NOTHING = "no date: when the effect wears off"


@dataclass(frozen=True, slots=True)
class DueDate:
    """When a patient is due for retreatment for one indication, and why (facts.md 3.7)."""

    indication: str
    product: str
    last_session_id: str
    last_session_date: date
    due: date | None
    basis: str  # "label", "wear-off", "both" or "none"
    earliest: date | None  # the last session + the label interval
    interval_days: int | None
    interval_words: str | None
    interval_source: str | None
    # "the label interval", or "bontrack's interval (policy B.17)" where no label states one (B.36).
    interval_name: str
    wear_off_date: date | None  # the last session + the median wear-off interval
    wear_off_median_days: int | None
    wear_off_reports: int
    reason: str
    # Which date sets the due date, in words: "the wear-off history (the later of the two)".
    set_by: str


@dataclass(frozen=True, slots=True)
class DueRowRead:
    """One patient due (or held apart) for one indication, as the list shows them."""

    patient_id: UUID
    record_number: str
    given_name: str
    family_name: str
    phone: str  # "" unless the patient agreed to be contacted
    email: str
    contact_method: str  # "none" unless the patient agreed to be contacted
    last_session_id: UUID
    injector_id: UUID | None
    injector: str | None  # the last session's injector
    due: DueDate
    status: due_service.DueStatus
    booked_on: date | None  # a plan already booked for the indication, from today on
    days_until: int | None  # from the list's today to the due date; negative when overdue
    # B.32: why the patient is held apart, not due ("stop recommended (NICE TA260)"); "" if due.
    held_because: str

    @property
    def days_overdue(self) -> int:
        return -self.days_until if self.days_until is not None and self.days_until < 0 else 0


@dataclass(frozen=True, slots=True)
class DueListRead:
    today: date
    start: date  # overdue since (inclusive)
    end: date  # due until (inclusive)
    total: int  # rows due before the limit
    rows: tuple[DueRowRead, ...]
    # Patients who would be due but whose verdict says stop or non-responder (B.32).
    held: tuple[DueRowRead, ...]


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A CSV download: its file name, header and rows (written by ``core.csvfiles``)."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def set_by(d: Due) -> str:
    """Which date sets the due date, in words (the later of the two when both exist)."""
    if d.basis == "both":
        which = d.interval_name if d.due == d.earliest else SET_BY_WEAR_OFF
        return f"{which} (the later of the two)"
    if d.basis == "label":
        return d.interval_name
    if d.basis == "wear-off":
        return SET_BY_WEAR_OFF
    return SET_BY_NOTHING if d.basis == "none" else d.basis


def due_date(d: Due, *, last_session_id: str | None = None) -> DueDate:
    """The domain's due date with everything shown of it; ``last_session_id`` replaces the
    domain's key for the session when the caller holds the session's id in another form."""
    return DueDate(
        indication=d.indication,
        product=d.product,
        last_session_id=d.last_key if last_session_id is None else last_session_id,
        last_session_date=d.last_session,
        due=d.due,
        basis=d.basis,
        earliest=d.earliest,
        interval_days=d.interval_days,
        interval_words=d.interval_words,
        interval_source=d.interval_source,
        interval_name=d.interval_name,
        wear_off_date=d.wear_off_date,
        wear_off_median_days=d.wear_off_median_days,
        wear_off_reports=d.wear_off_reports,
        reason=d.reason,
        set_by=set_by(d),
    )


def _row(r: due_service.DueRow, today: date) -> DueRowRead:
    return DueRowRead(
        patient_id=r.patient_id,
        record_number=r.record_number,
        given_name=r.given_name,
        family_name=r.family_name,
        phone=r.phone,
        email=r.email,
        contact_method=r.contact_method,
        last_session_id=r.last_session_id,
        injector_id=r.injector_id,
        injector=r.injector,
        due=due_date(r.due, last_session_id=str(r.last_session_id)),
        status=r.status,
        booked_on=r.booked_on,
        days_until=(r.due.due - today).days if r.due.due is not None else None,
        held_because=r.held_because,
    )


def _list(found: due_service.DueList) -> DueListRead:
    return DueListRead(
        today=found.today,
        start=found.start,
        end=found.end,
        total=found.total,
        rows=tuple(_row(r, found.today) for r in found.rows),
        held=tuple(_row(r, found.today) for r in found.held),
    )


def due_rows(
    actor: Actor,
    *,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
    limit: int = 500,
    today: date | None = None,
) -> DueListRead:
    """The clinic's due list as shown (at most ``limit`` rows, soonest first), with the patients
    held apart by a stop or non-responder verdict; one read entry per patient shown."""
    return _list(
        due_service.due_list(
            actor,
            weeks=weeks,
            overdue_weeks=overdue_weeks,
            indication=indication,
            injector_id=injector_id,
            limit=limit,
            today=today,
        )
    )


def exported_due_rows(
    actor: Actor,
    *,
    weeks: int = 4,
    overdue_weeks: int = 12,
    indication: str | None = None,
    injector_id: UUID | None = None,
    today: date | None = None,
) -> DueListRead:
    """Every row of the due list, for a download; one disclosure entry per patient exported.
    Patients held apart (B.32) are not due, so not exported."""
    return _list(
        due_service.export_due_list(
            actor,
            weeks=weeks,
            overdue_weeks=overdue_weeks,
            indication=indication,
            injector_id=injector_id,
            today=today,
        )
    )


def patient_due_dates(actor: Actor, patient_id: UUID | str) -> tuple[UUID, tuple[DueDate, ...]]:
    """When the patient is due, per indication treated, soonest first; one read entry."""
    patient, found = due_service.patient_due(actor, patient_id)
    return patient.id, tuple(due_date(d) for d in found)


DUE_CSV_COLUMNS = (
    "due",
    "status",
    "record_number",
    "family_name",
    "given_name",
    "phone",
    "email",
    "contact_method",
    "indication",
    "product",
    "last_session_date",
    "injector",
    "basis",
    "earliest",
    "wear_off_date",
    "booked_on",
    "reason",
)


def _csv_rows(rows: Iterable[DueRowRead]) -> Iterator[tuple[Any, ...]]:
    for r in rows:
        yield (
            r.due.due,
            r.status,
            r.record_number,
            r.family_name,
            r.given_name,
            r.phone,
            r.email,
            r.contact_method,
            r.due.indication,
            r.due.product,
            r.due.last_session_date,
            r.injector or "",
            r.due.basis,
            r.due.earliest or "",
            r.due.wear_off_date or "",
            r.booked_on or "",
            r.due.reason,
        )


def due_csv(found: DueListRead) -> CsvTable:
    """The exported due list as the API and the Due page download it: the rows due, not those
    held apart."""
    return CsvTable(
        f"due-list-{found.today.isoformat()}.csv", DUE_CSV_COLUMNS, tuple(_csv_rows(found.rows))
    )

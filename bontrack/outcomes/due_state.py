"""The derived due state (``outcomes.DueState``): per patient and indication, the domain's due
date and whether a stop or non-responder verdict holds the patient apart (B.32).

It is a cache of a pure computation, never a second copy of the rules: ``derive`` reads the same
rows the due list always read and asks the same code, ``DueRules.due_for`` for the dates and
``judge_patient``/``stopping_of`` for the verdicts. ``refresh`` rewrites one patient's rows and is
called inside every transaction that can change them (signing, amendment, entered in error,
doses given elsewhere and their imports, wear-off reports, assessments and diary imports,
"continue despite this verdict"); ``rebuild`` rewrites a clinic's rows, or every clinic's (the
``rebuild_due`` management command and the migration that creates the table). A plan booked or
cancelled changes nothing here: the due list reads booked plans when it is shown.

Every statement names its clinic: each table occurrence is filtered by ``clinic_id`` directly or
through an equality with one that is (DESIGN 3.6).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from bontrack.accounts.models import Clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.due import DueRules, TreatedSession
from bontrack.outcomes.models import ContinueDespiteVerdict, DueState, WearOffReport
from bontrack.outcomes.verdicts import (
    ClinicVerdicts,
    counted_sessions,
    counting_readings,
    judge_patient,
    stopping_of,
)
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession

BATCH = 2000
# A row's stored columns, in the order the list reads them; a rebuild's check compares them
# with a recomputation.
STORED_COLUMNS = (
    "patient_id",
    "indication",
    "product",
    "last_session_id",
    "last_session_on",
    "injector_id",
    "due_on",
    "basis",
    "earliest",
    "wear_off_on",
    "wear_off_median_days",
    "wear_off_reports",
    "held_because",
)


def entered_in_error() -> Exists:
    """Whether the outer session is marked entered in error (its event, in its clinic)."""
    return Exists(
        SessionEvent.objects.filter(
            clinic_id=OuterRef("clinic_id"),
            session_id=OuterRef("pk"),
            kind=SessionEventKind.ENTERED_IN_ERROR,
        )
    )


def counting_sessions(clinic_id: UUID) -> QuerySet[TreatmentSession]:
    """Signed sessions that count (co-signature pending and amended included), in SQL."""
    return TreatmentSession.objects.filter(clinic_id=clinic_id, signed_at__isnull=False).exclude(
        entered_in_error()
    )


def latest_sessions(
    clinic_id: UUID, patient_id: UUID | None = None
) -> QuerySet[TreatmentSession, tuple[Any, ...]]:
    """Each patient's latest counting session per indication (of two on one day, the one given
    last), ranked with ``ROW_NUMBER()``: id, patient, indication, product, date, injector."""
    sessions = counting_sessions(clinic_id)
    if patient_id is not None:
        sessions = sessions.filter(patient_id=patient_id)
    return (
        sessions.annotate(
            latest=Window(
                RowNumber(),
                partition_by=[F("patient_id"), F("indication")],
                order_by=[F("plan_date").desc(), F("administered_at").desc(), F("id").desc()],
            )
        )
        .filter(latest=1)
        .order_by()
        .values_list("id", "patient_id", "indication", "product", "plan_date", "injector_id")
    )


def wear_off_history(
    clinic_id: UUID, patient_id: UUID | None = None
) -> dict[tuple[UUID, str], list[TreatedSession]]:
    """Every wear-off report of a counting session, per patient and indication."""
    reports = WearOffReport.objects.filter(
        clinic_id=clinic_id,
        session__clinic_id=clinic_id,
        session__signed_at__isnull=False,
    ).exclude(
        Exists(
            SessionEvent.objects.filter(
                clinic_id=OuterRef("clinic_id"),
                session_id=OuterRef("session_id"),
                kind=SessionEventKind.ENTERED_IN_ERROR,
            )
        )
    )
    if patient_id is not None:
        reports = reports.filter(patient_id=patient_id)
    found: dict[tuple[UUID, str], list[TreatedSession]] = defaultdict(list)
    rows = reports.order_by().values_list(
        "session__patient_id",
        "session__indication",
        "session__product",
        "session__plan_date",
        "wore_off_on",
    )
    for patient, ind, product, day, wore_off in rows:
        found[(patient, ind)].append(TreatedSession(day, product, ind, wore_off_on=wore_off))
    return found


class _PatientVerdicts:
    """One patient's standing stop and non-responder verdicts, read as ``ClinicVerdicts`` reads
    a clinic's: the assessments, and only when there are any, the counting sessions' days and
    the decisions."""

    def __init__(self, clinic_id: UUID, patient_id: UUID) -> None:
        self._patient_id = patient_id
        results = list(counting_readings(clinic_id).filter(patient_id=patient_id))
        self._judged = []
        if results:
            scope = Q(clinic_id=clinic_id, patient_id=patient_id)
            decisions = ContinueDespiteVerdict.objects.filter(scope).order_by()
            self._judged = judge_patient(results, counted_sessions(scope), decisions)[0]

    def stopping(self, patient_id: UUID, indication: str) -> Any:
        return stopping_of(self._judged, indication) if patient_id == self._patient_id else None


def derive(clinic_id: UUID, patient_id: UUID | None = None) -> Iterator[DueState]:
    """The due state of every patient of the clinic (or of one patient), unsaved: one row per
    indication with a counting session, whether or not it has a due date."""
    rules = DueRules(catalog())
    version = catalog().version
    history = wear_off_history(clinic_id, patient_id)
    verdicts: ClinicVerdicts | _PatientVerdicts = (
        ClinicVerdicts(clinic_id) if patient_id is None else _PatientVerdicts(clinic_id, patient_id)
    )
    for session_id, patient, ind, product, day, injector in latest_sessions(clinic_id, patient_id):
        last = TreatedSession(day, product, ind, key=str(session_id))
        reported = history.get((patient, ind))
        due = rules.due_for([*reported, last] if reported else [last], ind)
        if due is None or due.last_key != last.key:
            continue
        stopping = verdicts.stopping(patient, ind)
        yield DueState(
            clinic_id=clinic_id,
            patient_id=patient,
            indication=ind,
            product=due.product,
            last_session_id=session_id,
            last_session_on=due.last_session,
            injector_id=injector,
            due_on=due.due,
            basis=due.basis,
            earliest=due.earliest,
            wear_off_on=due.wear_off_date,
            wear_off_median_days=due.wear_off_median_days,
            wear_off_reports=due.wear_off_reports,
            held_because=stopping.label if stopping is not None else "",
            catalog_version=version,
        )


def refresh(clinic_id: UUID, patient_id: UUID, *, locked: bool = False) -> None:
    """Rewrite one patient's due state inside the caller's transaction. ``locked``: the caller
    already holds the patient's lock (signing does); otherwise it is taken here, so that two
    writers of one patient refresh one after the other and the later sees the earlier's rows."""
    if not locked and connection.vendor == "postgresql":
        list(
            Patient.objects.select_for_update(no_key=True)
            .filter(clinic_id=clinic_id, pk=patient_id)
            .values_list("pk")
        )
    rows = list(derive(clinic_id, patient_id))
    DueState.objects.filter(clinic_id=clinic_id, patient_id=patient_id).delete()
    DueState.objects.bulk_create(rows)


def rebuild(clinic_id: UUID | None = None) -> int:
    """Rewrite the due state of one clinic, or of every clinic one after the other (each in its
    own transaction); the number of rows written."""
    clinics = (
        [clinic_id] if clinic_id is not None else list(Clinic.objects.values_list("pk", flat=True))
    )
    written = 0
    for clinic in clinics:
        with transaction.atomic():
            DueState.objects.filter(clinic_id=clinic).delete()
            batch: list[DueState] = []
            for row in derive(clinic):
                batch.append(row)
                if len(batch) >= BATCH:
                    DueState.objects.bulk_create(batch)
                    written += len(batch)
                    batch = []
            DueState.objects.bulk_create(batch)
            written += len(batch)
    return written


def stored(clinic_id: UUID) -> list[tuple[Any, ...]]:
    """A clinic's due state as comparable tuples, in a fixed order (for the agreement checks)."""
    return sorted(
        DueState.objects.filter(clinic_id=clinic_id).order_by().values_list(*STORED_COLUMNS),
        key=lambda r: (str(r[0]), r[1]),
    )


def derived(clinic_id: UUID) -> list[tuple[Any, ...]]:
    """What a full recomputation gives for the clinic, in the form of ``stored``."""
    return sorted(
        (tuple(getattr(row, f) for f in STORED_COLUMNS) for row in derive(clinic_id)),
        key=lambda r: (str(r[0]), r[1]),
    )

"""What a treatment record shows, read once for the pages and the API alike: the session as it now
stands (``session_record``), what each of its vials gave (``vials_of``), the patient's
timeline (``patient_timeline``) and the stored check's findings as typed values
(``StoredFinding``).

Every function here reads; none checks access or writes an audit entry. The callers open the
session or the patient first, through the access funnel (``bontrack.access``) and the services'
reads (``read_session``, ``read_patient``), which is where the clinic boundary and the read
entries live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Prefetch

from bontrack.accounts.models import Membership
from bontrack.domain.catalog import catalog
from bontrack.domain.due import TreatedSession
from bontrack.domain.planning import reconstitute, use_by, vial_concentration
from bontrack.domain.quantities import Concentration, Volume
from bontrack.domain.treatment import HistoryEntry, Injection
from bontrack.domain.units import Units
from bontrack.inventory.models import Vial
from bontrack.outcomes.models import AdverseEvent, Assessment, ContinueDespiteVerdict, WearOffReport
from bontrack.outcomes.verdicts import Counted, counting_readings
from bontrack.patients.models import Patient
from bontrack.treatments.checking import history_entry
from bontrack.treatments.models import Injection as InjectionRow
from bontrack.treatments.models import (
    SessionEvent,
    SessionEventKind,
    SessionVial,
    TreatmentSession,
)
from bontrack.treatments.records import (
    Point,
    SessionStatus,
    addenda,
    counts_toward_limits,
    current_digest,
    current_notes,
    current_points,
    latest_amendment,
    status_of,
    total_units,
)
from bontrack.treatments.services import units_per_kg
from bontrack.treatments.supply import session_draws

# --- Findings as stored ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingSite:
    site: str
    side: str


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A clinician's answer to a finding, stored with it at signing: ``kind`` "acknowledge" (a
    warning) or "override" (a block, with its reason); ``by``: the membership's id as text,
    ``by_name``: its display name when the reader looked it up ("" otherwise)."""

    kind: str
    reason: str
    by: str
    at: str
    by_name: str = ""


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """One finding of a stored check (``TreatmentSession.check_result``, an amendment's
    ``data["check"]``): the attributes carry the stored JSON's key names, so that a template
    reads ``finding.severity`` whether it is given this value or the dict."""

    rule: str
    severity: str
    overridable: bool
    message: str
    source: str
    sites: tuple[FindingSite, ...]
    fingerprint: str
    decision: StoredDecision | None

    @property
    def overridden(self) -> bool:
        return self.decision is not None and self.decision.kind == "override"

    @classmethod
    def parse(
        cls, item: Mapping[str, Any], names: Mapping[str, str] | None = None
    ) -> StoredFinding:
        """``names``: display names by membership id, for the decision's ``by_name``. Checks
        stored before a key existed read it as empty (no fingerprint, no decision, no sites)."""
        decided = item.get("decision")
        decision = None
        if decided:
            by = str(decided.get("by") or "")
            decision = StoredDecision(
                kind=str(decided.get("kind", "")),
                reason=str(decided.get("reason") or ""),
                by=by,
                at=str(decided.get("at") or ""),
                by_name=(names or {}).get(by, ""),
            )
        return cls(
            rule=str(item.get("rule", "")),
            severity=str(item.get("severity", "")),
            overridable=bool(item.get("overridable", False)),
            message=str(item.get("message", "")),
            source=str(item.get("source", "")),
            sites=tuple(FindingSite(s["site"], s["side"]) for s in item.get("sites") or ()),
            fingerprint=str(item.get("fingerprint", "")),
            decision=decision,
        )


def stored_findings(
    check: Mapping[str, Any] | None, names: Mapping[str, str] | None = None
) -> tuple[StoredFinding, ...]:
    """The findings of a stored check, in their stored order (block, warn, info, then rule)."""
    return tuple(StoredFinding.parse(f, names) for f in (check or {}).get("findings") or ())


def decider_names(clinic_id: Any, checks: Iterable[Mapping[str, Any] | None]) -> dict[str, str]:
    """The display names of the members who decided findings of these stored checks."""
    ids = {
        str((f.get("decision") or {}).get("by"))
        for check in checks
        for f in (check or {}).get("findings") or ()
        if (f.get("decision") or {}).get("by")
    }
    if not ids:
        return {}
    members = Membership.objects.select_related("user").filter(clinic_id=clinic_id, id__in=ids)
    return {str(m.id): m.display_name for m in members}


# --- What the vials gave -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VialFigures:
    """One vial of a session: its row (with its lot), what this session now draws from it (B.30:
    as signed, or as the latest amendment that lists vials gives it; ``None`` on a plan, and
    once the draw is released by an entered-in-error without toxin given), and the solution it
    made (``None`` until it is reconstituted, or for a product the catalog does not know)."""

    vial: Vial
    drawn: Decimal | None
    concentration: Concentration | None
    use_by: datetime | None

    @property
    def vial_id(self) -> UUID:
        return self.vial.id


@dataclass(frozen=True, slots=True)
class SessionVials:
    """The vial arithmetic of one session.

    ``vials``: the vials this session draws from, in the order of its current draws, then the
    session's own vial rows that give nothing now (a plan's chosen vials, a vial an amendment no
    longer lists, every vial once the draws are released). ``point_volumes``: the mL of each
    current point, from the first reconstituted vial of the session's product (empty when there
    is none)."""

    vials: tuple[VialFigures, ...]
    point_volumes: tuple[Volume, ...]

    @property
    def drawn(self) -> tuple[VialFigures, ...]:
        """The vials with a current draw: what the session took from stock."""
        return tuple(v for v in self.vials if v.drawn is not None)

    def volume_of_point(self, position: int) -> Volume | None:
        return self.point_volumes[position] if position < len(self.point_volumes) else None


def vials_of(
    session: TreatmentSession, events: Sequence[SessionEvent], points: Sequence[Point]
) -> SessionVials:
    """``session`` with ``session_vials__vial__lot`` prefetched; a vial only an amendment names
    is read in one more query."""
    uses: list[SessionVial] = list(session.session_vials.all())
    draws = session_draws(uses, events) if session.is_signed else {}
    rows = {str(u.vial_id): u.vial for u in uses}
    missing = [vial_id for vial_id in draws if vial_id not in rows]
    if missing:
        rows.update(
            (str(v.id), v) for v in Vial.objects.select_related("lot").filter(id__in=missing)
        )
    ordered = [rows[vial_id] for vial_id in draws if vial_id in rows]
    ordered += [u.vial for u in uses if str(u.vial_id) not in draws]
    product = catalog().products.get(session.product)
    figures = []
    for vial in ordered:
        concentration = None
        if vial.diluent_ml is not None and product is not None:
            # Signing refuses a vial of another product (product-mismatch): the session's
            # product reads it.
            concentration = vial_concentration(
                product,
                Units(product.code, Decimal(vial.lot.vial_size_units)),
                Volume(Decimal(vial.diluent_ml)),
            )
        figures.append(
            VialFigures(
                vial=vial,
                drawn=draws.get(str(vial.id)),
                concentration=concentration,
                use_by=use_by(product, vial.reconstituted_at)
                if product is not None and vial.reconstituted_at is not None
                else None,
            )
        )
    return SessionVials(tuple(figures), _point_volumes(session, ordered, points))


def _point_volumes(
    session: TreatmentSession, vials: Sequence[Vial], points: Sequence[Point]
) -> tuple[Volume, ...]:
    opened = [v for v in vials if v.diluent_ml is not None and v.lot.product == session.product]
    product = catalog().products.get(session.product)
    if not opened or not points or product is None:
        return ()
    vial = opened[0]
    done = reconstitute(
        product,
        Units(product.code, Decimal(vial.lot.vial_size_units)),
        Volume(Decimal(vial.diluent_ml)),
        tuple(Injection(p.site, p.side, Units(session.product, p.units), p.route) for p in points),
    )
    return tuple(pv.volume for pv in done.points)


# --- The session record ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeightUsed:
    """The weight a weight-based dose rule read at signing, and the record's units per kg as it
    now stands (an amendment's total)."""

    kg: Decimal
    measured_on: date | None
    units_per_kg: Decimal


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session as it now stands: the row (with its patient, clinic and members), the appended
    records, the current points and notes (as amended last), the vials and the stored check."""

    session: TreatmentSession
    status: str
    events: tuple[SessionEvent, ...]
    points: tuple[Point, ...]
    original_points: tuple[Point, ...]
    total: Decimal
    notes: str
    weight: WeightUsed | None
    vials: SessionVials
    findings: tuple[StoredFinding, ...]
    verdict: str
    current_digest: str
    # The latest amendment's own check, kept beside it for information (B.33).
    amendment_findings: tuple[StoredFinding, ...]

    @property
    def amended(self) -> bool:
        return any(e.kind == SessionEventKind.AMENDED for e in self.events)

    @property
    def co_signature(self) -> SessionEvent | None:
        """The latest co-signature."""
        signed = [e for e in self.events if e.kind == SessionEventKind.CO_SIGNED]
        return signed[-1] if signed else None

    @property
    def addenda(self) -> tuple[SessionEvent, ...]:
        return tuple(addenda(self.events))


def session_record(session_id: UUID | str, clinic_id: UUID | None = None) -> SessionRecord:
    """The record of a session the caller has opened through the access funnel. ``clinic_id``:
    the session's clinic, so that every row is read inside it (a caller that gives none reads
    the rows by the session's id alone)."""
    rows = TreatmentSession.objects.filter(pk=session_id)
    related = ("patient", "clinic", "injector__user", "signed_by__user", "planned_by__user")
    if clinic_id is None:
        session = (
            rows.select_related(*related)
            .prefetch_related(
                "injections",
                Prefetch("events", queryset=SessionEvent.objects.select_related("by__user")),
                "session_vials__vial__lot",
            )
            .get()
        )
    else:
        session = (
            rows.filter(clinic_id=clinic_id, patient__clinic_id=clinic_id)
            .select_related(*related)
            .prefetch_related(
                Prefetch("injections", queryset=InjectionRow.objects.filter(clinic_id=clinic_id)),
                Prefetch(
                    "events",
                    queryset=SessionEvent.objects.filter(clinic_id=clinic_id).select_related(
                        "by__user"
                    ),
                ),
                Prefetch(
                    "session_vials",
                    queryset=SessionVial.objects.filter(
                        clinic_id=clinic_id,
                        vial__clinic_id=clinic_id,
                        vial__lot__clinic_id=clinic_id,
                    ).select_related("vial__lot"),
                ),
            )
            .get()
        )
    events = tuple(session.events.all())
    points = tuple(current_points(session, events))
    original = tuple(Point(i.site, i.side, i.units, i.route) for i in session.injections.all())
    total = total_units(points)
    latest = latest_amendment(events)
    amendment_check = (latest.data.get("check") or {}) if latest is not None else {}
    names = decider_names(session.clinic_id, [session.check_result])
    return SessionRecord(
        session=session,
        status=status_of(session, events),
        events=events,
        points=points,
        original_points=original,
        total=total,
        notes=current_notes(session, events),
        weight=_weight_used(session, total),
        vials=vials_of(session, events, points),
        findings=stored_findings(session.check_result, names),
        verdict=str(session.check_result.get("verdict", "")),
        current_digest=current_digest(session, events),
        amendment_findings=stored_findings(amendment_check),
    )


def _weight_used(session: TreatmentSession, total: Decimal) -> WeightUsed | None:
    if session.weight_kg is None:
        return None
    kg = Decimal(session.weight_kg)
    return WeightUsed(kg, session.weight_measured_on, units_per_kg(total, kg))


def adverse_events_of(session: TreatmentSession) -> list[AdverseEvent]:
    """The adverse events reported after a session, latest onset first."""
    return list(
        AdverseEvent.objects.filter(clinic_id=session.clinic_id, session_id=session.pk).order_by(
            "-onset_date"
        )
    )


# --- The patient's timeline --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One session of the patient's timeline: its status and total as it now stands, its
    injector, the findings a prescriber overrode, and where a dose given elsewhere was given."""

    session: TreatmentSession
    status: str
    total: Decimal
    injector: str | None
    overridden: tuple[StoredFinding, ...]

    @property
    def id(self) -> UUID:
        return self.session.id

    @property
    def plan_date(self) -> date:
        return self.session.plan_date

    @property
    def external(self) -> bool:
        return self.session.external

    @property
    def given_elsewhere_at(self) -> str | None:
        return self.session.source_place if self.session.external else None


def patient_timeline(patient: Patient) -> tuple[TimelineEntry, ...]:
    """Every session of the patient, newest first (plan date, then creation), plans and
    cancelled or entered-in-error sessions included; three queries however long the history."""
    return timeline_of(patient_sessions(patient))


def timeline_of(rows: SessionRows) -> tuple[TimelineEntry, ...]:
    """The timeline of the sessions read by ``patient_sessions``, in their order."""
    return tuple(
        TimelineEntry(
            session=s,
            status=rows.statuses[s.id],
            total=total_units(rows.points[s.id]),
            injector=s.injector.display_name if s.injector else None,
            overridden=tuple(f for f in stored_findings(s.check_result) if f.overridden),
        )
        for s in rows.sessions
    )


# --- The patient's history, read once ----------------------------------------------------------


@dataclass(frozen=True)
class SessionRows:
    """Every session of one patient, newest first (plan date, then creation), with its injector
    and signer, and by session id: its events (in order), its status and its points as they now
    stand (as amended last)."""

    sessions: tuple[TreatmentSession, ...]
    events: Mapping[UUID, tuple[SessionEvent, ...]]
    statuses: Mapping[UUID, str]
    points: Mapping[UUID, tuple[Point, ...]]


def patient_sessions(patient: Patient) -> SessionRows:
    """Three queries, each inside the patient's clinic, run whatever the history's length (a
    prefetch would skip its query when there is no session): the sessions, their events, and
    their injections as plain values (a long history has thousands, and the pages need their
    values, never their rows)."""
    clinic_id = patient.clinic_id
    sessions = tuple(
        TreatmentSession.objects.filter(clinic_id=clinic_id, patient_id=patient.pk)
        .select_related("injector__user", "signed_by")
        .order_by("-plan_date", "-created_at")
    )
    of_patient = {"clinic_id": clinic_id, "session__clinic_id": clinic_id}
    of_patient["session__patient_id"] = patient.pk
    events: dict[UUID, list[SessionEvent]] = defaultdict(list)
    for event in SessionEvent.objects.filter(**of_patient):
        events[event.session_id].append(event)
    original: dict[UUID, list[Point]] = defaultdict(list)
    injections = InjectionRow.objects.filter(**of_patient).values_list(
        "session_id", "site", "side", "units", "route", "vial_id", "id", "source_identifier"
    )
    for session_id, site, side, units, route, vial_id, row_id, source in injections:
        vial = str(vial_id) if vial_id else None
        original[session_id].append(Point(site, side, units, route, vial, str(row_id), source))
    statuses = {}
    points = {}
    for s in sessions:
        found = events.get(s.id, [])
        statuses[s.id] = status_of(s, found)
        points[s.id] = tuple(current_points(s, found, original.get(s.id, [])))
    return SessionRows(
        sessions, {s.id: tuple(events.get(s.id, ())) for s in sessions}, statuses, points
    )


def dose_history(
    rows: SessionRows, time_zone: str, exclude: UUID | None = None
) -> list[HistoryEntry]:
    """``treatments.checking.history_of``'s entries from the sessions read by
    ``patient_sessions`` (``exclude``: the session being checked): every signed session that
    still counts, with its amended values, when it was given (in the clinic's time zone) and
    who injected it."""
    zone = ZoneInfo(time_zone)
    history = []
    for s in rows.sessions:
        if not s.is_signed or s.id == exclude or not counts_toward_limits(rows.statuses[s.id]):
            continue
        history.append(history_entry(s, rows.points[s.id], zone))
    return history


@dataclass(frozen=True)
class PatientHistory:
    """A patient's history read once (six queries, whatever its length) and handed to every
    part of the patient page: the timeline, the cumulative-dose chart, the verdicts and outcome
    charts, the due dates and the charting card read these rows and nothing more.

    ``rows``: every session with its events, status and current points (``sessions``,
    ``statuses`` and ``points`` for short); ``assessments``: the current readings;
    ``wear_off``: the wear-off report of each session by session id; ``decisions``: the
    standing "continue despite" decisions' rows; ``adverse_events``: latest onset first, each
    with its session."""

    patient: Patient
    time_zone: str
    rows: SessionRows
    assessments: tuple[Assessment, ...]
    wear_off: Mapping[UUID, WearOffReport]
    decisions: tuple[ContinueDespiteVerdict, ...]
    adverse_events: tuple[AdverseEvent, ...]

    @property
    def sessions(self) -> tuple[TreatmentSession, ...]:
        return self.rows.sessions

    @property
    def statuses(self) -> Mapping[UUID, str]:
        return self.rows.statuses

    @property
    def points(self) -> Mapping[UUID, tuple[Point, ...]]:
        return self.rows.points

    def session(self, session_id: UUID | None) -> TreatmentSession | None:
        return self.by_id.get(session_id) if session_id is not None else None

    @cached_property
    def by_id(self) -> dict[UUID, TreatmentSession]:
        return {s.id: s for s in self.sessions}

    def timeline(self) -> tuple[TimelineEntry, ...]:
        return timeline_of(self.rows)

    def dose_history(self) -> list[HistoryEntry]:
        return dose_history(self.rows, self.time_zone)

    def counted(self) -> list[Counted]:
        """The signed sessions not entered in error, as the verdicts' cycles read them."""
        return [
            Counted(s.id, s.patient_id, s.indication, s.plan_date)
            for s in self.sessions
            if s.is_signed and self.statuses[s.id] != SessionStatus.ENTERED_IN_ERROR
        ]

    def treated(self) -> list[TreatedSession]:
        """The signed sessions as the due rules read them, with their wear-off day."""
        return [
            TreatedSession(
                s.plan_date,
                s.product,
                s.indication,
                wore_off_on=report.wore_off_on
                if (report := self.wear_off.get(s.id)) is not None
                else None,
                entered_in_error=not counts_toward_limits(self.statuses[s.id]),
                key=str(s.id),
            )
            for s in self.sessions
            if s.is_signed
        ]


def patient_history(patient: Patient, time_zone: str) -> PatientHistory:
    """The history of a patient the caller has opened through the access funnel."""
    clinic_id = patient.clinic_id
    rows = patient_sessions(patient)
    sessions = rows.sessions
    by_id = {s.id: s for s in sessions}
    mine = {"clinic_id": clinic_id, "patient_id": patient.pk}
    reports = {r.session_id: r for r in WearOffReport.objects.filter(**mine)}
    adverse = tuple(AdverseEvent.objects.filter(**mine).order_by("-onset_date"))
    for event in adverse:
        if event.session_id in by_id:
            AdverseEvent.session.field.set_cached_value(event, by_id[event.session_id])
    return PatientHistory(
        patient=patient,
        time_zone=time_zone,
        rows=rows,
        assessments=tuple(counting_readings(clinic_id).filter(patient_id=patient.pk)),
        wear_off=reports,
        decisions=tuple(
            ContinueDespiteVerdict.objects.filter(**mine).select_related("decided_by__user")
        ),
        adverse_events=adverse,
    )

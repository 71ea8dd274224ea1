"""Reading sessions as they currently stand: status and values derived from appended records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from bontrack.accounts.permissions import Role
from bontrack.core.scoping import related_in_clinic
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession


class SessionStatus(StrEnum):
    """Where a session stands: read from its signature and the records appended to it."""

    PLAN = "plan"
    CANCELLED = "cancelled"
    SIGNED = "signed"
    AWAITING_CO_SIGNATURE = "awaiting-co-signature"
    AMENDED = "amended"
    ENTERED_IN_ERROR = "entered-in-error"


# The statuses of a signed record that stands: it counts toward the limits and may be corrected
# (B.33); a plan, a cancelled plan and a record entered in error do neither.
COUNTING_STATUSES = frozenset(
    {SessionStatus.SIGNED, SessionStatus.AWAITING_CO_SIGNATURE, SessionStatus.AMENDED}
)


@dataclass(frozen=True)
class Point:
    """One injection as it stands. ``id``: the injection's own id, kept by every amendment that
    corrects it (a point an amendment adds has a new one); never another injection's."""

    site: str
    side: str
    units: Decimal
    route: str
    vial_id: str | None = None
    id: str = ""
    source_identifier: str = ""  # an imported administration's identifier ("system|value")


# Amendments appended before their rows carried ids: each of their points gets a name-based
# (version 5) UUID of the amendment and its position, stable across reads and never an
# injection's id (those are random, version 4).
_LEGACY_POINTS = UUID("5f0c6f4e-8d0b-5a55-9a43-2f4b9d1e0c17")


def legacy_point_id(event_id: UUID | str, position: int) -> str:
    return str(uuid5(_LEGACY_POINTS, f"{event_id}/{position}"))


def amended_points(event: SessionEvent) -> list[Point]:
    rows: list[dict[str, Any]] = event.data.get("injections", [])
    return [
        Point(
            r["site"],
            r["side"],
            Decimal(r["units"]),
            r["route"],
            r.get("vial_id"),
            str(r.get("id") or legacy_point_id(event.id, n)),
        )
        for n, r in enumerate(rows)
    ]


def status_of(
    session: TreatmentSession, events: Iterable[SessionEvent] | None = None
) -> SessionStatus:
    kinds = {e.kind for e in (related_in_clinic(session, "events") if events is None else events)}
    if SessionEventKind.ENTERED_IN_ERROR in kinds:
        return SessionStatus.ENTERED_IN_ERROR
    if not session.is_signed:
        if SessionEventKind.CANCELLED in kinds:
            return SessionStatus.CANCELLED
        return SessionStatus.PLAN
    if _needs_co_signature(session) and SessionEventKind.CO_SIGNED not in kinds:
        return SessionStatus.AWAITING_CO_SIGNATURE
    return SessionStatus.AMENDED if SessionEventKind.AMENDED in kinds else SessionStatus.SIGNED


def _needs_co_signature(session: TreatmentSession) -> bool:
    if session.external:  # recorded from another clinic's document: nobody here injected it
        return False
    signer = session.signed_by
    return signer is not None and signer.role == Role.NURSE_INJECTOR


def current_points(
    session: TreatmentSession,
    events: Iterable[SessionEvent] | None = None,
    original: Sequence[Point] | None = None,
) -> list[Point]:
    """The injections as amended last, or as signed (or planned) when never amended."""
    amendments = [
        e
        for e in (related_in_clinic(session, "events") if events is None else events)
        if e.kind == SessionEventKind.AMENDED
    ]
    if amendments:
        return amended_points(max(amendments, key=lambda e: (e.at, str(e.id))))
    if original is not None:  # the session's own points, read by the caller
        return list(original)
    return [
        Point(
            i.site,
            i.side,
            i.units,
            i.route,
            str(i.vial_id) if i.vial_id else None,
            str(i.id),
            i.source_identifier,
        )
        for i in related_in_clinic(session, "injections")
    ]


def latest_amendment(events: Iterable[SessionEvent]) -> SessionEvent | None:
    amendments = [e for e in events if e.kind == SessionEventKind.AMENDED]
    return max(amendments, key=lambda e: (e.at, str(e.id))) if amendments else None


def current_notes(session: TreatmentSession, events: Iterable[SessionEvent] | None = None) -> str:
    """The notes as amended last, or as signed."""
    latest = latest_amendment(related_in_clinic(session, "events") if events is None else events)
    if latest is None:
        return session.notes
    return str(latest.data.get("notes", session.notes) or "")


def current_digest(session: TreatmentSession, events: Iterable[SessionEvent] | None = None) -> str:
    """The digest a correction names (B.33): the latest amendment's, or the signed session's.
    Addenda and co-signatures leave the record's values, and so this digest, as they were."""
    latest = latest_amendment(related_in_clinic(session, "events") if events is None else events)
    return latest.digest if latest is not None else session.digest


def addenda(events: Iterable[SessionEvent]) -> list[SessionEvent]:
    """The injector's note addenda, oldest first (text only, B.33)."""
    return sorted(
        (e for e in events if e.kind == SessionEventKind.ADDENDUM), key=lambda e: (e.at, str(e.id))
    )


def counts_toward_limits(status: str) -> bool:
    """Signed (and co-signature pending, or amended) sessions count; entered-in-error and plans do
    not."""
    return status in COUNTING_STATUSES


def total_units(points: Iterable[Point]) -> Decimal:
    return sum((p.units for p in points), Decimal(0))

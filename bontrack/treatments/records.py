"""Reading sessions as they currently stand: status and values derived from appended records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bontrack.treatments.models import SessionEvent, TreatmentSession


@dataclass(frozen=True)
class Point:
    site: str
    side: str
    units: Decimal
    route: str
    vial_id: str | None = None


def status_of(session: TreatmentSession, events: Iterable[SessionEvent] | None = None) -> str:
    kinds = {e.kind for e in (session.events.all() if events is None else events)}
    if "entered-in-error" in kinds:
        return "entered-in-error"
    if not session.is_signed:
        return "cancelled" if "cancelled" in kinds else "plan"
    if _needs_co_signature(session) and "co-signed" not in kinds:
        return "awaiting-co-signature"
    return "amended" if "amended" in kinds else "signed"


def _needs_co_signature(session: TreatmentSession) -> bool:
    if session.external:  # recorded from another clinic's document: nobody here injected it
        return False
    signer = session.signed_by
    return signer is not None and signer.role == "nurse-injector"


def current_points(
    session: TreatmentSession,
    events: Iterable[SessionEvent] | None = None,
    original: Sequence[Point] | None = None,
) -> list[Point]:
    """The injections as amended last, or as signed (or planned) when never amended."""
    amendments = [
        e for e in (session.events.all() if events is None else events) if e.kind == "amended"
    ]
    if amendments:
        latest = max(amendments, key=lambda e: (e.at, str(e.id)))
        rows: list[dict[str, Any]] = latest.data.get("injections", [])
        return [
            Point(r["site"], r["side"], Decimal(r["units"]), r["route"], r.get("vial_id"))
            for r in rows
        ]
    if original is not None:  # the session's own points, read by the caller
        return list(original)
    return [
        Point(i.site, i.side, i.units, i.route, str(i.vial_id) if i.vial_id else None)
        for i in session.injections.all()
    ]


def latest_amendment(events: Iterable[SessionEvent]) -> SessionEvent | None:
    amendments = [e for e in events if e.kind == "amended"]
    return max(amendments, key=lambda e: (e.at, str(e.id))) if amendments else None


def current_notes(session: TreatmentSession, events: Iterable[SessionEvent] | None = None) -> str:
    """The notes as amended last, or as signed."""
    latest = latest_amendment(session.events.all() if events is None else events)
    if latest is None:
        return session.notes
    return str(latest.data.get("notes", session.notes) or "")


def current_digest(session: TreatmentSession, events: Iterable[SessionEvent] | None = None) -> str:
    """The digest a correction names (B.33): the latest amendment's, or the signed session's.
    Addenda and co-signatures leave the record's values, and so this digest, as they were."""
    latest = latest_amendment(session.events.all() if events is None else events)
    return latest.digest if latest is not None else session.digest


def addenda(events: Iterable[SessionEvent]) -> list[SessionEvent]:
    """The injector's note addenda, oldest first (text only, B.33)."""
    return sorted((e for e in events if e.kind == "addendum"), key=lambda e: (e.at, str(e.id)))


def counts_toward_limits(status: str) -> bool:
    """Signed (and co-signature pending, or amended) sessions count; entered-in-error and plans do
    not."""
    return status in ("signed", "awaiting-co-signature", "amended")


def total_units(points: Iterable[Point]) -> Decimal:
    return sum((p.units for p in points), Decimal(0))

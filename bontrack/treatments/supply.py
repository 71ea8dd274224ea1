"""What a signed session drew from its vials, and how a vial lives (B.30), on the records path.

A vial is opened (reconstituted, or first drawn if a ready solution) for one patient; sessions of
that patient draw from it on its clinic-local day while it is within its in-use time (B.23); it
closes when a clinician closes it, at the end of that day, or at its use-by time, whichever comes
first. Its used, wasted and remaining units are derived here, never stored:

- a session's **current draws** are its own ``SessionVial.drawn_units`` (written once, at
  signing), replaced by the latest amendment that carries ``data["vials"]``
  (``[{"vial_id", "drawn_units"}]``), and released by an entered-in-error whose
  ``data["toxin_given"]`` is ``False`` (absent or ``True`` keeps them, B.33);
- used is the sum of the current draws; once closed, wasted is the size less what was used and
  nothing remains.

Signing and amending call ``settle_draws``: it refuses a vial of another patient or one closed
before the injection time, and fills the draws the signer did not give in the order the vials
were opened (``fill_draws``); the check's ``supply`` rule then judges the arithmetic.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from bontrack.access import VIAL, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import clinic_of, prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.planning import fill_draws, use_by
from bontrack.domain.treatment import Vial as VialValue
from bontrack.domain.units import Units, format_decimal
from bontrack.inventory.models import Lot, Vial, VialClosing
from bontrack.plan_input import MAX_DECIMALS, has_at_most_decimals
from bontrack.treatments.models import SessionEvent, SessionEventKind, SessionVial, TreatmentSession

# The canonical form new signatures are computed under (DESIGN 3.4): 2 adds the draws, 3 each
# imported administration's source identifier, 4 the technique and the weight a weight-based
# rule read.
CANON = 4


@dataclass(frozen=True)
class DrawInput:
    """One vial of a session as the signer gives it: a vial of stock (``vial_id``), or a vial
    not from stock typed at signing (``lot_number``, ``size_units``, ``expires_on``, e.g. a
    pharmacy-prepared syringe); ``drawn_units`` absent: filled in the order vials were opened."""

    vial_id: UUID | str | None = None
    drawn_units: Decimal | None = None
    lot_number: str | None = None
    size_units: Decimal | None = None
    expires_on: date | None = None


def session_draws(
    uses: Iterable[SessionVial], events: Iterable[SessionEvent]
) -> dict[str, Decimal]:
    """One signed session's current draws, vial id (text) to units."""
    events = list(events)
    if any(
        e.kind == SessionEventKind.ENTERED_IN_ERROR and (e.data or {}).get("toxin_given") is False
        for e in events
    ):
        return {}
    amended = [
        e for e in events if e.kind == SessionEventKind.AMENDED and "vials" in (e.data or {})
    ]
    if amended:
        latest = max(amended, key=lambda e: (e.at, str(e.id)))
        draws: dict[str, Decimal] = defaultdict(Decimal)
        for row in latest.data["vials"]:
            draws[str(row["vial_id"])] += Decimal(str(row["drawn_units"]))
        return dict(draws)
    return {str(u.vial_id): Decimal(u.drawn_units) for u in uses if u.drawn_units is not None}


class VialStatus(StrEnum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class ClosedHow(StrEnum):
    """Why a vial closes when it does: a clinician closed it, its day ended, or its use-by."""

    CLOSED = "closed"
    END_OF_DAY = "end-of-day"
    USE_BY = "use-by"


@dataclass(frozen=True)
class VialState:
    """A vial's life as derived from its draws and its closing."""

    vial: Vial
    size: Decimal
    draws: tuple[tuple[UUID, Decimal], ...]  # (session id, units) of the signed sessions
    opened_at: datetime | None
    closes_at: datetime | None
    closed_how: str  # why it closes at ``closes_at``: a ClosedHow, or "" while nothing closes it
    closing: VialClosing | None = field(default=None)

    @property
    def used(self) -> Decimal:
        return sum((units for _, units in self.draws), Decimal(0))

    def drawn_except(self, session_id: UUID | None) -> Decimal:
        return sum((u for s, u in self.draws if s != session_id), Decimal(0))

    def closed(self, at: datetime) -> bool:
        return self.closes_at is not None and at >= self.closes_at

    def remaining(self, at: datetime) -> Decimal:
        return Decimal(0) if self.closed(at) else self.size - self.used

    def wasted(self, at: datetime) -> Decimal:
        return self.size - self.used if self.closed(at) else Decimal(0)

    def status(self, at: datetime) -> VialStatus:
        if self.closed(at):
            return VialStatus.CLOSED
        if self.opened_at is not None or self.draws:
            return VialStatus.OPEN
        if self.vial.reconstituted_at is not None:
            return VialStatus.OPEN
        return VialStatus.UNOPENED


def _end_of_day(moment: datetime, tz: str) -> datetime:
    zone = zoneinfo.ZoneInfo(tz)
    day = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone)


def _use_by(vial: Vial) -> datetime | None:
    """The in-use time runs from reconstitution; an undiluted ready solution has none of it."""
    if vial.reconstituted_at is None:
        return None
    product = catalog().products.get(vial.lot.product)
    if product is None:
        return None
    if product.form == "solution" and not vial.diluent_ml:
        return None
    return use_by(product, vial.reconstituted_at)


# A signed session's id, injection time and current draws (vial id as text to units).
SignedDraws = tuple[UUID, datetime | None, Mapping[str, Decimal]]


def vial_states(
    vials: Iterable[Vial], tz: str, *, opening_at: Mapping[UUID, datetime] | None = None
) -> dict[UUID, VialState]:
    """The state of each vial (rows with their lot), read in a constant number of queries: the
    closings, then the signed sessions of the vials' patients with their vial rows and events.
    ``opening_at``: for a vial nobody opened yet, when a draw being signed would open it."""
    vials = list(vials)
    ids = [v.id for v in vials]
    clinic = clinic_of(vials)
    closings = {c.vial_id: c for c in VialClosing.objects.filter(clinic_id=clinic, vial_id__in=ids)}
    # Whose the vials are, as stored now (a row read before a signing claimed it is stale).
    patients = set(
        Vial.objects.filter(clinic_id=clinic, id__in=ids, patient__isnull=False).values_list(
            "patient_id", flat=True
        )
    )
    signed: list[SignedDraws] = []
    if patients:
        sessions = TreatmentSession.objects.filter(
            clinic_id=clinic, patient_id__in=patients, signed_at__isnull=False
        ).prefetch_related(
            prefetch_in_clinic("session_vials", SessionVial, clinic),
            prefetch_in_clinic("events", SessionEvent, clinic),
        )
        signed = [
            (s.id, s.administered_at, session_draws(s.session_vials.all(), s.events.all()))
            for s in sessions
        ]
    return states_of(vials, tz, closings, signed, opening_at=opening_at)


def states_of(
    vials: Iterable[Vial],
    tz: str,
    closings: Mapping[UUID, VialClosing],
    signed: Iterable[SignedDraws],
    *,
    opening_at: Mapping[UUID, datetime] | None = None,
) -> dict[UUID, VialState]:
    """The state of each vial from rows already read: its closing, and the current draws of
    every signed session of the vials' patients."""
    vials = list(vials)
    wanted = {str(v.id) for v in vials}
    draws: dict[UUID, list[tuple[UUID, Decimal, datetime | None]]] = defaultdict(list)
    for session_id, administered_at, current in signed:
        for vial_id, units in current.items():
            if vial_id in wanted:
                draws[UUID(vial_id)].append((session_id, units, administered_at))
    states = {}
    for v in vials:
        mine = draws.get(v.id, [])
        given = [at for _, _, at in mine if at is not None]
        opened = v.reconstituted_at or (min(given) if given else None)
        if opened is None and opening_at is not None:
            opened = opening_at.get(v.id)
        ends: list[tuple[datetime, ClosedHow]] = []
        closing = closings.get(v.id)
        if closing is not None:
            ends.append((closing.at, ClosedHow.CLOSED))
        if opened is not None:
            ends.append((_end_of_day(opened, tz), ClosedHow.END_OF_DAY))
        until = _use_by(v)
        if until is not None:
            ends.append((until, ClosedHow.USE_BY))
        closes_at, how = min(ends, key=lambda e: e[0]) if ends else (None, "")
        states[v.id] = VialState(
            vial=v,
            size=Decimal(v.lot.vial_size_units),
            draws=tuple((s, u) for s, u, _ in mine),
            opened_at=opened,
            closes_at=closes_at,
            closed_how=how,
            closing=closing,
        )
    return states


# A vial closes at the latest at the end of the clinic-local day it was opened: one opened more
# than two days ago is closed, whatever the time zone.
_OPEN_AT_MOST = timedelta(days=2)


def may_be_open(now: datetime, clinic_id: UUID | None = None) -> Q:
    """Vials that may be open (or unopened) at ``now``: never opened, or opened in the last two
    days; a list of open vials reads only these, not every vial ever drawn. With ``clinic_id``,
    the vials drawn lately are found by a subquery inside the clinic rather than by a join."""
    since = now - _OPEN_AT_MOST
    if clinic_id is None:
        drawn_lately = Q(
            session_uses__session__administered_at__gte=since,
            session_uses__session__signed_at__isnull=False,
        )
    else:
        drawn_lately = Q(
            pk__in=SessionVial.objects.filter(
                clinic_id=clinic_id,
                session__clinic_id=clinic_id,
                session__administered_at__gte=since,
                session__signed_at__isnull=False,
            ).values("vial_id")
        )
    return (
        Q(reconstituted_at__isnull=True, patient__isnull=True)
        | Q(reconstituted_at__gte=since)
        | (Q(reconstituted_at__isnull=True) & drawn_lately)
    )


def describe(vial: Vial) -> str:
    return (
        f"vial {str(vial.id)[:8]} ({format_decimal(Decimal(vial.lot.vial_size_units))} U, "
        f"lot {vial.lot.lot_number})"
    )


def closing_words(state: VialState, tz: str) -> str:
    assert state.closes_at is not None
    local = state.closes_at.astimezone(zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    if state.closed_how == ClosedHow.CLOSED:
        return f"was closed at {local}"
    if state.closed_how == ClosedHow.END_OF_DAY:
        return f"closed at the end of the day it was opened ({local})"
    return f"reached its use-by time at {local}"


def domain_vials(
    session: TreatmentSession,
    vials: Sequence[Vial],
    *,
    draws: Mapping[UUID, Decimal] | None = None,
    states: Mapping[UUID, VialState] | None = None,
) -> tuple[VialValue, ...]:
    """The session's vials as the check reads them: each with what other sessions drew from it
    (``drawn_before``) and, when given, this session's draw. (A vial closed before the injection
    time is refused at signing by ``settle_draws``, naming why it closed.)"""
    states = states if states is not None else vial_states(vials, session.clinic.time_zone)
    values = []
    for v in vials:
        lot = v.lot
        before = states[v.id].drawn_except(session.id)
        draw = None if draws is None else draws.get(v.id)
        values.append(
            VialValue(
                size=Units(lot.product, Decimal(lot.vial_size_units)),
                diluent_ml=v.diluent_ml,
                reconstituted_at=v.reconstituted_at,
                lot=lot.lot_number,
                lot_expires=lot.expires_on,
                recalled=lot.recalled_at is not None,
                drawn_before=Units(lot.product, before),
                draw=Units(lot.product, draw) if draw is not None else None,
                label=str(v.id)[:8],
            )
        )
    return tuple(values)


def _checked_units(value: Decimal, here: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ServiceError(here, "must be 0 or more units")
    if not has_at_most_decimals(value, MAX_DECIMALS):
        raise ServiceError(here, f"must have at most {MAX_DECIMALS} decimals")
    return value


def vial_not_from_stock(session: TreatmentSession, item: DrawInput, here: str) -> Vial:
    """A vial typed at signing (B.30: it counts as a vial): a lot row of its own, or the clinic's
    lot of that number when it matches, and a vial row for this patient."""
    product = session.product
    number = (item.lot_number or "").strip()
    if not number:
        raise ServiceError(f"{here}.lot_number", "give the lot number printed on the syringe")
    if item.size_units is None or not item.size_units.is_finite() or item.size_units <= 0:
        raise ServiceError(f"{here}.size_units", "give the units the syringe or vial held")
    if not has_at_most_decimals(item.size_units, MAX_DECIMALS):
        raise ServiceError(f"{here}.size_units", f"must have at most {MAX_DECIMALS} decimals")
    if item.expires_on is None:
        raise ServiceError(f"{here}.expires_on", "give the expiry date printed on the label")
    lot = Lot.objects.filter(
        clinic_id=session.clinic_id, product=product, lot_number=number
    ).first()
    if lot is None:
        lot = Lot.objects.create(
            clinic_id=session.clinic_id,
            product=product,
            lot_number=number,
            vial_size_units=item.size_units,
            expires_on=item.expires_on,
            received_vials=1,
            received_on=timezone.localdate(),
        )
    elif lot.vial_size_units != item.size_units or lot.expires_on != item.expires_on:
        raise ServiceError(
            f"{here}.lot_number",
            f"lot {number} is in stock as {format_decimal(Decimal(lot.vial_size_units))} U "
            f"expiring {lot.expires_on.isoformat()}: check the label, or pick the stock vial",
        )
    return Vial.objects.create(
        clinic_id=session.clinic_id, lot=lot, patient_id=session.patient_id, from_stock=False
    )


@dataclass(frozen=True)
class SettledDraws:
    """The vials of a session in the order they were opened, each with its draw, and the values
    the check reads."""

    draws: tuple[tuple[Vial, Decimal], ...]
    values: tuple[VialValue, ...]

    def rows(self) -> list[dict[str, str]]:
        """As an amendment stores them (``data["vials"]``)."""
        return [
            {"vial_id": str(v.id), "drawn_units": format_decimal(units)} for v, units in self.draws
        ]


def settle_draws(
    session: TreatmentSession,
    vials: Sequence[Vial],
    requested: Mapping[UUID, Decimal | None],
    *,
    total: Decimal,
    at: datetime,
    field: str = "vials",
    states: Mapping[UUID, VialState] | None = None,
) -> SettledDraws:
    """Refuse a vial of another patient or one closed before ``at`` (the injection time); fill
    the draws not given (in the order the vials were opened, up to what each still holds) so that
    they add up to ``total`` where the vials can. Whether they fit is the check's ``supply``.
    ``states``: the vials' states as ``states_of`` gives them with ``opening_at`` ``at``, when
    the caller has read their rows already."""
    tz = session.clinic.time_zone
    if states is None:
        states = vial_states(vials, tz, opening_at={v.id: at for v in vials})
    for n, v in enumerate(vials):
        here = f"{field}[{n}]"
        if v.patient_id is not None and v.patient_id != session.patient_id:
            raise ServiceError(
                here,
                f"{describe(v)} was opened for another patient: a vial is drawn for one patient "
                "only; pick another vial",
            )
        state = states[v.id]
        if state.closed(at) and state.closed_how != ClosedHow.USE_BY:
            # Past its use-by time, the check's reconstitution rule blocks and says why.
            raise ServiceError(
                here,
                f"{describe(v)} {closing_words(state, tz)}, before the injection time: it can no "
                "longer be drawn; pick another vial or open a new one",
            )
        units = requested.get(v.id)
        if units is not None:
            _checked_units(units, f"{here}.drawn_units")
    ordered = sorted(
        vials,
        key=lambda v: (states[v.id].opened_at or at, v.created_at or at, str(v.id)),
    )
    fixed = {v.id: units for v in ordered if (units := requested.get(v.id)) is not None}
    open_ones = [v for v in ordered if v.id not in fixed and v.lot.product == session.product]
    left = total - sum(fixed.values(), Decimal(0))
    filled: dict[UUID, Decimal] = {}
    if open_ones:
        candidates = domain_vials(session, open_ones, states=states)
        amounts = fill_draws(Units(session.product, max(left, Decimal(0))), candidates)
        filled = {v.id: a.amount for v, a in zip(open_ones, amounts, strict=True)}
    draws = tuple((v, fixed.get(v.id, filled.get(v.id, Decimal(0)))) for v in ordered)
    values = domain_vials(session, ordered, draws={v.id: u for v, u in draws}, states=states)
    return SettledDraws(draws=draws, values=values)


def draw_inputs(rows: Iterable[Mapping[str, Any]]) -> list[DrawInput]:
    """``[{"vial_id", "drawn_units"}]`` (an amendment's or a request's ``vials``) as inputs."""
    out = []
    for row in rows:
        units = row.get("drawn_units")
        out.append(
            DrawInput(
                vial_id=row.get("vial_id"),
                drawn_units=Decimal(str(units)) if units is not None else None,
                lot_number=row.get("lot_number"),
                size_units=Decimal(str(row["size_units"])) if row.get("size_units") else None,
                expires_on=date.fromisoformat(str(row["expires_on"]))
                if row.get("expires_on")
                else None,
            )
        )
    return out


def resolve_vials(
    actor: Actor, session: TreatmentSession, items: Sequence[DrawInput], field: str = "vials"
) -> tuple[list[Vial], dict[UUID, Decimal | None]]:
    """The rows of the vials a signer or an amendment names (stock vials through the clinic's
    funnel; a vial not from stock is created), and the draws given for them."""
    vials: list[Vial] = []
    requested: dict[UUID, Decimal | None] = {}
    for n, item in enumerate(items):
        here = f"{field}[{n}]"
        if item.vial_id is not None:
            vial = access(actor, VIAL, item.vial_id, Perm.INVENTORY_READ)
        elif item.lot_number is not None:
            vial = vial_not_from_stock(session, item, here)
        else:
            raise ServiceError(
                here, "name a vial of stock (vial_id) or type the lot, size and expiry"
            )
        if vial.id in requested:
            raise ServiceError(f"{here}.vial_id", "this vial is listed twice: list it once")
        vials.append(vial)
        requested[vial.id] = item.drawn_units
    return vials, requested


def claim_vials(session: TreatmentSession, vials: Iterable[Vial]) -> None:
    """A vial drawn for a patient is that patient's from then on (B.30). A vial another
    patient's signing claimed since it was read is refused, as it would have been then."""
    vials = list(vials)
    unclaimed = [v.id for v in vials if v.patient_id is None]
    if not unclaimed:
        return
    claimed = (
        Vial.objects.filter(clinic_id=session.clinic_id, pk__in=unclaimed)
        .filter(Q(patient__isnull=True) | Q(patient_id=session.patient_id))
        .update(patient_id=session.patient_id)
    )
    if claimed != len(unclaimed):
        raise ConflictError(
            "vials",
            "a vial of this session was just drawn for another patient: a vial is drawn for one "
            "patient only; pick another vial",
        )
    for v in vials:
        if v.patient_id is None:
            v.patient_id = session.patient_id


def amendment_draws(
    actor: Actor,
    session: TreatmentSession,
    items: Sequence[DrawInput],
    *,
    total: Decimal,
    at: datetime,
    field: str = "vials",
) -> SettledDraws:
    """For an amendment of a signed session (B.33): the vials it names with their draws, checked
    as at signing (another patient's vial or one closed before the injection time is refused),
    the missing draws filled; ``rows()`` is what the amendment stores as ``data["vials"]``, and
    ``values`` go into the plan its check reads (with ``at_signing=True``, so that ``supply``
    refuses what the vials cannot hold). The vials become the patient's."""
    vials, requested = resolve_vials(actor, session, items, field)
    settled = settle_draws(session, vials, requested, total=total, at=at, field=field)
    claim_vials(session, vials)
    return settled

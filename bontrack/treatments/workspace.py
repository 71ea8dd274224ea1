"""What the plan editor shows of a planned session, read once: the plan workspace.

It starts from the session read the API renders (``treatments.reads.session_record``: the
points as they stand, the total, the status, the chosen vials and the mL of each point), so that
the page and the API show one plan. Around it, what the editor adds: the vial arithmetic (the
chosen reconstituted vial's concentration, or the vials a chosen unopened one means, or which
unopened vials in stock to reconstitute), the clinic's usable vials, the check at the injection
time with the consent rule (what signing re-runs) and what still refuses the signature, the
draws signing would make and the weight a weight-based dose rule reads. Typed, frozen values:
the page words and draws them; the numbers come from the domain's planning arithmetic, and
whether a finding refuses the signature from the signing service (``unresolved_findings``),
never from a template.

Reading the workspace checks no access and writes no audit entry: its callers open the session
through the access funnel (``treatments.services.read_session`` or a service that changes the
plan) first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.utils import timezone

from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.model import Product, Protocol
from bontrack.domain.check import requires_weight
from bontrack.domain.planning import (
    VialCombination,
    listed_dilutions,
    reconstitute,
    use_by,
    vial_combinations,
    vial_concentration,
    vials_needed,
)
from bontrack.domain.quantities import Concentration, Volume
from bontrack.domain.treatment import HistoryEntry, Injection, Verdict
from bontrack.domain.units import Units
from bontrack.inventory import services as inventory
from bontrack.inventory.models import Lot, Vial
from bontrack.outcomes.models import ContinueDespiteVerdict
from bontrack.outcomes.verdicts import Counted, counting_readings, domain_verdict, judge_patient
from bontrack.treatments import services, supply
from bontrack.treatments.checking import patient_values, plan_values, run_check, stored_result
from bontrack.treatments.models import FindingDecision, TreatmentSession
from bontrack.treatments.reads import (
    SessionRecord,
    SessionRows,
    StoredFinding,
    WeightUsed,
    dose_history,
    patient_sessions,
    session_record,
)
from bontrack.treatments.records import Point, SessionStatus, total_units


@dataclass(frozen=True, slots=True)
class PlannedPoint:
    """One point of the plan, in the plan's order (``n``), with the mL it takes from the chosen
    reconstituted vial (None without one) and whether a finding names its site and side."""

    n: int
    site: str
    side: str
    units: Decimal
    route: str | None
    volume: Volume | None
    flagged: bool


@dataclass(frozen=True, slots=True)
class Reconstituted:
    """The chosen reconstituted vial's arithmetic for the plan."""

    concentration: Concentration
    total_volume: Volume
    vials: int
    size: Decimal
    leftover: Decimal  # units discarded from the vials needed


@dataclass(frozen=True, slots=True)
class VialsNeeded:
    """A chosen vial not reconstituted yet: how many of its size the plan needs."""

    vials: int
    size: Decimal


@dataclass(frozen=True, slots=True)
class VialCount:
    size: Decimal  # units per vial
    count: int


@dataclass(frozen=True, slots=True)
class StockChoice:
    """Whole unopened vials that cover the plan, largest size first, and what they discard."""

    vials: tuple[VialCount, ...]
    leftover: Decimal


@dataclass(frozen=True, slots=True)
class FromStock:
    """Which unopened vials in stock to reconstitute for the plan: one combination recommended
    (the least discarded, then the fewest vials) and up to three alternatives, from the sizes the
    clinic holds (unexpired, not recalled); or that the stock is short."""

    recommended: StockChoice | None
    alternatives: tuple[StockChoice, ...]
    in_stock: Decimal  # units held in unopened vials
    short_of_stock: bool
    sizes: tuple[VialCount, ...]  # unopened vials held, largest size first


@dataclass(frozen=True, slots=True)
class OpenedVial:
    """A reconstituted vial the plan may use."""

    vial: Vial
    chosen: bool
    use_by: datetime
    past: bool  # its use-by time has passed
    concentration: Concentration | None


@dataclass(frozen=True, slots=True)
class UnopenedLot:
    """A lot with unopened vials the plan may use: the label's dilutions for its vial size, and
    a starting value for the saline (the label's dilution that puts the plan's most common dose
    in 0.1 mL, else the middle one of the label's list)."""

    lot: Lot
    count: int
    dilutions: tuple[Decimal, ...]
    suggested_ml: Decimal


@dataclass(frozen=True, slots=True)
class PlannedDraw:
    """What signing would draw from a chosen vial (B.30), and what the vial still holds."""

    vial: Vial
    units: Decimal
    holds: Decimal


@dataclass(frozen=True, slots=True)
class CheckedFinding:
    """A finding of the check at the injection time, the decision taken on it so far, and the
    words with which it would refuse the signature ("" when it would not)."""

    finding: StoredFinding
    decision: FindingDecision | None
    refusal: str


@dataclass(frozen=True, slots=True)
class PlanWorkspace:
    """The plan as the API's session read gives it (``record``: points, total, status, chosen
    vials), with what the editor adds around it."""

    record: SessionRecord
    at: datetime  # the injection time the check ran at
    points: tuple[PlannedPoint, ...]
    verdict: str
    # Every finding that asked for a decision has one: the banner no longer says "Blocked".
    decided: bool
    findings: tuple[CheckedFinding, ...]
    check_error: str  # why the check could not run at that time
    catalog_version: str
    reconstituted: Reconstituted | None
    needed: VialsNeeded | None
    from_stock: FromStock
    opened: tuple[OpenedVial, ...]
    unopened: tuple[UnopenedLot, ...]
    chosen_other: tuple[Vial, ...]  # chosen vials not among the usable reconstituted ones
    draws: tuple[PlannedDraw, ...]
    draw_error: str  # why a chosen vial cannot be drawn
    # Something refuses the signature: a finding, the check itself or a chosen vial.
    unresolved: bool
    # A child treated by weight: the weight the check reads now (``record.weight`` is the one
    # stored at signing, none on a plan).
    weight: WeightUsed | None
    indication_sites: tuple[str, ...]

    @property
    def session(self) -> TreatmentSession:
        return self.record.session

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def total(self) -> Decimal:
        return self.record.total

    @property
    def flagged(self) -> frozenset[tuple[str, str]]:
        """The sites and sides a finding names."""
        return frozenset(
            (s.site, s.side) for checked in self.findings for s in checked.finding.sites
        )

    @property
    def consent_needed(self) -> bool:
        return any(checked.finding.rule == "consent" for checked in self.findings)

    @property
    def ready(self) -> bool:
        """Nothing refuses the signature, and there are points and draws to sign."""
        return not self.unresolved and bool(self.points) and bool(self.draws)


def vial_use_by(vial: Vial) -> datetime | None:
    """When a reconstituted vial's solution must be used by (its product's in-use hours); None
    before it is reconstituted, or for a product the catalog does not know."""
    product = catalog().products.get(vial.lot.product)
    if product is None or vial.reconstituted_at is None:
        return None
    return use_by(product, vial.reconstituted_at)


def protocols_for(product: str, indication: str) -> tuple[Protocol, ...]:
    """The catalog's protocols a plan of this product and indication may load."""
    return tuple(
        p
        for p in catalog().protocols.values()
        if p.product == product and indication in p.indications
    )


def planned_session(session_id: UUID | str) -> TreatmentSession:
    """A session the funnel already let through, with what the editor reads of it."""
    return (
        TreatmentSession.objects.select_related("patient", "clinic", "injector__user")
        .prefetch_related("injections", "events", "session_vials__vial__lot")
        .get(pk=session_id)
    )


def plan_workspace(actor: Actor, session_id: UUID | str, at: datetime) -> PlanWorkspace:
    """The workspace of a plan the caller has opened, with the check run at ``at``."""
    record = session_record(session_id, actor.membership.clinic_id)
    session = record.session
    cat = catalog()
    product = cat.products[session.product]
    points, total = record.points, record.total
    # The patient's sessions are read once, for the dose history and the verdicts' cycles.
    others = patient_sessions(session.patient)
    history = dose_history(others, session.clinic.time_zone, exclude=session.id)
    result, check_error = _check_at(session, at, history, _check_verdicts(session, others))
    decisions: dict[str, FindingDecision] = {}
    for d in (
        FindingDecision.objects.filter(clinic_id=session.clinic_id, session_id=session.pk)
        .select_related("by__user")
        .order_by("at", "id")
    ):
        decisions[d.fingerprint] = d
    refusals = services.unresolved_findings(session, result["findings"])
    findings = tuple(
        CheckedFinding(
            StoredFinding.parse(f),
            decisions.get(f["fingerprint"]),
            refusals.get(f["fingerprint"], ""),
        )
        for f in result["findings"]
    )
    flagged = {(s["site"], s["side"]) for f in result["findings"] for s in f["sites"]}
    chosen = [u.vial for u in session.session_vials.all()]
    reconstituted, needed = _vial_math(session, product, points, chosen)
    now = timezone.now()
    usable = inventory.usable_vials(
        actor,
        product=session.product,
        patient_id=session.patient_id,
        today=services.local_date(session.clinic.time_zone, now),
        now=now,
    )
    opened, unopened = _usable(product, usable, {str(v.id) for v in chosen}, points, now)
    opened_ids = {str(o.vial.id) for o in opened}
    draws, draw_error = _draw_preview(session, chosen, total, at)
    verdict = str(result["verdict"])
    indication = cat.indications.get(session.indication)
    return PlanWorkspace(
        record=record,
        at=at,
        points=tuple(
            PlannedPoint(
                n=n,
                site=p.site,
                side=p.side,
                units=p.units,
                route=p.route,
                volume=record.vials.volume_of_point(n),
                flagged=(p.site, p.side) in flagged,
            )
            for n, p in enumerate(points)
        ),
        verdict=verdict,
        decided=verdict in ("block", "warn") and not refusals and not check_error,
        findings=findings,
        check_error=check_error,
        catalog_version=str(result.get("catalog_version", session.catalog_version)),
        reconstituted=reconstituted,
        needed=needed,
        from_stock=_from_stock(product, total, unopened),
        opened=opened,
        unopened=unopened,
        chosen_other=tuple(v for v in chosen if str(v.id) not in opened_ids),
        draws=draws,
        draw_error=draw_error,
        unresolved=bool(refusals) or bool(check_error) or bool(draw_error),
        weight=_weight_read(session, total, history),
        indication_sites=tuple(indication.sites) if indication is not None else (),
    )


def _check_at(
    session: TreatmentSession,
    at: datetime,
    history: Sequence[HistoryEntry],
    verdicts: Sequence[Verdict],
) -> tuple[dict[str, Any], str]:
    """The check at the injection time (what signing will re-run: ``run_check``), with the
    consent rule; ``history`` and ``verdicts``: as the workspace read them."""
    try:
        chosen = [u.vial for u in session.session_vials.all()]
        vials = supply.domain_vials(session, chosen) if chosen else ()
        result = stored_result(
            run_check(session, at, vials=vials, history=history, verdicts=verdicts)
        )
    except ServiceError as error:
        return {"verdict": "block", "findings": [], "total_units": ""}, error.message
    day = services.local_date(session.clinic.time_zone, at)
    consent = services.consent_finding(session, day)
    if consent is not None:
        result["findings"].insert(0, consent)
        result["verdict"] = "block"
    return result, ""


def _check_verdicts(session: TreatmentSession, rows: SessionRows) -> tuple[Verdict, ...]:
    """``outcomes.verdicts.check_verdicts`` for the session's patient and indication, with the
    cycles counted from the patient's sessions already read: the latest verdict per series
    that no standing decision continues despite."""
    scope = {
        "clinic_id": session.clinic_id,
        "patient_id": session.patient_id,
        "indication": session.indication,
    }
    counted = [
        Counted(s.id, s.patient_id, s.indication, s.plan_date)
        for s in rows.sessions
        if s.is_signed
        and s.indication == session.indication
        and rows.statuses[s.id] != SessionStatus.ENTERED_IN_ERROR
    ]
    verdicts, _, _ = judge_patient(
        counting_readings(session.clinic_id).filter(**scope),
        counted,
        ContinueDespiteVerdict.objects.filter(**scope).select_related("decided_by__user"),
    )
    return tuple(
        verdict
        for v in verdicts
        if v.continued is None and (verdict := domain_verdict(v.verdict)) is not None
    )


def _injections(product: str, points: Sequence[Point]) -> tuple[Injection, ...]:
    return tuple(Injection(p.site, p.side, Units(product, p.units), p.route) for p in points)


def _vial_math(
    session: TreatmentSession, product: Product, points: Sequence[Point], chosen: Sequence[Vial]
) -> tuple[Reconstituted | None, VialsNeeded | None]:
    """The first chosen reconstituted vial of the plan's product gives the concentration and the
    vials needed (the mL per point are the session read's); a chosen unopened one, the vials
    needed."""
    opened = [v for v in chosen if v.diluent_ml is not None and v.lot.product == session.product]
    if opened:
        vial = opened[0]
        size = Units(product.code, vial.lot.vial_size_units)
        done = reconstitute(
            product,
            size,
            Volume(vial.diluent_ml),
            _injections(session.product, points),
            vial.reconstituted_at,
        )
        found = Reconstituted(
            concentration=done.concentration,
            total_volume=done.total_volume,
            vials=done.vials,
            size=size.amount,
            leftover=done.leftover.amount,
        )
        return found, None
    if chosen and chosen[0].lot.product == session.product:
        size = Units(product.code, chosen[0].lot.vial_size_units)
        total = Units(session.product, total_units(points))
        return None, VialsNeeded(vials_needed(total, size), size.amount)
    return None, None


def _usable(
    product: Product,
    usable: Iterable[Vial],
    chosen: set[str],
    points: Sequence[Point],
    now: datetime,
) -> tuple[tuple[OpenedVial, ...], tuple[UnopenedLot, ...]]:
    """The usable reconstituted vials, and the lots of the unopened ones in the order their
    first vial came."""
    opened = []
    lots: dict[Any, tuple[Lot, int]] = {}
    for v in usable:
        if v.reconstituted_at is not None:
            until = use_by(product, v.reconstituted_at)
            opened.append(
                OpenedVial(
                    vial=v,
                    chosen=str(v.id) in chosen,
                    use_by=until,
                    past=until <= now,
                    concentration=vial_concentration(
                        product,
                        Units(product.code, v.lot.vial_size_units),
                        Volume(v.diluent_ml),
                    )
                    if v.diluent_ml is not None
                    else None,
                )
            )
        else:
            lot, count = lots.get(v.lot_id, (v.lot, 0))
            lots[v.lot_id] = (lot, count + 1)
    unopened = []
    for lot, count in lots.values():
        size = Decimal(lot.vial_size_units)
        listed = listed_dilutions(product, Units(product.code, size))
        unopened.append(
            UnopenedLot(
                lot=lot,
                count=count,
                dilutions=tuple(listed),
                suggested_ml=_suggest_saline(product, size, listed, points),
            )
        )
    return tuple(opened), tuple(unopened)


def _suggest_saline(
    product: Product, size: Decimal, listed: list[Decimal], points: Sequence[Point]
) -> Decimal:
    """A starting value for the saline field: the label's dilution that puts the plan's most
    common dose in 0.1 mL, else the middle one of the label's list (the clinician may change it)."""
    if not listed:
        return Decimal(0) if product.form == "solution" else Decimal(2)
    doses = [p.units for p in points]
    if doses:
        common = max(set(doses), key=doses.count)
        for ml in listed:
            per_tenth = vial_concentration(product, Units(product.code, size), Volume(ml))
            if per_tenth.per_tenth_ml.amount == common:
                return ml
    return listed[len(listed) // 2]


def _choice(combination: VialCombination) -> StockChoice:
    return StockChoice(
        vials=tuple(VialCount(size.amount, n) for size, n in combination.vials),
        leftover=combination.leftover.amount,
    )


def _from_stock(product: Product, total: Decimal, unopened: Sequence[UnopenedLot]) -> FromStock:
    stock: dict[Units, int] = {}
    for row in unopened:
        size = Units(product.code, Decimal(row.lot.vial_size_units))
        stock[size] = stock.get(size, 0) + row.count
    combinations = vial_combinations(Units(product.code, total), stock)
    held = sum((size.amount * n for size, n in stock.items()), Decimal(0))
    return FromStock(
        recommended=_choice(combinations[0]) if combinations else None,
        alternatives=tuple(_choice(c) for c in combinations[1:4]),
        in_stock=held,
        short_of_stock=total > 0 and not combinations,
        sizes=tuple(VialCount(size.amount, n) for size, n in sorted(stock.items(), reverse=True)),
    )


def _draw_preview(
    session: TreatmentSession, chosen: Sequence[Vial], total: Decimal, at: datetime
) -> tuple[tuple[PlannedDraw, ...], str]:
    """What signing at ``at`` would draw from each chosen vial (B.30), shown and editable before
    signing; or why a chosen vial cannot be drawn."""
    if not chosen:
        return (), ""
    try:
        settled = supply.settle_draws(session, chosen, {}, total=total, at=at, field="vials")
    except ServiceError as error:
        return (), error.message
    draws = []
    for (vial, units), value in zip(settled.draws, settled.values, strict=True):
        before = value.drawn_before.amount if value.drawn_before is not None else Decimal(0)
        draws.append(PlannedDraw(vial, units, Decimal(vial.lot.vial_size_units) - before))
    return tuple(draws), ""


def _weight_read(
    session: TreatmentSession, total: Decimal, history: Sequence[HistoryEntry]
) -> WeightUsed | None:
    """A child treated by weight: the weight the check reads and the plan's units per kg (as
    ``services.weight_used`` gives it, from the history the workspace read; whether a
    weight-based dose rule applies depends on the points, never on the vials)."""
    patient = patient_values(session.patient, session.plan_date)
    if patient.weight_kg is None or not requires_weight(
        plan_values(session, vials=()), patient, history
    ):
        return None
    kg = Decimal(patient.weight_kg)
    return WeightUsed(kg, patient.weight_measured_on, services.units_per_kg(total, kg))

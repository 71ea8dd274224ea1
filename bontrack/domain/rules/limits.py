"""Dose figures from the catalog: per point, per muscle, per limb, per visit and per window.

One function per measure adds up the doses a limit reads; ``limit_findings`` compares them with the
limit's figure (the lower of its fixed and per-kg bounds, B.15) and words the finding. The same
code serves cumulative-dose, weight-based-dose, period-limit, session-total, site-limit,
muscle-range and off-label dose figures: which family a figure feeds is catalog data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bontrack.domain.catalog.model import Limit, Measure, MuscleDose, Severity
from bontrack.domain.quantities import Concentration, Volume
from bontrack.domain.rules.findings import CheckContext, Finding, finding, u, where
from bontrack.domain.treatment import HistoryEntry, Injection
from bontrack.domain.units import format_decimal


class MissingWeightError(ValueError):
    """A weight-based rule applies to this child and no weight was given (B.9)."""


@dataclass(frozen=True)
class Bound:
    """The figure a limit allows for this patient, and the words that explain it."""

    units: Decimal
    words: str


def bound_of(limit: Limit, weight: Decimal | None) -> Bound:
    fixed = limit.max_units
    per_kg = limit.max_units_per_kg
    if per_kg is None:
        assert fixed is not None
        return Bound(fixed, u(fixed))
    if weight is None:
        raise MissingWeightError(limit.id)
    by_weight = per_kg * weight
    words = f"{format_decimal(per_kg)} U/kg × {format_decimal(weight)} kg = {u(by_weight)}"
    if fixed is None:
        return Bound(by_weight, words)
    if by_weight <= fixed:
        return Bound(by_weight, f"the lower of {words} and {u(fixed)}: the per-kg bound binds")
    return Bound(fixed, f"the lower of {words} and {u(fixed)}: the {u(fixed)} cap binds")


def applies(ctx: CheckContext, limit: Limit) -> bool:
    return (
        limit.product == ctx.plan.product
        and ctx.population_matches(limit.population)
        and (not limit.indications or ctx.plan.indication in limit.indications)
    )


def _in_scope(ctx: CheckContext, limit: Limit, injection: Injection) -> bool:
    if limit.sites and injection.site not in limit.sites:
        return False
    return not limit.regions or ctx.catalog.sites[injection.site].region in limit.regions


def _counted_entries(ctx: CheckContext, limit: Limit) -> list[HistoryEntry]:
    entries = ctx.same_visit if limit.measure is Measure.VISIT else ctx.same_product_history
    if limit.window_days is not None:
        # B.1, B.2: a dose counts when given fewer than window_days days before the plan date;
        # B.20, B.27: every dose of the product counts toward a window, whatever its indication.
        entries = tuple(e for e in entries if e.days_before(ctx.day) < limit.window_days)
    elif limit.indications:
        # An indication's per-session figure (Daxxify glabellar 40 U) reads that indication's
        # doses of the visit (B.13); a product-wide one (Dysport 1,500 U) reads them all.
        entries = tuple(e for e in entries if e.indication in limit.indications)
    return sorted(entries, key=lambda e: e.date)


def weight_needed(ctx: CheckContext) -> bool:
    """Whether any weight-based figure applies to this plan (B.9: then a weight is required)."""
    if not ctx.is_child:
        return False
    for limit in ctx.catalog.limits:
        if limit.weight_based and applies(ctx, limit):
            if limit.measure in (Measure.WINDOW, Measure.VISIT, Measure.PLAN):
                return True
            if any(_in_scope(ctx, limit, i) for i in _visit_injections(ctx)):
                return True
    return any(
        dose.per_kg_max is not None and _muscle_dose_applies(ctx, dose, injection.site)
        for injection in ctx.injections
        for dose in ctx.catalog.muscle_doses
    )


def _visit_injections(ctx: CheckContext) -> tuple[Injection, ...]:
    earlier = tuple(i for e in ctx.same_visit for i in e.injections)
    return earlier + ctx.injections


def _grouped(
    injections: tuple[Injection, ...], key: str
) -> Iterator[tuple[tuple[str, ...], list[Injection]]]:
    groups: dict[tuple[str, ...], list[Injection]] = defaultdict(list)
    for injection in injections:
        if key == "muscle":
            groups[(injection.site, injection.side)].append(injection)
        else:
            groups[(injection.site,)].append(injection)
    yield from groups.items()


def _sum(injections: list[Injection]) -> Decimal:
    return sum((i.units.amount for i in injections), Decimal(0))


def limit_findings(ctx: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    for limit in ctx.catalog.limits:
        if applies(ctx, limit):
            findings.extend(_check_limit(ctx, limit))
    findings.extend(muscle_dose_findings(ctx))
    return findings


def _check_limit(ctx: CheckContext, limit: Limit) -> list[Finding]:
    measure = limit.measure
    if measure is Measure.POINT:
        return _points(ctx, limit)
    if measure in (Measure.MUSCLE, Measure.MUSCLE_BOTH_SIDES):
        return _muscles(ctx, limit)
    if measure in (Measure.LIMB, Measure.REGION):
        return _limbs(ctx, limit)
    if measure is Measure.PLAN:
        return _plan_total(ctx, limit)
    return _accumulated(ctx, limit)


def _label(limit: Limit, bound: Bound) -> str:
    """'Label: <what the figure is>', with the per-kg arithmetic where a weight decided it."""
    text = f"Label: {limit.description}."
    if limit.max_units_per_kg is not None:
        text += f" Allowed for this patient: {bound.words}."
    return text


def _later_windows(ctx: CheckContext, limit: Limit) -> list[tuple[date, list[HistoryEntry]]]:
    """B.37: late charting. Each dose of the product dated after the plan date, fewer than
    ``window_days`` days after it, ends a window that also contains the plan date; the doses in
    that window are what the plan joins there."""
    assert limit.window_days is not None
    days = limit.window_days
    later = sorted(
        {
            e.date
            for e in ctx.history
            if e.product == ctx.plan.product and 0 < (e.date - ctx.day).days < days
        }
    )
    windows = []
    for end in later:
        inside = [
            e
            for e in ctx.history
            if e.product == ctx.plan.product and 0 <= (end - e.date).days < days
        ]
        windows.append((end, sorted(inside, key=lambda e: e.date)))
    return windows


def _accumulated(ctx: CheckContext, limit: Limit) -> list[Finding]:
    """Window and visit limits: earlier doses of the product plus the plan (B.1, B.13, B.20);
    a window limit reads the worst window that contains the plan date, later doses included
    (B.37)."""
    if ctx.total.amount == 0:
        return []
    end = ctx.day
    entries = _counted_entries(ctx, limit)
    if limit.measure is Measure.WINDOW:
        for later_end, inside in _later_windows(ctx, limit):
            if _sum_units(inside) > _sum_units(entries):
                end, entries = later_end, inside
    total = _sum_units(entries) + ctx.total.amount
    bound = bound_of(limit, ctx.weight)
    if total <= bound.units:
        return []
    product = ctx.plan.product
    if limit.measure is Measure.WINDOW:
        span = f"in the {limit.window_days} days up to {end.isoformat()}"
    else:
        span = f"on {ctx.day.isoformat()} (one visit)"
    parts = [f"{u(e.units)} on {e.date.isoformat()} for {e.indication}" for e in entries]
    given = f"{', '.join(parts)} + " if entries else ""
    message = (
        f"{product} {u(total)} {span} would exceed {u(bound.units)}: {given}{u(ctx.total)} "
        f"planned; over by {u(total - bound.units)}. "
    )
    later = [e for e in entries if e.date > ctx.day]
    if later:
        doses = ", ".join(f"{u(e.units)} on {e.date.isoformat()}" for e in later)
        message += (
            f"This plan, dated {ctx.day.isoformat()}, comes before doses already recorded "
            f"({doses}); the {limit.window_days} days up to {end.isoformat()} contain them all. "
        )
    message += _label(limit, bound)
    return [finding(limit.rule, limit.severity, message, limit.cite)]


def _sum_units(entries: Iterable[HistoryEntry]) -> Decimal:
    return sum((e.units.amount for e in entries), Decimal(0))


def _plan_total(ctx: CheckContext, limit: Limit) -> list[Finding]:
    bound = bound_of(limit, ctx.weight)
    if ctx.total.amount <= bound.units:
        return []
    words = "an off-label dose" if limit.rule == "off-label" else "above the label's figure"
    message = f"{u(ctx.total)} planned is above {u(bound.units)}: {words}. {_label(limit, bound)}"
    return [finding(limit.rule, limit.severity, message, limit.cite)]


def _points(ctx: CheckContext, limit: Limit) -> list[Finding]:
    over: list[Injection] = []
    details: list[str] = []
    if limit.max_ml is not None:
        concentration = _weakest_concentration(ctx)
        if concentration is None:
            return []  # B.23: the volume rule runs only where a vial gives the concentration
        for injection in ctx.injections:
            if not _in_scope(ctx, limit, injection):
                continue
            volume = concentration.volume_for(injection.units).rounded()
            if volume.ml > limit.max_ml:
                over.append(injection)
                details.append(f"{where(injection)} {u(injection.units)} = {volume}")
        figure = f"{format_decimal(limit.max_ml)} mL at {concentration}"
        bound = None
    else:
        scoped = [i for i in ctx.injections if _in_scope(ctx, limit, i)]
        if not scoped:
            return []
        bound = bound_of(limit, ctx.weight)
        for injection in scoped:
            if injection.units.amount > bound.units:
                over.append(injection)
                details.append(f"{where(injection)} {u(injection.units)}")
        figure = bound.words
    if not over:
        return []
    count = "1 injection point is" if len(over) == 1 else f"{len(over)} injection points are"
    label = f"Label: {limit.description}." if bound is None else _label(limit, bound)
    message = f"{count} above {figure} per point: {', '.join(details)}. {label}"
    return [finding(limit.rule, limit.severity, message, limit.cite, over)]


def _weakest_concentration(ctx: CheckContext) -> Concentration | None:
    """The most dilute of the plan's reconstituted vials: the largest volume per unit."""
    from bontrack.domain.planning import vial_concentration

    found = [
        vial_concentration(ctx.product, vial.size, Volume(vial.diluent_ml))
        for vial in ctx.plan.vials
        if vial.size.product == ctx.plan.product  # another product's vial is a product mismatch
        and vial.diluent_ml is not None
        and (vial.diluent_ml > 0 or ctx.product.form == "solution")
    ]
    if not found:
        return None
    return min(found, key=lambda c: c.per_tenth_ml.amount)


def _muscles(ctx: CheckContext, limit: Limit) -> list[Finding]:
    key = "muscle" if limit.measure is Measure.MUSCLE else "both"
    scoped = tuple(i for i in ctx.injections if _in_scope(ctx, limit, i))
    if not scoped:
        return []
    bound = bound_of(limit, ctx.weight)
    findings = []
    for group, injections in _grouped(scoped, key):
        total = _sum(injections)
        if total <= bound.units:
            continue
        what = " ".join(group) if key == "muscle" else f"{group[0]} (both sides together)"
        if key == "muscle" and group[1] == "midline":
            what = group[0]
        words = "an off-label dose" if limit.rule == "off-label" else "above the label's figure"
        message = (
            f"{what}: {u(total)} planned is above {u(bound.units)}: {words}. {_label(limit, bound)}"
        )
        findings.append(finding(limit.rule, limit.severity, message, limit.cite, injections))
    return findings


def _limbs(ctx: CheckContext, limit: Limit) -> list[Finding]:
    scoped = [i for i in _visit_injections(ctx) if _in_scope(ctx, limit, i)]
    if not scoped:
        return []  # B.9: a limb figure with no point in its limb needs no weight
    bound = bound_of(limit, ctx.weight)
    groups: dict[str, list[Injection]] = defaultdict(list)
    for injection in scoped:
        region = ctx.catalog.sites[injection.site].region
        label = f"{region} {injection.side}" if limit.measure is Measure.LIMB else region
        groups[label].append(injection)
    findings = []
    for label, injections in groups.items():
        total = _sum(injections)
        if total <= bound.units:
            continue
        message = (
            f"{label.replace('-', ' ')}: {u(total)} in this visit is above {u(bound.units)}; "
            f"over by {u(total - bound.units)}. {_label(limit, bound)}"
        )
        planned = [i for i in injections if i in ctx.injections]
        findings.append(finding(limit.rule, limit.severity, message, limit.cite, planned))
    return findings


def _muscle_dose_applies(ctx: CheckContext, dose: MuscleDose, site: str) -> bool:
    return (
        dose.site == site
        and dose.product == ctx.plan.product
        and ctx.plan.indication in dose.indications
        and ctx.population_matches(dose.population)
    )


def muscle_dose_findings(ctx: CheckContext) -> list[Finding]:
    """B.26, B.27: a muscle (one site on one side) above its recommended range warns."""
    findings = []
    for (site, side), injections in _grouped(ctx.injections, "muscle"):
        total = _sum(injections)
        for dose in ctx.catalog.muscle_doses:
            if not _muscle_dose_applies(ctx, dose, site):
                continue
            if dose.per_kg_max is not None:
                if ctx.weight is None:
                    raise MissingWeightError(f"{dose.product} {site}")
                top = dose.per_kg_max * ctx.weight
                low = (dose.per_kg_min or Decimal(0)) * ctx.weight
                words = (
                    f"{format_decimal(dose.per_kg_min or Decimal(0))}–"
                    f"{format_decimal(dose.per_kg_max)} U/kg × {format_decimal(ctx.weight)} kg = "
                    f"{format_decimal(low)}–{u(top)}"
                )
            else:
                assert dose.units_max is not None
                top = dose.units_max
                low = dose.units_min or top
                words = u(top) if low == top else f"{format_decimal(low)}–{u(top)}"
            if total <= top:
                continue
            place = site if side == "midline" else f"{site} {side}"
            kind = (
                "literature range (not a label limit)"
                if dose.cite.tag.value in ("OFF", "U")
                else "recommended range"
            )
            points = f" in {dose.points} sites" if dose.points else ""
            message = (
                f"{place}: {u(total)} planned is above the {kind} for {ctx.plan.indication}"
                f" ({words}{points})."
            )
            findings.append(finding("muscle-range", Severity.WARN, message, dose.cite, injections))
    return findings

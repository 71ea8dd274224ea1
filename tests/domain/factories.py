"""Small builders for domain tests: plans, points, patients, history, vials and injectors.

Every builder defaults to a fixed date (plan date 2026-11-25, needle in at 10:00 UTC) so that
tests never read the clock, and to the catalog's own codes (codes.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from bontrack.domain.catalog import catalog
from bontrack.domain.check import CheckResult, evaluate
from bontrack.domain.planning import expand_protocol
from bontrack.domain.rules.findings import Finding
from bontrack.domain.treatment import (
    HistoryEntry,
    InfectedSite,
    Injection,
    Injector,
    Patient,
    Plan,
    Verdict,
    Vial,
)
from bontrack.domain.units import Units

DAY = dt.date(2026, 11, 25)
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)

ONA = "onabotulinumtoxinA"
ABO = "abobotulinumtoxinA"
INCO = "incobotulinumtoxinA"
RIMA = "rimabotulinumtoxinB"
PRABO = "prabotulinumtoxinA"
DAXI = "daxibotulinumtoxinA"
LETI = "letibotulinumtoxinA"
PRODUCTS = (ONA, ABO, INCO, RIMA, PRABO, DAXI, LETI)

Number = int | str | Decimal


def dec(value: Number) -> Decimal:
    """A Decimal from an int or a string (never a float: 2.5 stays exact)."""
    if isinstance(value, float):
        raise TypeError("write amounts as int, str or Decimal, not float")
    return Decimal(value)


def units(amount: Number, product: str = ONA) -> Units:
    return Units(product, dec(amount))


def point(
    site: str, side: str, amount: Number, product: str = ONA, route: str | None = None
) -> Injection:
    """One injection point; the route defaults to the site's own (intradermal for axilla)."""
    chosen = route or catalog().sites[site].default_route
    return Injection(site=site, side=side, units=units(amount, product), route=chosen)


def points(
    site: str, side: str, amount: Number, count: int, product: str = ONA
) -> tuple[Injection, ...]:
    """``count`` identical points in one site on one side."""
    return tuple(point(site, side, amount, product) for _ in range(count))


def plan(
    product: str = ONA,
    indication: str = "chronic-migraine",
    injections: Iterable[Injection] | None = None,
    protocol: str | None = None,
    vials: Iterable[Vial] = (),
    day: dt.date = DAY,
) -> Plan:
    """A plan as `bontrack check` builds it: a protocol alone expands to its default points.

    With neither injections nor protocol, onabotulinumtoxinA for chronic migraine is PREEMPT 155.
    """
    if injections is None:
        if protocol is None:
            protocol = "preempt-155"
        listed = expand_protocol(catalog().protocols[protocol], product)
    else:
        listed = tuple(injections)
    return Plan(
        date=day,
        product=product,
        indication=indication,
        injections=listed,
        protocol=protocol,
        vials=tuple(vials),
    )


def birth_date_for(age_years: int, on: dt.date = DAY) -> dt.date:
    """The birth date of someone who turns ``age_years`` exactly on ``on``."""
    try:
        return on.replace(year=on.year - age_years)
    except ValueError:  # 29 February in a year without one
        return on.replace(year=on.year - age_years, day=28)


def patient(
    age_years: int = 45,
    on: dt.date = DAY,
    weight: Number | None = None,
    weight_measured_on: dt.date | None = None,
    *,
    birth_date: dt.date | None = None,
    pregnant: bool = False,
    breastfeeding: bool = False,
    conditions: Iterable[str] = (),
    medications: Iterable[str] = (),
    allergies: Iterable[str] = (),
    infected_sites: Iterable[InfectedSite | str | tuple[str, str]] = (),
) -> Patient:
    """A patient who is ``age_years`` on ``on`` (their birthday), or born on ``birth_date``.

    An infected site is a site code (every side), a (site, side) pair or an ``InfectedSite``.
    """
    infected = []
    for item in infected_sites:
        if isinstance(item, InfectedSite):
            infected.append(item)
        elif isinstance(item, str):
            infected.append(InfectedSite(item))
        else:
            infected.append(InfectedSite(item[0], item[1]))
    return Patient(
        birth_date=birth_date or birth_date_for(age_years, on),
        weight_kg=None if weight is None else dec(weight),
        weight_measured_on=weight_measured_on,
        pregnant=pregnant,
        breastfeeding=breastfeeding,
        conditions=tuple(conditions),
        medications=tuple(medications),
        allergies=tuple(allergies),
        infected_sites=tuple(infected),
    )


def child(
    age_years: int = 8, weight: Number | None = 20, weight_measured_on: dt.date | None = None
) -> Patient:
    """A child (B.9: under 18 on the plan date), 20 kg unless told otherwise."""
    return patient(age_years=age_years, weight=weight, weight_measured_on=weight_measured_on)


def history(
    days_before: int,
    product: str = ONA,
    indication: str = "chronic-migraine",
    amount: Number = 155,
    plan_day: dt.date = DAY,
    injections: Iterable[Injection] = (),
    *,
    administered_at: dt.datetime | None = None,
    by: str | None = None,
) -> HistoryEntry:
    """An earlier session ``days_before`` days before the plan date (negative: after it, late
    charting, B.37), with its total."""
    return HistoryEntry(
        date=plan_day - dt.timedelta(days=days_before),
        product=product,
        indication=indication,
        units=units(amount, product),
        injections=tuple(injections),
        administered_at=administered_at,
        injector=by,
    )


def vial(
    size: Number,
    product: str = ONA,
    diluent_ml: Number | None = None,
    reconstituted_at: dt.datetime | None = None,
    lot: str | None = None,
    lot_expires: dt.date | None = None,
    recalled: bool | None = None,
    *,
    drawn_before: Number | None = None,
    draw: Number | None = None,
    label: str | None = None,
) -> Vial:
    """A vial; ``drawn_before`` is what earlier sessions drew, ``draw`` what this plan draws."""
    return Vial(
        size=units(size, product),
        diluent_ml=None if diluent_ml is None else dec(diluent_ml),
        reconstituted_at=reconstituted_at,
        lot=lot,
        lot_expires=lot_expires,
        recalled=recalled,
        drawn_before=None if drawn_before is None else units(drawn_before, product),
        draw=None if draw is None else units(draw, product),
        label=label,
    )


def injector(
    credentials: Iterable[str] = ("physician",),
    indications: Iterable[str] = ("chronic-migraine",),
    supervised_by: str | None = None,
) -> Injector:
    return Injector(
        credentials=tuple(credentials),
        indications=tuple(indications),
        supervised_by=supervised_by,
    )


def check(
    the_plan: Plan | None = None,
    the_patient: Patient | None = None,
    the_history: Iterable[HistoryEntry] = (),
    the_injector: Injector | None = None,
    now: dt.datetime = NOW,
    *,
    verdicts: Iterable[Verdict] = (),
    at_signing: bool = False,
) -> CheckResult:
    """``evaluate`` with defaults: PREEMPT 155 for a 45-year-old with no history."""
    return evaluate(
        the_plan if the_plan is not None else plan(),
        the_patient if the_patient is not None else patient(),
        tuple(the_history),
        the_injector,
        now,
        verdicts=tuple(verdicts),
        at_signing=at_signing,
    )


def of_rule(result: CheckResult, rule: str) -> list[Finding]:
    """The findings of one rule id."""
    return [f for f in result.findings if f.rule == rule]


def only(result: CheckResult, rule: str) -> Finding:
    """The one finding of ``rule``; fails with the whole list when there is not exactly one."""
    found = of_rule(result, rule)
    assert len(found) == 1, f"expected one {rule} finding, got {result.findings!r}"
    return found[0]


def rules(result: CheckResult) -> set[str]:
    return {f.rule for f in result.findings}


def sites_of(finding: Finding) -> set[tuple[str, str]]:
    return {(s.site, s.side) for s in finding.sites}


def glabellar_plan(product: str) -> Plan:
    """The product's own labelled glabellar protocol (B.10); Myobloc has none, so it gets a
    cervical dystonia plan of 2,500 U instead."""
    protocols = {
        ONA: "glabellar-20",
        ABO: "glabellar-dysport-50",
        INCO: "glabellar-xeomin-20",
        PRABO: "glabellar-jeuveau-20",
        DAXI: "glabellar-daxxify-40",
        LETI: "glabellar-letybo-20",
    }
    if product == RIMA:
        return plan(
            product=RIMA,
            indication="cervical-dystonia",
            injections=[
                point("sternocleidomastoid", "left", 1000, RIMA),
                point("splenius-capitis", "right", 1500, RIMA),
            ],
        )
    return plan(
        product=product,
        indication="glabellar-lines",
        protocol=protocols[product],
    )

"""Findings, the context every rule reads, and the verdict they add up to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property

from bontrack.domain.catalog.model import Catalog, Citation, Population, Product, Severity, Tag
from bontrack.domain.treatment import HistoryEntry, Injection, Injector, Patient, Plan, Verdict
from bontrack.domain.units import Units, format_decimal

# B.7: dose and window limits may be overridden by a prescriber with a written reason, and so may
# a repeat visit (B.31); nothing else (``supply`` is arithmetic, not judgement: B.30).
OVERRIDABLE_RULES = frozenset(
    {
        "cumulative-dose",
        "weight-based-dose",
        "period-limit",
        "session-total",
        "site-limit",
        "muscle-range",
        "repeat-visit",
    }
)


@dataclass(frozen=True, slots=True)
class SiteRef:
    site: str
    side: str


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    overridable: bool
    message: str
    source: str
    sites: tuple[SiteRef, ...] = ()

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.severity.rank, self.rule)


def finding(
    rule: str,
    severity: Severity,
    message: str,
    cite: Citation | Iterable[Citation] | str,
    sites: Iterable[SiteRef | Injection] = (),
) -> Finding:
    """Build a finding; overridability follows B.7 and is never granted to a warning.

    ``cite`` is the catalog's citation, or the source text itself where the input carries it
    (a response verdict's source, B.32)."""
    cites = [] if isinstance(cite, str) else [cite] if isinstance(cite, Citation) else list(cite)
    if severity is Severity.BLOCK and any(c.confirm for c in cites):
        message += " (label text still to be confirmed)"
    refs: list[str] = [cite] if isinstance(cite, str) else []
    for c in cites:
        text = c.text()
        if text not in refs:
            refs.append(text)
    unique: list[SiteRef] = []
    for s in sites:
        ref = s if isinstance(s, SiteRef) else SiteRef(s.site, s.side)
        if ref not in unique:
            unique.append(ref)
    return Finding(
        rule=rule,
        severity=severity,
        overridable=severity is Severity.BLOCK and rule in OVERRIDABLE_RULES,
        message=message,
        source=" | ".join(refs),
        sites=tuple(unique),
    )


def merged(cites: Iterable[Citation]) -> Citation:
    """One citation for several facts of one table: every reference, the least certain tag."""
    items = list(cites)
    order = [Tag.LABEL, Tag.SECONDARY, Tag.RECALLED, Tag.UNCERTAIN, Tag.OFF_LABEL]
    refs = tuple(dict.fromkeys(r for c in items for r in c.refs))
    pairs = {
        p: n
        for c in items
        for p, n in zip(c.policies, c.policy_numbers or ("",) * len(c.policies), strict=True)
    }
    tag = max((c.tag for c in items), key=order.index)
    return Citation(
        refs=refs,
        tag=tag,
        policies=tuple(pairs),
        policy_numbers=tuple(pairs.values()) if any(pairs.values()) else (),
        policy_first=any(c.policy_first for c in items),
    )


def verdict_of(findings: Iterable[Finding]) -> str:
    severities = {f.severity for f in findings}
    if Severity.BLOCK in severities:
        return "block"
    if Severity.WARN in severities:
        return "warn"
    return "ok"


def u(amount: Decimal | Units) -> str:
    """A dose as clinicians write it: '155 U'."""
    value = amount.amount if isinstance(amount, Units) else amount
    return f"{format_decimal(value)} U"


def where(injection: Injection | SiteRef) -> str:
    return injection.site if injection.side == "midline" else f"{injection.site} {injection.side}"


@dataclass(frozen=True)
class CheckContext:
    """Everything one check reads, with the derived values several rules share."""

    plan: Plan
    patient: Patient
    history: tuple[HistoryEntry, ...]
    injector: Injector | None
    now: datetime
    catalog: Catalog
    verdicts: tuple[Verdict, ...] = ()
    # The records path signing a session: a session is signed with at least one vial (B.30).
    at_signing: bool = False

    @property
    def day(self) -> date:
        return self.plan.date

    @cached_property
    def product(self) -> Product:
        return self.catalog.products[self.plan.product]

    @cached_property
    def age(self) -> int:
        return self.patient.age_on(self.plan.date)

    @property
    def is_child(self) -> bool:
        return self.age < 18

    def population_matches(self, population: Population) -> bool:
        if population is Population.ANY:
            return True
        return (population is Population.CHILD) == self.is_child

    @cached_property
    def injections(self) -> tuple[Injection, ...]:
        """The planned points in the plan's own product (a point of another product is a
        product mismatch and adds nothing)."""
        return tuple(i for i in self.plan.injections if i.units.product == self.plan.product)

    @cached_property
    def total(self) -> Units:
        result = Units.zero(self.plan.product)
        for injection in self.injections:
            result = result + injection.units
        return result

    @cached_property
    def same_product_history(self) -> tuple[HistoryEntry, ...]:
        return tuple(
            h for h in self.history if h.product == self.plan.product and h.date <= self.plan.date
        )

    @cached_property
    def same_visit(self) -> tuple[HistoryEntry, ...]:
        """B.13: earlier entries on the plan date with the plan's product are this visit."""
        return tuple(h for h in self.same_product_history if h.date == self.plan.date)

    @property
    def weight(self) -> Decimal | None:
        return self.patient.weight_kg

"""The safety check: a plan, its patient, their history, the injector and the time, in; a verdict
and the findings that ask for a clinician's attention, out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bontrack.domain.catalog import catalog as packaged_catalog
from bontrack.domain.catalog.model import Catalog
from bontrack.domain.rules.findings import CheckContext, Finding, verdict_of
from bontrack.domain.rules.intervals import (
    mixed_product_findings,
    repeat_visit_findings,
    retreatment_findings,
)
from bontrack.domain.rules.limits import MissingWeightError, limit_findings, weight_needed
from bontrack.domain.rules.patient import (
    contraindication_findings,
    off_label_findings,
    precaution_findings,
    weight_currency_findings,
)
from bontrack.domain.rules.response import response_findings
from bontrack.domain.rules.scope import injector_scope_findings
from bontrack.domain.rules.supply import (
    lot_findings,
    product_mismatch_findings,
    reconstitution_findings,
    supply_findings,
)
from bontrack.domain.treatment import HistoryEntry, Injector, Patient, Plan, Verdict
from bontrack.domain.units import Units

__all__ = ["CheckResult", "MissingWeightError", "evaluate", "requires_weight"]

RULE_FAMILIES: tuple[Callable[[CheckContext], list[Finding]], ...] = (
    product_mismatch_findings,
    limit_findings,
    weight_currency_findings,
    retreatment_findings,
    repeat_visit_findings,
    mixed_product_findings,
    contraindication_findings,
    precaution_findings,
    off_label_findings,
    lot_findings,
    reconstitution_findings,
    supply_findings,
    injector_scope_findings,
    response_findings,
)


@dataclass(frozen=True)
class CheckResult:
    verdict: str
    product: str
    total: Units
    findings: tuple[Finding, ...]
    catalog_version: str


def _context(
    plan: Plan,
    patient: Patient,
    history: Sequence[HistoryEntry],
    injector: Injector | None,
    now: datetime,
    catalog: Catalog | None,
    verdicts: Sequence[Verdict] = (),
    at_signing: bool = False,
) -> CheckContext:
    return CheckContext(
        plan=plan,
        patient=patient,
        history=tuple(history),
        injector=injector,
        now=now,
        catalog=catalog or packaged_catalog(),
        verdicts=tuple(verdicts),
        at_signing=at_signing,
    )


def requires_weight(
    plan: Plan,
    patient: Patient,
    history: Sequence[HistoryEntry] = (),
    catalog: Catalog | None = None,
) -> bool:
    """B.9: whether a weight-based rule applies, so that the plan cannot be checked without one."""
    # Whether a weight is needed depends on no time of day: any aware time will do.
    ctx = _context(plan, patient, history, None, datetime.min.replace(tzinfo=UTC), catalog)
    return weight_needed(ctx)


def evaluate(
    plan: Plan,
    patient: Patient,
    history: Sequence[HistoryEntry],
    injector: Injector | None,
    now: datetime,
    catalog: Catalog | None = None,
    *,
    verdicts: Sequence[Verdict] = (),
    at_signing: bool = False,
) -> CheckResult:
    """Run every rule family that a plan alone can decide (all but consent, DESIGN 3.2).

    ``history`` may hold sessions dated after the plan on the records path (late charting, B.37):
    the window rules count them; the stateless input refuses them (B.35). ``verdicts`` are the
    patient's latest response verdicts (B.32); ``at_signing`` asks for a vial (B.30).

    Raises ``MissingWeightError`` when a weight-based rule applies and the patient has no weight:
    the edges validate that first, so that it reaches the user as invalid input (B.9).
    """
    ctx = _context(plan, patient, history, injector, now, catalog, verdicts, at_signing)
    findings = [f for rule in RULE_FAMILIES for f in rule(ctx)]
    findings.sort(key=lambda f: f.sort_key)
    return CheckResult(
        verdict=verdict_of(findings),
        product=plan.product,
        total=ctx.total,
        findings=tuple(findings),
        catalog_version=ctx.catalog.version,
    )

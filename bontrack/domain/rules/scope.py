"""Whether this injector may give this treatment (B.21): privileges are the clinic's data."""

from __future__ import annotations

from bontrack.domain.catalog.model import Severity
from bontrack.domain.rules.findings import CheckContext, Finding, finding


def injector_scope_findings(ctx: CheckContext) -> list[Finding]:
    injector = ctx.injector
    if injector is None:
        return []
    cite = ctx.catalog.rule_sources["injector-scope"].cite
    findings = []
    if ctx.plan.indication not in injector.indications:
        message = (
            f"This injector is not privileged for {ctx.plan.indication} in this clinic; the "
            "clinic admin grants privileges."
        )
        findings.append(finding("injector-scope", Severity.BLOCK, message, cite))
    credentials = ctx.catalog.credentials
    can_prescribe = any(
        credentials[c].can_prescribe for c in injector.credentials if c in credentials
    )
    if not can_prescribe and injector.supervised_by is None:
        held = ", ".join(injector.credentials) or "no credential"
        message = (
            f"The injector ({held}) cannot prescribe and has no supervising prescriber: a "
            "registered nurse injects under a prescriber."
        )
        findings.append(finding("injector-scope", Severity.BLOCK, message, cite))
    return findings

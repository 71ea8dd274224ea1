"""A stop or non-responder verdict reaches the next plan (B.32)."""

from __future__ import annotations

from bontrack.domain.catalog.model import Severity
from bontrack.domain.rules.findings import CheckContext, Finding, finding

STOPPING_VERDICTS = ("stop", "non-responder")


def response_findings(ctx: CheckContext) -> list[Finding]:
    """One warning per series (indication, scale, muscle group) of the plan's indication whose
    latest verdict is ``stop`` or ``non-responder``.

    ``stop`` cites the verdict's own source (NICE TA260); ``non-responder`` says only what the
    scale's rule found and rests on bontrack policy, since no source recommends stopping for it
    (B.36). The words carry dates only, never a time, so that they read the same on every path.
    """
    policy = ctx.catalog.rule_sources["response"].cite.policy_text()
    findings = []
    for verdict in ctx.verdicts:
        if verdict.indication != ctx.plan.indication or verdict.verdict not in STOPPING_VERDICTS:
            continue
        scale = ctx.catalog.scales.get(verdict.scale)
        name = scale.label if scale is not None else verdict.scale
        series = f"{name} ({verdict.muscle_group})" if verdict.muscle_group else name
        found = (
            f"The latest {series} follow-up for {ctx.plan.indication} gives the verdict "
            f"{verdict.verdict}: {verdict.summary} (as of {verdict.as_of.isoformat()}"
        )
        if verdict.verdict == "stop":
            message = (
                f"{found}, {verdict.source}). Stopping is recommended: decide with the patient "
                "before treating again, and record a reason to continue despite this verdict."
            )
            source = f"{verdict.source}; {policy}" if verdict.source else policy
        else:
            message = (
                f"{found}). The scale's response definition was not met; review the treatment "
                "before giving it again."
            )
            source = (
                f"{policy}; response definition: {verdict.source}" if verdict.source else policy
            )
        findings.append(finding("response", Severity.WARN, message, source))
    return findings

"""What the patient brings: contraindications, precautions, the label's indications and ages,
and whether a child's weight is current."""

from __future__ import annotations

from bontrack.domain.catalog.model import Severity
from bontrack.domain.rules.findings import CheckContext, Finding, finding, where
from bontrack.domain.rules.limits import weight_needed

WEIGHT_CURRENT_DAYS = 90


def contraindication_findings(ctx: CheckContext) -> list[Finding]:
    product = ctx.product
    findings = []
    infected = [i for i in ctx.injections if any(s.covers(i) for s in ctx.patient.infected_sites)]
    if infected:
        places = ", ".join(dict.fromkeys(where(i) for i in infected))
        message = (
            f"Active infection at a planned injection site ({places}): injecting into an "
            "infected site is contraindicated."
        )
        findings.append(
            finding("contraindication", Severity.BLOCK, message, product.infection_cite, infected)
        )
    for allergy in ctx.patient.allergies:
        if allergy in ctx.catalog.products:
            if allergy == product.code:
                message = f"Hypersensitivity to {allergy}, the planned product: contraindicated."
            elif product.hypersensitivity_to_any_bont:
                message = (
                    f"Hypersensitivity to {allergy}: the {product.code} label contraindicates "
                    "hypersensitivity to any botulinum toxin preparation."
                )
            else:
                continue  # Myobloc's label names hypersensitivity to itself only (codes.md)
            findings.append(
                finding("contraindication", Severity.BLOCK, message, product.hypersensitivity_cite)
            )
            continue
        ingredient = product.contains(allergy)
        factor = ctx.catalog.factor("allergy", allergy)
        if ingredient is None or factor is None:
            continue
        severity = Severity.BLOCK if ingredient.cite.tag.may_block else Severity.WARN
        words = (
            "" if severity is Severity.BLOCK else " (whether the product contains it is uncertain)"
        )
        message = f"{factor.name}: {product.code} contains it{words}; {factor.message}."
        cites = [product.hypersensitivity_cite, ingredient.cite]
        findings.append(finding("contraindication", severity, message, cites))
    return findings


def precaution_findings(ctx: CheckContext) -> list[Finding]:
    """B.28: one warning per listed condition, drug class, pregnancy or breastfeeding."""
    causes = [("condition", c) for c in ctx.patient.conditions]
    causes += [("drug", m) for m in ctx.patient.medications]
    if ctx.patient.pregnant:
        causes.append(("state", "pregnant"))
    if ctx.patient.breastfeeding:
        causes.append(("state", "breastfeeding"))
    findings = []
    for kind, code in dict.fromkeys(causes):
        factor = ctx.catalog.factor(kind, code)
        if factor is None:
            continue
        message = f"{factor.name}: {factor.message}."
        findings.append(finding("precaution", Severity.WARN, message, factor.cite))
    return findings


def off_label_findings(ctx: CheckContext) -> list[Finding]:
    """B.16, B.19: indication, age, protocol, site or route outside the label warns."""
    catalog = ctx.catalog
    plan = ctx.plan
    indication = catalog.indications[plan.indication]
    sources = catalog.rule_sources
    findings = []
    use = indication.label_for(plan.product)
    if use is None:
        labelled = ", ".join(u.product for u in indication.labels) or "no product"
        message = (
            f"{plan.product} is not labelled for {plan.indication} in the US (labelled: "
            f"{labelled}): off-label use."
        )
        findings.append(
            finding("off-label", Severity.WARN, message, sources["off-label-indication"].cite)
        )
    elif ctx.age < use.min_age or (use.max_age is not None and ctx.age >= use.max_age):
        ages = (
            f"{use.min_age} years and older"
            if use.max_age is None
            else f"{use.min_age} to {use.max_age - 1} years"
        )
        message = (
            f"The patient is {ctx.age} on {plan.date.isoformat()}; {plan.product} is labelled for "
            f"{plan.indication} at {ages}: off-label for this age."
        )
        findings.append(
            finding("off-label", Severity.WARN, message, [use.cite, sources["off-label-age"].cite])
        )
    if plan.protocol is not None:
        protocol = catalog.protocols[plan.protocol]
        if plan.indication not in protocol.indications:
            message = (
                f"Protocol {protocol.id} is for {', '.join(protocol.indications)}, not "
                f"{plan.indication}: off-label use of the protocol."
            )
            findings.append(
                finding("off-label", Severity.WARN, message, sources["off-label-protocol"].cite)
            )
    outside = [i for i in ctx.injections if i.site not in indication.sites]
    if outside:
        names = ", ".join(dict.fromkeys(i.site for i in outside))
        message = (
            f"{names}: not among the sites named for {plan.indication} "
            f"({', '.join(indication.sites)}): off-label site."
        )
        findings.append(
            finding("off-label", Severity.WARN, message, sources["off-label-site"].cite, outside)
        )
    other_route = [i for i in ctx.injections if i.route != indication.route]
    if other_route:
        routes = ", ".join(dict.fromkeys(f"{where(i)} {i.route}" for i in other_route))
        message = (
            f"{plan.indication} is given {indication.route}; planned otherwise: {routes}: "
            "off-label route."
        )
        findings.append(
            finding(
                "off-label", Severity.WARN, message, sources["off-label-route"].cite, other_route
            )
        )
    return findings


def weight_currency_findings(ctx: CheckContext) -> list[Finding]:
    """A child's weight measured more than 90 days before the plan date asks for a current one."""
    measured = ctx.patient.weight_measured_on
    if measured is None or not weight_needed(ctx):
        return []
    age_days = (ctx.day - measured).days
    if age_days <= WEIGHT_CURRENT_DAYS:
        return []
    message = (
        f"The child's weight ({ctx.patient.weight_kg} kg) was measured {age_days} days before "
        f"the plan date ({measured.isoformat()}); per-kg doses need a weight from the last "
        f"{WEIGHT_CURRENT_DAYS} days: weigh the child again."
    )
    cite = ctx.catalog.rule_sources["weight-current"].cite
    return [finding("weight-based-dose", Severity.WARN, message, cite)]

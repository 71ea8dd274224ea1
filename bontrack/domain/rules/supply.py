"""What goes into the syringe: the product itself, its lots and its reconstituted vials."""

from __future__ import annotations

from decimal import Decimal

from bontrack.domain.catalog.model import Severity
from bontrack.domain.planning import dilution_in_label, listed_dilutions, use_by
from bontrack.domain.quantities import Volume
from bontrack.domain.rules.findings import CheckContext, Finding, finding, merged, u, where
from bontrack.domain.units import format_decimal


def product_mismatch_findings(ctx: CheckContext) -> list[Finding]:
    """B.10, B.5: a protocol, dose row or vial of another product is never used."""
    plan = ctx.plan
    cite = ctx.catalog.rule_sources["product-mismatch"].cite
    findings = []
    if plan.protocol is not None:
        protocol = ctx.catalog.protocols[plan.protocol]
        if protocol.product != plan.product:
            message = (
                f"Protocol {protocol.id} is written in {protocol.product} units and cannot be "
                f"used with {plan.product}: units of different products are not interchangeable "
                "and are never converted."
            )
            findings.append(finding("product-mismatch", Severity.BLOCK, message, cite))
    foreign = [i for i in plan.injections if i.units.product != plan.product]
    if foreign:
        rows = ", ".join(f"{where(i)} {i.units}" for i in foreign)
        message = f"Injection rows of another product in a {plan.product} plan: {rows}."
        findings.append(finding("product-mismatch", Severity.BLOCK, message, cite, foreign))
    for n, vial in enumerate(plan.vials, 1):
        if vial.size.product != plan.product:
            message = (
                f"Vial {n} ({vial.lot or 'no lot'}) is {vial.size.product}, not {plan.product}."
            )
            findings.append(finding("product-mismatch", Severity.BLOCK, message, cite))
    return findings


def _vial_name(n: int, lot: str | None, size: Decimal) -> str:
    return f"vial {n} ({u(size)}{', lot ' + lot if lot else ''})"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def lot_findings(ctx: CheckContext) -> list[Finding]:
    """An expired (judged on the plan date) or recalled lot blocks and cannot be overridden."""
    sources = ctx.catalog.rule_sources
    findings = []
    for n, vial in enumerate(ctx.plan.vials, 1):
        name = _vial_name(n, vial.lot, vial.size.amount)
        if vial.lot_expires is not None and vial.lot_expires < ctx.day:
            message = (
                f"The lot of {name} expired on {vial.lot_expires.isoformat()}, before the plan "
                f"date {ctx.day.isoformat()}: do not use it."
            )
            findings.append(finding("lot", Severity.BLOCK, message, sources["lot-expired"].cite))
        if vial.recalled:
            message = f"The lot of {name} has been recalled: do not use it."
            findings.append(finding("lot", Severity.BLOCK, message, sources["lot-recalled"].cite))
    return findings


def reconstitution_findings(ctx: CheckContext) -> list[Finding]:
    """B.23: a vial older than its in-use time at ``now`` blocks; an unlisted dilution warns."""
    product = ctx.product
    findings = []
    for n, vial in enumerate(ctx.plan.vials, 1):
        if vial.size.product != product.code:
            continue
        name = _vial_name(n, vial.lot, vial.size.amount)
        if vial.reconstituted_at is not None:
            expires = use_by(product, vial.reconstituted_at)
            if ctx.now > expires:
                hours = (ctx.now - vial.reconstituted_at).total_seconds() / 3600
                verb = "diluted" if product.form == "solution" else "reconstituted"
                message = (
                    f"{_capital(name)} was {verb} {hours:.1f} hours before the injection "
                    f"time ({vial.reconstituted_at.isoformat()}); {product.code} must be used "
                    f"within {format_decimal(product.in_use_hours)} hours (by "
                    f"{expires.isoformat()}): discard it."
                )
                findings.append(
                    finding("reconstitution", Severity.BLOCK, message, product.in_use_cite)
                )
        if vial.diluent_ml is None:
            continue
        accepted = dilution_in_label(product, vial.size, Volume(vial.diluent_ml))
        if accepted is False:
            listed = ", ".join(
                f"{format_decimal(v)} mL" for v in listed_dilutions(product, vial.size)
            )
            message = (
                f"{_capital(name)} reconstituted with {format_decimal(vial.diluent_ml)} mL of "
                f"saline: the label lists {listed} for this vial size."
            )
            cites = [d.cite for d in product.dilutions if d.vial_units == vial.size.amount]
            findings.append(finding("reconstitution", Severity.WARN, message, merged(cites)))
    return findings

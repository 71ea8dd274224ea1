"""What goes into the syringe: the product itself, its lots, its reconstituted vials and whether
they hold what is planned."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from bontrack.domain.catalog.model import Dilution, Severity
from bontrack.domain.planning import dilution_in_label, remaining_in, use_by
from bontrack.domain.quantities import Volume
from bontrack.domain.rules.findings import CheckContext, Finding, finding, merged, u, where
from bontrack.domain.treatment import Vial
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


def _vial_name(n: int, lot: str | None, size: Decimal, label: str | None = None) -> str:
    """How a finding names a vial: the records path's own name for it where it gives one."""
    details = f"{u(size)}{', lot ' + lot if lot else ''}"
    return f"{label} ({details})" if label else f"vial {n} ({details})"


def _name(n: int, vial: Vial) -> str:
    return _vial_name(n, vial.lot, vial.size.amount, vial.label)


def _names(named: list[str]) -> str:
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def lot_findings(ctx: CheckContext) -> list[Finding]:
    """An expired (judged on the plan date) or recalled lot blocks and cannot be overridden."""
    sources = ctx.catalog.rule_sources
    findings = []
    for n, vial in enumerate(ctx.plan.vials, 1):
        name = _name(n, vial)
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
    """B.23: a vial older than its in-use time at ``now`` blocks; an unlisted dilution warns.

    Vials that share a problem (the same size, saline and time) give one finding naming them all.
    """
    product = ctx.product
    expired: dict[tuple[Decimal, datetime], list[tuple[int, Vial]]] = defaultdict(list)
    unlisted: dict[tuple[Decimal, Decimal], list[tuple[int, Vial]]] = defaultdict(list)
    for n, vial in enumerate(ctx.plan.vials, 1):
        if vial.size.product != product.code:
            continue
        # A ready solution used undiluted (0 mL) has no in-use time of its own in the facts:
        # Myobloc's 4 hours run from dilution.
        undiluted = product.form == "solution" and vial.diluent_ml == 0
        made = vial.reconstituted_at
        if made is not None and not undiluted and ctx.now > use_by(product, made):
            expired[(vial.size.amount, made)].append((n, vial))
        if vial.diluent_ml is not None:
            accepted = dilution_in_label(product, vial.size, Volume(vial.diluent_ml))
            if accepted is False:
                unlisted[(vial.size.amount, vial.diluent_ml)].append((n, vial))
    findings = []
    verb = "diluted" if product.form == "solution" else "reconstituted"
    for group in expired.values():
        made = group[0][1].reconstituted_at
        assert made is not None
        expires = use_by(product, made)
        hours = (ctx.now - made).total_seconds() / 3600
        # Sorted: the finding (and its fingerprint) must not depend on the order vials were listed.
        names = _names(sorted(_name(n, vial) for n, vial in group))
        were = "was" if len(group) == 1 else "were"
        message = (
            f"{_capital(names)} {were} {verb} {hours:.1f} hours before the injection time "
            f"({made.isoformat()}); {product.code} must be used within "
            f"{format_decimal(product.in_use_hours)} hours (by {expires.isoformat()}): discard "
            f"{'it' if len(group) == 1 else 'them'}."
        )
        findings.append(finding("reconstitution", Severity.BLOCK, message, product.in_use_cite))
    for (size, diluent), group in unlisted.items():
        # Sorted: the finding (and its fingerprint) must not depend on the order vials were listed.
        names = _names(sorted(_name(n, vial) for n, vial in group))
        rows = [d for d in product.dilutions if d.vial_units == size]
        listed = [d for d in rows if not d.computed]
        computed = [d for d in rows if d.computed]
        if listed:
            said = "the label lists " + ", ".join(
                f"{format_decimal(d.diluent_ml)} mL" for d in sorted(listed, key=_ml)
            )
        else:
            said = "no label lists a combination"
        said += " for this vial size"
        if computed:
            said += "; " + ", ".join(
                f"{format_decimal(d.diluent_ml)} mL" for d in sorted(computed, key=_ml)
            )
            said += " gives the label's concentration by arithmetic"
        message = (
            f"{_capital(names)} reconstituted with {format_decimal(diluent)} mL of saline: {said}."
        )
        # B.36: the warning cites the combinations a label lists, not the arithmetic ones.
        cites = [d.cite for d in (listed or computed)]
        findings.append(finding("reconstitution", Severity.WARN, message, merged(cites)))
    return findings


def _ml(dilution: Dilution) -> Decimal:
    return dilution.diluent_ml


def supply_findings(ctx: CheckContext) -> list[Finding]:
    """B.30: the vials of the plan's product hold what is planned or signed; never overridable.

    With draws (the records path): each draw is within what its vial still holds and the draws
    add up exactly to the total. Without: the vials together hold at least the total. No vial of
    the product: nothing to check, unless a session is being signed. Another product's vial is a
    product mismatch and an expired or recalled lot a ``lot`` finding, not a supply problem.
    """
    cite = ctx.catalog.rule_sources["supply"].cite
    product = ctx.plan.product
    total = ctx.total.amount
    own = [(n, v) for n, v in enumerate(ctx.plan.vials, 1) if v.size.product == product]
    if not own:
        if not ctx.at_signing:
            return []
        message = (
            f"No vial of {product} is recorded for this session: a session is signed with at "
            f"least one vial of its product from an in-date lot; add the vial the {u(total)} "
            "came from."
        )
        return [finding("supply", Severity.BLOCK, message, cite)]
    findings = []
    if any(v.draw is not None for _, v in own):
        drawn = Decimal(0)
        parts = []
        for n, vial in own:
            draw = vial.draw.amount if vial.draw is not None else Decimal(0)
            drawn += draw
            held = remaining_in(vial).amount
            parts.append(f"{u(draw)} from {_name(n, vial)}")
            if draw > held:
                message = (
                    f"{_capital(_name(n, vial))} held {u(held)}{_earlier(vial)} but {u(draw)} "
                    f"was asked of it, {u(draw - held)} more than it held: pick another vial or "
                    "reduce the dose."
                )
                findings.append(finding("supply", Severity.BLOCK, message, cite))
        if drawn != total:
            short = "short of" if drawn < total else "more than"
            message = (
                f"The draws add up to {u(drawn)} ({'; '.join(parts)}), {short} the session's "
                f"{u(total)}: the draws of a session add up exactly to its total. Correct the "
                "draws, pick another vial or reduce the dose."
            )
            findings.append(finding("supply", Severity.BLOCK, message, cite))
        return findings
    held = sum((remaining_in(v).amount for _, v in own), Decimal(0))
    if held < total:
        parts = [f"{_name(n, v)} holds {u(remaining_in(v).amount)}{_earlier(v)}" for n, v in own]
        message = (
            f"The vials hold {u(held)} but {u(total)} is planned, {u(total - held)} short "
            f"({'; '.join(parts)}): pick another vial or reduce the dose."
        )
        findings.append(finding("supply", Severity.BLOCK, message, cite))
    return findings


def _earlier(vial: Vial) -> str:
    if vial.drawn_before is None or vial.drawn_before.amount == 0:
        return ""
    return f" ({u(vial.size.amount)} less {u(vial.drawn_before.amount)} drawn earlier)"

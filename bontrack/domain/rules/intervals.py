"""Time between sessions: retreatment intervals (B.3, B.17) and other products (B.5, B.12, B.18)."""

from __future__ import annotations

from collections import defaultdict

from bontrack.domain.catalog.model import Interval, Severity
from bontrack.domain.rules.findings import CheckContext, Finding, finding, u
from bontrack.domain.treatment import OTHER_INDICATION, HistoryEntry

OTHER_PRODUCT_DAYS = 112  # B.12: 16 weeks


def _applies(interval: Interval, product: str, indication: str) -> bool:
    return (
        interval.product in ("*", product)
        and (not interval.indications or indication in interval.indications)
        and indication not in interval.except_indications
    )


def retreatment_findings(ctx: CheckContext) -> list[Finding]:
    """Too soon after the last session of the same indication with the same product: warn."""
    if ctx.plan.indication == OTHER_INDICATION:
        return []
    earlier = [
        h
        for h in ctx.same_product_history
        if h.indication == ctx.plan.indication and h.date < ctx.day  # same day: same visit (B.13)
    ]
    if not earlier:
        return []
    last = max(earlier, key=lambda h: h.date)
    days = last.days_before(ctx.day)
    broken = [
        i
        for i in ctx.catalog.intervals
        if _applies(i, ctx.plan.product, ctx.plan.indication) and days < i.days
    ]
    if not broken:
        return []
    broken.sort(key=lambda i: i.days, reverse=True)
    main = broken[0]
    message = (
        f"Only {days} days since the last {ctx.plan.indication} session with {ctx.plan.product} "
        f"({last.date.isoformat()}, {u(last.units)}); the label's interval is {main.days} days "
        f"({main.words})."
    )
    for extra in broken[1:]:
        message += f" Also under {extra.days} days: {extra.words}."
    return [finding("retreatment-interval", Severity.WARN, message, [i.cite for i in broken])]


def mixed_product_findings(ctx: CheckContext) -> list[Finding]:
    """Another product fewer than 112 days before the plan date: one warning per product,
    naming its latest date; its units are never added to this product's (B.5)."""
    recent: dict[str, list[HistoryEntry]] = defaultdict(list)
    for entry in ctx.history:
        days = entry.days_before(ctx.day)
        if entry.product != ctx.plan.product and 0 <= days < OTHER_PRODUCT_DAYS:
            recent[entry.product].append(entry)
    cite = ctx.catalog.rule_sources["mixed-products"].cite
    findings = []
    for product, entries in sorted(recent.items()):
        latest = max(entries, key=lambda e: e.date)
        days = latest.days_before(ctx.day)
        message = (
            f"{product} was given {days} days before this plan ({latest.date.isoformat()}, "
            f"{u(latest.units)} for {latest.indication}); the effect of a different botulinum "
            f"toxin within about 16 weeks is unknown and weakness may be worse. Its units are "
            f"not comparable with {ctx.plan.product} and are not added to this plan's totals."
        )
        findings.append(finding("mixed-products", Severity.WARN, message, cite))
    return findings

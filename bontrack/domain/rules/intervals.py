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
        f"({last.date.isoformat()}, {u(last.units)}); {_whose(main)} is {main.days} days "
        f"({main.words})."
    )
    for extra in broken[1:]:
        message += f" Also under {extra.days} days: {extra.words}."
    return [finding("retreatment-interval", Severity.WARN, message, [i.cite for i in broken])]


def _whose(interval: Interval) -> str:
    """B.36: bontrack's own intervals (B.17's 70 and 21 days) are never the label's."""
    return "bontrack's interval" if interval.cite.policy_first else "the label's interval"


def repeat_visit_findings(ctx: CheckContext) -> list[Finding]:
    """B.31: the plan's product and indication already given on the plan date blocks (a
    prescriber may override with a reason). The earlier session stays the same visit for the
    per-session limits (B.13) and is no 0-day interval (B.17)."""
    earlier = [h for h in ctx.same_visit if h.indication == ctx.plan.indication]
    if not earlier:
        return []
    given = "; ".join(_earlier_session(h) for h in earlier)
    message = (
        f"{ctx.plan.product} for {ctx.plan.indication} was already given on "
        f"{ctx.day.isoformat()}: {given}. The same treatment twice in one day is a repeat "
        "visit: chart forgotten points as an amendment of the signed session instead."
    )
    cite = ctx.catalog.rule_sources["repeat-visit"].cite
    return [finding("repeat-visit", Severity.BLOCK, message, cite)]


def _earlier_session(entry: HistoryEntry) -> str:
    """'155 U at 09:30 by Dr A. Jones': the time in the offset the entry carries (the records path
    gives it in the clinic's time zone), so that the words do not change between paths."""
    words = u(entry.units)
    if entry.administered_at is not None:
        words += f" at {entry.administered_at.strftime('%H:%M')}"
    if entry.injector:
        words += f" by {entry.injector}"
    return words


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

"""B.31 repeat-visit: the same product and indication twice on one date blocks (overridable);
the earlier session stays the same visit for per-session limits (B.13), and is never a 0-day
interval (B.17)."""

import datetime as dt

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    INCO,
    check,
    history,
    of_rule,
    only,
    plan,
    point,
    rules,
)

MORNING = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def test_the_same_treatment_earlier_that_day_blocks_and_may_be_overridden():
    """Issue scenario 3: a second PREEMPT for a patient treated that morning."""
    earlier = history(0, administered_at=MORNING, by="Dr Ada Jones")
    finding = only(check(plan(), the_history=[earlier]), "repeat-visit")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "155 U at 09:30 by Dr Ada Jones" in finding.message
    assert "chart forgotten points as an amendment of the signed session instead" in (
        finding.message
    )
    assert finding.source.startswith("bontrack policy B.31")


def test_the_time_is_read_in_the_offset_the_entry_carries():
    at_utc = MORNING.astimezone(dt.UTC)
    finding = only(check(plan(), the_history=[history(0, administered_at=at_utc)]), "repeat-visit")
    assert "at 08:30" in finding.message


def test_without_a_time_or_injector_the_units_are_named():
    finding = only(check(plan(), the_history=[history(0)]), "repeat-visit")
    assert "was already given on 2026-11-25: 155 U. " in finding.message


def test_another_indication_the_same_day_is_not_a_repeat():
    earlier = history(0, indication="cervical-dystonia", amount=100)
    assert of_rule(check(plan(), the_history=[earlier]), "repeat-visit") == []


def test_another_product_the_same_day_is_not_a_repeat():
    earlier = history(0, product=INCO, amount=100)
    result = check(plan(), the_history=[earlier])
    assert of_rule(result, "repeat-visit") == []
    assert "mixed-products" in rules(result)


def test_the_day_before_is_not_a_repeat_but_an_interval():
    result = check(plan(), the_history=[history(1)])
    assert of_rule(result, "repeat-visit") == []
    assert "retreatment-interval" in rules(result)


def test_the_same_day_is_no_zero_day_interval():
    result = check(plan(), the_history=[history(0)])
    assert of_rule(result, "retreatment-interval") == []


def test_a_later_session_of_the_same_treatment_is_not_a_repeat():
    """Late charting (B.37): only entries up to the plan date are read by repeat-visit."""
    assert of_rule(check(plan(), the_history=[history(-1)]), "repeat-visit") == []


def test_the_earlier_session_still_counts_toward_the_per_session_limit():
    """B.13: Xeomin blepharospasm 60 U that morning + 50 U now is 110 U in one visit, above the
    100 U per session (B.27): session-total blocks beside repeat-visit."""
    earlier = history(0, product=INCO, indication="blepharospasm", amount=60)
    the_plan = plan(
        product=INCO,
        indication="blepharospasm",
        injections=[
            point("orbicularis-oculi", "left", 25, INCO),
            point("orbicularis-oculi", "right", 25, INCO),
        ],
    )
    result = check(the_plan, the_history=[earlier])
    assert {"repeat-visit", "session-total"} <= rules(result)
    assert "110 U" in only(result, "session-total").message

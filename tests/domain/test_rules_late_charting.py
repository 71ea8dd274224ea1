"""B.37 late charting: a session dated D is checked against every window that contains D,
including doses dated after it (up to 83 days after for 84 days, 29 for 30). Intervals, repeat
visits and other products read only what came up to D."""

import pytest

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    INCO,
    check,
    child,
    history,
    of_rule,
    only,
    plan,
    point,
    points,
    rules,
)


def axillae(each):
    """onabotulinumtoxinA for axillary hyperhidrosis: ``each`` U per axilla."""
    return plan(
        indication="axillary-hyperhidrosis",
        injections=[point("axilla", "left", each), point("axilla", "right", each)],
    )


def test_charting_yesterday_after_todays_session_finds_both():
    """B.37's example: yesterday's 200 U charted after today's 300 U was signed is 500 U."""
    today = history(-1, indication="axillary-hyperhidrosis", amount=300)
    finding = only(check(axillae(100), the_history=[today]), "cumulative-dose")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "500 U" in finding.message
    assert "300 U on 2026-11-26" in finding.message
    assert "comes before doses already recorded" in finding.message


@pytest.mark.parametrize(("days_after", "counts"), [(83, True), (84, False), (85, False)])
def test_a_later_dose_counts_up_to_83_days_after(days_after, counts):
    later = history(-days_after, indication="axillary-hyperhidrosis", amount=300)
    found = of_rule(check(axillae(100), the_history=[later]), "cumulative-dose")
    assert bool(found) is counts


def test_the_worst_window_containing_the_plan_date_decides():
    """150 U 10 days before, 155 U planned, 150 U 50 days after: the window up to D holds 305 U,
    the one up to D+50 holds all three, 455 U."""
    earlier = history(10, indication="axillary-hyperhidrosis", amount=150)
    later = history(-50, indication="axillary-hyperhidrosis", amount=150)
    the_plan = plan(indication="axillary-hyperhidrosis", injections=[point("axilla", "left", 155)])
    finding = only(check(the_plan, the_history=[earlier, later]), "cumulative-dose")
    assert "455 U in the 84 days up to 2027-01-14" in finding.message


def test_a_window_up_to_the_plan_date_is_worded_as_before():
    earlier = history(10, indication="axillary-hyperhidrosis", amount=300)
    finding = only(check(axillae(100), the_history=[earlier]), "cumulative-dose")
    assert "in the 84 days up to 2026-11-25" in finding.message
    assert "comes before" not in finding.message


@pytest.mark.parametrize(("days_after", "blocks"), [(29, True), (30, False)])
def test_the_blepharospasm_30_day_period_sees_later_doses(days_after, blocks):
    later = history(-days_after, indication="blepharospasm", amount=100)
    the_plan = plan(
        indication="blepharospasm", injections=points("orbicularis-oculi", "left", 5, 30)
    )
    found = of_rule(check(the_plan, the_history=[later]), "period-limit")
    assert bool(found) is blocks


def test_a_childs_per_kg_window_sees_later_doses():
    """20 kg: the lower of 10 U/kg (200 U) or 340 U in 84 days; 100 U planned + 150 U after."""
    later = history(-20, indication="pediatric-lower-limb-spasticity", amount=150)
    the_plan = plan(
        indication="pediatric-lower-limb-spasticity",
        injections=[
            point("gastrocnemius-medial", "left", 40),
            point("soleus", "left", 40),
            point("gastrocnemius-medial", "right", 20),
        ],
    )
    found = of_rule(check(the_plan, child(), [later]), "weight-based-dose")
    assert any("250 U" in f.message for f in found)


def test_intervals_read_only_what_came_before():
    result = check(plan(), the_history=[history(-5)])
    assert of_rule(result, "retreatment-interval") == []
    assert of_rule(result, "repeat-visit") == []


def test_another_product_after_the_plan_date_gives_no_mixed_products():
    later = history(-5, product=INCO, indication="cervical-dystonia", amount=100)
    assert "mixed-products" not in rules(check(plan(), the_history=[later]))

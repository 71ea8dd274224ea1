"""Retreatment intervals: too soon after the last session of the same indication with the same
product warns, never blocks (facts 3.6, 3.7; B.3, B.13, B.17, DESIGN 3.3)."""

import pytest

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    ABO,
    DAXI,
    ONA,
    check,
    child,
    glabellar_plan,
    history,
    of_rule,
    only,
    patient,
    plan,
    point,
    points,
)


def intervals(result):
    return of_rule(result, "retreatment-interval")


def cd_plan():
    return plan(
        indication="cervical-dystonia",
        injections=[
            point("sternocleidomastoid", "left", 40),
            point("splenius-capitis", "right", 50),
        ],
    )


def strabismus_plan():
    return plan(indication="strabismus", injections=[point("medial-rectus", "left", 5)])


def test_chronic_migraine_83_days_after_the_last_session_warns():
    """B.3 interval-days ("every 12 weeks" = 84 days), B.17 interval-warns, facts 3.7:
    83 days is too soon: a retreatment-interval warning, never a block."""
    result = check(plan(), patient(), [history(83, ONA, "chronic-migraine", 155)])
    finding = only(result, "retreatment-interval")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "83 days" in finding.message
    assert "84 days" in finding.message
    assert "SKY-ONA" in finding.source
    assert result.verdict == "warn"


def test_chronic_migraine_84_days_after_the_last_session_is_on_time():
    """B.3: "every 12 weeks" = 84 days; 84 days is not fewer than 84."""
    result = check(plan(), patient(), [history(84, ONA, "chronic-migraine", 155)])
    assert result.findings == ()


@pytest.mark.parametrize(("days", "warns"), [(89, True), (90, False)])
def test_cosmetic_interval_is_90_days(days, warns):
    """B.3 ("at least 90 days" in the cosmetic labels), facts 2.12/3.7: 89 warns, 90 does not."""
    result = check(glabellar_plan(ONA), patient(), [history(days, ONA, "glabellar-lines", 20)])
    assert bool(intervals(result)) is warns
    assert all(f.severity is Severity.WARN for f in intervals(result))


@pytest.mark.parametrize(("days", "warns"), [(69, True), (70, False)])
def test_cervical_dystonia_botox_interval_is_70_days(days, warns):
    """B.17, facts 3.6/3.7: cervical dystonia with onabotulinumtoxinA fewer than 70 days (10
    weeks) apart warns with the immunogenicity source."""
    result = check(cd_plan(), patient(), [history(days, ONA, "cervical-dystonia", 200)])
    found = intervals(result)
    assert bool(found) is warns
    if warns:
        assert found[0].severity is Severity.WARN
        assert "IMMUNO" in found[0].source


@pytest.mark.parametrize(
    ("make_plan", "product", "indication"),
    [
        (
            lambda: plan(
                indication="axillary-hyperhidrosis", protocol="axillary-hyperhidrosis-100"
            ),
            ONA,
            "axillary-hyperhidrosis",
        ),
        (cd_plan, ONA, "cervical-dystonia"),
        (lambda: glabellar_plan(DAXI), DAXI, "glabellar-lines"),
        (plan, ONA, "chronic-migraine"),
    ],
)
def test_touch_up_within_21_days_warns_for_any_indication_but_strabismus(
    make_plan, product, indication
):
    """B.17, facts 3.6 (booster within about 3 weeks): 20 days after a session of the same
    indication and product warns, whatever the indication; 21 days is not a touch-up."""
    soon = check(make_plan(), patient(), [history(20, product, indication, 20)])
    finding = only(soon, "retreatment-interval")
    assert finding.severity is Severity.WARN
    assert "20 days" in finding.message
    assert "3 weeks" in finding.message
    assert "IMMUNO" in finding.source
    later = check(make_plan(), patient(), [history(21, product, indication, 20)])
    assert all("3 weeks" not in f.message for f in intervals(later))
    if indication == "axillary-hyperhidrosis":
        assert intervals(later) == []  # axillary hyperhidrosis has no other interval


def test_only_one_interval_finding_even_when_two_intervals_are_broken():
    """DESIGN 3.2 (one finding per cause): chronic migraine 10 days after the last session
    breaks 84 days and 21 days: one warning naming both."""
    result = check(plan(), patient(), [history(10, ONA, "chronic-migraine", 155)])
    finding = only(result, "retreatment-interval")
    assert "84 days" in finding.message
    assert "3 weeks" in finding.message


def test_strabismus_has_no_interval_rule():
    """B.3, facts 2.6 (re-examine at 7–14 days, re-inject as needed): 7 days gives nothing."""
    result = check(strabismus_plan(), patient(), [history(7, ONA, "strabismus", 5)])
    assert intervals(result) == []
    assert result.findings == ()


def test_a_same_day_entry_is_the_same_visit_not_an_interval():
    """B.17, B.13 same-visit: a history entry on the plan date with the plan's product is the
    same visit, not a 0-day interval."""
    result = check(glabellar_plan(ONA), patient(), [history(0, ONA, "glabellar-lines", 20)])
    assert intervals(result) == []


def test_the_last_session_decides_the_interval():
    """B.3: "since the last session": 100 days and 30 days ago → 30 days is the interval."""
    entries = [
        history(100, ONA, "chronic-migraine", 155),
        history(30, ONA, "chronic-migraine", 155),
    ]
    finding = only(check(plan(), patient(), entries), "retreatment-interval")
    assert "30 days" in finding.message


def test_history_under_other_never_counts_toward_an_interval():
    """DESIGN 3.3: `other` counts toward windows and mixed-products, never toward an interval."""
    result = check(plan(), patient(), [history(10, ONA, "other", 100)])
    assert intervals(result) == []
    assert result.findings == ()


def test_another_indication_of_the_same_product_is_not_an_interval():
    """B.3: the interval is per indication: a glabellar session 30 days ago does not make a
    migraine session too soon."""
    result = check(plan(), patient(), [history(30, ONA, "glabellar-lines", 20)])
    assert intervals(result) == []


def test_another_products_history_never_counts_toward_an_interval():
    """B.3 (same product), B.5: abobotulinumtoxinA for cervical dystonia 30 days ago is no
    interval for an onabotulinumtoxinA cervical dystonia plan; it is a mixed-products warning."""
    result = check(cd_plan(), patient(), [history(30, ABO, "cervical-dystonia", 500)])
    assert intervals(result) == []
    assert only(result, "mixed-products").severity is Severity.WARN


def test_dysport_pediatric_upper_limb_interval_is_16_weeks_and_only_warns():
    """B.17: Dysport's pediatric 16 weeks (112 days) warns, never blocks."""
    arm = plan(
        product=ABO,
        indication="pediatric-upper-limb-spasticity",
        injections=points("biceps-brachii", "left", 100, 2, ABO),
    )
    entries = [history(111, ABO, "pediatric-upper-limb-spasticity", 200)]
    finding = only(check(arm, child(weight=20), entries), "retreatment-interval")
    assert finding.severity is Severity.WARN
    assert "112 days" in finding.message
    later = [history(112, ABO, "pediatric-upper-limb-spasticity", 200)]
    assert intervals(check(arm, child(weight=20), later)) == []

"""Cumulative windows: 400 U in 84 days, blepharospasm's 30 days, and other products
(facts 2.1, 2.5; B.1, B.2, B.4, B.5, B.12, B.18, B.20)."""

import pytest

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    ABO,
    INCO,
    ONA,
    check,
    history,
    of_rule,
    only,
    patient,
    plan,
    points,
    units,
)


def bleph_plan(amount="2.5"):
    """Blepharospasm: 3 pretarsal points per eye (facts 2.5), 15 U at 2.5 U per point."""
    return plan(
        indication="blepharospasm",
        protocol="blepharospasm-initial",
        injections=points("orbicularis-oculi", "left", amount, 3)
        + points("orbicularis-oculi", "right", amount, 3),
    )


def test_400_units_in_84_days_blocks_a_dose_83_days_ago():
    """B.1 window-84d, facts 2.1 (BOTOX PI 2.1 "should not exceed 400 U in a 3 month
    interval"): 300 U 83 days ago + PREEMPT 155 = 455 U → cumulative-dose block, overridable."""
    result = check(plan(), patient(), [history(83, ONA, "chronic-migraine", 300)])
    finding = only(result, "cumulative-dose")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert result.verdict == "block"
    for number in ("400 U", "455 U", "300 U", "155 U", "55 U"):
        assert number in finding.message
    assert "2026-09-03" in finding.message  # the date of the dose that counts
    assert "BOTOX-PI 2.1" in finding.source
    assert "window-84d" in finding.source


@pytest.mark.parametrize("days", [84, 85])
def test_a_dose_84_or_more_days_ago_does_not_count(days):
    """B.1: a session exactly 84 days earlier does not count (the labelled 12-week regimen)."""
    result = check(plan(), patient(), [history(days, ONA, "chronic-migraine", 300)])
    assert of_rule(result, "cumulative-dose") == []
    assert result.verdict == "ok"


def test_exactly_400_units_does_not_block():
    """Facts 2.1: "should not exceed 400 U": 245 U + 155 U = 400 U is within the limit."""
    result = check(plan(), patient(), [history(40, ONA, "other", 245)])
    assert of_rule(result, "cumulative-dose") == []


def test_every_counting_dose_in_the_window_is_added():
    """B.1, B.20: all doses of the product in the 84 days add up; older ones do not."""
    entries = [
        history(100, ONA, "other", 300),
        history(60, ONA, "other", 120),
        history(30, ONA, "other", 130),
    ]
    finding = only(check(plan(), patient(), entries), "cumulative-dose")
    assert "405 U" in finding.message
    assert "5 U" in finding.message
    assert "2026-08-17" not in finding.message  # 100 days before: outside the window


def test_botox_cosmetic_doses_count_toward_the_400_units():
    """B.4 cosmetic-counts: BOTOX Cosmetic (onabotulinumtoxinA under glabellar-lines) adds to
    onabotulinumtoxinA's 400 U: 220 U + 40 U cosmetic + 155 U = 415 U."""
    without = [history(60, ONA, "upper-limb-spasticity", 220)]
    assert of_rule(check(plan(), patient(), without), "cumulative-dose") == []
    cosmetic = [*without, history(30, ONA, "glabellar-lines", 40)]
    finding = only(check(plan(), patient(), cosmetic), "cumulative-dose")
    assert finding.severity is Severity.BLOCK
    assert "415 U" in finding.message
    assert "glabellar-lines" in finding.message


def test_history_under_other_counts_toward_the_window():
    """B.20 all-doses-count, DESIGN 3.3: history under `other` (bladder) counts."""
    result = check(plan(), patient(), [history(40, ONA, "other", 250)])
    finding = only(result, "cumulative-dose")
    assert finding.severity is Severity.BLOCK
    assert "405 U" in finding.message


def test_an_off_label_dose_counts_toward_the_window():
    """B.20: off-label indications (masseter for bruxism) count toward the product's window."""
    result = check(plan(), patient(), [history(20, ONA, "bruxism", 260)])
    assert only(result, "cumulative-dose").severity is Severity.BLOCK


def test_another_products_units_are_never_added():
    """B.5 never-sum, facts 1.3: 1,000 U of abobotulinumtoxinA adds nothing to
    onabotulinumtoxinA's 400 U."""
    result = check(plan(), patient(), [history(30, ABO, "cervical-dystonia", 1000)])
    assert of_rule(result, "cumulative-dose") == []


def test_another_product_fewer_than_112_days_ago_warns_mixed_products():
    """B.5, B.12: another product 111 days before → one mixed-products warning naming it and
    its date; it is not added to this plan's total."""
    result = check(plan(), patient(), [history(111, ABO, "cervical-dystonia", 500)])
    finding = only(result, "mixed-products")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert ABO in finding.message
    assert "2026-08-06" in finding.message
    assert result.total == units(155)
    assert result.verdict == "warn"


def test_another_product_112_days_ago_gives_nothing():
    """B.18: another product given 112 days or more before the plan date produces nothing."""
    for days in (112, 113, 200):
        result = check(plan(), patient(), [history(days, ABO, "cervical-dystonia", 500)])
        assert result.findings == ()


def test_mixed_products_is_one_warning_per_product_naming_its_latest_date():
    """B.5, DESIGN 3.2 (one finding per cause): two doses of one other product → one warning
    with the latest date; a third product gets its own warning."""
    entries = [
        history(90, ABO, "cervical-dystonia", 500),
        history(20, ABO, "cervical-dystonia", 250),
        history(50, INCO, "glabellar-lines", 20),
    ]
    found = of_rule(check(plan(), patient(), entries), "mixed-products")
    assert len(found) == 2
    (abo,) = [f for f in found if f.message.startswith(ABO)]
    (inco,) = [f for f in found if f.message.startswith(INCO)]
    assert "2026-11-05" in abo.message  # 20 days before, the latest
    assert "2026-08-27" not in abo.message  # 90 days before
    assert "2026-10-06" in inco.message


def test_blepharospasm_window_counts_a_dose_29_days_ago():
    """B.2 window-30d, facts 2.5 ("cumulative dose in any 30-day period must not exceed 200 U"):
    190 U 29 days ago + 15 U = 205 U → period-limit block, overridable."""
    result = check(bleph_plan(), patient(), [history(29, ONA, "blepharospasm", 190)])
    finding = only(result, "period-limit")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "200 U" in finding.message
    assert "205 U" in finding.message
    assert "B1-BLEPH" in finding.source


@pytest.mark.parametrize("days", [30, 31])
def test_blepharospasm_window_ignores_doses_30_or_more_days_ago(days):
    """B.2: doses given fewer than 30 days before the plan date count; 30 and 31 do not."""
    result = check(bleph_plan(), patient(), [history(days, ONA, "blepharospasm", 190)])
    assert of_rule(result, "period-limit") == []


def test_blepharospasm_window_counts_every_botox_dose():
    """B.27 maxima, B.20: "All doses of the product in the window count toward a window,
    whatever their indication": a 190 U upper-limb session 10 days ago + 15 U for
    blepharospasm exceeds the 200 U in 30 days."""
    result = check(bleph_plan(), patient(), [history(10, ONA, "upper-limb-spasticity", 190)])
    finding = only(result, "period-limit")
    assert finding.severity is Severity.BLOCK
    assert "205 U" in finding.message

"""Outcome verdicts (DESIGN 3.8; facts.md 2.2 NICE TA260 and section 4): worked examples per
scale, then properties on random series (the sign of change_pct, ordinal scales by rank)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.catalog import catalog
from bontrack.domain.outcomes import (
    VERDICTS,
    Cycle,
    OutcomeSeries,
    Reading,
    change_pct,
    headache_day_scales,
    judge,
    verdict_changed_since,
)

D = Decimal
BASELINE_DAY = date(2026, 1, 5)
FOLLOW_UP_DAY = date(2026, 3, 2)
TWO_CYCLES = (Cycle(1, date(2026, 5, 4)), Cycle(2, date(2026, 7, 27)))
THIRTEEN = D(13)
MAS_LEVELS = catalog().scales["modified-ashworth"].levels
GAIS_LEVELS = catalog().scales["gais"].levels


def design_example(follow_up: Decimal = THIRTEEN, after_cycle: int | None = 2) -> OutcomeSeries:
    """DESIGN 3.8's input: 20 headache days in the 28-day baseline, two cycles, one follow-up."""
    return OutcomeSeries(
        scale="headache-days-28d",
        indication="chronic-migraine",
        baseline=Reading.over(D(20), date(2026, 4, 6), date(2026, 5, 3)),
        cycles=TWO_CYCLES,
        follow_ups=(Reading.over(follow_up, date(2026, 9, 21), date(2026, 10, 18), after_cycle),),
        muscle_group="elbow flexors",
    )


def one_change(scale: str, baseline: Decimal | str, follow_up: Decimal | str, **kw: str):
    """A baseline and one follow-up eight weeks later."""
    return judge(
        OutcomeSeries(
            scale=scale,
            baseline=Reading.on(baseline, BASELINE_DAY),
            follow_ups=(Reading.on(follow_up, FOLLOW_UP_DAY),),
            **kw,
        )
    )


# --- headache days: NICE TA260 (facts.md 2.2) ---------------------------------------------------


def test_design_example_continues_with_a_35_percent_fall():
    result = judge(design_example())
    assert result.verdict == "continue"
    assert result.change == D(-7)
    assert result.change_pct == D("-35.0")
    assert str(result.change_pct) == "-35.0"
    assert result.change_grades is None
    assert result.responder_50 is False
    assert result.cycles == 2
    assert "20 to 13" in result.reason
    assert "NICE TA260" in result.reason
    assert "NICE TA260" in result.source
    assert (result.scale, result.indication, result.muscle_group) == (
        "headache-days-28d",
        "chronic-migraine",
        "elbow flexors",
    )


def test_a_fall_to_9_6_is_minus_52_percent_and_a_50_percent_responder():
    result = judge(design_example(D("9.6")))
    assert result.verdict == "continue"
    assert result.change == D("-10.4")
    assert str(result.change_pct) == "-52.0"
    assert result.responder_50 is True


def test_a_25_percent_fall_after_two_cycles_stops_citing_nice():
    result = judge(design_example(D(15)))
    assert result.verdict == "stop"
    assert str(result.change_pct) == "-25.0"
    assert result.responder_50 is False
    assert "less than the 30 % fall" in result.reason
    assert "NICE TA260" in result.reason
    assert "NICE TA260" in result.source


@pytest.mark.parametrize(("follow_up", "verdict"), [(14, "continue"), (15, "stop")])
def test_exactly_30_percent_is_enough_to_continue(follow_up, verdict):
    """20 → 14 is a 30 % fall: not below 30 %."""
    assert judge(design_example(D(follow_up))).verdict == verdict


def test_only_one_cycle_gives_no_verdict_yet():
    series = dataclasses.replace(
        design_example(after_cycle=1),
        cycles=TWO_CYCLES[:1],
    )
    result = judge(series)
    assert result.verdict == "no-verdict-yet"
    assert result.cycles == 1
    assert "2 cycles" in result.reason
    assert result.change == D(-7)  # the change is still shown


def test_cycles_are_counted_from_their_dates_when_after_cycle_is_not_given():
    assert judge(design_example(after_cycle=None)).cycles == 2
    later = dataclasses.replace(
        design_example(after_cycle=None),
        cycles=(Cycle(1, TWO_CYCLES[0].date), Cycle(2, date(2026, 10, 1))),
    )
    assert judge(later).verdict == "no-verdict-yet"  # cycle 2 came during the diary


def test_follow_ups_after_cycle_alone_count_the_cycles():
    series = dataclasses.replace(design_example(after_cycle=2), cycles=())
    assert judge(series).verdict == "continue"


def monthly(values: list[int], first_month: int = 8) -> tuple[Reading, ...]:
    return tuple(
        Reading.in_month(D(v), 2026, first_month + n, after_cycle=2) for n, v in enumerate(values)
    )


def test_three_consecutive_episodic_months_stop_even_with_a_good_fall():
    """12, 10, 12 is a 40 % fall (enough), but under 15 days for 3 months: episodic (NICE b)."""
    series = OutcomeSeries(
        scale="headache-days-month",
        indication="chronic-migraine",
        baseline=Reading.over(D(20), date(2026, 4, 1), date(2026, 4, 30)),
        cycles=TWO_CYCLES,
        follow_ups=monthly([12, 10, 12]),
    )
    result = judge(series)
    assert result.verdict == "stop"
    assert "episodic" in result.reason
    assert "2026-08-01 to 2026-10-31" in result.reason
    assert str(result.change_pct) == "-40.0"


@pytest.mark.parametrize(
    "values",
    [
        [12, 10],  # two months only
        [12, 16, 12],  # not consecutive: a chronic month in between
        [16, 12, 12],  # the last two only
    ],
)
def test_fewer_than_three_consecutive_episodic_months_continue(values):
    series = OutcomeSeries(
        scale="headache-days-month",
        baseline=Reading.over(D(20), date(2026, 4, 1), date(2026, 4, 30)),
        cycles=TWO_CYCLES,
        follow_ups=monthly(values),
    )
    assert judge(series).verdict == "continue"


def test_a_gap_between_months_breaks_the_episodic_run():
    follow_ups = (
        Reading.in_month(D(12), 2026, 8, 2),
        Reading.in_month(D(12), 2026, 9, 2),
        Reading.in_month(D(12), 2026, 11, 2),  # October missing
    )
    series = OutcomeSeries(
        scale="headache-days-month",
        baseline=Reading.over(D(20), date(2026, 4, 1), date(2026, 4, 30)),
        cycles=TWO_CYCLES,
        follow_ups=follow_ups,
    )
    assert judge(series).verdict == "continue"


def test_three_28_day_diaries_are_three_months_and_monthly_visits_still_count():
    base = Reading.over(D(20), date(2026, 4, 6), date(2026, 5, 3))
    diaries = tuple(
        Reading.over(
            D(12), date(2026, 8, 3) + timedelta(28 * n), date(2026, 8, 30) + timedelta(28 * n), 2
        )
        for n in range(3)
    )
    visits = tuple(Reading.on(D(12), date(2026, m, 1), 2) for m in (9, 10, 11))
    for follow_ups in (diaries, visits):
        series = OutcomeSeries("headache-days-28d", base, follow_ups, TWO_CYCLES)
        assert judge(series).verdict == "stop", follow_ups


def test_migraine_days_use_the_30_percent_rule_and_cite_nice():
    result = judge(dataclasses.replace(design_example(D(15)), scale="migraine-days-28d"))
    assert result.verdict == "stop"
    assert result.source.startswith("NICE TA260")
    assert result.responder_50 is False


def test_the_latest_follow_up_decides_whatever_the_order_given():
    early = Reading.over(D(18), date(2026, 6, 1), date(2026, 6, 28), 1)
    late = Reading.over(D(9), date(2026, 9, 21), date(2026, 10, 18), 2)
    base = Reading.over(D(20), date(2026, 4, 6), date(2026, 5, 3))
    for follow_ups in ((early, late), (late, early)):
        result = judge(OutcomeSeries("headache-days-28d", base, follow_ups, TWO_CYCLES))
        assert result.latest == late
        assert result.verdict == "continue"
        assert result.responder_50 is True


def test_no_follow_up_yet_gives_no_verdict_yet():
    series = dataclasses.replace(design_example(), follow_ups=())
    result = judge(series)
    assert result.verdict == "no-verdict-yet"
    assert result.change is None
    assert result.change_pct is None
    assert result.responder_50 is None


# --- the other scales (facts.md section 4) -------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "baseline", "follow_up", "verdict", "change", "grades"),
    [
        ("hdss", D(4), D(2), "responder", D(-2), -2),
        ("hdss", D(4), D(3), "non-responder", D(-1), -1),
        ("hdss", D(3), D(1), "responder", D(-2), -2),
        ("modified-ashworth", "2", "1+", "responder", None, -1),
        ("modified-ashworth", "1+", "1", "responder", None, -1),
        ("modified-ashworth", "1", "1", "non-responder", None, 0),
        ("modified-ashworth", "1", "1+", "non-responder", None, 1),
        ("modified-ashworth", "2", "1", "responder", None, -2),  # 1+ lies between
        ("gais", "no-change", "improved", "responder", None, -1),
        ("gais", "no-change", "very-much-improved", "responder", None, -3),
        ("gais", "no-change", "no-change", "non-responder", None, 0),
        ("gais", "no-change", "worse", "non-responder", None, 1),
        ("prism-dioptres", D(12), D(10), "responder", D(-2), None),
        ("prism-dioptres", D(30), D("10.5"), "non-responder", D("-19.5"), None),
        ("hit-6", D(66), D(60), "meaningful", D(-6), None),
        ("hit-6", D(66), D(61), "not-meaningful", D(-5), None),
        ("jankovic-rating-scale", D(6), D(4), "meaningful", D(-2), None),
        ("jankovic-rating-scale", D(6), D(5), "not-meaningful", D(-1), None),
        ("bsdi", D("2.0"), D("1.3"), "meaningful", D("-0.7"), None),
        ("bsdi", D("2.0"), D("1.4"), "not-meaningful", D("-0.6"), None),
        ("pain-nrs", D(8), D(6), "not-meaningful", D(-2), None),
        ("pain-nrs", D(8), D(5), "meaningful", D(-3), None),
        ("gravimetric-sweat-mg-5min", D(120), D(60), "responder", D(-60), None),
        ("gravimetric-sweat-mg-5min", D(120), D("60.5"), "non-responder", D("-59.5"), None),
        ("gas-t-score", D(38), D(52), "goals-met", D(14), None),
        ("gas-t-score", D(38), D(50), "goals-met", D(12), None),
        ("gas-t-score", D(38), D("49.9"), "goals-not-met", D("11.9"), None),
    ],
)
def test_scale_verdicts(scale, baseline, follow_up, verdict, change, grades):
    result = one_change(scale, baseline, follow_up)
    assert result.verdict == verdict, result.reason
    assert result.change == change
    assert result.change_grades == grades
    assert result.responder_50 is None  # headache-day scales only
    assert result.source


def test_pain_percentages_and_the_substantial_fall():
    assert str(one_change("pain-nrs", D(8), D(6)).change_pct) == "-25.0"
    assert str(one_change("pain-nrs", D(8), D(5)).change_pct) == "-37.5"
    assert "substantial" in one_change("pain-nrs", D(8), D(4)).reason


@pytest.mark.parametrize(
    ("indication", "baseline", "follow_up", "verdict"),
    [
        ("glabellar-lines", 3, 1, "responder"),
        ("glabellar-lines", 3, 0, "responder"),
        ("glabellar-lines", 3, 2, "non-responder"),
        ("glabellar-lines", 1, 1, "responder"),  # mild at follow-up is enough
        ("forehead-lines", 3, 2, "non-responder"),
        ("forehead-lines", 3, 1, "responder"),
        ("lateral-canthal-lines", 2, 0, "responder"),
        ("lateral-canthal-lines", 2, 1, "non-responder"),
        ("platysma-bands", 3, 1, "no-definition"),
    ],
)
def test_facial_wrinkle_scale_by_area(indication, baseline, follow_up, verdict):
    result = one_change("facial-wrinkle-scale", D(baseline), D(follow_up), indication=indication)
    assert result.verdict == verdict, result.reason
    assert result.change_grades == follow_up - baseline
    assert result.indication == indication


@pytest.mark.parametrize("scale", ["midas", "twstrs", "tsui", "vhi-10", "mouth-opening-mm"])
def test_scales_without_a_responder_definition_say_so(scale):
    result = one_change(scale, D(20), D(10))
    assert result.verdict == "no-definition"
    assert "no verdict" in result.reason.lower()
    assert result.change == D(-10)
    assert str(result.change_pct) == "-50.0"


def test_twstrs_gives_no_definition_and_still_the_change():
    result = one_change("twstrs", D(40), D(30))
    assert result.verdict == "no-definition"
    assert "TWSTRS" in result.reason
    assert str(result.change_pct) == "-25.0"


@pytest.mark.parametrize("scale", sorted(catalog().scales))
def test_every_scale_without_a_follow_up_has_no_verdict_yet(scale):
    s = catalog().scales[scale]
    value: Decimal | str = s.levels[0] if s.kind == "ordinal" else (s.minimum or D(0)) + 1
    indication = "glabellar-lines" if scale == "facial-wrinkle-scale" else None
    series = OutcomeSeries(scale, Reading.on(value, BASELINE_DAY), indication=indication)
    result = judge(series)
    assert result.verdict == "no-verdict-yet"
    assert result.latest is None
    assert result.reason


def test_every_verdict_word_is_one_of_codes_md():
    for scale in catalog().scales.values():
        value: Decimal | str = scale.levels[-1] if scale.kind == "ordinal" else D(1)
        indication = "forehead-lines" if scale.code == "facial-wrinkle-scale" else None
        series = OutcomeSeries(
            scale.code,
            Reading.on(value, BASELINE_DAY),
            (Reading.on(value, FOLLOW_UP_DAY, 2),),
            indication=indication,
        )
        assert judge(series).verdict in VERDICTS


def test_baseline_zero_gives_no_percentage():
    assert change_pct(D(0), D(3)) is None
    result = one_change("gravimetric-sweat-mg-5min", D(0), D(0))
    assert result.change_pct is None
    assert result.verdict == "non-responder"


def test_change_pct_rounds_half_up_to_one_decimal():
    assert str(change_pct(D(3), D(2))) == "-33.3"
    assert str(change_pct(D(3), D(1))) == "-66.7"
    assert str(change_pct(D(8), D("7.996"))) == "-0.1"  # -0.05 rounds away from zero
    assert str(change_pct(D(20), D(20))) == "0.0"
    assert str(change_pct(D(1000), D("999.999"))) == "0.0"  # never "-0.0"


def test_a_value_of_the_wrong_kind_is_refused():
    with pytest.raises(TypeError):
        one_change("hdss", "4", "2")
    with pytest.raises(ValueError, match="not a level"):
        one_change("modified-ashworth", D(2), D(1))
    with pytest.raises(ValueError, match="not a level"):
        one_change("gais", "no-change", "better")


# --- properties ------------------------------------------------------------------------------

headache_days = st.integers(min_value=0, max_value=28)


@given(
    scale=st.sampled_from(headache_day_scales()),
    baseline=st.integers(min_value=1, max_value=28),
    follow_up=headache_days,
)
def test_change_pct_sign_follows_the_direction_and_the_30_percent_rule(scale, baseline, follow_up):
    series = dataclasses.replace(
        design_example(D(follow_up)),
        scale=scale,
        baseline=Reading.over(D(baseline), date(2026, 4, 6), date(2026, 5, 3)),
    )
    result = judge(series)
    assert result.change == follow_up - baseline
    assert result.change_pct is not None
    direction = (follow_up > baseline) - (follow_up < baseline)
    assert (result.change_pct > 0) - (result.change_pct < 0) == direction
    assert result.change_pct == result.change_pct.quantize(D("0.1"))
    fall_pct = D(baseline - follow_up) * 100 / D(baseline)
    assert result.verdict == ("continue" if fall_pct >= 30 else "stop")
    assert result.responder_50 is (fall_pct >= 50)


@given(
    baseline=st.decimals(min_value=D("0.001"), max_value=D(100_000), places=3),
    follow_up=st.decimals(min_value=D(0), max_value=D(100_000), places=3),
)
def test_change_pct_is_never_of_the_opposite_sign(baseline, follow_up):
    pct = change_pct(baseline, follow_up)
    assert pct is not None
    assert pct.as_tuple().exponent == -1
    if follow_up > baseline:
        assert pct >= 0
    elif follow_up < baseline:
        assert pct <= 0
    else:
        assert pct == 0
    assert not pct.is_signed() or pct != 0  # no negative zero


@given(baseline=st.sampled_from(MAS_LEVELS), follow_up=st.sampled_from(MAS_LEVELS))
def test_modified_ashworth_compares_by_rank_with_1_plus_between_1_and_2(baseline, follow_up):
    rank = {"0": 0, "1": 1, "1+": 2, "2": 3, "3": 4, "4": 5}
    result = one_change("modified-ashworth", baseline, follow_up)
    assert result.change_grades == rank[follow_up] - rank[baseline]
    assert result.change is None
    assert result.change_pct is None
    better = rank[follow_up] < rank[baseline]
    assert result.verdict == ("responder" if better else "non-responder")
    reverse = one_change("modified-ashworth", follow_up, baseline)
    assert reverse.change_grades == -result.change_grades


@given(baseline=st.sampled_from(GAIS_LEVELS), follow_up=st.sampled_from(GAIS_LEVELS))
def test_gais_is_judged_by_the_follow_ups_rank_alone(baseline, follow_up):
    result = one_change("gais", baseline, follow_up)
    good = GAIS_LEVELS.index(follow_up) <= GAIS_LEVELS.index("improved")
    assert result.verdict == ("responder" if good else "non-responder")
    assert result.change_grades == GAIS_LEVELS.index(follow_up) - GAIS_LEVELS.index(baseline)


@given(
    baseline=st.integers(min_value=1, max_value=4),
    follow_up=st.integers(min_value=1, max_value=4),
)
def test_hdss_needs_two_grades(baseline, follow_up):
    result = one_change("hdss", D(baseline), D(follow_up))
    assert result.change_grades == follow_up - baseline
    assert result.verdict == ("responder" if baseline - follow_up >= 2 else "non-responder")


# --- as_of and summary (DESIGN 3.8), and how long a decision on a verdict lasts (B.32) ---------


def test_as_of_is_the_deciding_follow_ups_period_end_and_the_summary_one_line():
    stop = judge(design_example(D(18)))
    assert (stop.verdict, stop.as_of, stop.summary) == (
        "stop",
        date(2026, 10, 18),
        "\u221210 % after 2 cycles",
    )
    assert judge(design_example()).summary == "\u221235 % after 2 cycles"


def test_a_day_follow_up_is_its_own_as_of_and_no_follow_up_has_none():
    hit6 = one_change("hit-6", D(66), D(58), indication="chronic-migraine")
    assert (hit6.as_of, hit6.summary) == (FOLLOW_UP_DAY, "\u22128, \u221212.1 %")
    empty = judge(dataclasses.replace(design_example(), follow_ups=()))
    assert (empty.as_of, empty.summary) == (None, "no follow-up yet")


@pytest.mark.parametrize(
    ("scale", "baseline", "follow_up", "summary"),
    [
        ("modified-ashworth", "2", "1+", "1 grade better"),
        ("modified-ashworth", "1", "2", "2 grades worse"),
        ("modified-ashworth", "2", "2", "no change"),
        ("hdss", D(4), D(2), "2 grades better"),
        ("pain-nrs", D(8), D(4), "\u221250 %"),
        ("prism-dioptres", D(20), D(8), "\u221212, \u221260 %"),
        ("twstrs", D(40), D(44), "+4, +10 %"),
    ],
)
def test_the_summary_speaks_in_the_scales_terms(scale, baseline, follow_up, summary):
    kw = {"indication": "chronic-migraine"} if scale == "pain-nrs" else {}
    found = one_change(scale, baseline, follow_up, **kw)
    assert found.summary == summary
    assert len(found.summary) <= 200


def _with(*values: int) -> OutcomeSeries:
    """DESIGN 3.8's series with follow-ups a month apart from 18 October."""
    first = design_example(D(18))
    later = tuple(
        Reading.on(D(v), date(2026, 10, 18) + timedelta(days=28 * (n + 1)), 2)
        for n, v in enumerate(values)
    )
    return dataclasses.replace(first, follow_ups=first.follow_ups + later)


def test_a_decision_on_a_stop_lasts_while_every_newer_follow_up_is_still_a_stop():
    assert verdict_changed_since(_with(), date(2026, 10, 18), "stop") is False
    assert verdict_changed_since(_with(17, 19), date(2026, 10, 18), "stop") is False


def test_a_newer_follow_up_that_changes_the_verdict_ends_it_even_if_a_later_stop_returns():
    assert verdict_changed_since(_with(10), date(2026, 10, 18), "stop") is True
    assert judge(_with(10, 18)).verdict == "stop"
    assert verdict_changed_since(_with(10, 18), date(2026, 10, 18), "stop") is True
    # A decision taken on the new stop (13 December) stands: what came before it does not count.
    assert verdict_changed_since(_with(10, 18), date(2026, 12, 13), "stop") is False

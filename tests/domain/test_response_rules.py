"""The response rules' thresholds are catalog data (scales.toml, each scale's `response`): a catalog
with other figures moves the verdict's edge, the loader refuses incomplete response entries, and
no scale is judged by a figure kept in code."""

from __future__ import annotations

import ast
import dataclasses
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain import outcomes
from bontrack.domain.catalog import CatalogError, catalog
from bontrack.domain.catalog.load import packaged_texts, parse_catalog
from bontrack.domain.catalog.model import Catalog, ResponseRule, Tag
from bontrack.domain.outcomes import Cycle, OutcomeSeries, Reading, judge

D = Decimal
BASELINE_DAY = date(2026, 1, 5)
FOLLOW_UP_DAY = date(2026, 3, 2)
TWO_CYCLES = (Cycle(1, date(2026, 5, 4)), Cycle(2, date(2026, 7, 27)))
OUTCOMES_PY = Path(outcomes.__file__)


def scales_toml_with(scale: str, old: str, new: str) -> dict[str, str]:
    """The packaged data files with one text replaced inside one scale's entry of scales.toml."""
    texts = packaged_texts()
    head, *entries = texts["scales.toml"].split("\n[[scale]]\n")
    found = [n for n, entry in enumerate(entries) if f'code = "{scale}"\n' in entry]
    assert len(found) == 1, scale
    entry = entries[found[0]]
    assert entry.count(old) == 1, f"{old!r} is not once in {scale}'s entry"
    entries[found[0]] = entry.replace(old, new)
    return dict(texts, **{"scales.toml": "\n[[scale]]\n".join([head, *entries])})


def catalog_with(scale: str, old: str, new: str) -> Catalog:
    return parse_catalog(scales_toml_with(scale, old, new))


def headache_days(follow_up: Decimal, scale: str = "headache-days-28d") -> OutcomeSeries:
    """20 headache days in the 28-day baseline, two cycles, one 28-day follow-up."""
    return OutcomeSeries(
        scale=scale,
        baseline=Reading.over(D(20), date(2026, 4, 6), date(2026, 5, 3)),
        follow_ups=(Reading.over(follow_up, date(2026, 9, 21), date(2026, 10, 18), 2),),
        cycles=TWO_CYCLES,
    )


def monthly(values: list[int]) -> OutcomeSeries:
    """Headache days a month: a 20-day baseline, then a follow-up a month from August on."""
    return OutcomeSeries(
        scale="headache-days-month",
        baseline=Reading.over(D(20), date(2026, 4, 1), date(2026, 4, 30)),
        follow_ups=tuple(
            Reading.in_month(D(v), 2026, 8 + n, after_cycle=2) for n, v in enumerate(values)
        ),
        cycles=TWO_CYCLES,
    )


def one_change(
    scale: str, baseline: Decimal | str, follow_up: Decimal | str, **kw: str
) -> OutcomeSeries:
    return OutcomeSeries(
        scale=scale,
        baseline=Reading.on(baseline, BASELINE_DAY),
        follow_ups=(Reading.on(follow_up, FOLLOW_UP_DAY),),
        **kw,
    )


# --- (a) another figure in the catalog moves the verdict's edge ------------------------------


def test_the_nice_fall_is_the_catalogs():
    forty = catalog_with(
        "headache-days-28d",
        'min_fall_pct = { value = 30, source = "NICE", tag = "L" }',
        'min_fall_pct = { value = 40, source = "NICE", tag = "L" }',
    )
    assert judge(headache_days(D(13))).verdict == "continue"  # a 35 % fall
    stopped = judge(headache_days(D(13)), forty)
    assert stopped.verdict == "stop"
    assert "less than the 40 % fall NICE TA260 requires" in stopped.reason
    at_the_edge = judge(headache_days(D(12)), forty)  # exactly 40 %
    assert at_the_edge.verdict == "continue"
    assert "at least the 40 % fall NICE TA260 requires" in at_the_edge.reason


@cache
def _nice_fall_of(percent: int) -> Catalog:
    return catalog_with(
        "headache-days-28d",
        'min_fall_pct = { value = 30, source = "NICE", tag = "L" }',
        f'min_fall_pct = {{ value = {percent}, source = "NICE", tag = "L" }}',
    )


@given(
    percent=st.integers(min_value=1, max_value=100),
    follow_up=st.integers(min_value=0, max_value=28),
)
def test_the_stop_edge_follows_any_nice_fall_the_catalog_gives(percent, follow_up):
    result = judge(headache_days(D(follow_up)), _nice_fall_of(percent))
    fell_enough = (20 - follow_up) * 100 >= percent * 20
    assert result.verdict == ("continue" if fell_enough else "stop")


def test_the_cycles_nice_waits_for_are_the_catalogs():
    three = catalog_with(
        "headache-days-28d",
        'cycles = { value = 2, source = "NICE", tag = "L" }',
        'cycles = { value = 3, source = "NICE", tag = "L" }',
    )
    result = judge(headache_days(D(13)), three)
    assert result.verdict == "no-verdict-yet"
    assert result.reason.endswith("NICE TA260 judges the response after 3 cycles.")
    no_follow_up = judge(dataclasses.replace(headache_days(D(13)), follow_ups=()), three)
    assert no_follow_up.reason.endswith("NICE TA260 judges the response after 3 cycles.")


def test_the_trials_responder_is_the_catalogs():
    forty = catalog_with(
        "headache-days-28d",
        "[scale.response.responder_fall_pct]\nvalue = 50",
        "[scale.response.responder_fall_pct]\nvalue = 40",
    )
    assert judge(headache_days(D(12))).responder_50 is False
    result = judge(headache_days(D(12)), forty)
    assert result.responder_50 is True
    assert "It is a 40 % responder." in result.reason


def test_the_episodic_count_is_the_catalogs():
    """14, 13, 14 headache days: under 15 for three months (episodic), but not all under 14."""
    fourteen = catalog_with(
        "headache-days-month",
        'episodic_below = { value = 15, source = "NICE", tag = "L" }',
        'episodic_below = { value = 14, source = "NICE", tag = "L" }',
    )
    assert judge(monthly([14, 13, 14])).verdict == "stop"
    assert judge(monthly([14, 13, 14]), fourteen).verdict == "continue"
    assert (
        "Under 14 headache days in each follow-up" in judge(monthly([13, 12, 13]), fourteen).reason
    )


def test_the_episodic_months_and_days_are_the_catalogs():
    """Three calendar months cover 92 days: enough for 84, not for 100."""
    longer = catalog_with(
        "headache-days-month",
        'episodic_months = { value = 3, source = "NICE", tag = "L" }\n'
        'episodic_days = { value = 84, source = "NICE", tag = "L", policy = "window-84d" }',
        'episodic_months = { value = 4, source = "NICE", tag = "L" }\n'
        'episodic_days = { value = 100, source = "NICE", tag = "L", policy = "window-84d" }',
    )
    assert judge(monthly([12, 12, 12])).verdict == "stop"
    assert judge(monthly([12, 12, 12]), longer).verdict == "continue"
    stopped = judge(monthly([12, 12, 12, 12]), longer)
    assert stopped.verdict == "stop"
    assert "4 consecutive months, at least 100 days" in stopped.reason


@pytest.mark.parametrize(
    ("scale", "old", "new", "series", "before", "after", "quoted"),
    [
        (
            "hit-6",
            "value = 6,",
            "value = 5,",
            one_change("hit-6", D(66), D(61)),
            "not-meaningful",
            "meaningful",
            "a fall of at least 5 points is clinically meaningful",
        ),
        (
            "bsdi",
            "value = 0.7,",
            "value = 0.5,",
            one_change("bsdi", D("2.0"), D("1.4")),
            "not-meaningful",
            "meaningful",
            "a fall of at least 0.5 points",
        ),
        (
            "jankovic-rating-scale",
            "value = 2,",
            "value = 3,",
            one_change("jankovic-rating-scale", D(6), D(4)),
            "meaningful",
            "not-meaningful",
            "a fall of at least 3 points",
        ),
        (
            "pain-nrs",
            "min_fall_pct = { value = 30,",
            "min_fall_pct = { value = 25,",
            one_change("pain-nrs", D(8), D(6)),
            "not-meaningful",
            "meaningful",
            "a fall of at least 25 % is meaningful (IMMPACT)",
        ),
        (
            "pain-nrs",
            "substantial_fall_pct = { value = 50,",
            "substantial_fall_pct = { value = 60,",
            one_change("pain-nrs", D(10), D(5)),
            "meaningful",
            "meaningful",
            "a fall of at least 30 % is meaningful (IMMPACT)",  # no longer substantial
        ),
        (
            "hdss",
            "value = 2,",
            "value = 1,",
            one_change("hdss", D(4), D(3)),
            "non-responder",
            "responder",
            "an improvement of at least 1 grades is a response",
        ),
        (
            "gravimetric-sweat-mg-5min",
            "value = 50\n",
            "value = 40\n",
            one_change("gravimetric-sweat-mg-5min", D(120), D(72)),
            "non-responder",
            "responder",
            "a fall of at least 40 % is a response",
        ),
        (
            "modified-ashworth",
            "value = 1,",
            "value = 2,",
            one_change("modified-ashworth", "2", "1+"),
            "responder",
            "non-responder",
            "a fall of at least 2 grade",
        ),
        (
            "gais",
            'value = "improved"',
            'value = "much-improved"',
            one_change("gais", "no-change", "improved"),
            "responder",
            "non-responder",
            'only "much-improved" or better is a response',
        ),
        (
            "prism-dioptres",
            "value = 10\n",
            "value = 8\n",
            one_change("prism-dioptres", D(12), D(10)),
            "responder",
            "non-responder",
            "a deviation of at most 8 prism dioptres",
        ),
        (
            "facial-wrinkle-scale",
            "value = 1\n",
            "value = 2\n",
            one_change("facial-wrinkle-scale", D(3), D(2), indication="glabellar-lines"),
            "non-responder",
            "responder",
            "none (0) or mild (2) at maximum frown is a response",
        ),
        (
            "facial-wrinkle-scale",
            'min_grades = { value = 2, source = "BXC-DIL", tag = "S" }',
            'min_grades = { value = 1, source = "BXC-DIL", tag = "S" }',
            one_change("facial-wrinkle-scale", D(3), D(2), indication="forehead-lines"),
            "non-responder",
            "responder",
            "an improvement of at least 1 grades",
        ),
        (
            "gas-t-score",
            "value = 50,",
            "value = 55,",
            one_change("gas-t-score", D(38), D(52)),
            "goals-met",
            "goals-not-met",
            "T 55 or more means the goals were met on average",
        ),
    ],
)
def test_each_rules_figure_is_the_catalogs(scale, old, new, series, before, after, quoted):
    assert judge(series).verdict == before
    result = judge(series, catalog_with(scale, old, new))
    assert result.verdict == after, result.reason
    assert quoted in result.reason


def test_the_rule_a_scale_is_judged_by_is_the_catalogs():
    """HIT-6 judged by a percentage instead of points: 66 to 60 is 6 points but only 9.1 %."""
    by_percent = catalog_with(
        "hit-6",
        'rule = "fall-points"\n'
        'verdicts = ["meaningful", "not-meaningful"]\n'
        'says = "a fall of at least {min_fall} points is clinically meaningful"\n'
        'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
        'rule = "fall-pct"\n'
        'verdicts = ["meaningful", "not-meaningful"]\n'
        'says = "a fall of at least {min_fall_pct} % is meaningful"\n'
        'min_fall_pct = { value = 10, source = "HOUTS-2021", tag = "S" }',
    )
    series = one_change("hit-6", D(66), D(60))
    assert judge(series).verdict == "meaningful"
    result = judge(series, by_percent)
    assert result.verdict == "not-meaningful"
    assert result.reason == (
        "HIT-6 fell from 66 to 60 (-6, -9.1 %); a fall of at least 10 % is meaningful."
    )


# --- (b) the loader refuses incomplete response entries ----------------------------------------


@pytest.mark.parametrize(
    ("scale", "old", "new", "expected"),
    [
        (
            "hit-6",
            'rule = "fall-points"',
            'rule = "fall-percent"',
            (
                "scale 'hit-6': response[0]: rule: must be one of nice-ta260, fall-points, "
                "fall-pct, fall-grades, at-most, at-least, no-definition, not 'fall-percent'"
            ),
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }\n',
            "",
            "scale 'hit-6': response[0]: min_fall: is required for a fall-points rule",
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
            'min_fall = { source = "HOUTS-2021", tag = "S" }',
            "scale 'hit-6': response[0]: min_fall: value: is required",
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
            'min_fall = { value = 6, tag = "S" }',
            "scale 'hit-6': response[0]: min_fall: source: is required",
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
            'min_fall = { value = 6, source = "NOWHERE 4", tag = "S" }',
            "scale 'hit-6': response[0]: min_fall: source: unknown source key 'NOWHERE'",
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
            'min_fall = { value = 6, source = "HOUTS-2021" }',
            "scale 'hit-6': response[0]: min_fall: tag: is required",
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
            "min_fall = 6",
            "scale 'hit-6': response[0]: min_fall: must be a table",
        ),
        (
            "hit-6",
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S" }',
            'min_fall = { value = 6, source = "HOUTS-2021", tag = "S", why = "x" }',
            "scale 'hit-6': response[0]: min_fall: why: unknown field",
        ),
        (
            "hit-6",
            "{min_fall} points",
            "{min_fal} points",
            "scale 'hit-6': response[0]: says: {min_fal} is not one of its thresholds (min_fall)",
        ),
        (
            "hit-6",
            'verdicts = ["meaningful", "not-meaningful"]',
            'verdicts = ["meaningful", "non-responder"]',
            "scale 'hit-6': response[0]: verdicts: must be one of the pairs of codes.md",
        ),
        (
            "hit-6",
            'rule = "fall-points"\n',
            'rule = "fall-points"\nmin_fall_pct = { value = 30, source = "NICE", tag = "L" }\n',
            (
                "scale 'hit-6': response[0]: min_fall_pct: is not a threshold of a fall-points "
                "rule (its thresholds: min_fall)"
            ),
        ),
        (
            "pain-nrs",
            "min_fall_pct = { value = 30,",
            "min_fall_pct = { value = 130,",
            "response[0]: min_fall_pct: value: a percentage must not be above 100",
        ),
        (
            "pain-nrs",
            (
                'substantial_says = "a fall of at least {substantial_fall_pct} % is substantial '
                '(IMMPACT)"\n'
            ),
            "",
            "scale 'pain-nrs': response[0]: substantial_says: is required",
        ),
        (
            "gais",
            'value = "improved"',
            'value = "better"',
            "scale 'gais': response[0]: at_least: value: must be one of very-much-improved",
        ),
        (
            "modified-ashworth",
            'rule = "fall-grades"',
            'rule = "fall-points"',
            "modified-ashworth': response[0]: rule: a fall-points rule needs a numeric scale",
        ),
        (
            "headache-days-28d",
            'cycles = { value = 2, source = "NICE", tag = "L" }\n',
            "",
            "scale 'headache-days-28d': response[0]: cycles: is required for a nice-ta260 rule",
        ),
        (
            "headache-days-28d",
            'cycles = { value = 2, source = "NICE", tag = "L" }',
            'cycles = { value = 2.5, source = "NICE", tag = "L" }',
            "scale 'headache-days-28d': response[0]: cycles: value: must be a whole number",
        ),
        (
            "headache-days-28d",
            'counts = "headache-days"',
            'counts = "headaches"',
            (
                "scale 'headache-days-28d': response[0]: counts: must be one of headache-days, "
                "migraine-days"
            ),
        ),
        (
            "migraine-days-28d",
            'episodic_months = { value = 3, source = "NICE", tag = "L" }',
            (
                'episodic_months = { value = 3, source = "NICE", tag = "L" }\n'
                'episodic_days = { value = 84, source = "NICE", tag = "L" }'
            ),
            (
                "scale 'migraine-days-28d': response[0]: episodic_days: is not a threshold of a "
                "nice-ta260 rule on migraine days"
            ),
        ),
        (
            "midas",
            'why = "MIDAS has no standard responder definition (its grade change is used)"\n',
            "",
            "scale 'midas': response[0]: why: is required",
        ),
        (
            "midas",
            '(its grade change is used)"\nsource = "SCALES"\n',
            '(its grade change is used)"\n',
            "scale 'midas': response[0]: source: is required",
        ),
        (
            "hit-6",
            'rule = "fall-points"',
            'rule = "fall-pct"',
            (
                "scale 'hit-6': response[0]: min_fall: is not a threshold of a fall-pct rule "
                "(its thresholds: min_fall_pct, substantial_fall_pct)"
            ),
        ),
        (
            "facial-wrinkle-scale",
            'indications = ["forehead-lines"]',
            'indications = ["forehead"]',
            "scale 'facial-wrinkle-scale': response[1]: indications: unknown code 'forehead'",
        ),
        (
            "facial-wrinkle-scale",
            'indications = ["forehead-lines"]',
            'indications = ["glabellar-lines"]',
            (
                "scale 'facial-wrinkle-scale': response[1]: indications: glabellar-lines already "
                "has a response on this scale"
            ),
        ),
        (
            "facial-wrinkle-scale",
            'indications = ["forehead-lines"]',
            'indications = ["cervical-dystonia"]',
            (
                "scale 'facial-wrinkle-scale': response[1]: indications: cervical-dystonia is not "
                "followed with facial-wrinkle-scale"
            ),
        ),
    ],
)
def test_an_incomplete_response_names_the_file_the_entry_and_the_field(scale, old, new, expected):
    with pytest.raises(CatalogError) as error:
        parse_catalog(scales_toml_with(scale, old, new))
    assert str(error.value).startswith("scales.toml: ")
    assert expected in str(error.value)


def test_a_scale_without_a_response_is_refused():
    texts = packaged_texts()
    head, *entries = texts["scales.toml"].split("\n[[scale]]\n")
    hit6 = next(n for n, entry in enumerate(entries) if 'code = "hit-6"\n' in entry)
    entries[hit6] = entries[hit6].split("\n[[scale.response]]\n", 1)[0] + "\n"
    broken = dict(texts, **{"scales.toml": "\n[[scale]]\n".join([head, *entries])})
    with pytest.raises(CatalogError, match=r"^scales.toml: scale 'hit-6': response: is required"):
        parse_catalog(broken)


# --- (c) no scale is judged by a figure kept in code -------------------------------------------


def test_every_rule_the_data_can_name_has_its_logic():
    assert set(outcomes.RULES) == set(ResponseRule)


def test_every_scale_an_indication_follows_has_its_response_data():
    """Each (indication, scale) pair has a response, or the scale's rules are given per
    indication and this one has none: then the verdict is no-definition, said in words."""
    cat = catalog()
    for indication in cat.indications.values():
        for code in indication.scales:
            scale = cat.scales[code]
            assert scale.responses, code
            if cat.response_for(code, indication.code) is not None:
                continue
            assert all(r.indications for r in scale.responses), (code, indication.code)
            value = D(1) if scale.kind == "numeric" else scale.levels[0]
            result = judge(one_change(code, value, value, indication=indication.code))
            assert result.verdict == "no-definition"
            assert f"no responder definition on this scale for {indication.code}" in result.reason


@pytest.mark.parametrize("code", sorted(catalog().scales))
def test_a_scale_stripped_of_its_response_data_gets_no_verdict_at_all(code):
    cat = catalog()
    scale = cat.scales[code]
    stripped = dataclasses.replace(
        cat, scales={**cat.scales, code: dataclasses.replace(scale, responses=())}
    )
    value = D(1) if scale.kind == "numeric" else scale.levels[0]
    with pytest.raises(ValueError, match="no outcome rule"):
        judge(one_change(code, value, value), stripped)


def test_outcomes_py_holds_no_threshold_and_names_no_scale():
    tree = ast.parse(OUTCOMES_PY.read_text(encoding="utf-8"))
    scale_codes = set(catalog().scales)
    named = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in scale_codes
    ]
    assert named == []
    figures = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            figures += [
                node.value
                for node in ast.walk(statement.value)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, int | float)
                and not isinstance(node.value, bool)
            ]
    assert figures == []


def test_every_threshold_cites_a_known_source():
    cat = catalog()
    for scale in cat.scales.values():
        for response in scale.responses:
            cites = [t.cite for t in response.thresholds.values()]
            cites += [response.cite] if response.cite is not None else []
            assert cites, scale.code
            for cite in cites:
                assert cite.refs
                assert all(ref.split()[0] in cat.sources for ref in cite.refs)


# The figures facts.md has no entry for: kept, tagged [R], with a note saying what is missing.
WITHOUT_A_FACTS_ENTRY = {
    ("headache-days-28d", (), "episodic_gap_days"),
    ("headache-days-month", (), "episodic_gap_days"),
}


def test_the_figures_without_a_facts_entry_say_so():
    found = set()
    for scale in catalog().scales.values():
        for response in scale.responses:
            for name, threshold in response.thresholds.items():
                if threshold.note.startswith("no entry in facts.md"):
                    found.add((scale.code, response.indications, name))
                    assert threshold.cite.tag is Tag.RECALLED
    assert found == WITHOUT_A_FACTS_ENTRY


def test_the_packaged_catalogs_nice_rule_and_scale_groups():
    nice = outcomes.nice_rule()
    assert nice.whole("cycles") == 2
    assert nice.number("min_fall_pct") == 30
    assert nice.number("responder_fall_pct") == 50
    assert nice.number("episodic_below") == 15
    assert outcomes.headache_day_scales() == (
        "headache-days-28d",
        "headache-days-month",
        "migraine-days-28d",
    )
    assert outcomes.graded_scales() == ("hdss", "facial-wrinkle-scale")
    # No threshold is a module constant any more: the pages read the catalog too.
    assert not hasattr(outcomes, "NICE_MIN_FALL_PCT")

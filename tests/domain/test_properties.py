"""Invariants of every check, on random plans, patients and histories (DESIGN 3.1, 3.2;
B.5, B.7)."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.catalog.model import Severity
from bontrack.domain.check import MissingWeightError, requires_weight
from bontrack.domain.rules.findings import OVERRIDABLE_RULES
from tests.domain.factories import (
    ONA,
    PRODUCTS,
    check,
    glabellar_plan,
    history,
    patient,
    plan,
    point,
)

PREEMPT_SITES = [(i.site, i.side) for i in plan(protocol="preempt-195").injections]
HISTORY_INDICATIONS = [
    "chronic-migraine",
    "other",
    "glabellar-lines",
    "cervical-dystonia",
    "upper-limb-spasticity",
    "blepharospasm",
]
point_units = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(30), places=1)


@st.composite
def preempt_like_plans(draw):
    """31 to 39 PREEMPT/follow-the-pain points, each with its own dose."""
    count = draw(st.integers(min_value=31, max_value=39))
    amounts = draw(st.lists(point_units, min_size=count, max_size=count))
    pairs = zip(PREEMPT_SITES[:count], amounts, strict=True)
    return plan(injections=[point(site, side, amount) for (site, side), amount in pairs])


@st.composite
def glabellar_plans(draw):
    """Any product's own glabellar protocol (Myobloc: cervical dystonia), doses scaled."""
    product = draw(st.sampled_from(PRODUCTS))
    base = glabellar_plan(product)
    factor = draw(st.decimals(min_value=Decimal("0.5"), max_value=Decimal(3), places=1))
    return dataclasses.replace(
        base,
        injections=tuple(dataclasses.replace(i, units=i.units * factor) for i in base.injections),
    )


@st.composite
def patients(draw):
    """An adult, or a child with a weight (B.9), with or without precautions."""
    age = draw(st.integers(min_value=2, max_value=85))
    weight = draw(st.integers(min_value=12, max_value=120)) if age < 18 else None
    conditions = draw(st.lists(st.sampled_from(["dysphagia", "myasthenia-gravis"]), max_size=1))
    allergies = draw(st.lists(st.sampled_from(["cow-milk-protein", ONA]), max_size=1))
    return patient(age_years=age, weight=weight, conditions=conditions, allergies=allergies)


@st.composite
def histories(draw, products=PRODUCTS):
    entries = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=150),
                st.sampled_from(products),
                st.sampled_from(HISTORY_INDICATIONS),
                st.integers(min_value=1, max_value=400),
            ),
            max_size=5,
        )
    )
    return [
        history(days, product, indication, amount) for days, product, indication, amount in entries
    ]


any_plans = st.one_of(preempt_like_plans(), glabellar_plans())


@given(any_plans, patients(), histories())
def test_verdict_follows_the_findings(the_plan, the_patient, the_history):
    """DESIGN 3.2: the verdict is block if any finding blocks, else warn if any warns, else ok."""
    result = check(the_plan, the_patient, the_history)
    severities = {f.severity for f in result.findings}
    if Severity.BLOCK in severities:
        assert result.verdict == "block"
    elif Severity.WARN in severities:
        assert result.verdict == "warn"
    else:
        assert result.verdict == "ok"


@given(any_plans, patients(), histories())
def test_findings_are_sorted_by_severity_then_rule(the_plan, the_patient, the_history):
    """DESIGN 3.2: sorted block, warn, info, then by rule id."""
    findings = check(the_plan, the_patient, the_history).findings
    keys = [(f.severity.rank, f.rule) for f in findings]
    assert keys == sorted(keys)


@given(any_plans, patients(), histories())
def test_only_dose_and_window_blocks_are_overridable(the_plan, the_patient, the_history):
    """DESIGN 3.2, B.7: `overridable` is false for warnings and information, and true only for
    blocks of the dose and window rules."""
    for f in check(the_plan, the_patient, the_history).findings:
        if f.severity is not Severity.BLOCK:
            assert f.overridable is False
        else:
            assert f.overridable is (f.rule in OVERRIDABLE_RULES)


@given(any_plans, patients(), histories())
def test_the_session_total_is_the_sum_of_its_points(the_plan, the_patient, the_history):
    """DESIGN 3.1: the total is the exact sum of the plan's points, in the plan's product."""
    result = check(the_plan, the_patient, the_history)
    assert result.total.product == the_plan.product
    assert result.total.amount == sum((i.units.amount for i in the_plan.injections), Decimal(0))


@given(
    preempt_like_plans(),
    patients(),
    histories(),
    st.data(),
    st.decimals(min_value=Decimal(1), max_value=Decimal(10), places=2),
)
def test_raising_a_dose_never_clears_a_block(the_plan, the_patient, the_history, data, factor):
    """B.1, B.15, B.27: more units never make a blocked plan pass: raising one point's dose by a
    factor ≥ 1 keeps the verdict block, and every blocking rule still blocks."""
    before = check(the_plan, the_patient, the_history)
    index = data.draw(st.integers(min_value=0, max_value=len(the_plan.injections) - 1))
    raised = list(the_plan.injections)
    raised[index] = dataclasses.replace(raised[index], units=raised[index].units * factor)
    after = check(dataclasses.replace(the_plan, injections=tuple(raised)), the_patient, the_history)
    if before.verdict == "block":
        assert after.verdict == "block"
    blocks_before = {f.rule for f in before.findings if f.severity is Severity.BLOCK}
    blocks_after = {f.rule for f in after.findings if f.severity is Severity.BLOCK}
    assert blocks_before <= blocks_after


@given(any_plans, patients(), histories())
def test_another_products_history_only_ever_gives_mixed_products(
    the_plan, the_patient, the_history
):
    """B.5 never-sum, B.12: removing every other product's history changes nothing but the
    mixed-products warnings: another product's units are never summed into any limit."""
    own = [h for h in the_history if h.product == the_plan.product]
    with_others = check(the_plan, the_patient, the_history).findings
    without = check(the_plan, the_patient, own).findings
    assert [f for f in with_others if f.rule != "mixed-products"] == list(without)
    assert all(f.rule != "mixed-products" for f in without)


limb_plans = st.sampled_from(
    [
        plan(
            product=product,
            indication=indication,
            injections=[point(site, "left", 20, product)],
        )
        for product in ("onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA")
        for indication, site in (
            ("pediatric-upper-limb-spasticity", "biceps-brachii"),
            ("pediatric-lower-limb-spasticity", "soleus"),
        )
    ]
)


@given(st.one_of(any_plans, limb_plans), st.integers(min_value=2, max_value=17), histories())
def test_requires_weight_says_exactly_when_evaluate_needs_one(the_plan, age, the_history):
    """B.9: a plan to which a weight-based rule applies needs weight_kg (MissingWeightError);
    any other child's plan is checked without one. `requires_weight` is what the edges ask
    first, so it must agree with `evaluate`."""
    child_without_weight = patient(age_years=age)
    needed = requires_weight(the_plan, child_without_weight, the_history)
    if needed:
        with pytest.raises(MissingWeightError):
            check(the_plan, child_without_weight, the_history)
    else:
        check(the_plan, child_without_weight, the_history)

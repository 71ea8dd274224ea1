"""B.30 supply: what is planned or signed must have been in the vials. Capacity only; never
overridable; another product's vial stays a product mismatch and a bad lot stays `lot`."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bontrack.domain.catalog.model import Severity
from bontrack.domain.planning import fill_draws, remaining_in
from bontrack.domain.rules.findings import OVERRIDABLE_RULES
from tests.domain.factories import (
    ABO,
    DAY,
    check,
    dec,
    of_rule,
    only,
    plan,
    point,
    rules,
    units,
    vial,
)


def preempt(*vials):
    """PREEMPT 155 U with the given vials."""
    return plan(protocol="preempt-155", vials=vials)


# --- without draws: `bontrack check`, the plan editor (DESIGN 3.3) ------------------------------


def test_a_vial_holding_exactly_the_dose_passes():
    """200 U less 45 U drawn earlier holds exactly PREEMPT's 155 U: nothing."""
    assert of_rule(check(preempt(vial(200, drawn_before=45))), "supply") == []


def test_a_vial_one_thousandth_of_a_unit_short_blocks():
    """200 U less 45.001 U drawn earlier holds 154.999 U: 0.001 U short of 155 U blocks."""
    finding = only(check(preempt(vial(200, drawn_before="45.001", lot="C1234"))), "supply")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "154.999 U" in finding.message
    assert "155 U" in finding.message
    assert "0.001 U short" in finding.message
    assert "lot C1234" in finding.message
    assert "pick another vial or reduce the dose" in finding.message
    assert finding.source.startswith("bontrack policy B.30")


def test_the_vials_add_up_together():
    """Two 100 U vials hold 200 U: enough for 155 U; one alone is not."""
    assert of_rule(check(preempt(vial(100), vial(100))), "supply") == []
    assert only(check(preempt(vial(100))), "supply").severity is Severity.BLOCK


def test_a_vial_drawn_to_the_last_unit_holds_nothing():
    finding = only(check(preempt(vial(100, drawn_before=100), vial(100))), "supply")
    assert "holds 0 U" in finding.message


def test_supply_is_never_overridable():
    assert "supply" not in OVERRIDABLE_RULES


def test_without_vials_supply_is_not_checked():
    """A plan can still be checked before vials are picked (DESIGN 3.3: no vials, no supply)."""
    assert of_rule(check(preempt()), "supply") == []


def test_signing_without_a_vial_of_the_product_blocks():
    finding = only(check(preempt(), at_signing=True), "supply")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "at least one vial" in finding.message


def test_a_vial_of_another_product_is_a_product_mismatch_not_supply():
    result = check(preempt(vial(500, ABO)))
    assert "product-mismatch" in rules(result)
    assert of_rule(result, "supply") == []


def test_signing_with_only_another_products_vial_blocks_as_supply_too():
    """No vial of the session's product: B.30 `supply`, beside the product mismatch."""
    result = check(preempt(vial(500, ABO)), at_signing=True)
    assert {"product-mismatch", "supply"} <= rules(result)


def test_an_expired_lot_with_room_enough_is_a_lot_finding_not_supply():
    expired = vial(200, lot_expires=DAY.replace(day=24))
    result = check(preempt(expired))
    assert "lot" in rules(result)
    assert of_rule(result, "supply") == []


# --- with draws: the records path (B.30) ------------------------------------------------------


def test_draws_that_add_up_to_the_total_within_each_vial_pass():
    vials = (vial(100, draw=100, label="Vial A"), vial(100, draw=55, label="Vial B"))
    assert of_rule(check(preempt(*vials), at_signing=True), "supply") == []


def test_a_draw_of_exactly_what_the_vial_still_holds_passes():
    assert of_rule(check(preempt(vial(200, drawn_before=45, draw=155))), "supply") == []


def test_a_draw_beyond_what_the_vial_still_holds_blocks_naming_the_vial():
    """The vial held 154.999 U (200 U less 45.001 U); 155 U were asked of it."""
    the_vial = vial(200, drawn_before="45.001", draw=155, label="Vial 7 of lot C1234")
    finding = only(check(preempt(the_vial)), "supply")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "Vial 7 of lot C1234" in finding.message
    assert "held 154.999 U" in finding.message
    assert "45.001 U drawn earlier" in finding.message
    assert "155 U was asked of it" in finding.message
    assert "pick another vial or reduce the dose" in finding.message


def test_draws_short_of_the_total_block():
    finding = only(check(preempt(vial(200, draw=150))), "supply")
    assert "150 U" in finding.message
    assert "short of the session's 155 U" in finding.message


def test_draws_beyond_the_total_block():
    finding = only(check(preempt(vial(200, draw=160))), "supply")
    assert "more than the session's 155 U" in finding.message


def test_a_vial_without_a_draw_beside_ones_with_draws_draws_nothing():
    vials = (vial(100, draw=100), vial(100))
    assert "supply" in rules(check(preempt(*vials)))


def test_the_impossible_dose_of_one_axillary_point_from_one_vial_blocks():
    """Issue scenario 1: 10,000 U from one 200 U vial is refused, whatever was overridden."""
    the_plan = plan(
        indication="axillary-hyperhidrosis",
        injections=[point("axilla", "left", 10000)],
        vials=[vial(200, diluent_ml=4, draw=10000)],
    )
    finding = only(check(the_plan, at_signing=True), "supply")
    assert finding.overridable is False
    assert "10000 U was asked of it" in finding.message


# --- fill_draws (B.30) --------------------------------------------------------------------


def test_fill_draws_fills_the_vials_in_the_order_given():
    vials = (vial(100, drawn_before=30), vial(100), vial(100))
    assert fill_draws(units(155), vials) == (units(70), units(85), units(0))


def test_fill_draws_leaves_the_shortfall_to_supply():
    vials = (vial(100, drawn_before=30),)
    draws = fill_draws(units(155), vials)
    assert draws == (units(70),)
    the_plan = preempt(*(vial(100, drawn_before=30, draw=70),))
    assert "supply" in rules(check(the_plan))


def test_fill_draws_gives_nothing_from_another_products_vial():
    assert fill_draws(units(155), (vial(500, ABO), vial(200))) == (units(0, ABO), units(155))


# --- properties ---------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(400), places=3)


@st.composite
def vial_sets(draw_from):
    sizes = draw_from(st.lists(st.sampled_from([50, 100, 200]), min_size=1, max_size=4))
    made = []
    for size in sizes:
        before = draw_from(st.decimals(min_value=0, max_value=size, places=3))
        made.append(vial(size, drawn_before=before))
    return made


@settings(max_examples=150, deadline=None)
@given(vials=vial_sets(), total=amounts)
def test_fill_draws_never_takes_more_than_a_vial_holds(vials, total):
    draws = fill_draws(units(total), vials)
    assert len(draws) == len(vials)
    for the_vial, taken in zip(vials, draws, strict=True):
        assert Decimal(0) <= taken.amount <= remaining_in(the_vial).amount
    assert sum(d.amount for d in draws) <= total


@settings(max_examples=150, deadline=None)
@given(vials=vial_sets(), total=amounts, given_draws=st.booleans())
def test_when_supply_is_silent_the_draws_never_exceed_what_the_vials_held(
    vials, total, given_draws
):
    """For random vials and totals, signed with filled-in draws or as planned without draws:
    when `supply` says nothing, the session's units fit in what its vials held."""
    the_plan_units = units(total)
    if given_draws:
        draws = fill_draws(the_plan_units, vials)
        vials = [
            vial(v.size.amount, drawn_before=v.drawn_before.amount, draw=d.amount)
            for v, d in zip(vials, draws, strict=True)
        ]
    the_plan = plan(
        indication="axillary-hyperhidrosis",
        injections=[point("axilla", "left", total)],
        vials=vials,
    )
    result = check(the_plan, at_signing=True)
    if of_rule(result, "supply"):
        return
    held = sum((remaining_in(v).amount for v in vials), Decimal(0))
    assert total <= held
    for v in vials:
        if v.draw is not None:
            assert v.draw.amount <= remaining_in(v).amount
    if given_draws:
        assert sum(v.draw.amount for v in vials if v.draw is not None) == dec(total)

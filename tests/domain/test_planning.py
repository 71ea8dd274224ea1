"""Protocol → plan, reconstitution and vial arithmetic (facts 1.1, 1.2, 2.2; B.23)."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.catalog import catalog
from bontrack.domain.planning import (
    dilution_in_label,
    expand_protocol,
    reconstitute,
    use_by,
    vial_concentration,
    vials_needed,
)
from bontrack.domain.quantities import Volume
from bontrack.domain.units import Units
from tests.domain.factories import (
    ABO,
    DAXI,
    INCO,
    LETI,
    NOW,
    ONA,
    PRABO,
    PRODUCTS,
    RIMA,
    plan,
    units,
)


def product(code):
    return catalog().products[code]


def preempt_points():
    return plan(protocol="preempt-155").injections


def test_preempt_expands_to_31_points_of_5_units():
    """Facts 2.2 (PI 2.2): PREEMPT is 155 U as 31 sites of 5 U in 7 muscle areas."""
    injections = expand_protocol(catalog().protocols["preempt-155"], ONA)
    assert len(injections) == 31
    assert {i.units for i in injections} == {units(5)}
    assert {i.route for i in injections} == {"intramuscular"}
    assert len({i.site for i in injections}) == 7


def test_protocol_points_carry_the_plan_product():
    """B.10: a protocol of another product still expands, in the plan's product, so that the
    check can block the mismatch rather than convert units."""
    injections = expand_protocol(catalog().protocols["preempt-155"], ABO)
    assert {i.units.product for i in injections} == {ABO}


def test_preempt_with_200_units_and_4_ml_is_5_units_per_tenth_ml():
    """Facts 2.2: 200 U + 4 mL → 5 U/0.1 mL, 0.1 mL per point, one vial, 45 U left over."""
    result = reconstitute(product(ONA), units(200), Volume(Decimal(4)), preempt_points())
    assert result.concentration.per_tenth_ml == units(5)
    assert str(result.concentration) == "5 U per 0.1 mL"
    assert {p.volume for p in result.points} == {Volume(Decimal("0.1"))}
    assert len(result.points) == 31
    assert result.total == units(155)
    assert result.total_volume == Volume(Decimal("3.1"))
    assert result.vials == 1
    assert result.leftover == units(45)
    assert result.use_by is None


def test_preempt_with_100_units_and_2_ml_gives_the_same_concentration():
    """Facts 2.2: 100 U + 2 mL is the other labelled PREEMPT dilution, also 5 U/0.1 mL;
    155 U then needs two 100 U vials (single-dose vials, facts 1.1), 45 U left over."""
    result = reconstitute(product(ONA), units(100), Volume(Decimal(2)), preempt_points())
    assert result.concentration.per_tenth_ml == units(5)
    assert {p.volume for p in result.points} == {Volume(Decimal("0.1"))}
    assert result.vials == 2
    assert result.leftover == units(45)


@pytest.mark.parametrize(
    ("code", "hours"),
    [(ONA, 24), (ABO, 24), (INCO, 24), (PRABO, 24), (LETI, 24), (DAXI, 72), (RIMA, 4)],
)
def test_use_by_is_reconstitution_time_plus_in_use_hours(code, hours):
    """Facts 1.1, B.23: 24 h after reconstitution; Daxxify 72 h; diluted Myobloc 4 h [R]."""
    made = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
    assert use_by(product(code), made) == made + dt.timedelta(hours=hours)


def test_reconstitute_reports_use_by_when_the_time_is_given():
    """B.23: the vial's use-by time follows from when it was reconstituted."""
    made = NOW - dt.timedelta(hours=1)
    result = reconstitute(product(DAXI), units(100, DAXI), Volume(Decimal("1.25")), (), made)
    assert result.use_by == made + dt.timedelta(hours=72)
    assert result.vials == 0


@given(
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal(20000), places=3),
    st.sampled_from([50, 100, 200, 300, 500, 2500, 5000, 10000]),
)
def test_vials_needed_is_the_ceiling(total_units, size):
    """Facts 1.1: vials are single-dose; the fewest whole vials that cover the total."""
    count = vials_needed(units(total_units), units(size))
    assert count * size >= total_units
    assert (count - 1) * size < total_units


@pytest.mark.parametrize(
    ("total_units", "size", "count"),
    [(155, 200, 1), (155, 100, 2), (200, 200, 1), (201, 200, 2), (1500, 500, 3), (1, 50, 1)],
)
def test_vials_needed_examples(total_units, size, count):
    """Facts 1.1, 2.2: 155 U from 100 U vials takes two; from a 200 U vial, one."""
    assert vials_needed(units(total_units), units(size)) == count


def test_vials_needed_for_nothing_is_zero():
    assert vials_needed(units(0), units(100)) == 0


def test_vials_needed_refuses_another_products_vial():
    """B.5: a vial of one product never covers another product's dose."""
    with pytest.raises(TypeError):
        vials_needed(units(155, ONA), units(500, ABO))


@pytest.mark.parametrize("size", [2500, 5000, 10000])
def test_myobloc_undiluted_is_500_units_per_tenth_ml(size):
    """Facts 1.1/1.2: Myobloc is a 5,000 U/mL solution: 500 U per 0.1 mL as supplied."""
    concentration = vial_concentration(product(RIMA), units(size, RIMA), Volume(Decimal(0)))
    assert concentration.per_tenth_ml == units(500, RIMA)


def test_myobloc_diluted_adds_saline_to_its_own_volume():
    """Facts 1.1: Myobloc may be diluted: 2,500 U in 0.5 mL plus 0.5 mL saline is 250 U/0.1 mL."""
    concentration = vial_concentration(product(RIMA), units(2500, RIMA), Volume(Decimal("0.5")))
    assert concentration.per_tenth_ml == units(250, RIMA)


@pytest.mark.parametrize(
    ("code", "size", "saline", "per_tenth"),
    [
        (ONA, 100, "1", "10"),
        (ONA, 100, "8", "1.25"),
        (ONA, 200, "8", "2.5"),
        (ONA, 50, "1.25", "4"),
        (ABO, 500, "2.5", "20"),
        (ABO, 300, "1.5", "20"),
        (ABO, 300, "0.6", "50"),
        (INCO, 100, "2", "5"),
        (PRABO, 100, "2.5", "4"),
        (LETI, 50, "1.25", "4"),
    ],
)
def test_labelled_dilutions_give_the_labelled_concentrations(code, size, saline, per_tenth):
    """Facts 1.2: the dilution tables' units per 0.1 mL."""
    concentration = vial_concentration(product(code), units(size, code), Volume(Decimal(saline)))
    assert concentration.per_tenth_ml == units(per_tenth, code)


def test_dilution_listed_is_accepted():
    """B.23: a listed combination is always accepted (Daxxify 100 U + 1.2 mL)."""
    assert dilution_in_label(product(DAXI), units(100, DAXI), Volume(Decimal("1.2"))) is True


def test_dilution_inside_the_listed_range_is_accepted():
    """B.23: BOTOX 100 U lists 1–8 mL; 3 mL lies inside the range the listed ones span."""
    assert dilution_in_label(product(ONA), units(100), Volume(Decimal(3))) is True


def test_dilution_outside_the_listed_range_is_not_accepted():
    """B.23: BOTOX 100 U + 10 mL lies outside 1–8 mL: a reconstitution warning."""
    assert dilution_in_label(product(ONA), units(100), Volume(Decimal(10))) is False


def test_dilution_other_than_a_single_listed_combination_is_not_accepted():
    """B.23: where a label lists one combination only (Jeuveau 100 U + 2.5 mL), any other
    warns (Jeuveau 100 U + 2 mL)."""
    assert dilution_in_label(product(PRABO), units(100, PRABO), Volume(Decimal("2.5"))) is True
    assert dilution_in_label(product(PRABO), units(100, PRABO), Volume(Decimal(2))) is False


def test_dilution_with_no_listed_combination_is_not_judged():
    """B.23, products.toml: no Xeomin 200 U combination is listed, so nothing to judge."""
    assert dilution_in_label(product(INCO), units(200, INCO), Volume(Decimal(4))) is None


def test_myobloc_dilution_is_never_judged():
    """B.23: Myobloc, a solution that "may be diluted", gets no dilution finding."""
    for saline in ("0", "0.5", "3", "20"):
        verdict = dilution_in_label(product(RIMA), units(2500, RIMA), Volume(Decimal(saline)))
        assert verdict is None


@pytest.mark.parametrize("code", PRODUCTS)
def test_every_listed_dilution_is_accepted(code):
    """B.23: a listed combination is always accepted, for every product and vial."""
    item = product(code)
    for d in item.dilutions:
        assert dilution_in_label(item, Units(code, d.vial_units), Volume(d.diluent_ml)) is True

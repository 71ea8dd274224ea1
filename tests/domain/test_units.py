"""Doses bound to their product, and Decimal volumes and concentrations (DESIGN 3.1, facts 1.3)."""

import operator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.catalog import catalog
from bontrack.domain.planning import vial_concentration
from bontrack.domain.quantities import Concentration, Volume
from bontrack.domain.units import IncompatibleUnitsError, Units, format_decimal, total
from tests.domain.factories import ABO, ONA, PRODUCTS, RIMA, units

# Doses as plans carry them: > 0, at most 3 decimals (DESIGN 3.3).
doses = st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal(100000), places=3, allow_nan=False
)
distinct_products = st.lists(st.sampled_from(PRODUCTS), min_size=2, max_size=2, unique=True)


def test_adding_units_of_two_products_raises():
    """Facts 1.3 (every label): units are not interchangeable; B.5 never-sum."""
    with pytest.raises(IncompatibleUnitsError):
        units(100, ONA) + units(300, ABO)


def test_incompatible_units_error_is_a_type_error():
    """DESIGN 3.1: cross-product arithmetic is a type error, not a value that can be used."""
    assert issubclass(IncompatibleUnitsError, TypeError)
    with pytest.raises(TypeError):
        units(100, ONA) - units(300, ABO)


@pytest.mark.parametrize(
    "compare", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
)
def test_comparing_units_of_two_products_raises(compare):
    """Facts 1.3: units cannot be compared with another product's units (B.5)."""
    with pytest.raises(IncompatibleUnitsError):
        compare(units(100, ONA), units(100, ABO))


def test_the_error_names_both_products():
    """Facts 1.3: the message says which two products met."""
    with pytest.raises(IncompatibleUnitsError) as raised:
        units(155, ONA) + units(500, ABO)
    assert raised.value.left == ONA
    assert raised.value.right == ABO
    assert ONA in str(raised.value)
    assert ABO in str(raised.value)


def test_total_of_one_product_rejects_a_dose_of_another():
    """B.5: a total is per product; another product's dose raises instead of being added."""
    with pytest.raises(IncompatibleUnitsError):
        total(ONA, [units(100, ONA), units(50, ABO)])


def test_same_product_arithmetic_is_exact_decimal():
    """DESIGN 3.1: units are Decimal, so 0.1 + 0.2 is 0.3 and 1.25 × 3 is 3.75 exactly."""
    assert units("0.1") + units("0.2") == units("0.3")
    assert (units("0.1") + units("0.2")).amount == Decimal("0.3")
    assert units("1.25") * 3 == units("3.75")
    assert units(200) - units(155) == units(45)
    assert units("2.5") < units("2.501")
    assert isinstance((units("2.5") + units(1)).amount, Decimal)


def test_equal_amounts_written_differently_are_equal_and_hash_alike():
    """DESIGN 3.3: "at most 3 decimals" is judged on the normalised value: 2.5000 is 2.5."""
    assert units("2.5000") == units("2.5")
    assert hash(units("2.5000")) == hash(units("2.5"))
    assert hash(units("200")) == hash(Units(ONA, Decimal("2E+2")))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("155", "155"),
        ("155.000", "155"),
        ("2.5", "2.5"),
        ("2.50", "2.5"),
        ("200", "200"),
        ("2E+2", "200"),
        ("200.0", "200"),
        ("1.25", "1.25"),
        ("0.001", "0.001"),
        ("0", "0"),
        ("-0", "0"),
        ("0.000", "0"),
    ],
)
def test_format_decimal_writes_plain_notation(value, text):
    """DESIGN 3.3: units are written as "155", "2.5", "200"; never "2E+2"."""
    assert format_decimal(Decimal(value)) == text


def test_units_text_and_str_use_plain_notation():
    """DESIGN 3.3: the CLI and API write units as strings in plain notation."""
    assert Units(ONA, Decimal("2E+2")).text == "200"
    assert str(units("2.50")) == f"2.5 U {ONA}"


@given(doses)
def test_format_decimal_round_trips_without_exponent_or_trailing_zeros(dose):
    """DESIGN 3.3: format(d.normalize(), "f"), the same number, never an exponent."""
    text = format_decimal(dose)
    assert "E" not in text.upper()
    assert Decimal(text) == dose
    if "." in text:
        assert not text.endswith("0")


@given(distinct_products, doses, doses)
def test_a_dose_never_sums_or_compares_across_products(pair, a, b):
    """B.5 never-sum, facts 1.3: any two distinct products raise on +, -, <, ==."""
    left, right = Units(pair[0], a), Units(pair[1], b)
    for op in (operator.add, operator.sub, operator.lt, operator.eq):
        with pytest.raises(IncompatibleUnitsError):
            op(left, right)


@given(st.sampled_from(PRODUCTS), st.lists(doses, max_size=40))
def test_total_of_one_product_is_the_sum_of_its_amounts(product, amounts):
    """DESIGN 3.1: a session total is the exact Decimal sum of its doses."""
    result = total(product, [Units(product, a) for a in amounts])
    assert result.product == product
    assert result.amount == sum(amounts, Decimal(0))


def _vial_dilutions():
    """Every (product, vial size, saline) the catalog lists, plus Myobloc's solution undiluted."""
    cat = catalog()
    cases = [
        (code, d.vial_units, d.diluent_ml)
        for code, product in cat.products.items()
        for d in product.dilutions
    ]
    cases += [(RIMA, size, Decimal(0)) for size in cat.products[RIMA].vial_sizes]
    return cases


VIAL_DILUTIONS = _vial_dilutions()


def test_every_product_with_a_dilution_table_is_covered_by_the_round_trip():
    """Facts 1.2: the round trip below runs over each listed (vial, saline) combination."""
    covered = {code for code, _, _ in VIAL_DILUTIONS}
    assert covered == set(PRODUCTS)
    assert len(VIAL_DILUTIONS) >= 20


@given(st.sampled_from(VIAL_DILUTIONS), doses)
def test_reconstitution_round_trips_units_to_ml_to_units(case, amount):
    """Facts 1.2: concentration = vial U ÷ (mL × 10); units → mL → units gives the dose back."""
    code, size, diluent = case
    product = catalog().products[code]
    concentration = vial_concentration(product, Units(code, size), Volume(diluent))
    dose = Units(code, amount)
    volume = concentration.volume_for(dose)
    assert concentration.units_in(volume) == dose


@given(doses)
def test_volume_for_a_dose_of_another_product_raises(amount):
    """DESIGN 3.1: mL for a dose cannot come from another product's vial."""
    concentration = Concentration.of_vial(units(100, ONA), Volume(Decimal(2)))
    with pytest.raises(IncompatibleUnitsError):
        concentration.volume_for(Units(ABO, amount))

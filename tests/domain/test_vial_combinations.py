"""Which whole vials in stock cover a plan's total (``planning.vial_combinations``)."""

from __future__ import annotations

from decimal import Decimal

from bontrack.domain.planning import vial_combinations
from bontrack.domain.units import Units


def botox(amount: str) -> Units:
    return Units("onabotulinumtoxinA", Decimal(amount))


def shown(total: str, stock: dict[str, int]) -> list[tuple[list[tuple[str, int]], str]]:
    found = vial_combinations(botox(total), {botox(size): n for size, n in stock.items()})
    return [([(s.text, n) for s, n in c.vials], c.leftover.text) for c in found]


def test_the_least_left_over_comes_first_then_the_fewest_vials():
    assert shown("140", {"100": 5, "50": 5}) == [
        ([("100", 1), ("50", 1)], "10"),
        ([("50", 3)], "10"),
        ([("100", 2)], "60"),
    ]


def test_a_vial_holding_exactly_the_total_leaves_nothing_over():
    assert shown("200", {"200": 1}) == [([("200", 1)], "0")]


def test_a_thousandth_of_a_unit_more_than_the_stock_holds_has_no_combination():
    assert shown("200.001", {"200": 1}) == []
    assert shown("200.001", {"200": 1, "50": 1}) == [([("200", 1), ("50", 1)], "49.999")]


def test_only_the_vials_at_hand_are_counted_and_no_vial_is_spare():
    # Two 100 U vials, not three: 300 U needs the 200 U vial.
    assert shown("250", {"100": 2, "200": 1, "50": 0}) == [
        ([("200", 1), ("100", 1)], "50"),
    ]
    # No combination holds a vial that could be left out.
    for vials, leftover in shown("155", {"200": 3, "100": 2, "50": 2}):
        assert Decimal(leftover) < min(Decimal(size) for size, _ in vials)


def test_nothing_to_cover_needs_no_vial():
    assert shown("0", {"100": 1}) == []

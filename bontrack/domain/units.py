"""Doses bound to their product.

Units of different botulinum toxin products measure different things: every label says they cannot
be compared with or converted into another product's units. A ``Units`` value therefore carries its
product, and adding, subtracting or comparing two values of different products raises
``IncompatibleUnitsError``. There is deliberately no conversion anywhere in bontrack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import total_ordering


class IncompatibleUnitsError(TypeError):
    """Two products' units met in arithmetic or a comparison."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(
            f"units of {left} and {right} are different quantities and cannot be combined"
        )
        self.left = left
        self.right = right


def format_decimal(value: Decimal) -> str:
    """Plain notation without exponent or trailing zeros: 155, 2.5, 200 (never 2E+2)."""
    normal = value.normalize()
    text = format(normal, "f")
    return "0" if text in ("-0", "") else text


@total_ordering
@dataclass(frozen=True, slots=True)
class Units:
    """An amount of one product's biological activity units (U)."""

    product: str
    amount: Decimal

    @classmethod
    def zero(cls, product: str) -> Units:
        return cls(product, Decimal(0))

    def _same(self, other: object) -> Units:
        if not isinstance(other, Units):
            raise TypeError(f"cannot combine Units with {type(other).__name__}")
        if other.product != self.product:
            raise IncompatibleUnitsError(self.product, other.product)
        return other

    def __add__(self, other: Units) -> Units:
        return Units(self.product, self.amount + self._same(other).amount)

    def __sub__(self, other: Units) -> Units:
        return Units(self.product, self.amount - self._same(other).amount)

    def __mul__(self, factor: Decimal | int) -> Units:
        if isinstance(factor, Units):
            raise TypeError("units cannot be multiplied by units")
        return Units(self.product, self.amount * Decimal(factor))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Units):
            return NotImplemented
        return self.amount == self._same(other).amount

    def __hash__(self) -> int:
        return hash((self.product, self.amount.normalize()))

    def __lt__(self, other: Units) -> bool:
        return self.amount < self._same(other).amount

    def __str__(self) -> str:
        return f"{format_decimal(self.amount)} U {self.product}"

    @property
    def text(self) -> str:
        """The amount as the CLI and API write it: a string, never a float."""
        return format_decimal(self.amount)


def total(product: str, doses: Iterable[Units]) -> Units:
    """Sum doses of one product; a dose of any other product raises."""
    result = Units.zero(product)
    for dose in doses:
        result = result + dose
    return result

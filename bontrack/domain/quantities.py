"""Decimal-backed volumes, concentrations and body weight.

Concentration follows the labels' convention, units per 0.1 mL, and is bound to its product like
``Units``: mL for a dose of one product cannot be computed from another product's vial.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bontrack.domain.units import Units, format_decimal

TENTH_ML = Decimal("0.1")


@dataclass(frozen=True, slots=True, order=True)
class Volume:
    """A volume in millilitres."""

    ml: Decimal

    def __str__(self) -> str:
        return f"{format_decimal(self.ml)} mL"

    def rounded(self, places: int = 3) -> Volume:
        return Volume(self.ml.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Concentration:
    """Units of one product per 0.1 mL of solution."""

    per_tenth_ml: Units

    @classmethod
    def of_vial(cls, vial_units: Units, diluent: Volume) -> Concentration:
        """A vial of powder reconstituted with ``diluent`` mL of saline."""
        return cls(Units(vial_units.product, vial_units.amount * TENTH_ML / diluent.ml))

    @property
    def product(self) -> str:
        return self.per_tenth_ml.product

    def volume_for(self, dose: Units) -> Volume:
        """mL that carry ``dose``; a dose of another product raises."""
        self.per_tenth_ml._same(dose)
        return Volume(dose.amount * TENTH_ML / self.per_tenth_ml.amount)

    def units_in(self, volume: Volume) -> Units:
        return Units(self.product, volume.ml * self.per_tenth_ml.amount / TENTH_ML)

    def __str__(self) -> str:
        return f"{format_decimal(self.per_tenth_ml.amount)} U per 0.1 mL"


@dataclass(frozen=True, slots=True, order=True)
class BodyWeight:
    kg: Decimal

    def __str__(self) -> str:
        return f"{format_decimal(self.kg)} kg"

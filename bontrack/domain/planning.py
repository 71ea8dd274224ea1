"""From a protocol to a plan, and the vial arithmetic around it.

Reconstitution fixes a vial's concentration (units per 0.1 mL); from it follow the volume per
point, the number of vials a plan needs and when the solution must be used by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from bontrack.domain.catalog.model import Product, Protocol
from bontrack.domain.quantities import Concentration, Volume
from bontrack.domain.treatment import Injection, Vial
from bontrack.domain.units import Units


def expand_protocol(protocol: Protocol, product: str) -> tuple[Injection, ...]:
    """The protocol's default points as planned injections of ``product``.

    A protocol of another product is still expanded, so that the plan is checked exactly as if its
    points had been listed; the check then blocks it as a product mismatch (B.10).
    """
    return tuple(
        Injection(site=p.site, side=p.side, units=Units(product, p.units), route=p.route)
        for p in protocol.points
    )


def vial_concentration(product: Product, size: Units, diluent: Volume) -> Concentration:
    """Concentration after adding ``diluent`` mL of saline to a vial of ``size``.

    A powder is dissolved in the saline alone; a ready solution (Myobloc) already has a volume of
    its own, to which the saline is added (0 mL: used undiluted).
    """
    if product.form == "solution":
        assert product.solution_units_per_ml is not None
        own = size.amount / product.solution_units_per_ml
        return Concentration.of_vial(size, Volume(own + diluent.ml))
    return Concentration.of_vial(size, diluent)


def use_by(product: Product, reconstituted_at: datetime) -> datetime:
    return reconstituted_at + timedelta(hours=float(product.in_use_hours))


def vials_needed(total: Units, size: Units) -> int:
    """Whole vials to cover ``total``; vials are single-use, for one patient and one session."""
    if total.amount <= 0:
        return 0
    per_vial = total._same(size).amount
    return int((total.amount / per_vial).to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True)
class PointVolume:
    injection: Injection
    volume: Volume


@dataclass(frozen=True)
class Reconstitution:
    """The answer to 'this vial, this much saline, this plan: how many mL, vials, until when?'"""

    product: Product
    size: Units
    diluent: Volume
    concentration: Concentration
    points: tuple[PointVolume, ...]
    total: Units
    total_volume: Volume
    vials: int
    leftover: Units
    use_by: datetime | None


def reconstitute(
    product: Product,
    size: Units,
    diluent: Volume,
    injections: tuple[Injection, ...],
    reconstituted_at: datetime | None = None,
) -> Reconstitution:
    concentration = vial_concentration(product, size, diluent)
    points = tuple(PointVolume(i, concentration.volume_for(i.units).rounded(4)) for i in injections)
    total = Units.zero(product.code)
    for injection in injections:
        total = total + injection.units
    count = vials_needed(total, size)
    total_volume = concentration.volume_for(total)
    return Reconstitution(
        product=product,
        size=size,
        diluent=diluent,
        concentration=concentration,
        points=points,
        total=total,
        total_volume=total_volume.rounded(4),
        vials=count,
        leftover=size * count - total,
        use_by=use_by(product, reconstituted_at) if reconstituted_at is not None else None,
    )


def dilution_in_label(product: Product, size: Units, diluent: Volume) -> bool | None:
    """Whether a (vial, saline) pair is acceptable by the label's table (B.23).

    True for a listed combination, or one inside the range the listed ones span for that vial;
    False outside it, or any other where the label lists one combination only; None where the
    catalog lists none for the vial (nothing to judge) or for a ready solution.
    """
    if product.form == "solution":
        return None
    listed = sorted(d.diluent_ml for d in product.dilutions if d.vial_units == size.amount)
    if not listed:
        return None
    if diluent.ml in listed:
        return True
    if len(listed) == 1:
        return False
    return listed[0] <= diluent.ml <= listed[-1]


def listed_dilutions(product: Product, size: Units) -> list[Decimal]:
    return sorted(d.diluent_ml for d in product.dilutions if d.vial_units == size.amount)


def remaining_in(vial: Vial) -> Units:
    """What a vial still holds: its size less what earlier sessions drew (B.30), never below 0."""
    drawn = vial.drawn_before.amount if vial.drawn_before is not None else Decimal(0)
    return Units(vial.size.product, max(vial.size.amount - drawn, Decimal(0)))


def fill_draws(total: Units, vials: Sequence[Vial]) -> tuple[Units, ...]:
    """B.30: the units drawn from each vial when the signer gives none, one per vial in the order
    given (the caller orders them by opening): each vial up to what it still holds, until the
    total is reached. A vial of another product gives nothing (that is a product mismatch).

    When the vials hold less than the total the draws add up to less, and ``supply`` blocks.
    """
    wanted = total.amount
    draws = []
    for vial in vials:
        if vial.size.product != total.product:
            draws.append(Units.zero(vial.size.product))
            continue
        take = min(remaining_in(vial).amount, max(wanted, Decimal(0)))
        draws.append(Units(total.product, take))
        wanted -= take
    return tuple(draws)


@dataclass(frozen=True)
class VialCombination:
    """Whole vials that cover a total: (size, how many) largest size first, and what they hold
    beyond the total (discarded: a vial serves one patient's session)."""

    vials: tuple[tuple[Units, int], ...]
    leftover: Units

    @property
    def count(self) -> int:
        return sum(n for _, n in self.vials)


def vial_combinations(total: Units, stock: Mapping[Units, int]) -> tuple[VialCombination, ...]:
    """The ways whole vials from ``stock`` (a size and how many of it are at hand) cover
    ``total``, best first: the least left over, then the fewest vials. Only combinations from
    which no vial can be left out (the left-over is less than the smallest vial used); none when
    the stock holds less than the total."""
    if total.amount <= 0:
        return ()
    sizes = sorted((s for s, n in stock.items() if n > 0 and s.amount > 0), reverse=True)
    found: list[VialCombination] = []

    def cover(index: int, wanted: Decimal, chosen: tuple[tuple[Units, int], ...]) -> None:
        if wanted <= 0:
            used = [size.amount for size, _ in chosen]
            if -wanted < min(used):
                found.append(VialCombination(chosen, Units(total.product, -wanted)))
            return
        if index == len(sizes):
            return
        size = sizes[index]
        most = min(stock[size], vials_needed(Units(total.product, wanted), size))
        for n in range(most, -1, -1):
            step = ((size, n),) if n else ()
            cover(index + 1, wanted - size.amount * n, chosen + step)

    cover(0, total.amount, ())
    return tuple(sorted(found, key=lambda c: (c.leftover.amount, c.count)))

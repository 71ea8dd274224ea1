"""The billing report's chart, drawn on the server as SVG (no script, nothing loaded from outside):
for each product, a bar of the units given and a bar of the units wasted in the period, on that
product's own axis. Units of two products are never drawn on one axis, since they measure
different things (billing.md 1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bontrack.billing.reports import ProductRow
from bontrack.web import present

WIDTH = 640
LEFT, RIGHT = 96, 24
TOP, BAR, GAP = 14, 22, 10
AXIS_ROOM = 26
TICKS = 4
STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000)
GIVEN_FILL = "#84adff"
WASTED_FILL = "#f79009"


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    y: float
    width: float
    fill: str
    title: str

    @property
    def height(self) -> int:
        return BAR

    @property
    def text_y(self) -> float:
        return round(self.y + BAR / 2, 1)

    @property
    def value_x(self) -> float:
        return round(LEFT + self.width + 6, 1)


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class ProductChart:
    product: str
    name: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    plot_left: int
    plot_right: int
    axis_y: float

    @property
    def label_x(self) -> int:
        return self.plot_left - 8

    @property
    def tick_y(self) -> float:
        return round(self.axis_y + 14, 1)

    @property
    def description(self) -> str:
        return f"{self.name}: " + "; ".join(b.title for b in self.bars)


def _top(highest: Decimal) -> Decimal:
    """The axis's end: a round step times TICKS that clears the highest value."""
    for step in STEPS:
        if step * TICKS >= highest:
            return Decimal(step * TICKS)
    return (highest / TICKS).to_integral_value() * TICKS + TICKS


def product_chart(row: ProductRow) -> ProductChart:
    name = present.product_name(row.product)
    top = _top(max(row.given.amount, row.wasted.amount, Decimal(1)))
    span = WIDTH - LEFT - RIGHT

    def length(value: Decimal) -> float:
        return round(span * float(value / top), 1)

    bars = (
        Bar(
            "given",
            f"{present.units(row.given.amount)} U",
            TOP,
            length(row.given.amount),
            GIVEN_FILL,
            f"{present.units(row.given.amount)} U given in {row.sessions} session"
            + ("" if row.sessions == 1 else "s"),
        ),
        Bar(
            "wasted",
            f"{present.units(row.wasted.amount)} U",
            TOP + BAR + GAP,
            length(row.wasted.amount),
            WASTED_FILL,
            f"{present.units(row.wasted.amount)} U wasted by {row.vials_closed} vial"
            + ("" if row.vials_closed == 1 else "s")
            + " closed",
        ),
    )
    axis_y = TOP + 2 * BAR + GAP + 6
    ticks = tuple(
        Tick(round(LEFT + span * k / TICKS, 1), present.units(top * k / TICKS))
        for k in range(TICKS + 1)
    )
    return ProductChart(
        product=row.product,
        name=name,
        width=WIDTH,
        height=int(axis_y + AXIS_ROOM),
        bars=bars,
        ticks=ticks,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        axis_y=axis_y,
    )


def charts_of(rows: Iterable[ProductRow]) -> list[ProductChart]:
    """One chart per product that gave or wasted units in the period."""
    return [product_chart(r) for r in rows if r.given.amount or r.wasted.amount]

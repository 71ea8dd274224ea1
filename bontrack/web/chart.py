"""The patient page's chart, drawn on the server as SVG: one chart per product (units of different
products are never put on one axis). Bars are sessions; the line is the running window total;
the dashed line is the window's limit for this patient, where the catalog gives one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bontrack.treatments.cumulative import Series
from bontrack.web import present

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    height: float
    label: str
    title: str

    @property
    def cx(self) -> float:
        return round(self.x + 4, 1)

    @property
    def label_y(self) -> float:
        return round(self.y - 5, 1)


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Chart:
    product: str
    window_days: int
    width: int
    height: int
    bars: tuple[ChartBar, ...]
    line: str  # SVG points of the running total
    limit_y: float | None
    limit: str
    limit_words: str
    today_total: str
    over: bool
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int

    @property
    def tick_x(self) -> int:
        return self.plot_left - 6

    @property
    def month_y(self) -> int:
        return self.plot_bottom + 14

    @property
    def limit_label_y(self) -> float | None:
        return None if self.limit_y is None else round(self.limit_y - 5, 1)


TICKS = 5
STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


def _step(highest: Decimal) -> Decimal:
    """A round tick step so that TICKS steps clear the highest value with a little room."""
    for step in STEPS:
        if step * TICKS >= highest * Decimal("1.08"):
            return Decimal(step)
    return (highest * Decimal("1.08") / TICKS).to_integral_value()


def chart_of(series: Series) -> Chart:
    span = max((series.end - series.start).days, 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    highest = max(
        [series.limit or Decimal(0)]
        + [b.window_total for b in series.bars]
        + [b.units for b in series.bars]
    )
    step = _step(max(highest, Decimal(1)))
    top = step * TICKS

    def x(day: date) -> float:
        return round(LEFT + plot_w * (day - series.start).days / span, 1)

    def y(value: Decimal) -> float:
        return round(TOP + plot_h * float(1 - value / top), 1)

    bars = tuple(
        ChartBar(
            x=x(b.day) - 4,
            y=y(b.units),
            height=round(TOP + plot_h - y(b.units), 1),
            label=present.units(b.units),
            title=(
                f"{b.day.isoformat()}: {present.units(b.units)} U for "
                f"{present.indication_name(b.indication)}; {present.units(b.window_total)} U in "
                f"the {series.window_days} days up to that day"
            ),
        )
        for b in series.bars
    )
    points: list[str] = []
    previous: Decimal | None = None
    for day, total in series.steps:
        if previous is not None:
            points.append(f"{x(day)},{y(previous)}")
        points.append(f"{x(day)},{y(total)}")
        previous = total
    y_ticks = tuple(Tick(y(step * k), present.units(step * k)) for k in range(TICKS + 1))
    months = []
    day = series.start.replace(day=1)
    while day <= series.end:
        if day >= series.start:
            months.append(Tick(x(day), day.strftime("%b %Y" if day.month == 1 else "%b")))
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return Chart(
        product=series.product,
        window_days=series.window_days,
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        line=" ".join(points),
        limit_y=y(series.limit) if series.limit is not None else None,
        limit=present.units(series.limit) if series.limit is not None else "",
        limit_words=series.limit_words,
        today_total=present.units(series.today_total),
        over=series.limit is not None and series.today_total > series.limit,
        y_ticks=y_ticks,
        x_ticks=tuple(months),
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
    )

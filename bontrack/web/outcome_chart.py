"""One outcome scale over time, drawn on the server as SVG (no script, nothing loaded from outside).

- Each result is a dot at the middle of the days it covers; a result over a period (a 28-day
  headache diary, a calendar month) also gets a bar over those days. Results are joined in order.
  A baseline is a hollow dot.
- The treatment sessions of the indication (the cycles the verdict counts) are vertical lines,
  numbered C1, C2, ...
- Headache-day scales add the baseline and the falls the verdict is judged by: the 30 % NICE TA260
  requires and the trials' 50 % responder, both read from the domain's own constants.
- Ordinal scales (Modified Ashworth with its 1+, GAIS) are plotted by rank, never as numbers, with
  their level names on the axis; the best level is at the bottom (as fewer headache days are).

Only how things are drawn lives here: the verdict itself comes from ``bontrack.outcomes.verdicts``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from bontrack.domain.catalog.model import Response, ResponseRule, Scale
from bontrack.domain.outcomes import Cycle
from bontrack.domain.units import format_decimal

WIDTH, HEIGHT = 640, 250
TOP, BOTTOM = 26, 34
RIGHT_PLAIN, RIGHT_WITH_LINES = 18, 96
Y_TICKS = 6
STEPS = tuple(
    Decimal(s)
    for s in ("0.1", "0.2", "0.25", "0.5", "1", "2", "5", "10", "20", "25", "50", "100", "200")
) + tuple(Decimal(10) ** k * m for k in range(3, 7) for m in (1, 2, 5))


@dataclass(frozen=True)
class Result:
    """One stored result as the chart needs it."""

    start: date
    end: date
    value: Decimal | str
    timepoint: str
    title: str  # the tooltip: when, the value, the timepoint, where it came from


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    x1: float  # the days a period covers, as a bar (x1 == x2 for a single day)
    x2: float
    label: str
    title: str
    baseline: bool

    @property
    def label_y(self) -> float:
        return round(self.y - 9, 1)

    @property
    def period(self) -> bool:
        return self.x2 - self.x1 >= 2


@dataclass(frozen=True)
class Mark:
    """A session (a cycle) as a vertical line."""

    x: float
    label: str
    title: str


@dataclass(frozen=True)
class Reference:
    """A horizontal line: the baseline, or a fall from it; labelled in the right margin."""

    y: float
    label: str
    kind: str  # "baseline", "nice", "responder"
    label_y: float


LABEL_GAP = 13  # the least room between two reference labels, in SVG units


def _spread(lines: list[tuple[float, str, str]]) -> tuple[Reference, ...]:
    """The reference lines with their labels pushed apart where the lines are close."""
    placed: list[Reference] = []
    for y, label, kind in sorted(lines):
        label_y = round(y + 4, 1)
        if placed and label_y - placed[-1].label_y < LABEL_GAP:
            label_y = round(placed[-1].label_y + LABEL_GAP, 1)
        placed.append(Reference(y, label, kind, label_y))
    return tuple(placed)


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class OutcomeChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    dots: tuple[Dot, ...]
    line: str
    sessions: tuple[Mark, ...]
    references: tuple[Reference, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    ordinal: bool
    description: str
    nice_fall: str = ""  # "−30 %": the fall NICE TA260 asks for, on headache-day scales
    responder_fall: str = ""  # "−50 %": the trials' responder

    @property
    def tick_x(self) -> int:
        return self.plot_left - 7

    @property
    def month_y(self) -> int:
        return self.plot_bottom + 16

    @property
    def session_label_y(self) -> int:
        return self.plot_top - 8

    @property
    def reference_x(self) -> int:
        return self.plot_right + 6


def _step(span: Decimal) -> Decimal:
    for step in STEPS:
        if step * Y_TICKS >= span:
            return step
    return STEPS[-1]


def _numeric_axis(scale: Scale, values: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """(bottom, top, tick step): from the scale's minimum (or 0) to a round number above the
    highest value, never above the scale's maximum."""
    low = scale.minimum if scale.minimum is not None else min([Decimal(0), *values])
    highest = max([low + 1, *values])
    span = (highest - low) * Decimal("1.12")
    step = _step(span)
    top = low + step * math.ceil(span / step)
    if scale.maximum is not None:
        top = min(top, scale.maximum)
    return low, max(top, highest), step


def _x_ticks(start: date, end: date, x: Callable[[date], float]) -> tuple[Tick, ...]:
    """Month labels; over a few weeks, a label every week or two instead."""
    if (end - start).days < 75:
        every_days = 7 if (end - start).days < 40 else 14
        first = start + timedelta(days=(7 - start.weekday()) % 7)  # the first Monday
        return tuple(
            Tick(x(day), f"{day.day} {day:%b}")
            for day in (
                first + timedelta(days=k) for k in range(0, (end - first).days + 1, every_days)
            )
        )
    months: list[date] = []
    day = date(start.year, start.month, 1)
    while day <= end:
        if day >= start:
            months.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    every = max(1, math.ceil(len(months) / 8))
    shown = months[::every]
    return tuple(
        Tick(x(m), m.strftime("%b %Y" if m.month == 1 or m == shown[0] else "%b")) for m in shown
    )


def _middle(start: date, end: date) -> date:
    return start + timedelta(days=(end - start).days // 2)


def _pct(value: Decimal) -> str:
    return f"−{format_decimal(value)} %"


def _nice_rule_of(scale: Scale) -> Response | None:
    """The scale's NICE TA260 rule (headache and migraine days), whose falls the chart draws."""
    return next((r for r in scale.responses if r.rule is ResponseRule.NICE_TA260), None)


def outcome_chart(
    scale: Scale,
    results: Sequence[Result],
    cycles: Sequence[Cycle],
    baseline: Decimal | str | None,
) -> OutcomeChart:
    """The chart of one scale's results (one indication, one muscle group), with the cycles of
    the indication and, for headache days, the baseline ``baseline`` and the falls from it."""
    ordinal = scale.kind == "ordinal"
    nice = _nice_rule_of(scale)
    references_wanted = nice is not None and isinstance(baseline, Decimal) and baseline > 0
    longest = max((len(level) for level in scale.levels), default=0) if ordinal else 4
    left = max(44, 16 + round(longest * 6.2))
    right = WIDTH - (RIGHT_WITH_LINES if references_wanted else RIGHT_PLAIN)
    top, bottom = TOP, HEIGHT - BOTTOM

    days = [d for r in results for d in (r.start, r.end)] + [c.date for c in cycles]
    first, last = min(days), max(days)
    pad = max(7, (last - first).days // 25)
    start, end = first - timedelta(days=pad), last + timedelta(days=pad)
    span = max((end - start).days, 1)

    def x(day: date) -> float:
        return round(left + (right - left) * (day - start).days / span, 1)

    if ordinal:
        ranks = len(scale.levels) - 1 or 1

        def y_of(value: Decimal | str) -> float:
            rank = scale.levels.index(str(value))
            return round(bottom - (bottom - top) * rank / ranks, 1)

        y_ticks = tuple(Tick(y_of(level), level.replace("-", " ")) for level in scale.levels)
    else:
        numbers = [Decimal(r.value) for r in results]
        if references_wanted:
            numbers.append(Decimal(baseline))  # type: ignore[arg-type]
        low, high, step = _numeric_axis(scale, numbers)

        def y_of(value: Decimal | str) -> float:
            share = (Decimal(value) - low) / (high - low)
            return round(bottom - (bottom - top) * float(share), 1)

        ticks: list[Tick] = []
        tick = low
        while tick <= high:
            ticks.append(Tick(y_of(tick), format_decimal(tick)))
            tick += step
        y_ticks = tuple(ticks)

    ordered = sorted(results, key=lambda r: (r.end, r.start))
    dots = tuple(
        Dot(
            x=x(_middle(r.start, r.end)),
            y=y_of(r.value),
            x1=x(r.start),
            x2=x(r.end),
            label=r.value if isinstance(r.value, str) else format_decimal(r.value),
            title=r.title,
            baseline=r.timepoint == "baseline",
        )
        for r in ordered
    )
    references: tuple[Reference, ...] = ()
    nice_pct = responder_pct = Decimal(0)
    if references_wanted and nice is not None and isinstance(baseline, Decimal):
        nice_pct, responder_pct = nice.number("min_fall_pct"), nice.number("responder_fall_pct")
        at_nice = baseline * (1 - nice_pct / 100)
        at_responder = baseline * (1 - responder_pct / 100)
        references = _spread(
            [
                (y_of(baseline), f"baseline {format_decimal(baseline)}", "baseline"),
                (y_of(at_nice), f"{_pct(nice_pct)}: {format_decimal(at_nice)}", "nice"),
                (
                    y_of(at_responder),
                    f"{_pct(responder_pct)}: {format_decimal(at_responder)}",
                    "responder",
                ),
            ]
        )
    sessions = tuple(
        Mark(x(c.date), f"C{c.n}", f"Cycle {c.n}: session of {c.date.isoformat()}") for c in cycles
    )
    what = "levels, best at the bottom" if ordinal else "values"
    return OutcomeChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        dots=dots,
        line=" ".join(f"{d.x},{d.y}" for d in dots),
        sessions=sessions,
        references=references,
        y_ticks=y_ticks,
        x_ticks=_x_ticks(start, end, x),
        ordinal=ordinal,
        nice_fall=_pct(nice_pct) if references else "",
        responder_fall=_pct(responder_pct) if references else "",
        description=(
            f"{scale.name}: {len(dots)} result{'s' if len(dots) != 1 else ''} over time ({what}), "
            f"{len(sessions)} session{'s' if len(sessions) != 1 else ''} marked"
        ),
    )

"""A patient's cumulative units per product over the rolling window, for the patient page's chart.

``cumulative_series`` is pure: one series per product (never mixed), a bar per session and the
running window total after it, counted as the cumulative-dose rule counts (a dose counts on the
days fewer than ``window_days`` after it was given), with the window limit the catalog gives for
the patient. ``patient_series`` reads the history the checker reads (signed, still counting,
amended values).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.model import Catalog, Measure, Population
from bontrack.domain.rules.limits import MissingWeightError, bound_of
from bontrack.domain.treatment import HistoryEntry
from bontrack.patients.models import Patient
from bontrack.treatments.checking import history_of, patient_values

DEFAULT_WINDOW_DAYS = 84


@dataclass(frozen=True)
class Bar:
    day: date
    indication: str
    units: Decimal
    window_total: Decimal  # this product's units in the window that ends on this day


@dataclass(frozen=True)
class Series:
    product: str
    window_days: int
    limit: Decimal | None  # the window's maximum for this patient, when the catalog gives one
    limit_words: str
    bars: tuple[Bar, ...]
    # The running window total as a step line: (day, total from that day on), from start to end.
    steps: tuple[tuple[date, Decimal], ...]
    today_total: Decimal  # in the window that ends today
    start: date
    end: date


def window_limit(
    cat: Catalog, product: str, child: bool, weight: Decimal | None
) -> tuple[int, Decimal | None, str]:
    """The product-wide rolling-window maximum for an adult or a child (per kg where the catalog
    says so and a weight is known), as (window days, units, description)."""
    wanted = Population.CHILD if child else Population.ADULT
    for limit in cat.limits:
        if (
            limit.product == product
            and limit.measure is Measure.WINDOW
            and limit.rule in ("cumulative-dose", "weight-based-dose")
            and not limit.indications
            and limit.population in (wanted, Population.ANY)
            and limit.window_days is not None
        ):
            try:
                bound = bound_of(limit, weight)
            except MissingWeightError:
                return limit.window_days, None, f"{limit.description} (no weight recorded)"
            return limit.window_days, bound.units, limit.description
    return DEFAULT_WINDOW_DAYS, None, ""


def cumulative_series(
    history: Iterable[HistoryEntry],
    today: date,
    cat: Catalog,
    child: bool = False,
    weight: Decimal | None = None,
    span_days: int = 365,
) -> list[Series]:
    """One series per product given in the ``span_days`` before ``today``; products in name
    order."""
    by_product: dict[str, list[HistoryEntry]] = defaultdict(list)
    for entry in history:
        by_product[entry.product].append(entry)
    start = today - timedelta(days=span_days)
    out = []
    for product in sorted(by_product):
        entries = sorted(by_product[product], key=lambda e: e.date)
        window, limit, words = window_limit(cat, product, child, weight)

        def in_window(
            day: date, entries: list[HistoryEntry] = entries, window: int = window
        ) -> Decimal:
            return sum(
                (e.units.amount for e in entries if 0 <= (day - e.date).days < window),
                Decimal(0),
            )

        bars = tuple(
            Bar(e.date, e.indication, e.units.amount, in_window(e.date))
            for e in entries
            if start <= e.date <= today
        )
        if not bars:
            continue
        changes = sorted(
            {start, today}
            | {e.date for e in entries if start <= e.date <= today}
            | {
                e.date + timedelta(days=window)
                for e in entries
                if start <= e.date + timedelta(days=window) <= today
            }
        )
        steps = tuple((day, in_window(day)) for day in changes)
        out.append(
            Series(product, window, limit, words, bars, steps, in_window(today), start, today)
        )
    return out


def patient_series(patient: Patient, today: date) -> list[Series]:
    values = patient_values(patient)
    return cumulative_series(
        history_of(patient),
        today,
        catalog(),
        child=values.is_child_on(today),
        weight=patient.weight_kg,
    )

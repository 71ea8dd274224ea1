"""When a patient is due for retreatment (facts.md 3.7, the "due list"; policy B.3).

For one patient and one indication, from the signed sessions of that indication (a session
entered in error never counts) and the patient's own wear-off reports:

- **earliest**: the last session's date plus the longest retreatment interval the catalog holds
  for that product and indication (B.3: stored in days with the label's words). The touch-up
  interval that applies to every product and indication (21 days, facts.md 3.6) guards against a
  booster, not a schedule, so it never sets a due date. Strabismus has no interval (its label
  re-examines at 7–14 days and re-injects as needed) and axillary hyperhidrosis is re-treated when
  the effect wears off: neither has an earliest date, and the result says so.
- **wear-off**: the last session's date plus the median of the patient's past intervals between a
  session and the day its effect wore off, as the patient reported it (same indication and same
  product: durations differ between products). Without a report, there is none. A median that
  falls between two whole days is rounded up, to the later day.
- **due**: the later of the two where both exist, else whichever exists, else none.

Pure: dates arrive as arguments; the catalog is the one read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from bontrack.domain.catalog import catalog as packaged_catalog
from bontrack.domain.catalog.model import Catalog, Interval

__all__ = [
    "NO_INTERVAL",
    "Due",
    "DueRules",
    "TreatedSession",
    "due_for",
    "due_per_indication",
    "in_window",
    "label_interval",
    "median_days",
]

Basis = Literal["label", "wear-off", "both", "none"]

# Indications whose labels set no retreatment interval, and what they say instead (facts.md 3.7).
NO_INTERVAL: dict[str, tuple[str, str]] = {
    "strabismus": (
        (
            "its label re-examines the patient 7 to 14 days after an injection and re-injects "
            "as needed, so there is no retreatment interval"
        ),
        "B1-STRAB [L]; bontrack policy interval-days",
    ),
    "axillary-hyperhidrosis": (
        (
            "it is re-treated when the effect wears off (a median of about 6 to 7 months is "
            "reported), so there is no retreatment interval"
        ),
        "ALLG-HH [R] (label text still to be confirmed)",
    ),
}


@dataclass(frozen=True, slots=True)
class TreatedSession:
    """A signed session of the patient, and the day its effect wore off if the patient said."""

    date: dt.date
    product: str
    indication: str
    wore_off_on: dt.date | None = None
    entered_in_error: bool = False
    key: str = ""  # the caller's id for it (shown back as ``Due.last_key``)


@dataclass(frozen=True, slots=True)
class Due:
    indication: str
    product: str
    last_session: date
    last_key: str
    interval: Interval | None  # the label interval that sets ``earliest``
    earliest: date | None  # the last session + the label interval
    wear_off_date: date | None  # the last session + the median wear-off interval
    wear_off_median_days: int | None
    wear_off_reports: int
    due: date | None
    basis: Basis

    @property
    def interval_days(self) -> int | None:
        return self.interval.days if self.interval else None

    @property
    def interval_words(self) -> str | None:
        return self.interval.words if self.interval else None

    @property
    def interval_name(self) -> str:
        """What sets the earliest date, honestly named (B.36): "the label interval", or
        "bontrack's interval (policy B.17)" where no label states one (BOTOX in cervical
        dystonia rests on bontrack's 70 days)."""
        if self.interval is not None and self.interval.cite.policy_first:
            first = self.interval.cite.policy_numbers[:1]
            return f"bontrack's interval (policy {first[0]})" if first else "bontrack's interval"
        return "the label interval"

    @property
    def interval_source(self) -> str | None:
        """The label interval's source, or the source of "no interval" (strabismus, axillary
        hyperhidrosis)."""
        if self.interval is not None:
            return self.interval.cite.text()
        found = NO_INTERVAL.get(self.indication)
        return found[1] if found else None

    @property
    def reason(self) -> str:
        """Why, in plain words with the dates and their sources' words."""
        parts: list[str] = []
        if self.interval is not None and self.earliest is not None:
            parts.append(
                f"{self.interval_name[0].upper()}{self.interval_name[1:]} for "
                f"{self.indication} with {self.product}: "
                f"{_days(self.interval.days)} ({self.interval.words}), so not before "
                f"{self.earliest.isoformat()}."
            )
        elif self.indication in NO_INTERVAL:
            parts.append(
                f"No earliest date for {self.indication}: {NO_INTERVAL[self.indication][0]}."
            )
        else:
            parts.append(
                f"No earliest date: the catalog holds no retreatment interval for "
                f"{self.indication} with {self.product}."
            )
        if self.wear_off_date is not None and self.wear_off_median_days is not None:
            n = self.wear_off_reports
            parts.append(
                f"The patient's own wear-off history ({n} report{'s' if n != 1 else ''} with "
                f"{self.product}) suggests {self.wear_off_date.isoformat()}: a median of "
                f"{_days(self.wear_off_median_days)} after a session."
            )
        else:
            parts.append(f"No wear-off report for {self.indication} with {self.product} yet.")
        if self.due is None:
            parts.append("No due date: ask the patient to call when the effect wears off.")
        elif self.basis == "both":
            which = self.interval_name if self.due == self.earliest else "the wear-off history"
            parts.append(f"Due {self.due.isoformat()}: the later of the two ({which}).")
        elif self.basis == "wear-off":
            parts.append(f"Due {self.due.isoformat()}, from the wear-off history alone.")
        else:
            parts.append(f"Due {self.due.isoformat()}.")
        return " ".join(parts)


def _applies(interval: Interval, product: str, indication: str) -> bool:
    return (
        interval.product == product
        and (not interval.indications or indication in interval.indications)
        and indication not in interval.except_indications
    )


def label_interval(
    product: str, indication: str, catalog: Catalog | None = None
) -> Interval | None:
    """The longest retreatment interval the catalog holds for this product and indication; the
    every-product touch-up interval (product ``*``) is not a schedule and is left out."""
    cat = catalog or packaged_catalog()
    if indication in NO_INTERVAL:
        return None
    found = [i for i in cat.intervals if _applies(i, product, indication)]
    return max(found, key=lambda i: i.days, default=None)


def median_days(days: Sequence[int]) -> int:
    """The median of whole days; between two days, the later one."""
    if not days:
        raise ValueError("the median of no intervals")
    ordered = sorted(days)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    low, high = ordered[middle - 1], ordered[middle]
    return -((-(low + high)) // 2)  # half a day rounds up


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


class DueRules:
    """``due_for`` with one catalog, remembering each product and indication's interval: the
    clinic-wide list asks for thousands of patients at once."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or packaged_catalog()
        self._intervals: dict[tuple[str, str], Interval | None] = {}

    def interval(self, product: str, indication: str) -> Interval | None:
        key = (product, indication)
        if key not in self._intervals:
            self._intervals[key] = label_interval(product, indication, self.catalog)
        return self._intervals[key]

    def due_for(self, history: Sequence[TreatedSession], indication: str) -> Due | None:
        """When the patient is due for ``indication``; None when no counting session of it."""
        last: TreatedSession | None = None
        for s in history:  # the latest counting session; of two on one day, the one given last
            counts = s.indication == indication and not s.entered_in_error
            if counts and (last is None or s.date >= last.date):
                last = s
        if last is None:
            return None
        interval = self.interval(last.product, indication)
        earliest = last.date + timedelta(days=interval.days) if interval else None
        reported = [
            (s.wore_off_on - s.date).days
            for s in history
            if s.wore_off_on is not None
            and s.indication == indication
            and s.product == last.product
            and not s.entered_in_error
            and s.wore_off_on >= s.date
        ]
        median = median_days(reported) if reported else None
        wear_off = last.date + timedelta(days=median) if median is not None else None
        due: date | None
        basis: Basis
        if earliest is not None and wear_off is not None:
            due, basis = max(earliest, wear_off), "both"
        elif earliest is not None:
            due, basis = earliest, "label"
        elif wear_off is not None:
            due, basis = wear_off, "wear-off"
        else:
            due, basis = None, "none"
        return Due(
            indication=indication,
            product=last.product,
            last_session=last.date,
            last_key=last.key,
            interval=interval,
            earliest=earliest,
            wear_off_date=wear_off,
            wear_off_median_days=median,
            wear_off_reports=len(reported),
            due=due,
            basis=basis,
        )


def due_for(
    history: Sequence[TreatedSession], indication: str, catalog: Catalog | None = None
) -> Due | None:
    """When the patient is due for ``indication``; None when no counting session treated it."""
    return DueRules(catalog).due_for(history, indication)


def due_per_indication(
    history: Sequence[TreatedSession], catalog: Catalog | None = None
) -> list[Due]:
    """``due_for`` every indication the history treated, soonest due first (no due date last)."""
    rules = DueRules(catalog)
    indications = sorted({s.indication for s in history if not s.entered_in_error})
    found = [d for d in (rules.due_for(history, i) for i in indications) if d is not None]
    return sorted(found, key=lambda d: (d.due is None, d.due or d.last_session, d.indication))


def in_window(due: Due, start: date, end: date) -> bool:
    """Whether the due date falls from ``start`` to ``end``, both included."""
    return due.due is not None and start <= due.due <= end

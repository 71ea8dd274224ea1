"""Opening hours: which local times a clinic sees patients. Pure functions of the stored form
(``{"mon": [["08:00", "18:00"]], ..., "sun": []}``, Clinic.opening_hours) and of the dates and
times they are given; no clock is read here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
SLOT_MINUTES = 30
# A proposed visit moves at most this far past its due date looking for an open day.
SEARCH_DAYS = 21

Hours = dict[str, list[tuple[time, time]]]


class HoursError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _clock(raw: Any, field: str) -> time:
    try:
        parsed = time.fromisoformat(str(raw))
    except ValueError:
        raise HoursError(field, f"{raw!r} is not a time of day; write it as 08:30") from None
    if parsed.second or parsed.microsecond or parsed.tzinfo is not None:
        raise HoursError(field, "give hours and minutes only, e.g. 08:30")
    return parsed


def validate(raw: Any) -> dict[str, list[list[str]]]:
    """The stored form of a week's hours: every day named (a closed day has no interval),
    intervals in order, each opening before it closes, none overlapping."""
    if not isinstance(raw, Mapping):
        raise HoursError("opening_hours", 'give each day of the week, e.g. {"mon": [[...]]}')
    unknown = sorted(set(raw) - set(DAYS))
    if unknown:
        raise HoursError(unknown[0], f"not a day; the days are {', '.join(DAYS)}")
    result: dict[str, list[list[str]]] = {}
    for day in DAYS:
        intervals = raw.get(day, [])
        if not isinstance(intervals, list):
            raise HoursError(day, "give a list of [opens, closes] pairs (empty when closed)")
        parsed = []
        for n, pair in enumerate(intervals):
            field = f"{day}[{n}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise HoursError(field, 'give [opens, closes], e.g. ["08:00", "12:30"]')
            opens, closes = _clock(pair[0], field), _clock(pair[1], field)
            if closes <= opens:
                raise HoursError(field, f"closes at {closes:%H:%M}, not after it opens")
            parsed.append((opens, closes))
        parsed.sort()
        for (_, closes), (opens, _) in pairwise(parsed):
            if opens < closes:
                raise HoursError(day, f"two intervals overlap at {opens:%H:%M}")
        result[day] = [[f"{o:%H:%M}", f"{c:%H:%M}"] for o, c in parsed]
    return result


def parse(stored: Mapping[str, Any]) -> Hours:
    """The stored form as times; a day left out is closed."""
    return {
        day: [(time.fromisoformat(o), time.fromisoformat(c)) for o, c in stored.get(day, [])]
        for day in DAYS
    }


def day_code(day: date) -> str:
    return DAYS[day.weekday()]


def intervals_on(hours: Hours, day: date) -> list[tuple[time, time]]:
    return hours.get(day_code(day), [])


def within(hours: Hours, starts: datetime, minutes: int) -> bool:
    """Whether a visit from ``starts`` (a local time) for ``minutes`` lies inside one interval
    of its day."""
    ends = starts + timedelta(minutes=minutes)
    if ends.date() != starts.date():
        return False
    return any(
        opens <= starts.time() and ends.time() <= closes
        for opens, closes in intervals_on(hours, starts.date())
    )


def slots(hours: Hours, day: date, step: int = SLOT_MINUTES) -> list[time]:
    """The start times of the day's bookable slots, ``step`` minutes apart, each ending by
    closing time."""
    found = []
    for opens, closes in intervals_on(hours, day):
        at = datetime.combine(day, opens)
        end = datetime.combine(day, closes)
        while at + timedelta(minutes=step) <= end:
            found.append(at.time())
            at += timedelta(minutes=step)
    return found


def first_open(hours: Hours, day: date, preferred: time, minutes: int) -> datetime | None:
    """The first open day from ``day`` (within ``SEARCH_DAYS``), at ``preferred`` when a visit
    of ``minutes`` fits there, else at the day's opening; None when the clinic never opens."""
    for offset in range(SEARCH_DAYS + 1):
        candidate = day + timedelta(days=offset)
        intervals = intervals_on(hours, candidate)
        if not intervals:
            continue
        at = datetime.combine(candidate, preferred)
        if within(hours, at, minutes):
            return at
        for opens, _ in intervals:
            start = datetime.combine(candidate, opens)
            if within(hours, start, minutes):
                return start
    return None


def describe(hours: Hours) -> list[tuple[str, str]]:
    """Each day's hours in words: ("Monday", "08:00–12:30, 13:30–18:00") or ("Sunday", "closed")."""
    return [
        (
            DAY_NAMES[day],
            ", ".join(f"{o:%H:%M}–{c:%H:%M}" for o, c in hours.get(day, [])) or "closed",
        )
        for day in DAYS
    ]

"""Reading a headache diary: a CSV file of daily rows, turned into counts of days.

The file has a header and one row per day::

    date,headache,migraine,hours,acute_medication
    2026-04-06,yes,no,3,yes

``date`` is ISO 8601 (``YYYY-MM-DD``); ``headache``, ``migraine`` and ``acute_medication`` are
yes or no (also y/n, true/false, 1/0); ``hours`` (of headache that day) is a number from 0 to 24,
or empty when not recorded. Header names ignore case, spaces and hyphens; other columns are
ignored, and a header naming one of these columns twice refuses the file. A bad row is reported
by its line (where it starts), column and reason and left out; the good rows are kept, those
after a row the csv module cannot read too. A migraine day is a headache day, and a day without
headache has no headache hours.

Counts are made only over periods the diary covers day by day: a calendar month with a missing
or bad day is not counted (a gap would look like a headache-free day).

No database here: ``bontrack.outcomes.services.import_diary`` stores the counts.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from bontrack.core.errors import ServiceError
from bontrack.plan_input import has_at_most_decimals

DIARY_INDICATION = "chronic-migraine"
MONTH_SCALE = "headache-days-month"
WINDOW_SCALES = ("headache-days-28d", "migraine-days-28d")
WINDOW_DAYS = 28
COLUMNS = ("date", "headache", "migraine", "hours", "acute_medication")
MAX_BYTES = 1_000_000
MAX_ROWS = 5_000  # more than 13 years of days
MAX_HOURS = Decimal(24)
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
# ASCII digits only: date.fromisoformat reads no others (\d would admit "٢").
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Decimal() alone would also read NaN, Infinity, "1_0" and other scripts' digits.
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class DiaryDay:
    day: date
    headache: bool
    migraine: bool
    hours: Decimal | None
    acute_medication: bool


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str


@dataclass(frozen=True)
class Diary:
    days: dict[date, DiaryDay]
    errors: list[RowError]
    rows: int  # data rows read (good and bad)


@dataclass(frozen=True)
class PeriodCount:
    """What the diary says about one period: complete only when every day of it is recorded."""

    start: date
    end: date
    recorded_days: int
    headache_days: int
    migraine_days: int
    acute_medication_days: int
    headache_hours: Decimal

    @property
    def total_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def complete(self) -> bool:
        return self.recorded_days == self.total_days

    @property
    def month(self) -> str:
        return self.start.strftime("%Y-%m")


def _header_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _yes_no(text: str) -> bool | None:
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    return None


def _date(text: str, today: date) -> tuple[date | None, str | None]:
    value = text.strip()
    if not ISO_DATE.fullmatch(value):
        return None, f"must be a date written YYYY-MM-DD, not {value!r}"
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None, f"is not a real date: {value}"
    if day > today:
        return None, f"is in the future ({value})"
    if day.year < 1900:
        return None, "must be after 1900"
    return day, None


def _hours(text: str) -> tuple[Decimal | None, str | None]:
    value = text.strip()
    if not value:
        return None, None
    try:
        hours = Decimal(value) if PLAIN_NUMBER.fullmatch(value) else None
    except InvalidOperation:  # an exponent beyond Decimal's range
        hours = None
    if hours is None:
        return None, f"must be a number of hours, not {value!r}"
    if not Decimal(0) <= hours <= MAX_HOURS:
        return None, f"must be between 0 and {MAX_HOURS} hours"
    if not has_at_most_decimals(hours, 2):
        return None, "must have at most 2 decimals"
    return hours, None


def _text(content: bytes) -> str:
    if len(content) > MAX_BYTES:
        raise ServiceError("file", f"is larger than {MAX_BYTES:,} bytes")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError("file", "is not UTF-8 text: save the diary as CSV (UTF-8)") from None


def parse_diary(content: bytes, today: date) -> Diary:
    """Read the diary's rows; bad rows become ``RowError``s, the good ones days. A file that is
    not a diary at all (not text, no header, a column missing) raises ``ServiceError``."""
    text = _text(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ServiceError("file", "is empty: a header row and one row per day") from None
    except csv.Error as error:
        raise ServiceError("file", f"is not a CSV file: {error}") from None
    names = [_header_name(h) for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ServiceError(
            "file",
            f"the header lacks {', '.join(missing)}: it needs {', '.join(COLUMNS)}",
        )
    repeated = [c for c in COLUMNS if names.count(c) > 1]
    if repeated:
        raise ServiceError(
            "file",
            f"the header has {', '.join(repeated)} twice: which of the cells counts is unclear",
        )
    where = {c: names.index(c) for c in COLUMNS}
    days: dict[date, DiaryDay] = {}
    lines: dict[date, int] = {}
    errors: list[RowError] = []
    rows = 0
    while True:
        # A quoted cell may span lines: a row is named by the line it starts on.
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # The reader starts afresh on the next line: the rows after this one are still read.
            rows += 1
            errors.append(RowError(line, None, f"cannot be read as CSV: {error}"))
            if reader.line_num < line:  # nothing read: it would fail again on the same line
                break
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise ServiceError("file", f"has more than {MAX_ROWS:,} rows")
        found = _row(line, row, where, len(names), today)
        if isinstance(found, list):
            errors += found
            continue
        if found.day in days:
            errors.append(
                RowError(
                    line,
                    "date",
                    f"{found.day.isoformat()} is already given on line {lines[found.day]}",
                )
            )
            continue
        days[found.day] = found
        lines[found.day] = line
    return Diary(days, errors, rows)


def _row(
    line: int, row: list[str], where: dict[str, int], width: int, today: date
) -> DiaryDay | list[RowError]:
    errors: list[RowError] = []
    if len(row) > width:
        errors.append(RowError(line, None, f"has {len(row)} fields; the header has {width}"))

    def cell(column: str) -> str | None:
        n = where[column]
        if n >= len(row):
            errors.append(RowError(line, column, "is missing: the row is shorter than the header"))
            return None
        return row[n]

    day: date | None = None
    text = cell("date")
    if text is not None:
        day, problem = _date(text, today)
        if problem:
            errors.append(RowError(line, "date", problem))
    flags: dict[str, bool | None] = {}
    for column in ("headache", "migraine", "acute_medication"):
        text = cell(column)
        if text is None:
            flags[column] = None
            continue
        flags[column] = _yes_no(text)
        if flags[column] is None:
            errors.append(RowError(line, column, f"must be yes or no, not {text.strip()!r}"))
    hours: Decimal | None = None
    text = cell("hours")
    if text is not None:
        hours, problem = _hours(text)
        if problem:
            errors.append(RowError(line, "hours", problem))
    if flags.get("migraine") and flags.get("headache") is False:
        errors.append(
            RowError(line, "migraine", "a migraine day is a headache day: headache is no")
        )
    if hours is not None and hours > 0 and flags.get("headache") is False:
        errors.append(RowError(line, "hours", "gives headache hours on a day without headache"))
    if errors or day is None:
        order = {c: n for n, c in enumerate(COLUMNS)}
        return sorted(errors, key=lambda e: -1 if e.column is None else order[e.column])
    return DiaryDay(
        day=day,
        headache=bool(flags["headache"]),
        migraine=bool(flags["migraine"]),
        hours=hours,
        acute_medication=bool(flags["acute_medication"]),
    )


def count(days: dict[date, DiaryDay], start: date, end: date) -> PeriodCount:
    recorded = [days[d] for d in _dates(start, end) if d in days]
    return PeriodCount(
        start=start,
        end=end,
        recorded_days=len(recorded),
        headache_days=sum(1 for d in recorded if d.headache),
        migraine_days=sum(1 for d in recorded if d.migraine),
        acute_medication_days=sum(1 for d in recorded if d.acute_medication),
        headache_hours=sum((d.hours or Decimal(0) for d in recorded), Decimal(0)),
    )


def _dates(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def month_counts(days: dict[date, DiaryDay]) -> list[PeriodCount]:
    """One count per calendar month the diary touches, in order (complete or not)."""
    months = sorted({(d.year, d.month) for d in days})
    found = []
    for year, month in months:
        last = calendar.monthrange(year, month)[1]
        found.append(count(days, date(year, month, 1), date(year, month, last)))
    return found


def window_count(days: dict[date, DiaryDay], before: date) -> PeriodCount:
    """The 28 days before ``before`` (a session's day): PREEMPT's baseline window."""
    return count(days, before - timedelta(days=WINDOW_DAYS), before - timedelta(days=1))

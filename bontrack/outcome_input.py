"""Parse and validate a `bontrack outcome` series (DESIGN.md 3.8) into domain values.

Read like a plan (DESIGN 3.3): exact decimals, NaN and duplicate keys named at their path, unknown
keys invalid, a ``null`` optional field absent. On top of the shape, the scale decides what a
value is: a number within the scale's range and steps (scales.toml), or one of an ordinal scale's
level names. Every problem names its field, e.g. ``follow_ups[0].value: must be between 0 and 28``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from bontrack.domain.catalog import catalog as packaged_catalog
from bontrack.domain.catalog.model import Catalog, Scale
from bontrack.domain.outcomes import Cycle, OutcomeSeries, Reading
from bontrack.domain.units import format_decimal
from bontrack.plan_input import (
    DUPLICATE,
    GENERIC_MESSAGES,
    MAX_DECIMALS,
    MAX_YEAR,
    MIN_YEAR,
    FieldError,
    InvalidInputError,
    IsoDate,
    Number,
    field_path,
    has_at_most_decimals,
    read_json,
)

# A sanity bound that keeps arithmetic finite on scales without a maximum (no result comes near).
MAX_VALUE = Decimal(1_000_000)
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
FWS = "facial-wrinkle-scale"
# Shape errors pydantic words its own way, in the words `bontrack check` uses.
MESSAGES = {
    **GENERIC_MESSAGES,
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
}


def _two_dates(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2:
        return value
    raise PydanticCustomError("period_type", "must be two dates, [start, end]")


def _month(value: Any) -> tuple[int, int]:
    match = MONTH_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("month_type", "must be a month written YYYY-MM")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise PydanticCustomError("month_value", "is not a real month: {value}", {"value": value})
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PydanticCustomError(
            "date_range",
            "must be between the years {low} and {high}",
            {"low": MIN_YEAR, "high": MAX_YEAR},
        )
    return year, month


Period = Annotated[tuple[IsoDate, IsoDate], BeforeValidator(_two_dates)]
Month = Annotated[tuple[int, int], BeforeValidator(_month)]
V = TypeVar("V")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaselineIn(_Shape, Generic[V]):
    value: V
    date: IsoDate | None = None
    period: Period | None = None


class FollowUpIn(_Shape, Generic[V]):
    value: V
    date: IsoDate | None = None
    period: Period | None = None
    month: Month | None = None
    after_cycle: StrictInt | None = None


class CycleIn(_Shape):
    n: StrictInt
    date: IsoDate


class OutcomeIn(_Shape, Generic[V]):
    scale: StrictStr
    indication: StrictStr | None = None
    baseline: BaselineIn[V]
    cycles: list[CycleIn] | None = None
    follow_ups: list[FollowUpIn[V]]
    muscle_group: StrictStr | None = None


def _levels(scale: Scale) -> str:
    return ", ".join(scale.levels)


def _shape_errors(error: ValidationError, scale: Scale | None) -> list[FieldError]:
    found = []
    for err in error.errors(include_url=False):
        kind = err["type"]
        loc = list(err["loc"])
        if loc and isinstance(loc[-1], str) and loc[-1].startswith(DUPLICATE):
            loc[-1] = loc[-1][len(DUPLICATE) :]
            found.append(
                FieldError(field_path(loc), f"duplicate key {loc[-1]!r}: give each key once")
            )
            continue
        if err.get("input", "") is None and kind != "missing":
            message = "is required (null is not a value here)"
        elif kind == "string_type" and loc[-1] == "value" and scale is not None:
            message = f"must be one of the levels {_levels(scale)} (a string)"
        else:
            message = MESSAGES.get(kind, err["msg"])
        found.append(FieldError(field_path(loc), message))
    return found


class _Collector:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))


def value_problem(scale: Scale, value: Any) -> str | None:
    """What is wrong with a value for this scale, if anything: an ordinal scale takes one of its
    level names (a string), a numeric one an exact finite ``Decimal`` within its range and steps
    (scales.toml) with at most 3 decimals. The one rule for the outcome input and the stored
    assessments alike."""
    if scale.kind == "ordinal":
        if not isinstance(value, str):
            return f"must be one of the levels {_levels(scale)} (a string)"
        return None if value in scale.levels else f"must be one of the levels {_levels(scale)}"
    if isinstance(value, bool) or not isinstance(value, Decimal):
        return "must be a number"
    if not value.is_finite():
        return "must be a finite number"
    low, high, step = scale.minimum, scale.maximum, scale.step
    if low is not None and high is not None and not low <= value <= high:
        return f"must be between {format_decimal(low)} and {format_decimal(high)}"
    if low is not None and value < low:
        return f"must be {format_decimal(low)} or more"
    if high is not None and value > high:
        return f"must be at most {format_decimal(high)}"
    if abs(value) > MAX_VALUE:
        return f"must be at most {format_decimal(MAX_VALUE)} in size"
    if step is not None and (value - (low or 0)) % step != 0:
        return "must be a whole number" if step == 1 else f"must be in steps of {step}"
    if not has_at_most_decimals(value, MAX_DECIMALS):
        return f"must have at most {MAX_DECIMALS} decimals"
    return None


def scale_indication_problem(scale: Scale, indication: str, cat: Catalog) -> str | None:
    """What is wrong with recording this scale for this indication: the catalog lists the scales
    each indication is followed with (indications.toml)."""
    found = cat.indications.get(indication)
    if found is None:
        return f"unknown indication code {indication!r} (`bontrack catalog` lists them)"
    if scale.code not in found.scales:
        return (
            f"{scale.code} is not a scale of {indication} (its scales: {', '.join(found.scales)})"
        )
    return None


# Diary counts cover a fixed number of days: a 28-day window, or one calendar month.
WINDOW_DAYS = {"headache-days-28d": 28, "migraine-days-28d": 28}
MONTH_SCALES = ("headache-days-month",)


def period_problem(scale: Scale, start: date, end: date) -> str | None:
    """What is wrong with the period a result covers: it must not end before it starts, and a
    diary count covers its window (28 days) or one whole calendar month."""
    if end < start:
        return f"ends ({end.isoformat()}) before it starts ({start.isoformat()})"
    days = (end - start).days + 1
    window = WINDOW_DAYS.get(scale.code)
    if window is not None and days != window:
        return f"{scale.code} counts {window} days; this period has {days}"
    if scale.code in MONTH_SCALES:
        last = calendar.monthrange(start.year, start.month)[1]
        if start.day != 1 or end != date(start.year, start.month, last):
            return f"{scale.code} counts one calendar month: from its first day to its last"
    return None


def count_problem(scale: Scale, start: date, end: date, value: Any) -> str | None:
    """A count of days (a diary scale) cannot exceed the days of the period it covers."""
    if scale.code not in WINDOW_DAYS and scale.code not in MONTH_SCALES:
        return None
    days = (end - start).days + 1
    if isinstance(value, Decimal) and value > days:
        return f"counts {format_decimal(value)} days in a period of {days}"
    return None


def _reading(
    v: _Collector,
    path: str,
    item: BaselineIn[Any] | FollowUpIn[Any],
    scale: Scale,
) -> Reading | None:
    problem = value_problem(scale, item.value)
    if problem:
        v.fail(f"{path}.value", problem)
    month = item.month if isinstance(item, FollowUpIn) else None
    given = [
        name for name, x in (("date", item.date), ("period", item.period), ("month", month)) if x
    ]
    names = "date, period or month" if isinstance(item, FollowUpIn) else "date or period"
    if len(given) != 1:
        if given:
            v.fail(path, f"give only one of {names}, not {' and '.join(given)}")
        else:
            v.fail(path, f"give one of {names}")
        return None
    after = item.after_cycle if isinstance(item, FollowUpIn) else None
    if item.date is not None:
        return Reading.on(item.value, item.date, after)
    if item.period is not None:
        start, end = item.period
        if end < start:
            v.fail(
                f"{path}.period",
                f"ends ({end.isoformat()}) before it starts ({start.isoformat()})",
            )
            return None
        return Reading.over(item.value, start, end, after)
    year, number = month or (0, 0)
    return Reading.in_month(item.value, year, number, after)


def _cycles(v: _Collector, items: Sequence[CycleIn]) -> tuple[Cycle, ...]:
    seen: dict[int, int] = {}
    for n, item in enumerate(items):
        if item.n < 1:
            v.fail(f"cycles[{n}].n", "must be 1 or more")
        elif item.n in seen:
            v.fail(
                f"cycles[{n}].n", f"cycle {item.n} is listed twice (also cycles[{seen[item.n]}])"
            )
        else:
            seen[item.n] = n
    cycles = sorted(
        ((Cycle(i.n, i.date), n) for n, i in enumerate(items) if i.n >= 1),
        key=lambda pair: (pair[0].n, pair[1]),
    )
    for (earlier, _), (later, where) in pairwise(cycles):
        if later.n != earlier.n and later.date <= earlier.date:
            v.fail(
                f"cycles[{where}].date",
                f"cycle {later.n} must come after cycle {earlier.n} ({earlier.date.isoformat()})",
            )
    return tuple(c for c, _ in cycles)


def parse_outcome_input(text: str, catalog: Catalog | None = None) -> OutcomeSeries:
    """Turn the JSON text of an outcome series into domain values, or raise
    ``InvalidInputError`` naming every problem's field."""
    cat = catalog or packaged_catalog()
    raw = read_json(text)
    if not isinstance(raw, dict):
        raise InvalidInputError([FieldError(None, "must be a JSON object")])
    errors: list[FieldError] = []
    code = raw.get("scale")
    scale = cat.scales.get(code) if isinstance(code, str) else None
    if isinstance(code, str) and scale is None:
        errors.append(
            FieldError("scale", f"unknown scale code {code!r} (`bontrack catalog` lists them)")
        )
    value_type: Any = Any if scale is None else Number if scale.kind == "numeric" else StrictStr
    try:
        shape = OutcomeIn[value_type].model_validate(raw)
    except ValidationError as error:
        raise InvalidInputError(errors + _shape_errors(error, scale)) from None
    if errors or scale is None:
        raise InvalidInputError(errors)
    return _build(shape, scale, cat)


def _build(shape: OutcomeIn[Any], scale: Scale, cat: Catalog) -> OutcomeSeries:
    v = _Collector()
    indication = shape.indication
    if indication is not None and indication not in cat.indications:
        v.fail(
            "indication",
            f"unknown indication code {indication!r} (`bontrack catalog` lists them)",
        )
    elif scale.code == FWS:
        users = [i.code for i in cat.indications.values() if FWS in i.scales]
        if indication is None:
            v.fail(
                "indication",
                f"is required for {FWS}: the response rule depends on the area "
                f"({', '.join(users)})",
            )
        elif indication not in users:
            v.fail("indication", f"{FWS} is not used for {indication} (only {', '.join(users)})")

    baseline = _reading(v, "baseline", shape.baseline, scale)
    cycles = _cycles(v, shape.cycles or [])
    by_n = {c.n: c for c in cycles}
    follow_ups = []
    for n, item in enumerate(shape.follow_ups):
        here = f"follow_ups[{n}]"
        reading = _reading(v, here, item, scale)
        if item.after_cycle is not None:
            cycle = by_n.get(item.after_cycle)
            if item.after_cycle < 1:
                v.fail(f"{here}.after_cycle", "must be 1 or more")
            elif cycles and cycle is None:
                v.fail(f"{here}.after_cycle", f"there is no cycle {item.after_cycle} in cycles")
            elif reading is not None and cycle is not None and reading.start < cycle.date:
                v.fail(
                    f"{here}.after_cycle",
                    f"the follow-up starts on {reading.start.isoformat()}, before cycle "
                    f"{cycle.n} ({cycle.date.isoformat()})",
                )
        if reading is None:
            continue
        if baseline is not None and reading.start < baseline.end:
            v.fail(
                f"{here}.{reading.given_as}",
                f"starts before the baseline ends ({baseline.end.isoformat()})",
            )
        follow_ups.append(reading)
    if v.errors or baseline is None:
        raise InvalidInputError(v.errors)
    return OutcomeSeries(
        scale=scale.code,
        baseline=baseline,
        follow_ups=tuple(follow_ups),
        cycles=cycles,
        indication=indication,
        muscle_group=shape.muscle_group,
    )

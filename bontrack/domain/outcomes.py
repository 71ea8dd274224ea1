"""Outcome verdicts (DESIGN.md 3.8): did the treatment work, judged from scale results.

A series is one scale's baseline, the treatment cycles and the follow-ups after them. The latest
follow-up decides; the verdict words are codes.md's. The response definitions are facts.md
section 4 and, for the headache-day scales, NICE TA260's stop rules (facts.md 2.2):

- headache days (per 28 days or per month; migraine days per 28 days): ``no-verdict-yet`` before
  2 treatment cycles; then ``stop`` when the days fell by less than 30 % or (headache days only)
  the migraine has been episodic, under 15 days, for 3 consecutive months; else ``continue``.
  ``responder_50`` says whether the days fell by at least 50 % (the trials' responder).
- HIT-6 fall of at least 6 points, Jankovic Rating Scale at least 2, BSDI at least 0.7, pain NRS
  at least 30 %: ``meaningful`` / ``not-meaningful``.
- HDSS at least 2 grades better, gravimetric sweat at least 50 % less, Modified Ashworth at least
  1 grade (1+ between 1 and 2), GAIS "improved" or better, deviation at most 10 prism dioptres,
  Facial Wrinkle Scale (glabellar lines none or mild; forehead and lateral canthal lines at least
  2 grades better): ``responder`` / ``non-responder``.
- Goal Attainment Scaling T-score at least 50: ``goals-met`` / ``goals-not-met``.
- MIDAS, TWSTRS, Tsui, VHI-10 and mouth opening: ``no-definition`` (the facts give none).
- No follow-up yet: ``no-verdict-yet``.

Numeric values are exact ``Decimal``; ordinal ones (Modified Ashworth, GAIS) are the scale's level
names, compared by their rank in the catalog (levels are listed best first), never as numbers.
A fall is judged on the exact values; ``change_pct`` is only its display, rounded to one decimal.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from bontrack.domain.catalog import catalog as packaged_catalog
from bontrack.domain.catalog.model import Catalog, Scale, Tag
from bontrack.domain.units import format_decimal

__all__ = [
    "HEADACHE_DAY_SCALES",
    "VERDICTS",
    "Cycle",
    "OutcomeSeries",
    "OutcomeVerdict",
    "Reading",
    "change_pct",
    "judge",
    "latest_follow_up",
]

Value = Decimal | str
GivenAs = Literal["date", "period", "month"]

# codes.md "Outcome verdicts".
CONTINUE, STOP, NO_VERDICT_YET = "continue", "stop", "no-verdict-yet"
RESPONDER, NON_RESPONDER = "responder", "non-responder"
MEANINGFUL, NOT_MEANINGFUL = "meaningful", "not-meaningful"
GOALS_MET, GOALS_NOT_MET = "goals-met", "goals-not-met"
NO_DEFINITION = "no-definition"
VERDICTS = (
    CONTINUE,
    STOP,
    NO_VERDICT_YET,
    RESPONDER,
    NON_RESPONDER,
    MEANINGFUL,
    NOT_MEANINGFUL,
    GOALS_MET,
    GOALS_NOT_MET,
    NO_DEFINITION,
)

HEADACHE_DAY_SCALES = ("headache-days-28d", "headache-days-month", "migraine-days-28d")
# Numeric scales whose steps are grades: they report change_grades as well as change.
GRADED_SCALES = ("hdss", "facial-wrinkle-scale")

# NICE TA260 (facts.md 2.2): judged after 2 cycles; stop below a 30 % fall in headache days, or
# when the migraine has been episodic (fewer than 15 headache days a month) for 3 months running.
NICE_CYCLES = 2
NICE_MIN_FALL_PCT = Decimal(30)
EPISODIC_BELOW = Decimal(15)
# "3 consecutive months": follow-ups that together cover at least 84 days (three 28-day diaries;
# three calendar months always do), as bontrack reads "3 months" elsewhere (policy window-84d).
EPISODIC_DAYS = 84
# A 28-day diary reported once a calendar month leaves a gap of up to 3 days between windows:
# such follow-ups still count as consecutive.
EPISODIC_GAP_DAYS = 3
RESPONDER_FALL_PCT = Decimal(50)  # facts.md 4: the trials' responder (Adis review)

# facts.md section 4 response definitions.
HIT6_MIN_FALL = Decimal(6)  # Houts et al. 2021
JRS_MIN_FALL = Decimal(2)  # Jankovic et al. 2009
BSDI_MIN_FALL = Decimal("0.7")  # same paper
PAIN_MIN_FALL_PCT = Decimal(30)  # IMMPACT, moderate
PAIN_SUBSTANTIAL_FALL_PCT = Decimal(50)  # IMMPACT, substantial
HDSS_MIN_GRADES = 2
GRAVIMETRIC_MIN_FALL_PCT = Decimal(50)
MAS_MIN_GRADES = 1
GAIS_AT_LEAST = "improved"
PRISM_SUCCESS_AT_MOST = Decimal(10)
FWS_GLABELLAR_AT_MOST = Decimal(1)  # none (0) or mild (1) at maximum frown
FWS_MIN_GRADES = 2  # forehead and lateral canthal lines
GAS_GOALS_MET_AT = Decimal(50)

# Facial Wrinkle Scale rule per indication; any other indication has no definition.
FWS_RULES = {
    "glabellar-lines": "none-or-mild",
    "forehead-lines": "two-grades",
    "lateral-canthal-lines": "two-grades",
}

NO_DEFINITION_WHY = {
    "midas": "MIDAS has no standard responder definition (its grade change is used)",
    "twstrs": "TWSTRS has no universal responder definition (trials report the mean change)",
    "tsui": "the Tsui scale has no responder definition (trials report the mean change)",
    "vhi-10": "VHI-10 has no settled responder definition (a 6-point fall is uncertain)",
    "mouth-opening-mm": "mouth opening has no responder definition (normal is about 40 mm or more)",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One scale result: its value and when it was measured (a day, a period or a month)."""

    value: Value
    start: date
    end: date
    given_as: GivenAs = "date"
    after_cycle: int | None = None

    @classmethod
    def on(cls, value: Value, day: date, after_cycle: int | None = None) -> Reading:
        return cls(value, day, day, "date", after_cycle)

    @classmethod
    def over(cls, value: Value, start: date, end: date, after_cycle: int | None = None) -> Reading:
        return cls(value, start, end, "period", after_cycle)

    @classmethod
    def in_month(
        cls, value: Value, year: int, month: int, after_cycle: int | None = None
    ) -> Reading:
        last = calendar.monthrange(year, month)[1]
        return cls(value, date(year, month, 1), date(year, month, last), "month", after_cycle)

    def when(self) -> str:
        if self.given_as == "month":
            return self.start.strftime("%Y-%m")
        if self.given_as == "period":
            return f"{self.start.isoformat()} to {self.end.isoformat()}"
        return self.start.isoformat()


@dataclass(frozen=True, slots=True)
class Cycle:
    """A numbered treatment cycle and the day it was given."""

    n: int
    date: date


@dataclass(frozen=True, slots=True)
class OutcomeSeries:
    scale: str
    baseline: Reading
    follow_ups: tuple[Reading, ...] = ()
    cycles: tuple[Cycle, ...] = ()
    indication: str | None = None
    muscle_group: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeVerdict:
    scale: str
    indication: str | None
    muscle_group: str | None
    verdict: str
    change: Decimal | None  # points, numeric scales
    change_grades: int | None  # ordinal and graded scales; negative when better
    change_pct: Decimal | None  # one decimal; negative when the value fell
    responder_50: bool | None  # headache-day scales only
    reason: str
    source: str
    baseline: Reading
    latest: Reading | None
    cycles: int | None  # cycles before the latest follow-up (headache-day scales)

    @property
    def headache_days(self) -> bool:
        return self.scale in HEADACHE_DAY_SCALES


def change_pct(baseline: Decimal, follow_up: Decimal) -> Decimal | None:
    """(follow-up − baseline) ÷ baseline × 100 to one decimal, half up; None for a 0 baseline."""
    if baseline == 0:
        return None
    with localcontext() as exact:
        exact.prec = 80
        pct = ((follow_up - baseline) * 100 / baseline).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
    return pct if pct != 0 else Decimal("0.0")


def _fell_by_pct(baseline: Decimal, follow_up: Decimal, pct: Decimal) -> bool:
    """Whether the value fell by at least ``pct`` percent, judged on the exact values."""
    return (baseline - follow_up) * 100 >= pct * baseline


def _order(indexed: tuple[int, Reading]) -> tuple[date, date, int]:
    n, reading = indexed
    return (reading.end, reading.start, n)


def latest_follow_up(follow_ups: Sequence[Reading]) -> Reading | None:
    """The follow-up that ends last (of two ending together, the one listed last)."""
    if not follow_ups:
        return None
    return max(enumerate(follow_ups), key=_order)[1]


def _chronological(follow_ups: Sequence[Reading]) -> list[Reading]:
    return [r for _, r in sorted(enumerate(follow_ups), key=_order)]


def _window(scale: str, reading: Reading) -> tuple[date, date]:
    """The days a headache-day count covers: its period or month, or, for a single date, the
    scale's window ending on it (28 days, or the calendar month before it)."""
    if reading.given_as != "date":
        return reading.start, reading.end
    day = reading.end
    if scale == "headache-days-month":
        year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
        back = date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
        return back + timedelta(days=1), day
    return day - timedelta(days=27), day


def _number(value: Value) -> Decimal:
    if isinstance(value, str):
        raise TypeError(f"a numeric scale's value must be a Decimal, not {value!r}")
    return value


def _rank(scale: Scale, value: Value) -> int:
    """An ordinal level's rank: 0 for the best (the catalog lists levels best first)."""
    if not isinstance(value, str) or value not in scale.levels:
        raise ValueError(f"{value!r} is not a level of {scale.code}: {', '.join(scale.levels)}")
    return scale.levels.index(value)


def _show(value: Value) -> str:
    return value if isinstance(value, str) else format_decimal(value)


def _pct_text(pct: Decimal | None) -> str:
    if pct is None:
        return "no percentage: the baseline is 0"
    return f"{'+' if pct > 0 else ''}{format(pct, 'f')} %"


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a rule reads: the series, its scale, the deciding follow-up and the changes."""

    series: OutcomeSeries
    scale: Scale
    latest: Reading
    change: Decimal | None
    grades: int | None
    pct: Decimal | None

    @property
    def base(self) -> Decimal:
        return _number(self.series.baseline.value)

    @property
    def now(self) -> Decimal:
        return _number(self.latest.value)

    @property
    def fall(self) -> Decimal:
        return self.base - self.now

    def moved(self, unit: str = "") -> str:
        """'fell from 20 to 13 days (-7, -35.0 %)' and the like, for a numeric scale."""
        b, f = format_decimal(self.base), format_decimal(self.now)
        if self.now == self.base:
            return f"stayed at {b}{unit}"
        verb = "fell" if self.now < self.base else "rose"
        change = format_decimal(self.now - self.base)
        sign = "+" if self.now > self.base else ""
        return f"{verb} from {b} to {f}{unit} ({sign}{change}, {_pct_text(self.pct)})"

    def graded(self) -> str:
        """'went from 2 to 1+ (1 grade better)' for an ordinal or graded scale."""
        b, f = _show(self.series.baseline.value), _show(self.latest.value)
        grades = self.grades or 0
        if grades == 0:
            return f"stayed at {b}"
        n = abs(grades)
        word = "grade" if n == 1 else "grades"
        return f"went from {b} to {f} ({n} {word} {'better' if grades < 0 else 'worse'})"


Rule = Callable[[_Facts], tuple[str, str]]


def _cycles_before(series: OutcomeSeries, latest: Reading) -> int:
    """Treatment cycles before the latest follow-up: its ``after_cycle``, or the highest cycle
    given on or before the first day it covers, whichever is higher."""
    start = _window(series.scale, latest)[0]
    given = max((c.n for c in series.cycles if c.date <= start), default=0)
    return max(latest.after_cycle or 0, given)


def _episodic_run(scale: str, follow_ups: Sequence[Reading]) -> list[Reading]:
    """The latest consecutive follow-ups, each under 15 days, if together they cover 3 months."""
    run: list[Reading] = []
    for reading in reversed(_chronological(follow_ups)):
        if _number(reading.value) >= EPISODIC_BELOW:
            break
        end = _window(scale, reading)[1]
        if run:
            later_start = min(_window(scale, r)[0] for r in run)
            if (later_start - end).days - 1 > EPISODIC_GAP_DAYS:
                break
        run.append(reading)
        first = min(_window(scale, r)[0] for r in run)
        last = max(_window(scale, r)[1] for r in run)
        if (last - first).days + 1 >= EPISODIC_DAYS:
            return list(reversed(run))
    return []


def _headache_days(facts: _Facts) -> tuple[str, str]:
    series = facts.series
    what = "migraine days" if series.scale == "migraine-days-28d" else "headache days"
    per = "a month" if series.scale == "headache-days-month" else "28 days"
    cycles = _cycles_before(series, facts.latest)
    moved = f"{what.capitalize()} per {per} {facts.moved()}"
    if cycles < NICE_CYCLES:
        done = "no treatment cycle" if cycles == 0 else f"only {cycles} treatment cycle"
        return NO_VERDICT_YET, (
            f"{moved}, after {done}: NICE TA260 judges the response after {NICE_CYCLES} cycles."
        )
    if facts.base == 0:
        return NO_VERDICT_YET, (
            f"The baseline has 0 {what}, so a fall cannot be judged in percent: check the "
            "baseline diary."
        )
    stops: list[str] = []
    if not _fell_by_pct(facts.base, facts.now, NICE_MIN_FALL_PCT):
        stops.append(
            f"{moved} after {cycles} cycles: less than the {NICE_MIN_FALL_PCT} % fall "
            "NICE TA260 requires"
        )
    run = [] if what == "migraine days" else _episodic_run(series.scale, series.follow_ups)
    if run:
        first = min(_window(series.scale, r)[0] for r in run)
        last = max(_window(series.scale, r)[1] for r in run)
        days = ", ".join(_show(r.value) for r in run)
        stops.append(
            f"under {EPISODIC_BELOW} headache days in each follow-up from {first.isoformat()} to "
            f"{last.isoformat()} ({days}; 3 consecutive months, at least {EPISODIC_DAYS} days): "
            "the migraine has become episodic"
        )
    if stops:
        text = "; and ".join(stops)
        return STOP, f"{text[0].upper()}{text[1:]}. NICE TA260: stop treatment."
    if _fell_by_pct(facts.base, facts.now, RESPONDER_FALL_PCT):
        fifty = f" It is a {RESPONDER_FALL_PCT} % responder."
    else:
        fifty = f" It is not a {RESPONDER_FALL_PCT} % responder (the trials' definition)."
    note = ""
    if what == "migraine days":
        note = (
            " NICE TA260's episodic rule (under 15 headache days a month for 3 months) counts "
            "headache days, which this scale does not record."
        )
    return CONTINUE, (
        f"{moved} after {cycles} cycles: at least the {NICE_MIN_FALL_PCT} % fall NICE TA260 "
        f"requires, so treatment continues.{fifty}{note}"
    )


def _points_rule(label: str, minimum: Decimal, unit: str = " points") -> Rule:
    def rule(facts: _Facts) -> tuple[str, str]:
        need = f"a fall of at least {format_decimal(minimum)}{unit} is clinically meaningful"
        if facts.fall >= minimum:
            return MEANINGFUL, f"{label} {facts.moved()}: {need}."
        return NOT_MEANINGFUL, f"{label} {facts.moved()}; {need}."

    return rule


def _pain(facts: _Facts) -> tuple[str, str]:
    need = f"a fall of at least {PAIN_MIN_FALL_PCT} % is meaningful (IMMPACT)"
    if facts.base == 0:
        return NOT_MEANINGFUL, f"Pain was 0 at baseline: no fall is possible; {need}."
    if _fell_by_pct(facts.base, facts.now, PAIN_SUBSTANTIAL_FALL_PCT):
        return MEANINGFUL, (
            f"Pain {facts.moved()}: a fall of at least {PAIN_SUBSTANTIAL_FALL_PCT} % is "
            "substantial (IMMPACT)."
        )
    if _fell_by_pct(facts.base, facts.now, PAIN_MIN_FALL_PCT):
        return MEANINGFUL, f"Pain {facts.moved()}: {need}."
    return NOT_MEANINGFUL, f"Pain {facts.moved()}; {need}."


def _hdss(facts: _Facts) -> tuple[str, str]:
    need = f"an improvement of at least {HDSS_MIN_GRADES} grades is a response"
    if -(facts.grades or 0) >= HDSS_MIN_GRADES:
        return RESPONDER, f"HDSS {facts.graded()}: {need}."
    return NON_RESPONDER, f"HDSS {facts.graded()}; {need}."


def _gravimetric(facts: _Facts) -> tuple[str, str]:
    need = f"a fall of at least {GRAVIMETRIC_MIN_FALL_PCT} % is a response"
    if facts.base == 0:
        return NON_RESPONDER, f"Sweat production was 0 mg at baseline: no fall is possible; {need}."
    moved = f"Sweat production {facts.moved(' mg per 5 min')}"
    if _fell_by_pct(facts.base, facts.now, GRAVIMETRIC_MIN_FALL_PCT):
        return RESPONDER, f"{moved}: {need}."
    return NON_RESPONDER, f"{moved}; {need}."


def _ashworth(facts: _Facts) -> tuple[str, str]:
    muscles = facts.series.muscle_group
    label = f"Modified Ashworth ({muscles})" if muscles else "Modified Ashworth"
    need = (
        f"a fall of at least {MAS_MIN_GRADES} grade (1+ counts as a grade between 1 and 2) "
        "is a response"
    )
    if -(facts.grades or 0) >= MAS_MIN_GRADES:
        return RESPONDER, f"{label} {facts.graded()}: {need}."
    return NON_RESPONDER, f"{label} {facts.graded()}; {need}."


def _gais(facts: _Facts) -> tuple[str, str]:
    level = _show(facts.latest.value)
    need = f'"{GAIS_AT_LEAST}" or better is a response'
    if _rank(facts.scale, level) <= _rank(facts.scale, GAIS_AT_LEAST):
        return RESPONDER, f"GAIS at follow-up: {level}; {need}."
    return NON_RESPONDER, f"GAIS at follow-up: {level}; only {need}."


def _prism(facts: _Facts) -> tuple[str, str]:
    limit = format_decimal(PRISM_SUCCESS_AT_MOST)
    need = f"a deviation of at most {limit} prism dioptres at follow-up is success"
    moved = f"Deviation {facts.moved(' prism dioptres')}"
    if facts.now <= PRISM_SUCCESS_AT_MOST:
        return RESPONDER, f"{moved}: {need}."
    return NON_RESPONDER, f"{moved}; {need}."


def _wrinkles(facts: _Facts) -> tuple[str, str]:
    indication = facts.series.indication or ""
    rule = FWS_RULES.get(indication)
    moved = f"Facial Wrinkle Scale ({indication}) {facts.graded()}"
    if rule is None:
        return NO_DEFINITION, (
            f"{moved}. The facts give no responder definition on this scale for {indication}; "
            "the change is shown without a verdict."
        )
    if rule == "none-or-mild":
        need = "none (0) or mild (1) at maximum frown is a response"
        if facts.now <= FWS_GLABELLAR_AT_MOST:
            return RESPONDER, f"{moved}: {need}."
        return NON_RESPONDER, f"{moved}; only {need}."
    need = f"an improvement of at least {FWS_MIN_GRADES} grades is a response"
    if -(facts.grades or 0) >= FWS_MIN_GRADES:
        return RESPONDER, f"{moved}: {need}."
    return NON_RESPONDER, f"{moved}; {need}."


def _gas(facts: _Facts) -> tuple[str, str]:
    t = format_decimal(facts.now)
    need = f"T {format_decimal(GAS_GOALS_MET_AT)} or more means the goals were met on average"
    if facts.now >= GAS_GOALS_MET_AT:
        return GOALS_MET, f"GAS T-score at follow-up: {t}; {need}."
    return GOALS_NOT_MET, f"GAS T-score at follow-up: {t}; {need}."


def _no_definition(facts: _Facts) -> tuple[str, str]:
    why = NO_DEFINITION_WHY[facts.scale.code]
    return NO_DEFINITION, (
        f"{facts.scale.name} {facts.moved()}. No verdict: {why}; the change is shown for the "
        "clinician to judge."
    )


RULES: dict[str, Rule] = {
    **dict.fromkeys(HEADACHE_DAY_SCALES, _headache_days),
    "hit-6": _points_rule("HIT-6", HIT6_MIN_FALL),
    "jankovic-rating-scale": _points_rule("Jankovic Rating Scale", JRS_MIN_FALL),
    "bsdi": _points_rule("BSDI (mean)", BSDI_MIN_FALL),
    "pain-nrs": _pain,
    "hdss": _hdss,
    "gravimetric-sweat-mg-5min": _gravimetric,
    "modified-ashworth": _ashworth,
    "gais": _gais,
    "prism-dioptres": _prism,
    "facial-wrinkle-scale": _wrinkles,
    "gas-t-score": _gas,
    **dict.fromkeys(NO_DEFINITION_WHY, _no_definition),
}


def _source(scale: Scale) -> str:
    """The scale's source keys and tag; NICE TA260 for the headache-day scales' stop rules."""
    refs = ["NICE TA260" if ref == "NICE" else ref for ref in scale.cite.refs]
    text = "; ".join(refs) + f" [{scale.cite.tag.value}]"
    if scale.cite.tag is Tag.RECALLED:
        text += " (still to be confirmed)"
    elif scale.cite.tag is Tag.UNCERTAIN:
        text += " (uncertain)"
    if scale.code in HEADACHE_DAY_SCALES and "NICE" not in scale.cite.refs:
        text = f"NICE TA260 [{Tag.LABEL.value}]; {text}"
    return text


def _check_value(scale: Scale, value: Value) -> None:
    if scale.kind == "ordinal":
        _rank(scale, value)
    else:
        _number(value)


def _no_follow_up(series: OutcomeSeries, scale: Scale) -> str:
    text = f"No {scale.name} follow-up yet: there is nothing to compare with the baseline."
    why = NO_DEFINITION_WHY.get(scale.code)
    if why is not None:
        text += f" Even then there will be no verdict: {why}."
    elif scale.code in HEADACHE_DAY_SCALES:
        text += f" NICE TA260 judges the response after {NICE_CYCLES} cycles."
    return text


def judge(series: OutcomeSeries, catalog: Catalog | None = None) -> OutcomeVerdict:
    """The verdict of DESIGN 3.8 for one scale's series; the latest follow-up decides.

    The edges validate the input (a known scale, values of its kind and range); a value of the
    wrong kind here is a programming error and raises ``TypeError`` or ``ValueError``.
    """
    cat = catalog or packaged_catalog()
    scale = cat.scales.get(series.scale)
    if scale is None or series.scale not in RULES:
        raise ValueError(f"no outcome rule for scale {series.scale!r}")
    for reading in (series.baseline, *series.follow_ups):
        _check_value(scale, reading.value)
    latest = latest_follow_up(series.follow_ups)
    headache = scale.code in HEADACHE_DAY_SCALES

    def verdict(
        word: str,
        reason: str,
        change: Decimal | None = None,
        grades: int | None = None,
        pct: Decimal | None = None,
        responder_50: bool | None = None,
        cycles: int | None = None,
    ) -> OutcomeVerdict:
        return OutcomeVerdict(
            scale=scale.code,
            indication=series.indication,
            muscle_group=series.muscle_group,
            verdict=word,
            change=change,
            change_grades=grades,
            change_pct=pct,
            responder_50=responder_50,
            reason=reason,
            source=_source(scale),
            baseline=series.baseline,
            latest=latest,
            cycles=cycles,
        )

    if latest is None:
        cycles = max((c.n for c in series.cycles), default=0) if headache else None
        return verdict(NO_VERDICT_YET, _no_follow_up(series, scale), cycles=cycles)

    change: Decimal | None = None
    grades: int | None = None
    pct: Decimal | None = None
    if scale.kind == "ordinal":
        grades = _rank(scale, latest.value) - _rank(scale, series.baseline.value)
    else:
        base, now = _number(series.baseline.value), _number(latest.value)
        change = now - base
        pct = change_pct(base, now)
        if scale.code in GRADED_SCALES:
            grades = int(change)
    facts = _Facts(series, scale, latest, change, grades, pct)
    word, reason = RULES[scale.code](facts)
    responder_50: bool | None = None
    cycles = None
    if headache:
        cycles = _cycles_before(series, latest)
        if facts.base > 0:
            responder_50 = _fell_by_pct(facts.base, facts.now, RESPONDER_FALL_PCT)
    return verdict(word, reason, change, grades, pct, responder_50, cycles)

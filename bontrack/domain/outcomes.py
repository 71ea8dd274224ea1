"""Outcome verdicts (DESIGN.md 3.8): did the treatment work, judged from scale results.

A series is one scale's baseline, the treatment cycles and the follow-ups after them. The latest
follow-up decides; the verdict words are codes.md's. Which rule judges a scale, and every figure
it reads, are the catalog's (scales.toml, each scale's ``response``: facts.md section 4 and, for
the headache-day scales, NICE TA260's stop rules of facts.md 2.2). This module is the rules' logic:

- ``nice-ta260`` (headache or migraine days): ``no-verdict-yet`` before the cycles NICE asks for;
  then ``stop`` when the days fell by less than its percentage or (headache days only) the
  migraine has been episodic for the months it names, read as a number of days of consecutive
  follow-ups; else ``continue``. ``responder_50`` says whether the days fell by the trials'
  responder percentage.
- ``fall-points``, ``fall-pct``, ``fall-grades``: the value fell by at least so many points, per
  cent of the baseline or grades (Modified Ashworth by rank, so 1+ lies between 1 and 2).
- ``at-most``, ``at-least``: the follow-up value, or on an ordinal scale its level or a better one.
- ``no-definition`` (MIDAS, TWSTRS, Tsui, VHI-10, mouth opening): the change without a verdict.
- A scale whose rules all name other indications (Facial Wrinkle Scale for platysma bands):
  ``no-definition``. No follow-up yet: ``no-verdict-yet``.

Each rule gives the verdict pair its response names (``meaningful``, ``responder`` or
``goals-met`` and their negatives) and a reason in the response's words, quoting its thresholds.
Numeric values are exact ``Decimal``; ordinal ones (Modified Ashworth, GAIS) are the scale's level
names, compared by their rank in the catalog (levels are listed best first), never as numbers.
A fall is judged on the exact values; ``change_pct`` is only its display, rounded to one decimal.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from bontrack.domain.catalog import catalog as packaged_catalog
from bontrack.domain.catalog.model import Catalog, Response, ResponseRule, Scale, Tag
from bontrack.domain.units import format_decimal

__all__ = [
    "STOPPING",
    "VERDICTS",
    "Cycle",
    "OutcomeSeries",
    "OutcomeVerdict",
    "Reading",
    "change_pct",
    "graded_scales",
    "headache_day_scales",
    "judge",
    "latest_follow_up",
    "nice_rule",
    "summary_of",
    "verdict_changed_since",
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
# The verdicts that reach the next plan, the due list and reminders (B.32).
STOPPING = frozenset({STOP, NON_RESPONDER})


def headache_day_scales(catalog: Catalog | None = None) -> tuple[str, ...]:
    """The scales judged by NICE TA260's stop rules (their response rule is nice-ta260)."""
    return (catalog or packaged_catalog()).scales_judged_by(ResponseRule.NICE_TA260)


def graded_scales(catalog: Catalog | None = None) -> tuple[str, ...]:
    """Numeric scales whose steps are grades: they report change_grades as well as change."""
    cat = catalog or packaged_catalog()
    return tuple(code for code, scale in cat.scales.items() if scale.graded)


def nice_rule(catalog: Catalog | None = None) -> Response:
    """NICE TA260's rule as the catalog gives it for headache days (its figures are the same on
    every headache-day scale of the packaged catalog)."""
    cat = catalog or packaged_catalog()
    for code in headache_day_scales(cat):
        for response in cat.scales[code].responses:
            if response.rule is ResponseRule.NICE_TA260 and response.counts == "headache-days":
                return response
    raise LookupError("the catalog judges no headache-day scale by NICE TA260")


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
    rule: ResponseRule | None  # the catalog's rule that judged it; None: no definition applies
    summary: str = ""  # one line, e.g. "−18.2 % after 2 cycles" (DESIGN 3.8)

    @property
    def headache_days(self) -> bool:
        return self.rule is ResponseRule.NICE_TA260

    @property
    def as_of(self) -> date | None:
        """The deciding follow-up's date or period end; None before any follow-up."""
        return self.latest.end if self.latest is not None else None


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


def _window(nice: Response, reading: Reading) -> tuple[date, date]:
    """The days a headache-day count covers: its period or month, or, for a single date, the
    scale's window ending on it (28 days, or the calendar month before it)."""
    if reading.given_as != "date":
        return reading.start, reading.end
    day = reading.end
    if nice.window == "calendar-month":
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


def _moved(base: Decimal, now: Decimal, pct: Decimal | None, unit: str = "") -> str:
    """'fell from 20 to 13 days (-7, -35.0 %)' and the like, for a numeric scale."""
    b, f = format_decimal(base), format_decimal(now)
    if now == base:
        return f"stayed at {b}{unit}"
    verb = "fell" if now < base else "rose"
    change = format_decimal(now - base)
    sign = "+" if now > base else ""
    return f"{verb} from {b} to {f}{unit} ({sign}{change}, {_pct_text(pct)})"


def _changed(
    scale: Scale, baseline: Reading, latest: Reading, grades: int | None, pct: Decimal | None
) -> str:
    """The change from baseline: in grades on an ordinal or graded scale, else in values."""
    if scale.kind == "ordinal" or scale.graded:
        return _graded(baseline.value, latest.value, grades)
    unit = f" {scale.unit}" if scale.unit else ""
    return _moved(_number(baseline.value), _number(latest.value), pct, unit)


def _graded(baseline: Value, follow_up: Value, grades: int | None) -> str:
    """'went from 2 to 1+ (1 grade better)' for an ordinal or graded scale."""
    b, f = _show(baseline), _show(follow_up)
    if not grades:
        return f"stayed at {b}"
    n = abs(grades)
    word = "grade" if n == 1 else "grades"
    return f"went from {b} to {f} ({n} {word} {'better' if grades < 0 else 'worse'})"


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a rule reads: the series, its scale and response rule, the deciding follow-up and
    the changes."""

    series: OutcomeSeries
    scale: Scale
    response: Response
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
        return _moved(self.base, self.now, self.pct, unit)

    def graded(self) -> str:
        return _graded(self.series.baseline.value, self.latest.value, self.grades)

    def subject(self) -> str:
        """How the reason names the series: the scale's short name, the muscle group of a scale
        recorded per muscle group, the indication of a rule given per indication."""
        text = self.scale.label
        if self.scale.per_muscle_group and self.series.muscle_group:
            text += f" ({self.series.muscle_group})"
        if self.response.indications:
            text += f" ({self.series.indication or ''})"
        return text

    def changed(self) -> str:
        return _changed(self.scale, self.series.baseline, self.latest, self.grades, self.pct)

    def shown(self) -> str:
        """The follow-up value as a reason states it."""
        return _show(self.latest.value)

    def judged(self, met: bool) -> tuple[str, str]:
        """The verdict word of the rule's codes.md pair and the reason quoting its thresholds."""
        response = self.response
        word = response.verdicts[0] if met else response.verdicts[1]
        says = response.quote(response.says if met else response.unmet_says or response.says)
        if response.shows == "follow-up":
            return word, f"{self.subject()} at follow-up: {self.shown()}; {says}."
        return word, f"{self.subject()} {self.changed()}{':' if met else ';'} {says}."


Rule = Callable[[_Facts], tuple[str, str]]


def _cycles_before(series: OutcomeSeries, latest: Reading, nice: Response) -> int:
    """Treatment cycles before the latest follow-up: its ``after_cycle``, or the highest cycle
    given on or before the first day it covers, whichever is higher."""
    start = _window(nice, latest)[0]
    given = max((c.n for c in series.cycles if c.date <= start), default=0)
    return max(latest.after_cycle or 0, given)


def _episodic_run(follow_ups: Sequence[Reading], nice: Response) -> list[Reading]:
    """The latest consecutive follow-ups, each under the episodic count, if together they cover
    the months NICE TA260 asks for (read as a number of days)."""
    below = nice.number("episodic_below")
    gap_days = nice.whole("episodic_gap_days")
    run_days = nice.whole("episodic_days")
    run: list[Reading] = []
    for reading in reversed(_chronological(follow_ups)):
        if _number(reading.value) >= below:
            break
        end = _window(nice, reading)[1]
        if run:
            later_start = min(_window(nice, r)[0] for r in run)
            if (later_start - end).days - 1 > gap_days:
                break
        run.append(reading)
        first = min(_window(nice, r)[0] for r in run)
        last = max(_window(nice, r)[1] for r in run)
        if (last - first).days + 1 >= run_days:
            return list(reversed(run))
    return []


def _headache_days(facts: _Facts) -> tuple[str, str]:
    series, nice = facts.series, facts.response
    need_cycles = nice.whole("cycles")
    min_fall = nice.number("min_fall_pct")
    what = "headache days" if nice.counts == "headache-days" else "migraine days"
    per = "a month" if nice.window == "calendar-month" else "28 days"
    cycles = _cycles_before(series, facts.latest, nice)
    moved = f"{what.capitalize()} per {per} {facts.moved()}"
    if cycles < need_cycles:
        done = "no treatment cycle" if cycles == 0 else f"only {cycles} treatment cycle"
        return NO_VERDICT_YET, (
            f"{moved}, after {done}: NICE TA260 judges the response after {need_cycles} cycles."
        )
    if facts.base == 0:
        return NO_VERDICT_YET, (
            f"The baseline has 0 {what}, so a fall cannot be judged in percent: check the "
            "baseline diary."
        )
    quoted = {name: threshold.text for name, threshold in nice.thresholds.items()}
    stops: list[str] = []
    if not _fell_by_pct(facts.base, facts.now, min_fall):
        stops.append(
            f"{moved} after {cycles} cycles: less than the {quoted['min_fall_pct']} % fall "
            "NICE TA260 requires"
        )
    counts_headache_days = nice.counts == "headache-days"
    run = _episodic_run(series.follow_ups, nice) if counts_headache_days else []
    if run:
        first = min(_window(nice, r)[0] for r in run)
        last = max(_window(nice, r)[1] for r in run)
        days = ", ".join(_show(r.value) for r in run)
        stops.append(
            f"under {quoted['episodic_below']} headache days in each follow-up from "
            f"{first.isoformat()} to {last.isoformat()} ({days}; {quoted['episodic_months']} "
            f"consecutive months, at least {quoted['episodic_days']} days): the migraine has "
            "become episodic"
        )
    if stops:
        text = "; and ".join(stops)
        return STOP, f"{text[0].upper()}{text[1:]}. NICE TA260: stop treatment."
    fifty = quoted["responder_fall_pct"]
    if _fell_by_pct(facts.base, facts.now, nice.number("responder_fall_pct")):
        responder = f" It is a {fifty} % responder."
    else:
        responder = f" It is not a {fifty} % responder (the trials' definition)."
    note = ""
    if not counts_headache_days:
        note = (
            f" NICE TA260's episodic rule (under {quoted['episodic_below']} headache days a month "
            f"for {quoted['episodic_months']} months) counts headache days, which this scale "
            "does not record."
        )
    return CONTINUE, (
        f"{moved} after {cycles} cycles: at least the {quoted['min_fall_pct']} % fall NICE TA260 "
        f"requires, so treatment continues.{responder}{note}"
    )


def _fall_points(facts: _Facts) -> tuple[str, str]:
    return facts.judged(facts.fall >= facts.response.number("min_fall"))


def _fall_pct(facts: _Facts) -> tuple[str, str]:
    response = facts.response
    if facts.base == 0:
        zero = response.zero_baseline or f"{facts.subject()} was 0 at baseline"
        says = response.quote(response.unmet_says or response.says)
        return response.verdicts[1], f"{zero}: no fall is possible; {says}."
    if response.has("substantial_fall_pct") and _fell_by_pct(
        facts.base, facts.now, response.number("substantial_fall_pct")
    ):
        substantial = response.quote(response.substantial_says)
        return response.verdicts[0], f"{facts.subject()} {facts.changed()}: {substantial}."
    return facts.judged(_fell_by_pct(facts.base, facts.now, response.number("min_fall_pct")))


def _fall_grades(facts: _Facts) -> tuple[str, str]:
    return facts.judged(-(facts.grades or 0) >= facts.response.whole("min_grades"))


def _at_most(facts: _Facts) -> tuple[str, str]:
    return facts.judged(facts.now <= facts.response.number("at_most"))


def _at_least(facts: _Facts) -> tuple[str, str]:
    """The follow-up value, or on an ordinal scale its level or a better one (levels are listed
    best first)."""
    limit = facts.response.thresholds["at_least"].value
    if isinstance(limit, str):
        return facts.judged(_rank(facts.scale, facts.latest.value) <= _rank(facts.scale, limit))
    return facts.judged(facts.now >= limit)


def _no_definition(facts: _Facts) -> tuple[str, str]:
    return NO_DEFINITION, (
        f"{facts.scale.name} {facts.changed()}. No verdict: {facts.response.why}; the change is "
        "shown for the clinician to judge."
    )


RULES: dict[ResponseRule, Rule] = {
    ResponseRule.NICE_TA260: _headache_days,
    ResponseRule.FALL_POINTS: _fall_points,
    ResponseRule.FALL_PCT: _fall_pct,
    ResponseRule.FALL_GRADES: _fall_grades,
    ResponseRule.AT_MOST: _at_most,
    ResponseRule.AT_LEAST: _at_least,
    ResponseRule.NO_DEFINITION: _no_definition,
}


def _not_for_this_indication(
    scale: Scale, series: OutcomeSeries, latest: Reading, grades: int | None, pct: Decimal | None
) -> str:
    """The reason when the scale's rules all name other indications (platysma bands on the
    Facial Wrinkle Scale)."""
    indication = series.indication or ""
    changed = _changed(scale, series.baseline, latest, grades, pct)
    return (
        f"{scale.label} ({indication}) {changed}. The facts give no responder definition on this "
        f"scale for {indication}; the change is shown without a verdict."
    )


def _source(scale: Scale, response: Response | None) -> str:
    """The scale's source keys and tag; NICE TA260 for the headache-day scales' stop rules."""
    refs = ["NICE TA260" if ref == "NICE" else ref for ref in scale.cite.refs]
    text = "; ".join(refs) + f" [{scale.cite.tag.value}]"
    if scale.cite.tag is Tag.RECALLED:
        text += " (still to be confirmed)"
    elif scale.cite.tag is Tag.UNCERTAIN:
        text += " (uncertain)"
    if response is not None and response.rule is ResponseRule.NICE_TA260:
        stop_rule = response.thresholds["min_fall_pct"].cite
        if not set(stop_rule.refs) & set(scale.cite.refs):
            named = "; ".join("NICE TA260" if ref == "NICE" else ref for ref in stop_rule.refs)
            text = f"{named} [{stop_rule.tag.value}]; {text}"
    return text


def _check_value(scale: Scale, value: Value) -> None:
    if scale.kind == "ordinal":
        _rank(scale, value)
    else:
        _number(value)


def _no_follow_up(scale: Scale, response: Response | None) -> str:
    text = f"No {scale.name} follow-up yet: there is nothing to compare with the baseline."
    if response is None:
        return text
    if response.rule is ResponseRule.NO_DEFINITION:
        text += f" Even then there will be no verdict: {response.why}."
    elif response.rule is ResponseRule.NICE_TA260:
        text += f" NICE TA260 judges the response after {response.whole('cycles')} cycles."
    return text


def judge(series: OutcomeSeries, catalog: Catalog | None = None) -> OutcomeVerdict:
    """The verdict of DESIGN 3.8 for one scale's series; the latest follow-up decides.

    The edges validate the input (a known scale, values of its kind and range); a value of the
    wrong kind here is a programming error and raises ``TypeError`` or ``ValueError``.
    """
    cat = catalog or packaged_catalog()
    found = _judge(series, cat)
    return replace(found, summary=summary_of(found, cat))


def _judge(series: OutcomeSeries, cat: Catalog) -> OutcomeVerdict:
    scale = cat.scales.get(series.scale)
    if scale is None or not scale.responses:
        raise ValueError(f"no outcome rule for scale {series.scale!r}")
    for reading in (series.baseline, *series.follow_ups):
        _check_value(scale, reading.value)
    latest = latest_follow_up(series.follow_ups)
    response = scale.response_for(series.indication)
    nice = response if response is not None and response.rule is ResponseRule.NICE_TA260 else None

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
            source=_source(scale, response),
            baseline=series.baseline,
            latest=latest,
            cycles=cycles,
            rule=None if response is None else response.rule,
        )

    if latest is None:
        cycles = max((c.n for c in series.cycles), default=0) if nice is not None else None
        return verdict(NO_VERDICT_YET, _no_follow_up(scale, response), cycles=cycles)

    change: Decimal | None = None
    grades: int | None = None
    pct: Decimal | None = None
    if scale.kind == "ordinal":
        grades = _rank(scale, latest.value) - _rank(scale, series.baseline.value)
    else:
        base, now = _number(series.baseline.value), _number(latest.value)
        change = now - base
        pct = change_pct(base, now)
        if scale.graded:
            grades = int(change)
    if response is None:
        reason = _not_for_this_indication(scale, series, latest, grades, pct)
        return verdict(NO_DEFINITION, reason, change, grades, pct)
    facts = _Facts(series, scale, response, latest, change, grades, pct)
    word, reason = RULES[response.rule](facts)
    responder_50: bool | None = None
    cycles = None
    if nice is not None:
        cycles = _cycles_before(series, latest, nice)
        if facts.base > 0:
            responder_50 = _fell_by_pct(facts.base, facts.now, nice.number("responder_fall_pct"))
    return verdict(word, reason, change, grades, pct, responder_50, cycles)


def _signed(value: Decimal) -> str:
    """-52 as "−52", 3 as "+3" (a true minus sign, as printed reports write it)."""
    text = format_decimal(value)
    if text.startswith("-"):
        return "\u2212" + text[1:]
    return f"+{text}" if value > 0 else text


def _change_words(v: OutcomeVerdict, cat: Catalog) -> str:
    """The change as a clinician reads it: grades on an ordinal or graded scale, a percentage
    where the response is judged in percent (headache days, pain), else points (and percent)."""
    if v.latest is None:
        return ""
    if v.change_grades is not None:
        n = abs(v.change_grades)
        if n == 0:
            return "no change"
        return f"{n} grade{'s' if n != 1 else ''} {'better' if v.change_grades < 0 else 'worse'}"
    if v.change_pct is not None and (
        v.headache_days or v.scale in cat.scales_judged_by(ResponseRule.FALL_PCT)
    ):
        return f"{_signed(v.change_pct)} %"
    if v.change is not None:
        pct = f", {_signed(v.change_pct)} %" if v.change_pct is not None else ""
        return f"{_signed(v.change)}{pct}"
    return ""


def summary_of(v: OutcomeVerdict, catalog: Catalog | None = None) -> str:
    """DESIGN 3.8's ``summary``: the change and, on headache-day scales, the cycles before the
    deciding follow-up, in one line of at most 200 characters ("−18.2 % after 2 cycles")."""
    cat = catalog or packaged_catalog()
    if v.latest is None:
        return "no follow-up yet"
    parts = [words] if (words := _change_words(v, cat)) else []
    if v.cycles is not None:
        parts.append(f"after {v.cycles} cycle{'s' if v.cycles != 1 else ''}")
    text = " ".join(parts) or f"{_show(v.latest.value)} at follow-up"
    longest = 200  # DESIGN 3.8's limit for the line, not a clinical figure
    return text if len(text) <= longest else text[: longest - 1] + "\u2026"


def verdict_changed_since(
    series: OutcomeSeries, since: date, word: str, catalog: Catalog | None = None
) -> bool:
    """Whether a follow-up ending after ``since`` gave, judged with the follow-ups up to it, a
    verdict other than ``word``: a decision taken on a verdict (B.32's "continue despite this
    verdict") lasts until a newer follow-up changes it, even if a later one brings it back."""
    ordered = _chronological(series.follow_ups)
    for n, reading in enumerate(ordered):
        if reading.end <= since:
            continue
        if judge(replace(series, follow_ups=tuple(ordered[: n + 1])), catalog).verdict != word:
            return True
    return False

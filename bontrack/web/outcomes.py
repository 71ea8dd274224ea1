"""What the pages show of follow-up: the verdicts of ``bontrack.outcomes.verdicts`` in words, the
due dates of ``bontrack.outcomes.due`` with the date that decides, and the patient page's outcome
sections (one per indication: a chart per scale and muscle group, its verdict, the due date, the
forms). No clinical rule here: the services and the domain decide, this module only words it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.model import ResponseRule
from bontrack.domain.due import Due, due_per_indication
from bontrack.domain.outcomes import STOPPING, OutcomeVerdict, graded_scales, nice_rule
from bontrack.domain.units import format_decimal
from bontrack.outcomes.diary import DIARY_INDICATION
from bontrack.outcomes.models import Assessment
from bontrack.outcomes.verdicts import SeriesVerdict, judge_patient, stopping_of
from bontrack.treatments.reads import PatientHistory
from bontrack.treatments.records import counts_toward_limits, total_units
from bontrack.web import present
from bontrack.web.forms import TIMEPOINT_WORDS
from bontrack.web.outcome_chart import Result, outcome_chart

# codes.md "Outcome verdicts", by how the badge looks.
GOOD = frozenset({"continue", "responder", "meaningful", "goals-met"})
BAD = frozenset({"stop", "non-responder", "not-meaningful", "goals-not-met"})


def stop_rule() -> str:
    """NICE TA260's stopping rule in words, with the catalog's figures."""
    nice = nice_rule(catalog())
    return (
        f"NICE TA260 stopping rule: the response is judged after {nice.whole('cycles')} cycles; "
        "treatment stops when headache days have fallen by less than "
        f"{format_decimal(nice.number('min_fall_pct'))} %, or when the migraine has become "
        f"episodic (under {format_decimal(nice.number('episodic_below'))} headache days a month) "
        f"for {nice.whole('episodic_months')} consecutive months."
    )


BASIS_WORDS = {
    "label": "the label interval",
    "wear-off": "the wear-off history",
    "none": "no date: when the effect wears off",
}


def signed(value: Decimal) -> str:
    """-52 as "−52", 3 as "+3" (a true minus sign, as printed reports write it)."""
    text = format_decimal(value)
    if text.startswith("-"):
        return "−" + text[1:]
    return f"+{text}" if value > 0 else text


def _change(v: OutcomeVerdict, ordinal: bool) -> str:
    if v.latest is None:
        return ""
    if v.change_grades is not None and (ordinal or v.scale in graded_scales(catalog())):
        n = abs(v.change_grades)
        if n == 0:
            return "no change"
        return f"{n} grade{'s' if n != 1 else ''} {'better' if v.change_grades < 0 else 'worse'}"
    # Changes judged as a percentage of the baseline are shown as one.
    percent_scales = catalog().scales_judged_by(ResponseRule.FALL_PCT)
    if v.change_pct is not None and (v.headache_days or v.scale in percent_scales):
        return f"{signed(v.change_pct)} %"
    if v.change is not None:
        pct = f", {signed(v.change_pct)} %" if v.change_pct is not None else ""
        return f"{signed(v.change)}{pct}"
    return ""


def verdict_view(v: OutcomeVerdict) -> dict[str, Any]:
    """The verdict as the page shows it: its codes.md word, a headline such as "responder
    (−52 % after 2 cycles)" (a headache-day series that is a 50 % responder is shown as one),
    the reason and the source; a headache-day series adds NICE TA260's stopping rule."""
    scale = catalog().scales.get(v.scale)
    change = _change(v, scale is not None and scale.kind == "ordinal")
    parts = [change] if change else []
    if v.cycles is not None and v.latest is not None:
        parts.append(f"after {v.cycles} cycle{'s' if v.cycles != 1 else ''}")
    head = "responder" if v.responder_50 else v.verdict
    return {
        "word": v.verdict,
        "tone": "ok" if v.verdict in GOOD else "block" if v.verdict in BAD else "info",
        "headline": f"{head} ({' '.join(parts)})" if parts else head,
        "responder_50": v.responder_50,
        "reason": v.reason,
        "source": v.source,
        "stop_rule": stop_rule() if v.headache_days else "",
        "stop": v.verdict == "stop",
        "stopping": v.verdict in STOPPING,
        "as_of": v.as_of,
        "summary": v.summary,
    }


def continued_view(judged: SeriesVerdict) -> dict[str, Any] | None:
    """A standing "continue despite this verdict" as the page shows it beside the verdict."""
    d = judged.continued
    if d is None:
        return None
    return {
        "reason": d.reason,
        "by": d.decided_by.display_name,
        "on": d.decided_at.date(),
        "as_of": d.as_of,
    }


NO_BASELINE = {
    "word": "no-verdict-yet",
    "tone": "info",
    "headline": "no baseline",
    "responder_50": None,
    "reason": "No result is marked baseline: record one to judge the response.",
    "source": "",
    "stop_rule": "",
    "stop": False,
    "stopping": False,
    "as_of": None,
    "summary": "",
}


def decides(due: Due) -> str:
    """Which date sets the due date, in words (the later of the two when both exist)."""
    if due.basis == "both":
        which = due.interval_name if due.due == due.earliest else "the wear-off history"
        return f"{which} (the later of the two)"
    if due.basis == "label":
        return due.interval_name
    return BASIS_WORDS.get(due.basis, due.basis)


def due_view(due: Due, today: date) -> dict[str, Any]:
    days = (due.due - today).days if due.due is not None else None
    return {
        "due": due,
        "decides": decides(due),
        "days": days,
        "overdue": -days if days is not None and days < 0 else 0,
        "indication": present.indication_short(due.indication),
        "product": present.brand(due.product),
    }


def _day(d: date, year: bool = True) -> str:
    return f"{d.day} {d:%b %Y}" if year else f"{d.day} {d:%b}"


def when(a: Assessment) -> str:
    """ "3 Mar 2026", or a period: "6 Apr – 3 May 2026"."""
    if a.assessed_on is not None:
        return _day(a.assessed_on)
    start, end = a.start, a.end
    return f"{_day(start, start.year != end.year)} – {_day(end)}"


def value_text(value: Decimal | str) -> str:
    return value if isinstance(value, str) else format_decimal(value)


@dataclass(frozen=True)
class _Key:
    indication: str
    scale: str
    muscle_group: str


def value_field(
    scale_code: str, prefix: str, value: str = "", muscle_group: str = ""
) -> dict[str, Any]:
    """The value input for a scale: its levels for an ordinal one, its range and step for a
    numeric one; the muscle group for the Modified Ashworth Scale."""
    scale = catalog().scales.get(scale_code)
    return {
        "prefix": prefix,
        "scale": scale,
        "ordinal": scale is not None and scale.kind == "ordinal",
        "levels": [(level, level.replace("-", " ")) for level in scale.levels] if scale else [],
        "minimum": format_decimal(scale.minimum) if scale and scale.minimum is not None else "",
        "maximum": format_decimal(scale.maximum) if scale and scale.maximum is not None else "",
        "step": format_decimal(scale.step) if scale and scale.step is not None else "any",
        "per_muscle": scale_code == "modified-ashworth",
        "value": value,
        "muscle_group": muscle_group,
    }


def outcome_sections(history: PatientHistory, today: date) -> list[dict[str, Any]]:
    """One section per indication the patient has results for or was planned or treated for:
    a chart and a verdict per scale (per muscle group for the Modified Ashworth Scale), the due
    date, the signed sessions with their wear-off reports. From the history the patient page
    read once (``treatments.reads.patient_history``), for a caller that opened the chart through
    the access funnel and wrote its read entry; no query of its own."""
    cat = catalog()
    patient_sessions = history.sessions
    judged_all, _, judged_cycles = judge_patient(
        history.assessments, history.counted(), history.decisions
    )
    verdicts = {
        _Key(v.verdict.indication or "", v.verdict.scale, v.verdict.muscle_group or ""): v
        for v in judged_all
    }
    dues = {d.indication: d for d in due_per_indication(history.treated())}
    results: dict[_Key, list[Assessment]] = defaultdict(list)
    for a in history.assessments:
        results[_Key(a.indication, a.scale, a.muscle_group)].append(a)
    reports = history.wear_off
    indications = {k.indication for k in results} | {
        s.indication for s in patient_sessions if s.indication in cat.indications
    }
    sections = []
    for code in sorted(indications, key=present.indication_name):
        indication = cat.indications.get(code)
        scales = list(indication.scales) if indication else []
        cycles = judged_cycles.get(code, ())
        cycle_of_day = {c.date: c.n for c in cycles}
        series = []
        keys = sorted(
            (k for k in results if k.indication == code),
            key=lambda k: (scales.index(k.scale) if k.scale in scales else 99, k.muscle_group),
        )
        for key in keys:
            scale = cat.scales[key.scale]
            rows = sorted(results[key], key=lambda a: (a.end, a.start))
            judged = verdicts.get(key)
            baseline = judged.verdict.baseline.value if judged else None
            chart = outcome_chart(
                scale,
                [
                    Result(
                        a.start,
                        a.end,
                        a.value,
                        a.timepoint,
                        f"{when(a)}: {value_text(a.value)} ({TIMEPOINT_WORDS[a.timepoint]}"
                        f"{', from the diary' if a.source == 'diary' else ''})",
                    )
                    for a in rows
                ],
                cycles,
                baseline,
            )
            series.append(
                {
                    "scale": scale,
                    "muscle_group": key.muscle_group,
                    "chart": chart,
                    "verdict": verdict_view(judged.verdict) if judged else NO_BASELINE,
                    "continued": continued_view(judged) if judged else None,
                    "results": [
                        {
                            "when": when(a),
                            "timepoint": TIMEPOINT_WORDS[a.timepoint],
                            "value": value_text(a.value),
                            "cycle": cycle_of_day.get(linked.plan_date)
                            if (linked := history.session(a.session_id)) is not None
                            else None,
                            "source": a.source,
                        }
                        for a in reversed(rows)
                    ],
                }
            )
        signed_sessions = []
        for s in patient_sessions:
            if s.indication != code or not s.is_signed:
                continue
            if not counts_toward_limits(history.statuses[s.id]):
                continue
            report = reports.get(s.id)
            signed_sessions.append(
                {
                    "session": s,
                    "cycle": cycle_of_day.get(s.plan_date),
                    "product": present.brand(s.product),
                    "units": present.units(total_units(history.points[s.id])),
                    "report": report,
                    "days": (report.wore_off_on - s.plan_date).days if report else None,
                }
            )
        due = dues.get(code)
        first_scale = scales[0] if scales else ""
        held = stopping_of(judged_all, code)
        sections.append(
            {
                "code": code,
                "name": present.indication_name(code),
                "short": present.indication_short(code),
                "series": series,
                "due": due_view(due, today) if due else None,
                "held_because": held.label if held is not None else "",
                "sessions": signed_sessions,
                "scales": [(s, cat.scales[s].name) for s in scales if s in cat.scales],
                "value_field": value_field(first_scale, code),
                "diary": code == DIARY_INDICATION,
            }
        )
    return sections

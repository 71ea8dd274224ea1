"""`bontrack outcome FILE.json [--json]` (DESIGN 3.8): read like `bontrack check` (3.3), exit 0
with a verdict, or 2 naming every invalid field. A few real processes, the rest in process."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.catalog import catalog
from bontrack.domain.outcomes import VERDICTS
from tests.cli.support import REPO, Raw, dumps, run_main

Document = dict[str, Any]
OUTPUT_KEYS = [
    "scale",
    "indication",
    "muscle_group",
    "verdict",
    "change",
    "change_grades",
    "change_pct",
    "responder_50",
    "reason",
    "source",
    "as_of",
    "summary",
]


def design_example() -> Document:
    """DESIGN 3.8's input, as written there."""
    return {
        "scale": "headache-days-28d",
        "indication": "chronic-migraine",
        "baseline": {"period": ["2026-04-06", "2026-05-03"], "value": 20},
        "cycles": [{"n": 1, "date": "2026-05-04"}, {"n": 2, "date": "2026-07-27"}],
        "follow_ups": [{"after_cycle": 2, "period": ["2026-09-21", "2026-10-18"], "value": 13}],
        "muscle_group": "elbow flexors",
    }


def ashworth() -> Document:
    return {
        "scale": "modified-ashworth",
        "baseline": {"value": "2", "date": "2026-05-04"},
        "follow_ups": [{"value": "1+", "date": "2026-06-15", "after_cycle": 1}],
        "muscle_group": "elbow flexors",
    }


def process(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bontrack.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def outcome(document: Any, *, as_json: bool = True):
    text = document if isinstance(document, str) else dumps(document)
    return run_main(["outcome", *(["--json"] if as_json else []), "-"], stdin=text)


# --- real processes ------------------------------------------------------------------------------


def test_design_example_from_a_file_as_json(tmp_path: Path):
    path = tmp_path / "outcome.json"
    path.write_text(dumps(design_example()), "utf-8")
    run = process("outcome", str(path), "--json")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    result = json.loads(run.stdout)
    assert list(result) == OUTPUT_KEYS
    assert result["verdict"] == "continue"
    assert result["change"] == "-7"
    assert result["change_pct"] == "-35.0"
    assert result["change_grades"] is None
    assert result["responder_50"] is False
    assert result["muscle_group"] == "elbow flexors"
    assert "NICE TA260" in result["source"]
    assert result["as_of"] == "2026-10-18"
    assert result["summary"] == "−35 % after 2 cycles"


def test_invalid_input_on_standard_input_exits_2_naming_the_field():
    document = design_example()
    document["follow_ups"][0]["value"] = 29
    run = process("outcome", "--json", "-", stdin=dumps(document))
    assert run.returncode == 2
    assert run.stderr.strip() == "follow_ups[0].value: must be between 0 and 28"
    assert json.loads(run.stdout) == {
        "errors": [{"field": "follow_ups[0].value", "message": "must be between 0 and 28"}]
    }
    assert "Traceback" not in run.stdout + run.stderr


def test_readable_summary_without_json():
    run = process("outcome", "-", stdin=dumps(design_example()))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Verdict: continue")
    assert "-35.0 %" in run.stdout
    assert "NICE TA260" in run.stdout
    assert "Summary: −35 % after 2 cycles" in run.stdout


# --- in process ----------------------------------------------------------------------------------


def test_an_ordinal_scale_has_no_responder_50_and_numbers_as_strings():
    run = outcome(ashworth())
    assert run.code == 0, run.err
    result = run.data
    assert list(result) == [k for k in OUTPUT_KEYS if k != "responder_50"]
    assert result["verdict"] == "responder"
    assert result["change_grades"] == -1
    assert result["change"] is None
    assert result["change_pct"] is None
    assert (result["as_of"], result["summary"]) == ("2026-06-15", "1 grade better")


def test_exact_decimals_are_kept():
    document = design_example()
    document["follow_ups"][0]["value"] = Decimal("9.6")
    document["scale"] = "headache-days-28d"
    # 9.6 is not a whole number of days: headache days step by 1.
    assert outcome(document).fields == ["follow_ups[0].value"]
    bsdi = {
        "scale": "bsdi",
        "baseline": {"value": Decimal("2.0"), "date": "2026-05-04"},
        "follow_ups": [{"value": Decimal("1.3"), "date": "2026-06-15"}],
    }
    result = outcome(bsdi).data
    assert (result["verdict"], result["change"], result["change_pct"]) == (
        "meaningful",
        "-0.7",
        "-35.0",
    )


def test_no_follow_up_yet_is_valid():
    document = design_example()
    document["follow_ups"] = []
    run = outcome(document)
    assert run.code == 0
    assert run.data["verdict"] == "no-verdict-yet"
    assert run.data["responder_50"] is None


def _set(path: str, value: Any) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        *parents, last = path.split(".")
        here: Any = document
        for part in parents:
            here = here[int(part)] if part.isdigit() else here[part]
        here[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(path: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        *parents, last = path.split(".")
        here: Any = document
        for part in parents:
            here = here[int(part)] if part.isdigit() else here[part]
        del here[last]

    return mutate


def _both(*mutations: Callable[[Document], None]) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        for m in mutations:
            m(document)

    return mutate


INVALID = [
    (
        "value above the range",
        _set("follow_ups.0.value", 29),
        "follow_ups[0].value",
        "must be between 0 and 28",
    ),
    (
        "value below the range",
        _set("baseline.value", -1),
        "baseline.value",
        "must be between 0 and 28",
    ),
    (
        "value off the steps",
        _set("follow_ups.0.value", Decimal("13.5")),
        "follow_ups[0].value",
        "must be a whole number",
    ),
    (
        "a string for a numeric scale",
        _set("follow_ups.0.value", "13"),
        "follow_ups[0].value",
        "must be a number, not a string",
    ),
    ("a boolean for a number", _set("baseline.value", True), "baseline.value", "must be a number"),
    (
        "NaN",
        _set("follow_ups.0.value", Raw("NaN")),
        "follow_ups[0].value",
        "must be a finite number, not NaN",
    ),
    (
        "null value",
        _set("baseline.value", None),
        "baseline.value",
        "is required (null is not a value here)",
    ),
    (
        "unknown scale",
        _set("scale", "hit-7"),
        "scale",
        "unknown scale code 'hit-7' (`bontrack catalog` lists them)",
    ),
    ("missing scale", _drop("scale"), "scale", "is required"),
    (
        "unknown indication",
        _set("indication", "migraine"),
        "indication",
        "unknown indication code 'migraine' (`bontrack catalog` lists them)",
    ),
    ("unknown key", _set("follow_ups.0.notes", "x"), "follow_ups[0].notes", "unknown field"),
    ("unknown top-level key", _set("patient", "x"), "patient", "unknown field"),
    (
        "a month for the baseline",
        _set("baseline.month", "2026-04"),
        "baseline.month",
        "unknown field",
    ),
    (
        "both date and period",
        _set("follow_ups.0.date", "2026-10-18"),
        "follow_ups[0]",
        "give only one of date, period or month, not date and period",
    ),
    (
        "neither date nor period",
        _drop("follow_ups.0.period"),
        "follow_ups[0]",
        "give one of date, period or month",
    ),
    ("baseline without a date", _drop("baseline.period"), "baseline", "give one of date or period"),
    (
        "period ends before it starts",
        _set("baseline.period", ["2026-05-03", "2026-04-06"]),
        "baseline.period",
        "ends (2026-04-06) before it starts (2026-05-03)",
    ),
    (
        "period of one date",
        _set("follow_ups.0.period", ["2026-09-21"]),
        "follow_ups[0].period",
        "must be two dates, [start, end]",
    ),
    (
        "not a real date",
        _set("follow_ups.0.period", ["2026-09-21", "2026-09-31"]),
        "follow_ups[0].period[1]",
        "is not a real date: 2026-09-31",
    ),
    (
        "month not a month",
        _both(_drop("follow_ups.0.period"), _set("follow_ups.0.month", "2026-13")),
        "follow_ups[0].month",
        "is not a real month: 2026-13",
    ),
    (
        "month written as a date",
        _both(_drop("follow_ups.0.period"), _set("follow_ups.0.month", "2026-10-01")),
        "follow_ups[0].month",
        "must be a month written YYYY-MM",
    ),
    (
        "after_cycle not listed",
        _set("follow_ups.0.after_cycle", 3),
        "follow_ups[0].after_cycle",
        "there is no cycle 3 in cycles",
    ),
    (
        "after_cycle a string",
        _set("follow_ups.0.after_cycle", "2"),
        "follow_ups[0].after_cycle",
        "must be a whole number",
    ),
    (
        "follow-up before its cycle",
        _set("follow_ups.0.period", ["2026-06-01", "2026-06-28"]),
        "follow_ups[0].after_cycle",
        "the follow-up starts on 2026-06-01, before cycle 2 (2026-07-27)",
    ),
    (
        "follow-up during the baseline",
        _both(
            _set("follow_ups.0.after_cycle", None),
            _set("follow_ups.0.period", ["2026-05-01", "2026-05-28"]),
        ),
        "follow_ups[0].period",
        "starts before the baseline ends (2026-05-03)",
    ),
    (
        "cycle listed twice",
        _both(_set("cycles.1.n", 1), _set("follow_ups.0.after_cycle", 1)),
        "cycles[1].n",
        "cycle 1 is listed twice (also cycles[0])",
    ),
    ("cycle 0", _set("cycles.0.n", 0), "cycles[0].n", "must be 1 or more"),
    (
        "cycles out of order",
        _set("cycles.1.date", "2026-05-01"),
        "cycles[1].date",
        "cycle 2 must come after cycle 1 (2026-05-04)",
    ),
    ("follow_ups missing", _drop("follow_ups"), "follow_ups", "is required"),
    ("follow_ups not a list", _set("follow_ups", {"value": 13}), "follow_ups", "must be a list"),
    ("muscle_group a number", _set("muscle_group", 3), "muscle_group", "must be a string"),
]


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [pytest.param(m, f, msg, id=name) for name, m, f, msg in INVALID],
)
def test_invalid_input_names_the_field(mutate, field, message):
    document = copy.deepcopy(design_example())
    mutate(document)
    run = outcome(document)
    assert run.code == 2, run.out
    assert run.errors == [{"field": field, "message": message}]
    assert run.err.strip() == f"{field}: {message}"


ORDINAL_INVALID = [
    (
        "a number for an ordinal scale",
        _set("follow_ups.0.value", 1),
        "follow_ups[0].value",
        "must be one of the levels 0, 1, 1+, 2, 3, 4 (a string)",
    ),
    (
        "not a level",
        _set("baseline.value", "2+"),
        "baseline.value",
        "must be one of the levels 0, 1, 1+, 2, 3, 4",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [pytest.param(m, f, msg, id=name) for name, m, f, msg in ORDINAL_INVALID],
)
def test_ordinal_values_are_level_names(mutate, field, message):
    document = ashworth()
    mutate(document)
    run = outcome(document)
    assert run.code == 2
    assert run.errors == [{"field": field, "message": message}]


def wrinkles(indication: str | None) -> Document:
    document: Document = {
        "scale": "facial-wrinkle-scale",
        "baseline": {"value": 3, "date": "2026-05-04"},
        "follow_ups": [{"value": 1, "date": "2026-06-01"}],
    }
    if indication is not None:
        document["indication"] = indication
    return document


def test_the_facial_wrinkle_scale_needs_its_indication():
    missing = outcome(wrinkles(None))
    assert missing.code == 2
    assert missing.fields == ["indication"]
    assert missing.errors[0]["message"].startswith("is required for facial-wrinkle-scale")
    other = outcome(wrinkles("chronic-migraine"))
    assert other.code == 2
    assert other.fields == ["indication"]
    assert outcome(wrinkles("glabellar-lines")).data["verdict"] == "responder"
    assert outcome(wrinkles("forehead-lines")).data["verdict"] == "responder"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"scale": "hdss", "scale": "hdss"}', "duplicate key 'scale'"),
    ],
)
def test_malformed_documents(text, message):
    run = outcome(text)
    assert run.code == 2
    assert any(message in e["message"] for e in run.errors)


def test_several_problems_are_all_reported():
    document = design_example()
    document["baseline"]["value"] = 40
    document["follow_ups"][0]["value"] = 29
    document["indication"] = "migraine"
    run = outcome(document)
    assert run.fields == ["indication", "baseline.value", "follow_ups[0].value"]


def test_a_missing_file_is_invalid_input(tmp_path: Path):
    run = run_main(["outcome", "--json", str(tmp_path / "none.json")])
    assert run.code == 2
    assert "no such file" in run.errors[0]["message"]


SCALES = sorted(catalog().scales)
days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))
junk = st.sampled_from(["1+", "improved", "x", None, True, -1, 1000, Decimal("0.0001"), Raw("NaN")])
odd_whens = st.fixed_dictionaries(
    {},
    optional={
        "date": days.map(date.isoformat),
        "period": st.lists(days.map(date.isoformat), min_size=1, max_size=3),
        "month": st.sampled_from(["2026-06", "2026-13", "2026-6"]),
        "after_cycle": st.integers(-1, 4) | st.just("2"),
    },
)


def _when(draw: Any, first: date, last: date, *, month: bool) -> dict[str, Any]:
    """Mostly one good date, period or month between ``first`` and ``last``; now and then not."""
    if draw(st.integers(0, 9)) == 9:
        return dict(draw(odd_whens))
    kind = draw(st.sampled_from(["date", "period", "month"] if month else ["date", "period"]))
    one = draw(st.dates(min_value=first, max_value=last))
    if kind == "date":
        return {"date": one.isoformat()}
    if kind == "month":
        return {"month": one.strftime("%Y-%m")}
    other = draw(st.dates(min_value=first, max_value=last))
    return {"period": [min(one, other).isoformat(), max(one, other).isoformat()]}


@st.composite
def documents(draw):
    """Mostly well-formed series of any scale (baseline in 2025, the rest after), with now and
    then a wrong value, date or key."""
    scale = catalog().scales[draw(st.sampled_from(SCALES))]
    if scale.kind == "ordinal":
        good = st.sampled_from(scale.levels)
    else:
        low, high = scale.minimum or 0, scale.maximum or 400
        good = st.integers(int(low), int(high))

    def value() -> Any:
        return draw(junk) if draw(st.integers(0, 9)) == 9 else draw(good)

    later = (date(2026, 1, 1), date(2027, 12, 31))
    follow_ups = []
    for _ in range(draw(st.integers(0, 4))):
        reading = {"value": value(), **_when(draw, *later, month=True)}
        after = draw(st.none() | st.integers(1, 3))
        if after is not None:
            reading.setdefault("after_cycle", after)
        follow_ups.append(reading)
    cycle_days = sorted(draw(st.lists(st.dates(*later), max_size=3, unique=True)))
    document = {
        "scale": scale.code,
        "baseline": {
            "value": value(),
            **_when(draw, date(2025, 1, 1), date(2025, 12, 31), month=False),
        },
        "follow_ups": follow_ups,
        "cycles": [{"n": n, "date": d.isoformat()} for n, d in enumerate(cycle_days, 1)],
    }
    if scale.code == "facial-wrinkle-scale" or draw(st.integers(0, 9)) == 9:
        document["indication"] = draw(
            st.sampled_from(["glabellar-lines", "forehead-lines", "platysma-bands", "hit-7"])
        )
    return document


@given(document=documents())
def test_any_document_gives_a_verdict_or_names_its_fields(document):
    """Never a traceback: exit 0 with a codes.md verdict, or 2 with every error's field."""
    run = outcome(document)
    assert run.code in (0, 2), run.err
    if run.code == 2:
        assert run.errors
        assert all(e["field"] and e["message"] for e in run.errors)
    else:
        assert run.data["verdict"] in VERDICTS


def test_a_stop_verdict_gives_the_deciding_period_end_and_a_one_line_summary():
    document = design_example()
    document["baseline"]["value"] = 22
    document["follow_ups"] = [
        {"after_cycle": 1, "period": ["2026-06-29", "2026-07-26"], "value": 20},
        {"after_cycle": 2, "period": ["2026-09-21", "2026-10-18"], "value": 18},
    ]
    run = outcome(document)
    assert run.code == 0, run.err
    assert run.data["verdict"] == "stop"
    assert run.data["as_of"] == "2026-10-18"
    assert run.data["summary"] == "−18.2 % after 2 cycles"


def test_without_a_follow_up_there_is_no_as_of_and_the_summary_says_so():
    document = design_example()
    document["follow_ups"] = []
    run = outcome(document)
    assert run.code == 0, run.err
    assert (run.data["verdict"], run.data["as_of"]) == ("no-verdict-yet", None)
    assert run.data["summary"] == "no follow-up yet"


def test_a_day_follow_up_is_its_own_as_of_and_a_points_scale_shows_points_and_percent():
    run = outcome(
        {
            "scale": "hit-6",
            "indication": "chronic-migraine",
            "baseline": {"date": "2026-05-04", "value": 66},
            "follow_ups": [{"date": "2026-08-03", "value": 58}],
        }
    )
    assert run.code == 0, run.err
    assert run.data["as_of"] == "2026-08-03"
    assert run.data["summary"] == "−8, −12.1 %"

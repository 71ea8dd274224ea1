"""`bontrack check` on B.30-B.37 inputs: `drawn_units`, `verdicts`, history times and injectors,
and the contradictions of B.35, which exit 2 naming the field and the numbers."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from tests.cli.support import check, example_plan, glabellar_plan

Document = dict[str, Any]


def glabellar(**plan_extra: Any) -> Document:
    document = glabellar_plan()
    document["plan"].update(plan_extra)
    return document


def with_history(*entries: Document, base: Document | None = None) -> Document:
    document = copy.deepcopy(base or glabellar_plan())
    document["history"] = list(entries)
    return document


def entry(**fields: Any) -> Document:
    return {
        "date": "2026-09-01",
        "product": "onabotulinumtoxinA",
        "indication": "chronic-migraine",
        "units": 155,
    } | fields


def errors_for(document: Document, field: str) -> list[str]:
    run = check(document)
    assert run.code == 2, run.out
    return [e["message"] for e in run.errors if e["field"] == field]


# --- drawn_units (B.30) -------------------------------------------------------------------


def test_drawn_units_leaving_exactly_the_dose_passes():
    """A 50 U vial with 30 U drawn earlier holds the 20 U glabellar dose exactly."""
    run = check(glabellar(vial={"size_units": 50, "drawn_units": 30}))
    assert run.code == 0
    assert run.data["verdict"] == "ok"


def test_drawn_units_one_thousandth_short_blocks_with_supply():
    run = check(glabellar(vial={"size_units": 50, "drawn_units": Decimal("30.001")}))
    assert run.code == 1
    (finding,) = run.data["findings"]
    assert finding["rule"] == "supply"
    assert finding["overridable"] is False
    assert "19.999 U" in finding["message"]
    assert "pick another vial or reduce the dose" in finding["message"]


def test_drawn_units_default_to_0():
    assert check(glabellar(vial={"size_units": 50})).code == 0


@pytest.mark.parametrize(
    ("drawn", "words"),
    [
        (-1, "must be 0 or more"),
        (51, "51 U is more than the vial's size_units 50 U"),
        (Decimal("1.0001"), "at most 3 decimals"),
    ],
)
def test_invalid_drawn_units_exit_2(drawn, words):
    messages = errors_for(
        glabellar(vial={"size_units": 50, "drawn_units": drawn}), "plan.vial.drawn_units"
    )
    assert any(words in m for m in messages), messages


def test_drawn_units_as_a_string_is_invalid():
    run = check(glabellar(vials=[{"size_units": 50, "drawn_units": "30"}]))
    assert run.code == 2
    assert run.fields == ["plan.vials[0].drawn_units"]


# --- history: times, injectors, contradictions (B.31, B.35) ---------------------------------


def test_a_same_day_entry_with_a_time_and_injector_is_named_in_repeat_visit():
    document = with_history(
        entry(
            date="2026-11-25",
            indication="glabellar-lines",
            units=20,
            administered_at="2026-11-25T08:15:00+01:00",
            injector="Dr Ada Jones",
        )
    )
    run = check(document)
    assert run.code == 1
    finding = next(f for f in run.data["findings"] if f["rule"] == "repeat-visit")
    assert finding["overridable"] is True
    assert "20 U at 08:15 by Dr Ada Jones" in finding["message"]


def test_a_naive_administered_at_is_invalid():
    document = with_history(entry(administered_at="2026-09-01T08:15:00"))
    assert errors_for(document, "history[0].administered_at")


def test_an_administered_at_on_another_day_than_the_entry_is_invalid():
    document = with_history(entry(administered_at="2026-09-02T08:15:00+00:00"))
    (message,) = errors_for(document, "history[0].administered_at")
    assert "2026-09-02" in message
    assert "2026-09-01" in message


def test_listed_points_adding_up_to_more_than_the_entry_are_invalid():
    """Issue scenario 6: 10 U with six 50 U points counted as 10 U."""
    points = [{"site": "trapezius", "side": "left", "units": 50} for _ in range(6)]
    document = with_history(entry(units=10, injections=points))
    (message,) = errors_for(document, "history[0].injections")
    assert "300 U" in message
    assert "10 U" in message


def test_listed_points_adding_up_to_less_are_a_partial_list():
    points = [{"site": "trapezius", "side": "left", "units": 50}]
    assert check(with_history(entry(units=155, injections=points))).code == 0


def test_listed_points_adding_up_exactly_are_accepted():
    points = [{"site": "trapezius", "side": "left", "units": Decimal("77.5")} for _ in range(2)]
    assert check(with_history(entry(units=155, injections=points))).code == 0


def test_a_history_entry_after_the_plan_date_names_both_dates():
    (message,) = errors_for(with_history(entry(date="2026-11-26")), "history[0].date")
    assert "2026-11-26" in message
    assert "2026-11-25" in message


def test_a_birth_date_after_a_history_entry_is_invalid():
    document = with_history(entry(date="1979-01-01"))
    (message,) = errors_for(document, "patient.birth_date")
    assert "1980-03-02" in message
    assert "history[0].date 1979-01-01" in message


# --- patient dates (B.35) -----------------------------------------------------------------


def test_a_weight_measured_after_the_plan_date_is_invalid():
    document = glabellar_plan()
    document["patient"].update(weight_kg=70, weight_measured_on="2026-11-26")
    (message,) = errors_for(document, "patient.weight_measured_on")
    assert "2026-11-26" in message
    assert "2026-11-25" in message


def test_a_weight_measured_on_the_plan_date_is_valid():
    document = glabellar_plan()
    document["patient"].update(weight_kg=70, weight_measured_on="2026-11-25")
    assert check(document).code == 0


@pytest.mark.parametrize(("birth", "valid"), [("1906-11-25", True), ("1906-11-24", False)])
def test_a_birth_date_more_than_120_years_before_the_plan_date_is_invalid(birth, valid):
    """Issue scenario 6: a birth date in 1850 was accepted."""
    document = glabellar_plan()
    document["patient"]["birth_date"] = birth
    run = check(document)
    assert (run.code != 2) is valid
    if not valid:
        assert run.fields == ["patient.birth_date"]
        assert "120 years" in run.errors[0]["message"]


# --- supervised_by (B.35, B.21) ------------------------------------------------------------


@pytest.mark.parametrize("supervisor", ["", "   "])
def test_an_empty_or_blank_supervisor_counts_as_none(supervisor):
    document = glabellar_plan()
    document["injector"] = {
        "credentials": ["registered-nurse"],
        "indications": ["glabellar-lines"],
        "supervised_by": supervisor,
    }
    run = check(document)
    assert run.code == 1
    assert [f["rule"] for f in run.data["findings"]] == ["injector-scope"]


# --- verdicts (B.32) -----------------------------------------------------------------------


def stop_verdict(**fields: Any) -> Document:
    return {
        "indication": "chronic-migraine",
        "scale": "headache-days-28d",
        "verdict": "stop",
        "as_of": "2026-10-18",
        "summary": "-18 % after 2 cycles",
        "source": "NICE TA260",
    } | fields


def test_a_stop_verdict_gives_a_response_warning_beside_the_examples_block():
    document = example_plan()
    document["verdicts"] = [stop_verdict()]
    run = check(document)
    assert run.code == 1
    rules = [f["rule"] for f in run.data["findings"]]
    assert rules == ["cumulative-dose", "response"]
    response = run.data["findings"][1]
    assert response["severity"] == "warn"
    assert response["source"].startswith("NICE TA260")
    assert "-18 % after 2 cycles" in response["message"]


def test_the_example_without_verdicts_prints_the_same_verdict():
    run = check(example_plan())
    assert run.code == 1
    assert [f["rule"] for f in run.data["findings"]] == ["cumulative-dose"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"verdict": "halt"}, "verdicts[0].verdict"),
        ({"scale": "happiness"}, "verdicts[0].scale"),
        ({"indication": "wrinkles"}, "verdicts[0].indication"),
        ({"summary": "x" * 201}, "verdicts[0].summary"),
        ({"summary": "  "}, "verdicts[0].summary"),
        ({"as_of": "2026-13-01"}, "verdicts[0].as_of"),
        ({"colour": "red"}, "verdicts[0].colour"),
    ],
)
def test_an_invalid_verdict_exits_2_naming_its_field(change, field):
    document = glabellar_plan()
    document["verdicts"] = [stop_verdict(**change)]
    run = check(document)
    assert run.code == 2
    assert field in run.fields


def test_a_summary_of_200_characters_is_accepted():
    document = glabellar_plan()
    document["verdicts"] = [stop_verdict(summary="x" * 200)]
    assert check(document).code == 0

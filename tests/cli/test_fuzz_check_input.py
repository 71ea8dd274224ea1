"""Fuzz the `bontrack check` input: whatever arrives, the answer is exit 0, 1 or 2 (DESIGN 3.3),
never an internal error (70) and never an exception out of the parser or the check.

Two kinds of input: arbitrary JSON-like values, and valid plans with a few keys dropped, added
or replaced (by arbitrary values or by values that look right: codes, dates, edge numbers).
The number of examples comes from the profile in tests/conftest.py (`make fuzz` runs more).
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.check import evaluate
from bontrack.plan_input import InvalidInputError, parse_check_input
from tests.cli.support import (
    FINDING_KEYS,
    RESULT_KEYS,
    Raw,
    check,
    check_text,
    dumps,
    example_plan,
    glabellar_plan,
)

SEVERITY_RANK = {"block": 0, "warn": 1, "info": 2}
PLAIN_UNITS = re.compile(r"-?\d+(\.\d+)?")


def _child_spasticity_plan() -> dict[str, Any]:
    return {
        "now": "2026-11-25T09:30:00+00:00",
        "patient": {
            "birth_date": "2018-06-01",
            "weight_kg": 25,
            "weight_measured_on": "2026-10-01",
            "sex": "male",
            "conditions": ["dysphagia"],
            "allergies": ["cow-milk-protein"],
            "infected_sites": ["masseter", {"site": "biceps-brachii", "side": "right"}],
        },
        "history": [
            {
                "date": "2026-08-01",
                "product": "onabotulinumtoxinA",
                "indication": "pediatric-upper-limb-spasticity",
                "units": 50,
                "injections": [{"site": "biceps-brachii", "side": "left", "units": 50}],
            }
        ],
        "plan": {
            "date": "2026-11-25",
            "product": "onabotulinumtoxinA",
            "indication": "pediatric-upper-limb-spasticity",
            "injections": [
                {"site": "biceps-brachii", "side": "left", "units": 30},
                {"site": "brachialis", "side": "left", "units": Decimal("20.5")},
            ],
            "vials": [{"size_units": 100, "diluent_ml": 2, "lot": "X1", "recalled": False}],
        },
        "injector": {
            "credentials": ["registered-nurse"],
            "indications": ["pediatric-upper-limb-spasticity"],
            "supervised_by": "dr-1",
        },
    }


def _myobloc_plan() -> dict[str, Any]:
    return {
        "now": "2026-11-25T09:30:00-05:00",
        "patient": {"birth_date": "1960-01-31", "medications": ["aminoglycosides"]},
        "plan": {
            "date": "2026-11-25",
            "product": "rimabotulinumtoxinB",
            "indication": "cervical-dystonia",
            "injections": [
                {"site": "sternocleidomastoid", "side": "left", "units": 1000},
                {"site": "splenius-capitis", "side": "right", "units": 1500},
            ],
            "vial": {
                "size_units": 2500,
                "diluent_ml": 0,
                "lot": "M1",
                "lot_expires": "2027-01-31",
            },
        },
    }


BASES = (glabellar_plan(), example_plan(), _child_spasticity_plan(), _myobloc_plan())

EDGE_NUMBERS = [
    Decimal("0"),
    Decimal("-0"),
    Decimal("-1"),
    Decimal("0.001"),
    Decimal("0.0001"),
    Decimal("2.5000"),
    Decimal("1E+2"),
    Decimal("1E+30"),
    Decimal("1E-30"),
    Decimal("9E+999999"),
    Decimal("1E-999999"),
    Decimal("5.00000000000000000000000000001"),
    10**40,
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
]
PLAUSIBLE_TEXT = [
    "onabotulinumtoxinA",
    "abobotulinumtoxinA",
    "rimabotulinumtoxinB",
    "prabotulinumtoxinA",
    "chronic-migraine",
    "glabellar-lines",
    "blepharospasm",
    "pediatric-lower-limb-spasticity",
    "other",
    "preempt-155",
    "glabellar-20",
    "glabellar-dysport-50",
    "procerus",
    "masseter",
    "axilla",
    "left",
    "right",
    "midline",
    "intradermal",
    "physician",
    "registered-nurse",
    "myasthenia-gravis",
    "human-albumin",
    "female",
    "",
    "2026-11-25",
    "2026-11-26",
    "2008-11-25",
    "2024-02-29",
    "0001-01-01",
    "9999-12-31",
    "2026-11-25T09:30:00+00:00",
    "2026-11-25T09:30:00",
    "2026-11-25T09:30:00Z",
    "2026-11-24T09:30:00+14:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T12:00:00-12:00",
]

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(EDGE_NUMBERS)
    | st.sampled_from(PLAUSIBLE_TEXT)
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=10) | st.sampled_from(PLAUSIBLE_TEXT), children, max_size=4
        )
    ),
    max_leaves=12,
)
plausible = st.sampled_from(EDGE_NUMBERS) | st.sampled_from(PLAUSIBLE_TEXT)
KEYS = [
    "now", "patient", "plan", "history", "injector", "vial", "vials", "units", "site", "side",
    "route", "date", "product", "indication", "protocol", "injections", "weight_kg",
    "reconstituted_at", "diluent_ml", "size_units", "lot_expires", "recalled", "birth_date",
]  # fmt: skip


def _slots(document: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in the document, the root's children included."""
    found: list[tuple[Any, Any]] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for key, value in items:
            found.append((node, key))
            stack.append(value)
    return found


DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _move_days(node: Any, day: str) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, str):
            node[key] = DATE_START.sub(day, value)
        elif isinstance(value, dict | list):
            _move_days(value, day)


@st.composite
def mutated_plans(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        slots = _slots(document)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["drop", "replace", "plausible", "add", "everywhere", "day"]))
        if action == "everywhere":  # e.g. every `units` at once, so that sums meet the edge too
            value = draw(plausible)
            for where, name in slots:
                if name == key and type(where) is type(container):
                    where[name] = copy.deepcopy(value)
        elif action == "day":  # every date and time moved to one day, at the calendar's ends too
            day = draw(st.sampled_from(["0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31"]))
            _move_days(document, day)
        elif action == "drop":
            del container[key]
        elif action == "replace":
            container[key] = draw(json_values)
        elif action == "plausible":
            container[key] = draw(plausible)
        elif isinstance(container, dict):
            container[draw(st.sampled_from(KEYS))] = draw(plausible | json_values)
        else:
            container.append(draw(json_values))
    return document


def _assert_contract(run: Any) -> None:
    """DESIGN 3.3: exit 0/1/2, the matching stdout shape, errors on stderr, never a traceback."""
    assert run.code in (0, 1, 2), f"exit {run.code}: {run.err}"
    assert "Traceback" not in run.err + run.out
    if run.code == 2:
        shape = json.loads(run.out)
        assert set(shape) == {"errors"}
        assert shape["errors"]
        for error in shape["errors"]:
            assert set(error) == {"field", "message"}
            assert error["field"] is None or isinstance(error["field"], str)
            assert isinstance(error["message"], str)
            assert error["message"]
            assert f"{error['field'] or 'input'}: {error['message']}" in run.err
        return
    result = json.loads(run.out)
    assert set(result) == RESULT_KEYS
    assert (result["verdict"] == "block") == (run.code == 1)
    assert PLAIN_UNITS.fullmatch(result["total_units"]), result["total_units"]
    severities = [f["severity"] for f in result["findings"]]
    expected = "block" if "block" in severities else "warn" if "warn" in severities else "ok"
    assert result["verdict"] == expected
    keys = [(SEVERITY_RANK[f["severity"]], f["rule"]) for f in result["findings"]]
    assert keys == sorted(keys)
    for finding in result["findings"]:
        assert set(finding) == FINDING_KEYS
        if finding["severity"] != "block":
            assert finding["overridable"] is False


@given(json_values)
def test_any_json_value_is_answered_with_exit_0_1_or_2(value):
    _assert_contract(check(value))


@given(st.text(max_size=60))
def test_any_text_is_answered_with_exit_0_1_or_2(text):
    _assert_contract(check_text(text))


@given(mutated_plans())
def test_a_mutated_plan_is_answered_with_exit_0_1_or_2(document):
    _assert_contract(check(document))


@given(mutated_plans())
def test_the_parser_and_the_check_raise_nothing_but_invalid_input(document):
    """Only InvalidInputError may leave the parser; nothing may leave the check it accepts."""
    try:
        request = parse_check_input(dumps(document))
    except InvalidInputError as invalid:
        errors = invalid.errors
        request = None
    if request is None:
        assert errors, "an InvalidInputError names at least one problem"
        return
    result = evaluate(request.plan, request.patient, request.history, request.injector, request.now)
    assert result.verdict in ("ok", "warn", "block")


def test_every_base_plan_is_valid():
    """The mutations start from valid plans, so that what the fuzz finds is near the contract."""
    for base in BASES:
        run = check(base)
        assert run.code in (0, 1), run.out


# Inputs the fuzz above found (or can find) that ended in an internal error (exit 70).
# Each is well-formed JSON with a field the contract could accept or reject, but never crash on.
def _units_twice(amount: str) -> dict[str, Any]:
    document = glabellar_plan()
    del document["plan"]["protocol"]
    document["plan"]["injections"] = [
        {"site": "corrugator", "side": side, "units": Decimal(amount)} for side in ("left", "right")
    ]
    return document


def _weighted_child(weight: str) -> dict[str, Any]:
    document = glabellar_plan()
    document["patient"]["birth_date"] = "2018-06-01"
    document["patient"]["weight_kg"] = Decimal(weight)
    return document


def _vial_at_the_end_of_time() -> dict[str, Any]:
    document = glabellar_plan()
    document["now"] = "9999-12-31T23:00:00+00:00"
    document["plan"]["date"] = "9999-12-31"
    document["plan"]["vial"] = {
        "size_units": 100,
        "diluent_ml": Decimal("2.5"),
        "reconstituted_at": "9999-12-31T22:00:00+00:00",
    }
    return document


def _history_beyond_the_decimal_range() -> dict[str, Any]:
    document = example_plan()
    document["history"][0]["units"] = Decimal("9E+999999")
    document["history"].append(dict(document["history"][0]))
    return document


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_units_twice("9E+999999"), id="two-points-of-9E+999999-units"),
        pytest.param(_weighted_child("1E+999999"), id="child-weight-1E+999999-kg"),
        pytest.param(_vial_at_the_end_of_time(), id="vial-reconstituted-at-9999-12-31"),
        pytest.param(_history_beyond_the_decimal_range(), id="history-units-9E+999999-twice"),
    ],
)
def test_extreme_but_well_formed_values_are_answered_not_crashed_on(document):
    """DESIGN 3.3: exit 0, 1 or 2; an internal error (70) is a bug, whatever the numbers."""
    _assert_contract(check(document))

"""POST /check keeps the `bontrack check` contract for the B.30-B.37 inputs: a stop verdict is a
`response` warning, and inputs that contradict themselves are 422 naming the field (B.35)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.support import World, error_shape_problems
from tests.cli.support import EXAMPLE

pytestmark = pytest.mark.django_db


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return loaded


def test_a_stop_verdict_reaches_the_stateless_check(world: World):
    body = example()
    body["verdicts"] = [
        {
            "indication": "chronic-migraine",
            "scale": "headache-days-28d",
            "verdict": "stop",
            "as_of": "2026-10-18",
            "summary": "-18 % after 2 cycles",
            "source": "NICE TA260",
        }
    ]
    response = world.call("physician", "POST", "/check", raw=json.dumps(body))
    assert response.status_code == 200, response.content
    findings = response.json()["findings"]
    assert [f["rule"] for f in findings] == ["cumulative-dose", "response"]
    assert findings[1]["source"].startswith("NICE TA260")


def test_a_history_entry_whose_points_exceed_its_units_is_422(world: World):
    body = example()
    body["history"][0]["injections"] = [
        {"site": "biceps-brachii", "side": "left", "units": 200},
        {"site": "biceps-brachii", "side": "right", "units": 200},
    ]
    response = world.call("physician", "POST", "/check", raw=json.dumps(body))
    assert response.status_code == 422, response.content
    assert error_shape_problems(response) == []
    (error,) = response.json()["errors"]
    assert error["field"] == "history[0].injections"
    assert "400 U" in error["message"]
    assert "300 U" in error["message"]

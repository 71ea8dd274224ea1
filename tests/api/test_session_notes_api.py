"""The API plans with a note and a structured technique, changes them on the plan, refuses
values out of bounds naming the field, and gives them back (DESIGN 3.4)."""

import pytest
from django.test import Client
from django.utils import timezone

from tests import builders
from tests.api.test_flow import api, token

pytestmark = pytest.mark.django_db


def test_the_api_plans_with_a_note_and_technique_and_refuses_them_out_of_bounds():
    s = builders.staff()
    p = builders.patient(s, weight_kg=70)
    client = Client()
    nurse = token(client, "a-nurse", s.password)
    planned = api(
        client,
        nurse,
        "post",
        "/sessions",
        {
            "patient_id": str(p.id),
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "plan_date": timezone.localdate().isoformat(),
            "protocol": "preempt-155",
            "notes": "Examination: 20 headache days.",
            "technique": {"guidance": "none", "needle": "30 G 13 mm"},
        },
    )
    assert planned.status_code == 201, planned.content
    body = planned.json()
    assert body["notes"] == "Examination: 20 headache days."
    assert body["technique"] == {"guidance": "none", "needle": "30 G 13 mm"}
    assert body["weight_used"] is None
    path = f"/sessions/{body['id']}"
    changed = api(client, nurse, "patch", path, {"technique": {"guidance": "emg"}})
    assert changed.status_code == 200, changed.content
    assert changed.json()["technique"] == {"guidance": "emg", "needle": ""}
    assert changed.json()["notes"] == "Examination: 20 headache days."
    wrong = api(client, nurse, "patch", path, {"technique": {"guidance": "x-ray"}})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"].startswith("technique")
    long = api(client, nurse, "patch", path, {"technique": {"needle": "3" * 41}})
    assert long.status_code == 422
    assert long.json()["errors"][0]["field"] == "technique.needle"
    assert api(client, nurse, "get", path).json()["technique"]["guidance"] == "emg"

"""The follow-up API: assessments, verdicts, the due list as JSON and CSV, the diary upload and the
adverse-event report and export (permissions are in test_permissions.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.outcomes.services import record_adverse_event
from tests.api.support import Upload, World, error_shape_problems
from tests.services.followup import migraine_patient

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def rows_of(response):
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.fixture
def maria(world: World):
    lot = world.lot
    return migraine_patient(world.a, lot, "BT-0001", days=(25, 18, 12))


def test_an_assessment_is_recorded_by_day_period_or_month_and_listed(world: World):
    base = {"indication": "chronic-migraine", "timepoint": "baseline"}
    month = (today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    made = world.call(
        "nurse_injector",
        "POST",
        "/patients/{patient}/assessments",
        {**base, "scale": "headache-days-month", "value": 18, "month": month},
    )
    assert made.status_code == 201, made.content
    assert made.json()["period_start"] == f"{month}-01"
    assert made.json()["value"] == "18"
    ashworth = world.call(
        "physician",
        "POST",
        "/patients/{patient}/assessments",
        {
            "indication": "upper-limb-spasticity",
            "timepoint": "baseline",
            "scale": "modified-ashworth",
            "value": "1+",
            "assessed_on": today().isoformat(),
            "muscle_group": "elbow flexors",
        },
    )
    assert ashworth.status_code == 201, ashworth.content
    listed = world.call("auditor", "GET", "/patients/{patient}/assessments").json()
    assert [(a["scale"], a["value"]) for a in listed] == [
        ("headache-days-month", "18"),
        ("modified-ashworth", "1+"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"value": 80}, 400, "value", "must be between 36 and 78"),
        ({"value": "62"}, 400, "value", "must be a number"),
        ({"value": True}, 422, "value", None),
        ({"scale": "headache-days-28d", "period": ["2026-01-01"]}, 422, "period", None),
        ({"month": "2026-13"}, 422, "month", "is not a real month: 2026-13"),
        ({"unknown": 1}, 422, "unknown", None),
        ({"assessed_on": None}, 400, "assessed_on", None),
    ],
)
def test_invalid_assessments_answer_in_the_error_shape(world: World, body, status, field, message):
    full = {
        "indication": "chronic-migraine",
        "scale": "hit-6",
        "value": 62,
        "timepoint": "baseline",
        "assessed_on": today().isoformat(),
        **body,
    }
    if "month" in body or "period" in body:
        full.pop("assessed_on")
    response = world.call("physician", "POST", "/patients/{patient}/assessments", full)
    assert response.status_code == status, response.content
    assert error_shape_problems(response) == []
    error = response.json()["errors"][0]
    assert (error["field"] or "").startswith(field), error
    if message:
        assert error["message"] == message


def test_the_verdicts_of_a_migraine_patient(world: World, maria):
    response = world.call("physician", "GET", f"/patients/{maria.patient.id}/verdicts")
    assert response.status_code == 200, response.content
    body = response.json()
    [v] = body["verdicts"]
    assert (v["verdict"], v["change"], v["change_pct"], v["responder_50"], v["cycles"]) == (
        "continue",
        "-13",
        "-52.0",
        True,
        2,
    )
    assert v["baseline"]["value"] == "25"
    assert v["latest"]["value"] == "12"
    assert v["latest"]["after_cycle"] == 2
    assert [c["n"] for c in body["cycles"]["chronic-migraine"]] == [1, 2, 3]


def test_the_due_list_as_json_and_as_csv(world: World, maria):
    response = world.call("nurse_injector", "GET", "/due?weeks=2")
    assert response.status_code == 200, response.content
    body = response.json()
    [row] = body["rows"]
    assert (row["record_number"], row["due"], row["basis"], row["status"]) == (
        "BT-0001",
        today().isoformat(),
        "label",
        "due",
    )
    assert body["total"] == 1
    last = AuditEntry.objects.order_by("-seq").first().seq
    exported = world.call("auditor", "GET", "/due?weeks=2&format=csv")
    assert exported.status_code == 200
    rows = rows_of(exported)
    assert rows[0][:4] == ["due", "status", "record_number", "family_name"]
    assert rows[1][:3] == [today().isoformat(), "due", "BT-0001"]
    written = AuditEntry.objects.filter(seq__gt=last)
    assert [(e.action, e.patient_id) for e in written] == [("disclose", maria.patient.id)]
    bad = world.call("physician", "GET", "/due?format=xml")
    assert bad.status_code == 422
    assert error_shape_problems(bad) == []


def test_the_diary_upload_reports_bad_rows_and_stores_the_good_ones(world: World, maria):
    start = (today().replace(day=1) - timedelta(days=1)).replace(day=1)
    lines = ["date,headache,migraine,hours,acute_medication"]
    day = start
    while day < today():
        lines.append(f"{day.isoformat()},yes,no,2,no")
        day += timedelta(days=1)
    lines.append("2026-02-30,yes,no,2,no")
    content = ("\n".join(lines) + "\n").encode()
    dry = world.call(
        "physician",
        "POST",
        f"/patients/{maria.patient.id}/diary?dry_run=true",
        Upload({"file": ("diary.csv", content)}),
    )
    assert dry.status_code == 200, dry.content
    assert dry.json()["dry_run"] is True
    done = world.call(
        "physician",
        "POST",
        f"/patients/{maria.patient.id}/diary",
        Upload({"file": ("diary.csv", content)}),
    )
    body = done.json()
    assert body["errors"] == [
        {"line": len(lines), "column": "date", "message": "is not a real date: 2026-02-30"}
    ]
    assert body["created"] == dry.json()["created"] >= 1
    assert body["months"][0]["stored"] is True
    again = world.call(
        "physician",
        "POST",
        f"/patients/{maria.patient.id}/diary",
        Upload({"file": ("diary.csv", content)}),
    ).json()
    assert (again["created"], again["updated"]) == (0, 0)


def test_a_diary_that_is_not_csv_is_refused_in_the_error_shape(world: World):
    response = world.call(
        "physician",
        "POST",
        "/patients/{patient}/diary",
        Upload({"file": ("diary.csv", b"")}),
    )
    assert response.status_code == 400
    assert error_shape_problems(response) == []
    assert response.json()["errors"][0]["field"] == "file"
    missing = world.call("physician", "POST", "/patients/{patient}/diary", {})
    assert missing.status_code in (400, 422)
    assert error_shape_problems(missing) == []


def test_the_adverse_event_report_and_its_export(world: World, maria):
    session = maria.cycles[-1]
    record_adverse_event(
        world.a.actor("physician"),
        session.id,
        term="neck-pain",
        onset_date=session.plan_date + timedelta(days=2),
        severity="moderate",
        serious=False,
        relatedness="probable",
        outcome="recovered",
        notes="=cmd|' /C calc'!A0",
    )
    report = world.call("auditor", "GET", "/reports/adverse-events").json()
    [group] = report["groups"]
    assert (group["product"], group["indication"], group["events"], group["sessions"]) == (
        "onabotulinumtoxinA",
        "chronic-migraine",
        1,
        3,  # the three PREEMPT cycles of the last 365 days
    )
    assert group["terms"][0]["by_severity"]["moderate"] == 1
    exported = world.call(
        "physician", "GET", "/reports/adverse-events/export?identify=record-number"
    )
    rows = rows_of(exported)
    header, [row] = rows[0], rows[1:]
    line = dict(zip(header, row, strict=True))
    assert line["patient"] == "BT-0001"
    assert line["dose_units"] == "155"
    assert line["lot_numbers"] == "A-LOT-1"
    # A cell a spreadsheet would run as a formula is quoted.
    assert line["description"] == "'=cmd|' /C calc'!A0"
    pseudonymous = rows_of(world.call("auditor", "GET", "/reports/adverse-events/export"))
    assert pseudonymous[1][1].startswith("PV-")
    bad = world.call("auditor", "GET", "/reports/adverse-events?start=2026-02-30")
    assert bad.status_code == 422
    assert error_shape_problems(bad) == []
    assert Decimal(line["age_at_onset"]) > 0


# -- stop verdicts (B.32) -----------------------------------------------------------------------


@pytest.fixture
def owen(world: World):
    """22 headache days, 20 after the first cycle, 18 after the second: -18.2 %, NICE: stop."""
    return migraine_patient(world.a, world.lot, "BT-0006", weeks_ago=(24, 12), days=(22, 20, 18))


def test_a_stop_verdict_reaches_the_plan_and_the_due_list_until_a_prescriber_continues(
    world: World, owen
):
    verdicts = world.call("physician", "GET", f"/patients/{owen.patient.id}/verdicts").json()
    [v] = verdicts["verdicts"]
    assert (v["verdict"], v["as_of"], v["summary"], v["continued"]) == (
        "stop",
        today().isoformat(),
        "\u221218.2 % after 2 cycles",
        None,
    )
    plan = world.call(
        "nurse_injector",
        "POST",
        "/sessions",
        {
            "patient_id": str(owen.patient.id),
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "plan_date": today().isoformat(),
            "protocol": "preempt-155",
        },
    )
    assert plan.status_code == 201, plan.content
    [warning] = [f for f in plan.json()["check"]["findings"] if f["rule"] == "response"]
    assert warning["severity"] == "warn"
    assert "\u221218.2 %" in warning["message"]
    assert "NICE TA260" in warning["message"] + warning["source"]
    due = world.call("nurse_injector", "GET", "/due?weeks=2").json()
    assert due["rows"] == []
    [held] = due["held"]
    assert (held["record_number"], held["held_because"]) == (
        "BT-0006",
        "stop recommended (NICE TA260)",
    )
    csv_rows = rows_of(world.call("nurse_injector", "GET", "/due?weeks=2&format=csv"))
    assert csv_rows[1:] == []
    body = {
        "indication": "chronic-migraine",
        "scale": "headache-days-28d",
        "reason": "Fewer days in bed; one more cycle, then review.",
    }
    path = f"/patients/{owen.patient.id}/verdicts/continue"
    refused = world.call("nurse_injector", "POST", path, body)
    assert refused.status_code == 403
    assert error_shape_problems(refused) == []
    blank = world.call("physician", "POST", path, {**body, "reason": " "})
    assert blank.status_code == 400
    assert blank.json()["errors"][0]["field"] == "reason"
    made = world.call("physician", "POST", path, body)
    assert made.status_code == 201, made.content
    decision = made.json()
    assert (decision["verdict"], decision["as_of"], decision["reason"]) == (
        "stop",
        today().isoformat(),
        body["reason"],
    )
    again = world.call("physician", "POST", path, body)
    assert again.status_code == 409
    [v] = world.call("auditor", "GET", f"/patients/{owen.patient.id}/verdicts").json()["verdicts"]
    assert v["verdict"] == "stop"
    assert v["continued"]["reason"] == body["reason"]
    rechecked = world.call("nurse_injector", "GET", f"/sessions/{plan.json()['id']}").json()
    assert [f for f in rechecked["check"]["findings"] if f["rule"] == "response"] == []
    due = world.call("nurse_injector", "GET", "/due?weeks=2").json()
    assert [r["record_number"] for r in due["rows"]] == ["BT-0006"]
    assert due["held"] == []


def test_the_next_visit_after_a_stop_patients_session_is_not_proposed(world: World, owen):
    response = world.call("physician", "GET", f"/sessions/{owen.cycles[-1].id}/next-visit")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["held_because"] == "stop recommended (NICE TA260)"
    assert body["suggested_at"] is None

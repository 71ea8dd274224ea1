"""B.30, B.34 over HTTP: signing takes the vials and their draws, refuses what the vials cannot
hold (the issue's first scenario) and a future injection time, and the vials' figures follow."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.treatments.models import SessionVial, TreatmentSession
from tests import builders
from tests.api.test_flow import api, token

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]


@pytest.fixture
def clinic():
    s = builders.staff()
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "chronic-migraine")
    builders.consent(s, p, "axillary-hyperhidrosis")
    stock = builders.lot(s, number="API-200", size=200, vials=4)
    client = Client()
    return s, p, stock, client, token(client, "a-physician", s.password)


def plan_preempt(client, doctor, p, vials=()) -> dict:
    """A PREEMPT plan for today over the API, with these vials chosen."""
    body = {
        "patient_id": str(p.id),
        "product": "onabotulinumtoxinA",
        "indication": "chronic-migraine",
        "plan_date": timezone.localdate().isoformat(),
        "protocol": "preempt-155",
    }
    if vials:
        body["vial_ids"] = [str(v.id) for v in vials]
    planned = api(client, doctor, "post", "/sessions", body)
    assert planned.status_code == 201, planned.content
    return planned.json()


def decide_everything(client, doctor, session_id, at) -> None:
    session = TreatmentSession.objects.get(pk=session_id)
    from bontrack.treatments.services import stored_result_at

    for f in stored_result_at(session, at)["findings"]:
        if f["severity"] == "block" and not f["overridable"]:
            continue
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        answer = api(
            client,
            doctor,
            "post",
            f"/sessions/{session_id}/decisions",
            {"fingerprint": f["fingerprint"], "kind": kind, "reason": "Reviewed with the patient."},
        )
        assert answer.status_code == 201, answer.content


def test_an_impossible_dose_is_refused_with_supply_and_nothing_is_written(clinic):
    """The first scenario: one axillary point of 10000 U, the cumulative block overridden, one
    200 U vial reconstituted in 500 mL, signed: refused, no signature, no draws."""
    s, p, stock, client, doctor = clinic
    s.physician.indications = [*s.physician.indications, "axillary-hyperhidrosis"]
    s.physician.save(update_fields=["indications"])
    planned = api(
        client,
        doctor,
        "post",
        "/sessions",
        {
            "patient_id": str(p.id),
            "product": "onabotulinumtoxinA",
            "indication": "axillary-hyperhidrosis",
            "plan_date": timezone.localdate().isoformat(),
            "injections": [
                {"site": "axilla", "side": "left", "units": 50},
                {"site": "axilla", "side": "right", "units": 50},
            ],
        },
    ).json()
    changed = api(
        client,
        doctor,
        "patch",
        f"/sessions/{planned['id']}",
        {
            "injections": [
                {"site": "axilla", "side": "left", "units": 50},
                {"site": "axilla", "side": "right", "units": 50},
                {"site": "axilla", "side": "left", "units": 10000},
            ]
        },
    )
    assert changed.status_code == 200, changed.content
    rules = {f["rule"] for f in changed.json()["check"]["findings"]}
    assert "cumulative-dose" in rules
    vial_id = str(stock.vials.order_by("created_at").first().id)
    opened = api(
        client,
        doctor,
        "post",
        f"/vials/{vial_id}/reconstitute",
        {
            "diluent_ml": 500,
            "reconstituted_at": (timezone.now() - timedelta(minutes=20)).isoformat(),
        },
    )
    assert opened.status_code == 200, opened.content
    at = timezone.now() - timedelta(minutes=10)
    api(client, doctor, "patch", f"/sessions/{planned['id']}", {"vial_ids": [vial_id]})
    decide_everything(client, doctor, planned["id"], at)
    refused = api(
        client,
        doctor,
        "post",
        f"/sessions/{planned['id']}/sign",
        {"administered_at": at.isoformat(), "vial_ids": [vial_id]},
    )
    assert refused.status_code == 409, refused.content
    message = refused.json()["errors"][0]["message"]
    assert "supply" in message
    assert "200 U" in message
    assert "10100 U" in message
    assert "pick another vial or reduce the dose" in message.lower()
    session = TreatmentSession.objects.get(pk=planned["id"])
    assert session.signed_at is None
    assert session.digest == ""
    assert not SessionVial.objects.filter(session=session, drawn_units__isnull=False).exists()
    vial = api(client, doctor, "get", f"/vials/{vial_id}").json()
    assert (vial["used_units"], vial["patient_id"]) == ("0", None)


def test_signing_takes_each_vials_draw_and_the_vial_shows_what_is_left(clinic):
    s, p, stock, client, doctor = clinic
    first = builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=2))
    second = builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=1))
    planned = plan_preempt(client, doctor, p, [first, second])
    at = timezone.now() - timedelta(minutes=10)
    decide_everything(client, doctor, planned["id"], at)
    signed = api(
        client,
        doctor,
        "post",
        f"/sessions/{planned['id']}/sign",
        {
            "administered_at": at.isoformat(),
            "vials": [
                {"vial_id": str(first.id), "drawn_units": 100},
                {"vial_id": str(second.id)},
            ],
        },
    )
    assert signed.status_code == 200, signed.content
    assert sorted((v["vial_id"], v["drawn_units"]) for v in signed.json()["vials"]) == sorted(
        [(str(first.id), "100"), (str(second.id), "55")]
    )
    shown = api(client, doctor, "get", f"/vials/{second.id}").json()
    assert (shown["status"], shown["used_units"], shown["remaining_units"]) == ("open", "55", "145")
    assert shown["closed_how"] is None
    closed = api(client, doctor, "post", f"/vials/{second.id}/close", {"note": "end of list"})
    assert closed.status_code == 200, closed.content
    assert (closed.json()["status"], closed.json()["wasted_units"]) == ("closed", "145")
    assert api(client, doctor, "post", f"/vials/{second.id}/close", {}).status_code == 409
    wasted = api(client, doctor, "post", f"/vials/{first.id}/waste", {})
    assert wasted.status_code == 409
    assert "close the vial instead" in wasted.json()["errors"][0]["message"]


def test_vials_and_vial_ids_together_are_refused(clinic):
    s, p, stock, client, doctor = clinic
    vial = builders.open_vial(s, stock)
    planned = plan_preempt(client, doctor, p)
    both = api(
        client,
        doctor,
        "post",
        f"/sessions/{planned['id']}/sign",
        {
            "administered_at": timezone.now().isoformat(),
            "vials": [{"vial_id": str(vial.id)}],
            "vial_ids": [str(vial.id)],
        },
    )
    assert both.status_code == 400
    assert both.json()["errors"][0]["field"] == "vials"


@pytest.mark.parametrize(
    ("ahead", "accepted"),
    [
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(minutes=6), False),
    ],
)
def test_an_injection_time_more_than_5_minutes_ahead_is_refused(clinic, ahead, accepted):
    s, p, stock, client, doctor = clinic
    vial = builders.open_vial(s, stock)
    planned = plan_preempt(client, doctor, p, [vial])
    decide_everything(client, doctor, planned["id"], timezone.now())
    # The server reads its clock after this line: at most this far ahead when it does.
    answer = api(
        client,
        doctor,
        "post",
        f"/sessions/{planned['id']}/sign",
        {"administered_at": (timezone.now() + ahead).isoformat()},
    )
    if accepted:
        assert answer.status_code == 200, answer.content
        return
    assert answer.status_code == 400, answer.content
    error = answer.json()["errors"][0]
    assert error["field"] == "administered_at"
    assert "the injection time is in the future" in error["message"]
    assert "plan date" in error["message"]
    assert TreatmentSession.objects.get(pk=planned["id"]).signed_at is None
    assert Decimal(TreatmentSession.objects.get(pk=planned["id"]).check_result["total_units"])

"""Correcting a signed session over the API (B.33): prescribers only, with a bearer token; a
nurse's correction request filed, listed, withdrawn, accepted or declined; note addenda."""

from __future__ import annotations

from typing import Any

import pytest

from bontrack.treatments.models import CorrectionDecision, CorrectionRequest, SessionEvent
from bontrack.treatments.records import status_of
from tests.api.support import World, differences, error_shape_problems

pytestmark = pytest.mark.django_db


def _points(w: World, units: int = 40) -> list[dict[str, Any]]:
    return [{"site": "biceps-brachii", "side": "left", "units": units}] * 5


def _file(w: World, body: dict[str, Any] | None = None) -> Any:
    return w.call(
        "nurse_injector",
        "POST",
        "/sessions/{signed}/correction-requests",
        body
        or {
            "kind": "amend",
            "corrects_digest": w.signed.digest,
            "reason": "The sixth point was not given.",
            "proposed": {"injections": _points(w), "notes": "Patient flinched."},
        },
    )


def test_a_nurse_gets_403_on_amending_or_entered_in_error_and_nothing_is_written(world: World):
    world.prepare("{signed}")
    world.token("nurse_injector")
    before = world.rows("a")
    for path, body in (
        ("/sessions/{signed}/amendments", {"reason": "Fewer units.", "injections": _points(world)}),
        (
            "/sessions/{signed}/entered-in-error",
            {"reason": "Not this patient.", "toxin_given": False},
        ),
    ):
        response = world.call("nurse_injector", "POST", path, body)
        assert response.status_code == 403, response.content
        assert error_shape_problems(response) == []
        assert "file a correction request" in response.json()["errors"][0]["message"]
    assert differences(before, world.rows("a")) == []


def test_a_prescribers_browser_session_alone_cannot_correct_through_the_api(world: World):
    """Amending, entered-in-error and accepting need a bearer token: a credential given with
    the call, never only a session cookie left open."""
    world.prepare("{signed} {correction_request}")
    world.client.force_login(world.a.physician.user)
    calls = [
        ("/sessions/{signed}/amendments", {"reason": "Notes were left out.", "notes": "Fine."}),
        ("/sessions/{signed}/entered-in-error", {"reason": "Wrong chart.", "toxin_given": True}),
        ("/correction-requests/{correction_request}/accept", {}),
    ]
    before = world.rows("a")
    for path, body in calls:
        response = world.call(None, "POST", path, body)
        assert response.status_code == 401, (path, response.content)
    assert differences(before, world.rows("a")) == []
    listed = world.call(None, "GET", "/correction-requests")
    assert listed.status_code == 200  # reading the queue needs no fresh credential


def test_entered_in_error_requires_the_answer_about_the_toxin(world: World):
    refused = world.call(
        "physician", "POST", "/sessions/{signed}/entered-in-error", {"reason": "Wrong chart."}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "toxin_given"
    done = world.call(
        "physician",
        "POST",
        "/sessions/{signed}/entered-in-error",
        {"reason": "Wrong chart.", "toxin_given": False},
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "entered-in-error"
    assert done.json()["events"][-1]["data"] == {"toxin_given": False}


def test_a_correction_request_is_filed_listed_and_accepted(world: World):
    filed = _file(world)
    assert filed.status_code == 201, filed.content
    body = filed.json()
    assert body["status"] == "open"
    assert body["stale"] is False
    assert body["corrects_digest"] == world.signed.digest
    listed = world.call("physician", "GET", "/correction-requests").json()
    assert [r["id"] for r in listed] == [body["id"]]
    accepted = world.call("physician", "POST", f"/correction-requests/{body['id']}/accept", {})
    assert accepted.status_code == 200, accepted.content
    decision = accepted.json()["decision"]
    assert decision["outcome"] == "accepted"
    session = world.call("physician", "GET", "/sessions/{signed}").json()
    assert session["status"] == "amended"
    assert session["total_units"] == "200"
    assert session["current_digest"] == decision["event_digest"]
    assert world.call("physician", "GET", "/correction-requests").json() == []
    done = world.call("physician", "GET", "/correction-requests?status=accepted").json()
    assert [r["id"] for r in done] == [body["id"]]


def test_accepting_a_stale_request_answers_409_and_writes_nothing(world: World):
    request_id = _file(world).json()["id"]
    amended = world.call(
        "physician",
        "POST",
        "/sessions/{signed}/amendments",
        {"reason": "The notes were left out.", "notes": "Tolerated well."},
    )
    assert amended.status_code == 201, amended.content
    assert world.call("physician", "GET", f"/correction-requests/{request_id}").json()["stale"]
    before = world.rows("a")
    refused = world.call("physician", "POST", f"/correction-requests/{request_id}/accept", {})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["message"] == (
        "the session changed since the request: review it again"
    )
    assert differences(before, world.rows("a")) == []


def test_a_request_may_be_withdrawn_by_its_nurse_or_declined_with_a_reason(world: World):
    first = _file(world).json()["id"]
    assert (
        world.call("physician", "POST", f"/correction-requests/{first}/withdraw", {}).status_code
        == 403
    )
    withdrawn = world.call("nurse_injector", "POST", f"/correction-requests/{first}/withdraw", {})
    assert withdrawn.json()["status"] == "withdrawn"

    second = _file(world).json()["id"]
    no_reason = world.call("physician", "POST", f"/correction-requests/{second}/decline", {})
    assert no_reason.status_code == 422
    blank = world.call(
        "physician", "POST", f"/correction-requests/{second}/decline", {"reason": " "}
    )
    assert blank.status_code == 400
    assert blank.json()["errors"][0]["field"] == "reason"
    declined = world.call(
        "physician",
        "POST",
        f"/correction-requests/{second}/decline",
        {"reason": "The video shows six points."},
    )
    assert declined.json()["status"] == "declined"
    assert declined.json()["decision"]["reason"] == "The video shows six points."
    again = world.call("physician", "POST", f"/correction-requests/{second}/accept", {})
    assert again.status_code == 409
    assert status_of(world.signed) == "signed"
    assert CorrectionRequest.objects.count() == 2
    assert CorrectionDecision.objects.count() == 2


def test_a_request_naming_an_old_digest_or_the_wrong_proposal_is_refused(world: World):
    wrong = _file(
        world,
        {
            "kind": "amend",
            "corrects_digest": "0" * 64,
            "reason": "The sixth point was not given.",
            "proposed": {"injections": _points(world)},
        },
    )
    assert wrong.status_code == 409
    mismatched = _file(
        world,
        {
            "kind": "amend",
            "corrects_digest": world.signed.digest,
            "reason": "The sixth point was not given.",
            "proposed": {"toxin_given": True},
        },
    )
    assert mismatched.status_code == 400
    assert mismatched.json()["errors"][0]["field"] == "proposed.injections"
    assert not CorrectionRequest.objects.exists()


def test_an_accepted_edit_replaces_the_proposal(world: World):
    request_id = _file(world).json()["id"]
    accepted = world.call(
        "physician",
        "POST",
        f"/correction-requests/{request_id}/accept",
        {"reason": "Checked the chart", "proposed": {"injections": _points(world, 50)}},
    )
    assert accepted.status_code == 200, accepted.content
    session = world.call("physician", "GET", "/sessions/{signed}").json()
    assert session["total_units"] == "250"


def test_only_the_sessions_injector_appends_an_addendum(world: World):
    refused = world.call(
        "nurse_injector", "POST", "/sessions/{signed}/addenda", {"text": "No bruising."}
    )
    assert refused.status_code == 403
    done = world.call("physician", "POST", "/sessions/{signed}/addenda", {"text": "No bruising."})
    assert done.status_code == 201, done.content
    assert done.json()["status"] == "signed"
    assert SessionEvent.objects.get(kind="addendum").data == {"text": "No bruising."}

"""One error shape (DESIGN 3.5): every 4xx body is exactly {"errors": [{"field", "message"}]},
the field names what was wrong, and a refused write leaves no half-written row behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from tests import builders
from tests.api.support import TRACKED, World, differences, error_shape_problems
from tests.builders import sessions

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(shared_world: World) -> World:
    """One world for the module (tests/api/conftest.py), each test in a savepoint of it."""
    return shared_world


POINT = {"site": "procerus", "side": "midline", "units": 5}


def _today() -> str:
    return timezone.localdate().isoformat()


def _plan_body(w: World, **changes: Any) -> dict[str, Any]:
    body = {
        "patient_id": str(w.patient.id),
        "product": "onabotulinumtoxinA",
        "indication": "chronic-migraine",
        "plan_date": _today(),
        "injections": [dict(POINT)],
    }
    body.update(changes)
    return body


def _all_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in TRACKED}


class Refusal:
    """Snapshot the database, make a call that must be refused, and check both the answer and
    that nothing was written."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rows = world.rows("a")
        self.counts = _all_counts()

    def check(self, response: Any, status: int, field: Any = ...) -> dict[str, Any]:
        assert response.status_code == status, response.content
        assert error_shape_problems(response) == []
        assert differences(self.rows, self.world.rows("a")) == [], "a half-written change"
        assert _all_counts() == self.counts
        error: dict[str, Any] = response.json()["errors"][0]
        if field is not ...:
            assert [e["field"] for e in response.json()["errors"]] == [field], response.content
        return error


# -- the shape of validation errors --------------------------------------------------------------

UNKNOWN_KEYS = [
    (
        "POST",
        "/patients",
        lambda w: {
            "record_number": "P-9",
            "given_name": "Sam",
            "family_name": "Roe",
            "birth_date": "1990-01-02",
            "nickname": "Sammy",
        },
        "nickname",
    ),
    ("PATCH", "/patients/{patient}", lambda w: {"favourite_colour": "green"}, "favourite_colour"),
    ("POST", "/sessions", lambda w: _plan_body(w, dose=155), "dose"),
    (
        "POST",
        "/sessions",
        lambda w: _plan_body(w, injections=[{**POINT, "depth_mm": 2}]),
        "injections[0].depth_mm",
    ),
    ("PATCH", "/sessions/{plan}", lambda w: {"notes": "x", "status": "signed"}, "status"),
    (
        "POST",
        "/sessions/{plan}/sign",
        lambda w: {"administered_at": w.administered.isoformat(), "signed_by": "me"},
        "signed_by",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), UNKNOWN_KEYS, ids=[c[3] for c in UNKNOWN_KEYS]
)
def test_an_unknown_key_is_422_naming_it(world: World, method, path, body, field):
    world.prepare(path)
    sent = body(world)
    world.token("physician")
    refusal = Refusal(world)
    error = refusal.check(world.call("physician", method, path, sent), 422, field)
    assert error["message"] == "unknown field"


# Every write that takes injections validates them the same way.
WITH_INJECTIONS = [
    ("POST", "/sessions", 201, lambda w, points: _plan_body(w, injections=points)),
    ("PATCH", "/sessions/{plan}", 200, lambda w, points: {"injections": points}),
    (
        "POST",
        "/sessions/{signed}/amendments",
        201,
        lambda w, points: {"reason": "The units were charted wrongly.", "injections": points},
    ),
]
BAD_POINTS = [
    ("units as a string", {**POINT, "units": "5"}, 422, "injections[0].units"),
    ("units 0", {**POINT, "units": 0}, 400, "injections[0].units"),
    ("negative units", {**POINT, "units": -5}, 400, "injections[0].units"),
    ("unknown site", {**POINT, "site": "nose-tip"}, 400, "injections[0].site"),
    ("wrong side", {**POINT, "side": "left"}, 400, "injections[0].side"),
    ("units true", {**POINT, "units": True}, 422, "injections[0].units"),
]


@pytest.mark.parametrize(
    ("method", "path", "ok", "body"),
    WITH_INJECTIONS,
    ids=[f"{m} {p}" for m, p, *_ in WITH_INJECTIONS],
)
@pytest.mark.parametrize(
    ("label", "point", "status", "field"), BAD_POINTS, ids=[b[0] for b in BAD_POINTS]
)
def test_an_invalid_injection_is_refused_naming_its_path(
    world: World, method, path, ok, body, label, point, status, field
):
    world.prepare(path)
    good = world.call("physician", method, path, body(world, [dict(POINT)]))
    assert good.status_code == ok, good.content  # the same call with a valid point is accepted
    refusal = Refusal(world)
    response = world.call("physician", method, path, body(world, [point]))
    refusal.check(response, status, field)


def test_a_naive_administration_time_is_422_and_the_plan_stays_a_plan(world: World):
    world.prepare("{plan}")
    refusal = Refusal(world)
    response = world.call(
        "physician",
        "POST",
        "/sessions/{plan}/sign",
        {"administered_at": world.administered.replace(tzinfo=None).isoformat()},
    )
    refusal.check(response, 422, "administered_at")
    assert TreatmentSession.objects.get(pk=world.plan.pk).signed_at is None


def test_a_naive_reconstitution_time_is_422(world: World):
    world.prepare("{fresh_vial}")
    refusal = Refusal(world)
    naive = (timezone.now() - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    response = world.call(
        "physician",
        "POST",
        "/vials/{fresh_vial}/reconstitute",
        {"diluent_ml": 4, "reconstituted_at": naive},
    )
    refusal.check(response, 422, "reconstituted_at")


MALFORMED = [
    ("POST", "/patients"),
    ("PATCH", "/patients/{patient}"),
    ("POST", "/sessions"),
    ("PATCH", "/sessions/{plan}"),
    ("POST", "/sessions/{plan}/sign"),
    ("POST", "/lots"),
    ("POST", "/lots/{lot}/recall"),
]


@pytest.mark.parametrize("raw", ['{"record_number": "P-9",', "{'single': 'quotes'}", "not json"])
@pytest.mark.parametrize(("method", "path"), MALFORMED, ids=[f"{m} {p}" for m, p in MALFORMED])
def test_a_malformed_json_body_is_400(world: World, method, path, raw):
    world.prepare(path)
    world.token("physician")
    refusal = Refusal(world)
    refusal.check(world.call("physician", method, path, raw=raw), 400)


def test_the_stateless_check_answers_malformed_json_with_the_error_shape(world: World):
    # POST /check keeps the `bontrack check` contract (DESIGN 3.3): invalid input, named.
    response = world.call("physician", "POST", "/check", raw='{"plan": ')
    assert response.status_code in (400, 422), response.content
    assert error_shape_problems(response) == []


OTHER_4XX = [
    ("GET", "/patients/not-a-uuid", None, 422),
    ("GET", "/stock?expiring_within_days=soon", None, 422),
    ("POST", "/patients", "[]", 422),
    ("POST", "/patients", "{}", 422),
    ("PUT", "/patients", "{}", 405),
    ("GET", "/no-such-route", None, 404),
]


@pytest.mark.parametrize(
    ("method", "path", "raw", "status"), OTHER_4XX, ids=[f"{m} {p}" for m, p, *_ in OTHER_4XX]
)
def test_every_other_4xx_of_the_api_has_the_error_shape(world: World, method, path, raw, status):
    response = world.call("physician", method, path, raw=raw)
    assert response.status_code == status, response.content
    assert error_shape_problems(response) == []


# -- refused writes ---------------------------------------------------------------------------


def test_a_signed_session_is_never_patched_nor_deleted(world: World):
    world.prepare("{signed}")
    stored = TreatmentSession.objects.get(pk=world.signed.pk)
    refusal = Refusal(world)
    for method, body in (
        ("PATCH", {"notes": "changed after signing"}),
        ("PATCH", {"injections": [dict(POINT)]}),
        ("DELETE", None),
    ):
        refusal.check(world.call("physician", method, "/sessions/{signed}", body), 409)
    after = TreatmentSession.objects.get(pk=world.signed.pk)
    assert (after.digest, after.updated_at, after.notes) == (
        stored.digest,
        stored.updated_at,
        stored.notes,
    )
    verified = world.call("physician", "GET", "/sessions/{signed}/verify")
    assert verified.json()["intact"] is True


def test_a_plan_for_a_patient_of_another_clinic_is_404_and_creates_nothing(world: World):
    world.prepare("{patient}")
    other = Patient.objects.get(clinic=world.b.clinic)
    sessions_before = TreatmentSession.objects.count()
    refusal = Refusal(world)
    response = world.call(
        "physician", "POST", "/sessions", _plan_body(world, patient_id=str(other.id))
    )
    refusal.check(response, 404)
    assert TreatmentSession.objects.count() == sessions_before


@pytest.mark.parametrize("reason", [None, "", "   ", "ok"])
def test_an_override_without_a_reason_is_400_naming_the_reason(world: World, reason):
    body = {"fingerprint": world.block_fingerprint, "kind": "override"}
    if reason is not None:
        body["reason"] = reason
    refusal = Refusal(world)
    refusal.check(
        world.call("physician", "POST", "/sessions/{plan}/decisions", body), 400, "reason"
    )


def test_signing_over_an_unacknowledged_warning_is_409_and_the_plan_stays_a_plan(world: World):
    world.prepare("{plan2} {opened_vial}")
    refusal = Refusal(world)
    response = world.call(
        "nurse_injector",
        "POST",
        "/sessions/{plan2}/sign",
        {
            "administered_at": world.administered.isoformat(),
            "vial_ids": [str(world.opened_vial.id)],
        },
    )
    error = refusal.check(response, 409)
    assert "acknowledge" in error["message"], error
    assert "retreatment-interval" in error["message"], error
    stored = TreatmentSession.objects.get(pk=world.plan2.pk)
    assert stored.signed_at is None
    assert world.call("nurse_injector", "GET", "/sessions/{plan2}").json()["status"] == "plan"
    assert not AuditEntry.objects.filter(
        clinic=world.a.clinic, action="sign", object_id=str(stored.pk)
    ).exists()


def test_signing_without_a_consent_is_409_mentioning_the_consent(world: World):
    world.prepare("{opened_vial}")
    unconsented = builders.patient(world.a, "P-3", weight_kg=60)
    plan = sessions.plan_session(
        world.a.actor("physician"),
        unconsented.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
        vial_ids=[world.opened_vial.id],
    )
    world.answer_findings(plan, world.administered)
    world.token("physician")
    refusal = Refusal(world)
    response = world.call(
        "physician",
        "POST",
        f"/sessions/{plan.id}/sign",
        {"administered_at": world.administered.isoformat()},
    )
    error = refusal.check(response, 409)
    assert "consent" in error["message"].lower(), error
    assert TreatmentSession.objects.get(pk=plan.pk).signed_at is None
    assert not AuditEntry.objects.filter(action="sign", object_id=str(plan.pk)).exists()


def test_a_duplicate_record_number_is_409_naming_it(world: World):
    world.prepare("{patient} {patient2}")
    world.token("front_desk")
    refusal = Refusal(world)
    registered = world.call(
        "front_desk",
        "POST",
        "/patients",
        {
            "record_number": "P-1",
            "given_name": "Sam",
            "family_name": "Roe",
            "birth_date": "1990-01-02",
        },
    )
    refusal.check(registered, 409, "record_number")
    patched = world.call("front_desk", "PATCH", "/patients/{patient2}", {"record_number": "P-1"})
    refusal.check(patched, 409, "record_number")
    # Record numbers are unique per clinic: clinic B may use P-1.
    assert (
        world.call(
            "other_clinic",
            "POST",
            "/patients",
            {
                "record_number": "P-1",
                "given_name": "Sam",
                "family_name": "Roe",
                "birth_date": "1990-01-02",
            },
        ).status_code
        == 201
    )


def test_recalling_a_lot_twice_is_409(world: World):
    body = {"reason": "Manufacturer notice 2026-11"}
    first = world.call("clinic_admin", "POST", "/lots/{lot}/recall", body)
    assert first.status_code == 200, first.content
    refusal = Refusal(world)
    refusal.check(
        world.call("clinic_admin", "POST", "/lots/{lot}/recall", {"reason": "Second notice"}), 409
    )

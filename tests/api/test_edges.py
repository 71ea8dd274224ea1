"""The API's edges: every text checked against its column before the database sees it (both
engines answer 422 naming the field, never a 500), CSV exports that a spreadsheet cannot run,
read-only tokens that write nothing, and restricted patients on recall lists (DESIGN 3.4)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.access import in_care_team
from bontrack.api.auth import issue_token
from bontrack.security.services import break_glass
from tests import builders
from tests.api.support import World
from tests.builders import sessions

NEW_PATIENT = {
    "record_number": "P-EDGE",
    "given_name": "Sam",
    "family_name": "Roe",
    "birth_date": "1990-01-02",
}


def _only_error(response) -> dict:
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


# --- Field lengths and characters, on both engines --------------------------------------------


@pytest.mark.postgres(sqlite=True)
def test_a_patient_name_over_100_characters_is_refused_naming_the_field(world: World):
    body = {**NEW_PATIENT, "given_name": "A" * 101}
    error = _only_error(world.call("physician", "POST", "/patients", body))
    assert error["field"] == "given_name"
    assert "at most 100 characters" in error["message"]


@pytest.mark.postgres(sqlite=True)
def test_a_name_of_exactly_100_characters_is_stored(world: World):
    body = {**NEW_PATIENT, "family_name": "B" * 100}
    assert world.call("physician", "POST", "/patients", body).status_code == 201


@pytest.mark.postgres(sqlite=True)
def test_a_record_number_over_40_characters_is_refused_naming_the_field(world: World):
    body = {**NEW_PATIENT, "record_number": "R" * 41}
    error = _only_error(world.call("front_desk", "POST", "/patients", body))
    assert error["field"] == "record_number"
    assert "at most 40 characters" in error["message"]


@pytest.mark.postgres(sqlite=True)
def test_a_nul_character_in_a_new_patient_is_refused_naming_the_field(world: World):
    body = {**NEW_PATIENT, "family_name": "Ro\u0000e"}
    error = _only_error(world.call("physician", "POST", "/patients", body))
    assert error["field"] == "family_name"
    assert "NUL" in error["message"]


@pytest.mark.postgres(sqlite=True)
def test_a_nul_in_a_list_of_conditions_is_refused_at_its_place(world: World):
    body = {**NEW_PATIENT, "conditions": ["x\u0000y"]}
    error = _only_error(world.call("physician", "POST", "/patients", body))
    assert error["field"] == "conditions"
    assert "NUL" in error["message"]


@pytest.mark.postgres(sqlite=True)
def test_a_lone_surrogate_in_a_new_patient_is_refused_naming_the_field(world: World):
    raw = (
        '{"record_number": "P-S", "given_name": "Sam\\ud800", "family_name": "Roe", '
        '"birth_date": "1990-01-02"}'
    )
    error = _only_error(world.call("physician", "POST", "/patients", raw=raw))
    assert error["field"] == "given_name"
    assert "surrogate" in error["message"]


@pytest.mark.postgres(sqlite=True)
@pytest.mark.parametrize("role", ["physician", "nurse_injector", "front_desk", "auditor"])
def test_a_nul_in_the_patient_search_is_refused_for_every_role(world: World, role: str):
    error = _only_error(world.call(role, "POST", "/patients/search", {"q": "Do\u0000e"}))
    assert error["field"] == "q"


@pytest.mark.postgres(sqlite=True)
def test_an_over_long_change_of_a_patient_is_refused_and_nothing_is_changed(world: World):
    response = world.call(
        "physician", "PATCH", "/patients/{patient}", {"phone": "9" * 41, "given_name": "Alexa"}
    )
    error = _only_error(response)
    assert error["field"] == "phone"
    world.patient.refresh_from_db()
    assert world.patient.given_name == "Alex"


# --- CSV exports --------------------------------------------------------------------------------


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_sessions_and_injections_exports_quote_cells_a_spreadsheet_would_run(world: World):
    formula = '=HYPERLINK("http://e.example","x")'
    patient = builders.patient(world.a, formula)
    dose = world.call(
        "physician",
        "POST",
        f"/patients/{patient.id}/external-doses",
        {
            "given_on": (timezone.localdate() - timedelta(days=30)).isoformat(),
            "product": "onabotulinumtoxinA",
            "indication": "upper-limb-spasticity",
            "units": 100,
            "place": "+Elsewhere",
            "source_document": "@letter",
        },
    )
    assert dose.status_code == 201, dose.content
    span = "?start=2020-01-01&end=2099-12-31"
    exported = _rows(world.call("physician", "GET", "/exports/sessions" + span))
    row = next(r for r in exported if r["record_number"].endswith(formula))
    assert row["record_number"] == "'" + formula
    assert row["place"] == "'+Elsewhere"
    assert row["source_document"] == "'@letter"
    injections = _rows(world.call("physician", "GET", "/exports/injections" + span))
    assert "'" + formula in {r["record_number"] for r in injections}


# --- Scopes -------------------------------------------------------------------------------------


def _read_only_token(world: World, role: str = "physician") -> str:
    response = world.client.post(
        "/api/v1/auth/token",
        {
            "username": world.username(role),
            "password": world.password(role),
            "scopes": ["chart.read", "demographics.read"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


def test_a_read_only_token_cannot_break_glass(world: World):
    token = _read_only_token(world)
    response = world.client.post(
        f"/api/v1/patients/{world.restricted.id}/break-glass",
        {"reason": "Covering for the patient's physician today"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403, response.content
    assert "read" in response.json()["errors"][0]["message"]


def test_a_read_only_token_cannot_revoke_its_owners_other_tokens(world: World):
    token = _read_only_token(world)
    other = issue_token(world.a.physician, "spare", 30)[0]
    response = world.client.delete(
        f"/api/v1/auth/tokens/{other.id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 403, response.content
    other.refresh_from_db()
    assert other.revoked_at is None


def test_a_read_only_token_still_reads_and_searches(world: World):
    token = _read_only_token(world)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert world.client.get(f"/api/v1/patients/{world.patient.id}", **auth).status_code == 200
    found = world.client.post(
        "/api/v1/patients/search", {"q": "Doe"}, content_type="application/json", **auth
    )
    assert found.status_code == 200, found.content


def _kick_off(world: World, token: str):
    return world.client.get(
        "/fhir/$export",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_PREFER="respond-async",
        HTTP_ACCEPT="application/fhir+json",
    )


def test_a_read_only_token_cannot_start_a_bulk_export(world: World, settings, tmp_path):
    settings.BONTRACK_VAR_DIR = tmp_path
    world.patient  # noqa: B018 (something to export)
    assert _kick_off(world, _read_only_token(world)).status_code == 403


def test_a_token_with_the_bulk_export_scope_starts_one(world: World, settings, tmp_path):
    settings.BONTRACK_VAR_DIR = tmp_path
    response = world.client.post(
        "/api/v1/auth/token",
        {
            "username": world.username("physician"),
            "password": world.password("physician"),
            "scopes": ["chart.read", "bulk.export"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert _kick_off(world, response.json()["token"]).status_code == 202


# --- Restricted patients on recall lists, and the care team ---------------------------------------


def _restricted_exposed(world: World):
    """The restricted patient received a vial of the lot, signed by the physician, who opened
    the chart by break-glass to do it."""
    doctor = world.a.actor("physician")
    patient = world.restricted
    break_glass(doctor, patient.id, "Covering for the patient's physician today")
    builders.consent(world.a, patient, "upper-limb-spasticity")
    when = world.two_weeks_ago
    return builders.signed_session(
        world.a,
        patient,
        when,
        world._open(when - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[sessions.PointInput("biceps-brachii", "left", Decimal(50))] * 2,
    )


RESTRICTED = "restricted patient: break glass or ask their care team"


@pytest.mark.parametrize("role", ["front_desk", "auditor", "nurse_injector"])
def test_the_exposure_list_counts_a_restricted_patient_without_their_details(
    world: World, role: str
):
    session = _restricted_exposed(world)
    world.signed  # noqa: B018 (an ordinary patient exposed to the same lot)
    listed = world.call(role, "GET", "/lots/{lot}/exposures")
    assert listed.status_code == 200, listed.content
    rows = listed.json()
    assert len(rows) == 2
    hidden = next(r for r in rows if r["restricted"])
    assert hidden["name"] == RESTRICTED
    assert hidden["patient_id"] == str(world.restricted.id)
    assert hidden["record_number"] == ""
    assert hidden["phone"] == hidden["email"] == ""
    assert hidden["session_id"] is None
    assert hidden["administered_on"] is None
    assert str(session.id) not in listed.content.decode()
    shown = next(r for r in rows if not r["restricted"])
    assert shown["name"] == "Alex Doe"


def test_after_break_glass_the_exposure_list_shows_the_restricted_patients_details(world: World):
    session = _restricted_exposed(world)
    break_glass(world.a.actor("auditor"), world.restricted.id, "Recall notice: must phone them")
    rows = world.call("auditor", "GET", "/lots/{lot}/exposures").json()
    assert rows == [
        {
            "patient_id": str(world.restricted.id),
            "record_number": "P-R",
            "name": "Alex Doe",
            "phone": "",
            "email": "",
            "session_id": str(session.id),
            "administered_on": session.plan_date.isoformat(),
            "restricted": False,
        }
    ]


def test_planning_and_signing_under_break_glass_makes_nobody_care_team(world: World):
    _restricted_exposed(world)
    assert not in_care_team(world.a.physician, world.restricted)


def test_the_front_desk_gets_no_patient_ids_from_the_vial_list(world: World):
    world.signed  # noqa: B018 (a vial opened for a patient)
    vials = world.call("front_desk", "GET", "/vials").json()
    assert vials
    assert all(v["patient_id"] is None for v in vials)
    assert world.call("front_desk", "GET", "/vials/{opened_vial}").json()["patient_id"] is None
    assert any(v["patient_id"] for v in world.call("physician", "GET", "/vials").json())

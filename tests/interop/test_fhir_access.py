"""Who reads what through /fhir: the API's authentication, the clinic boundary (another clinic's
ids answer 404 and are logged; searches never leak), roles, restricted charts, and one
'disclose' audit entry per patient for every answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.audit.services import verify_clinic_chain, verify_security_chain
from tests.interop.support import EMITTED, validate
from tests.interop.world import World

pytestmark = pytest.mark.django_db


def outcome(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    validate(body)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    if code is not None:
        assert body["issue"][0]["code"] == code
    return body


def clinic_a_resources(world: World) -> list[tuple[str, str]]:
    """(type, id) of every resource clinic A's physician can read: $everything of both
    patients, and the clinic-wide lists."""
    found: dict[tuple[str, str], None] = {}
    for patient in (world.maria, world.restricted):
        bundle = world.get("a-physician", f"/Patient/{patient.id}/$everything").json()
        for e in bundle["entry"]:
            found[(e["resource"]["resourceType"], e["resource"]["id"])] = None
    for resource_type in EMITTED:
        bundle = world.get("a-physician", f"/{resource_type}", _count="500").json()
        for e in bundle.get("entry", []):
            found[(e["resource"]["resourceType"], e["resource"]["id"])] = None
    return list(found)


def security_seq() -> int:
    head = SecurityEvent.objects.order_by("-seq").first()
    return head.seq if head else 0


def test_without_credentials_the_answer_is_401_with_an_operation_outcome(world):
    for path in (
        f"/Patient/{world.maria.id}",
        "/Procedure",
        f"/Patient/{world.maria.id}/$everything",
    ):
        response = world.get(None, path)
        outcome(response, 401, "login")
        assert response["WWW-Authenticate"].startswith("Bearer")
    bad = world.client.get("/fhir/Procedure", HTTP_AUTHORIZATION="Bearer bt_not-a-token")
    outcome(bad, 401)
    # The CapabilityStatement is public: clients read it before they sign in.
    assert world.client.get("/fhir/metadata").status_code == 200


def test_the_signed_in_session_works_like_a_token(world):
    world.client.force_login(world.a.physician.user)
    response = world.client.get(f"/fhir/Patient/{world.maria.id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(world.maria.id)


@pytest.mark.postgres(sqlite=True)
def test_another_clinics_token_gets_404_for_every_resource_id_and_each_is_logged(world):
    ids = clinic_a_resources(world)
    assert {t for t, _ in ids} == set(EMITTED)
    assert len(ids) > 100
    world.token("b-physician")  # its sign-in is logged before the loop
    for resource_type, resource_id in ids:
        before = security_seq()
        response = world.get("b-physician", f"/{resource_type}/{resource_id}")
        body = outcome(response, 404, "not-found")
        assert resource_id not in json.dumps(body)
        refusals = SecurityEvent.objects.filter(seq__gt=before)
        assert [e.kind for e in refusals] == ["refused-access"], (resource_type, resource_id)
    # $everything of another clinic's patient too.
    outcome(world.get("b-physician", f"/Patient/{world.maria.id}/$everything"), 404)
    assert verify_security_chain().intact
    assert not AuditEntry.objects.filter(clinic=world.b.clinic, action="disclose").exists()


def test_another_clinics_searches_show_nothing_of_this_clinic(world):
    ids = {i for _, i in clinic_a_resources(world)}
    ids.discard(str(world.a.clinic.id))
    for resource_type in EMITTED:
        response = world.get("b-physician", f"/{resource_type}", _count="500")
        assert response.status_code == 200
        text = response.content.decode()
        assert not [i for i in ids if i in text], resource_type
        assert str(world.a.clinic.id) not in text
    # Naming clinic A's rows in a search is refused like a read.
    outcome(world.get("b-physician", "/Procedure", patient=str(world.maria.id)), 404)
    outcome(
        world.get(
            "b-physician", "/MedicationAdministration", medication=f"Medication/{world.lot.id}"
        ),
        404,
    )
    outcome(world.get("b-physician", "/Provenance", target=f"Procedure/{world.cycles[0].id}"), 404)
    # Clinic B's own lot of the same number is all it finds.
    lots = world.get("b-physician", "/Medication", **{"lot-number": "C7421A"}).json()
    assert [e["resource"]["id"] for e in lots["entry"]] == [str(world.b_lot.id)]


@pytest.mark.postgres(sqlite=True)
def test_every_answer_writes_one_disclosure_entry_per_patient(world):
    def disclosures(run: Any) -> list[AuditEntry]:
        last = AuditEntry.objects.filter(clinic=world.a.clinic).order_by("-seq").first()
        run()
        return list(
            AuditEntry.objects.filter(clinic=world.a.clinic, seq__gt=last.seq).order_by("seq")
        )

    everything = disclosures(
        lambda: world.get("a-physician", f"/Patient/{world.maria.id}/$everything")
    )
    assert [(e.action, e.patient_id) for e in everything] == [("disclose", world.maria.id)]
    assert everything[0].detail["interaction"] == "everything"
    assert "MedicationAdministration" in everything[0].detail["resources"]

    read = disclosures(lambda: world.get("a-physician", f"/Procedure/{world.cycles[0].id}"))
    assert [(e.action, e.patient_id, e.object_id) for e in read] == [
        ("disclose", world.maria.id, str(world.cycles[0].id))
    ]

    # A search across patients: one entry for each patient it shows.
    listed = disclosures(lambda: world.get("a-physician", "/Procedure"))
    assert sorted(str(e.patient_id) for e in listed) == sorted(
        [str(world.maria.id), str(world.restricted.id)]
    )
    assert {e.action for e in listed} == {"disclose"}
    patients = disclosures(lambda: world.get("a-physician", "/Patient"))
    assert len(patients) == 2

    # Rows of no patient disclose nobody; refusals write nothing to the trail.
    assert disclosures(lambda: world.get("a-physician", f"/Medication/{world.lot.id}")) == []
    assert disclosures(lambda: world.get("a-physician", "/Practitioner")) == []
    assert disclosures(lambda: world.get("b-physician", f"/Patient/{world.maria.id}")) == []
    assert verify_clinic_chain(world.a.clinic.id).intact


def test_roles_front_desk_reads_demographics_only(world):
    assert world.get("a-frontdesk", f"/Patient/{world.maria.id}").status_code == 200
    assert world.get("a-frontdesk", "/Patient").status_code == 200
    outcome(world.get("a-frontdesk", "/Procedure"), 403, "forbidden")
    outcome(world.get("a-frontdesk", f"/Procedure/{world.cycles[0].id}"), 403)
    outcome(world.get("a-frontdesk", f"/Patient/{world.maria.id}/$everything"), 403)
    # Stock is everyone's to read; charts are the auditor's too.
    assert world.get("a-frontdesk", f"/Medication/{world.lot.id}").status_code == 200
    assert world.get("a-auditor", f"/Procedure/{world.cycles[0].id}").status_code == 200


def test_a_restricted_chart_is_its_care_teams(world):
    # The physician restricted it and treated the patient: in the care team.
    assert (
        world.get("a-physician", f"/Patient/{world.restricted.id}/$everything").status_code == 200
    )
    # The nurse is not: the chart is refused, and clinic-wide searches withhold it, saying so.
    outcome(world.get("a-nurse", f"/Patient/{world.restricted.id}/$everything"), 403)
    outcome(world.get("a-nurse", "/Procedure", patient=str(world.restricted.id)), 403)
    outcome(world.get("a-nurse", f"/Procedure/{world.restricted_session.id}"), 403)
    listed = world.get("a-nurse", "/Procedure", _count="500").json()
    shown = [e["resource"] for e in listed["entry"] if e["search"]["mode"] == "match"]
    assert str(world.restricted.id) not in json.dumps(shown)
    [note] = [e["resource"] for e in listed["entry"] if e["search"]["mode"] == "outcome"]
    assert note["issue"][0]["code"] == "suppressed"
    assert note["issue"][0]["diagnostics"].startswith("1 matching")
    # Demographics stay readable, as in the API.
    assert world.get("a-nurse", f"/Patient/{world.restricted.id}").status_code == 200


def test_refusals_of_the_protocol_are_operation_outcomes(world):
    outcome(world.get("a-physician", "/Procedure", pateint=str(world.maria.id)), 400, "invalid")
    outcome(world.get("a-physician", "/Procedure", **{"patient:Patient": str(world.maria.id)}), 400)
    outcome(world.get("a-physician", "/Procedure", date="2026-13-01"), 400)
    outcome(world.get("a-physician", "/Procedure", date="sa2026-01-01"), 400)
    outcome(world.get("a-physician", "/Procedure", _count="many"), 400)
    outcome(world.get("a-physician", "/Procedure", _count="501"), 400)
    outcome(world.get("a-physician", "/Procedure", patient="Practitioner/x"), 400)
    outcome(world.get("a-physician", "/Procedure", _format="xml"), 406, "not-supported")
    outcome(world.get("a-physician", "/Encounter"), 404, "not-supported")
    outcome(world.get("a-physician", "/Procedure/not-a-uuid"), 404, "not-found")
    outcome(world.get("a-physician", f"/MedicationAdministration/{world.plan.id}-1"), 404)
    outcome(world.get("a-physician", f"/MedicationAdministration/{world.cycles[0].id}-32"), 404)
    outcome(world.get("a-physician", f"/Provenance/{world.plan.id}"), 404)
    outcome(world.client.get("/fhir/Patient/x/y/z"), 404)
    token = world.token("a-physician")
    posted = world.client.post(
        "/fhir/Patient",
        {},
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    outcome(posted, 405)
    assert posted["Allow"] == "GET"

"""What a FHIR consumer may rely on: ids that never move to another injection, versions and change
times, a CapabilityStatement and SMART configuration that say what is served, searches as R4
defines them, and Bundle imports that match the chart they are read into."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import jwt
import pytest
from huey.contrib.djhuey import HUEY

from bontrack.interop import bulk, fhir
from bontrack.interop.models import ExportJob
from bontrack.treatments import services as sessions
from bontrack.treatments.models import Injection, SessionEvent, TreatmentSession
from bontrack.treatments.records import amended_points, current_points
from tests.interop.bulk_support import (
    TOKEN_URL,
    download,
    get_token,
    kick_off,
    poll,
    register,
    rsa_key,
    run_queued,
    token_form,
)
from tests.interop.support import validate
from tests.interop.test_external_doses import administration, bundle, clinic, six_weeks_ago
from tests.interop.world import TODAY, World, utc

pytestmark = pytest.mark.django_db

__all__ = ["clinic"]  # the fixture, shared with the external-dose tests
SPASTICITY = {"coding": [{"system": fhir.INDICATION_SYSTEM, "code": "upper-limb-spasticity"}]}


@pytest.fixture(autouse=True)
def _queue_and_files(settings: Any, tmp_path: Any) -> Any:
    settings.EXPORT_DIR = tmp_path / "exports"
    HUEY.flush()
    yield
    HUEY.flush()


def search(world: World, path: str, **query: str) -> dict[str, Any]:
    response = world.get("a-physician", path, **query)
    assert response.status_code == 200, response.content
    bundle = response.json()
    validate(bundle)
    return bundle


def match_ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def administrations(world: World, session: TreatmentSession) -> list[dict[str, Any]]:
    bundle = search(
        world, "/MedicationAdministration", patient=str(session.patient_id), _count="500"
    )
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e["resource"]["partOf"][0]["reference"] == f"Procedure/{session.id}"
    ]


def site_of(resource: dict[str, Any]) -> tuple[str, str, Decimal]:
    site = next(
        c["code"] for c in resource["dosage"]["site"]["coding"] if c["system"] == fhir.SITE_SYSTEM
    )
    side = resource["dosage"]["site"]["text"].rsplit(", ", 1)[1]
    return site, side, Decimal(str(resource["dosage"]["dose"]["value"]))


# --- 9. Ids, versions, change times ---------------------------------------------------------------


def test_an_administrations_id_is_its_injections_own_id(world):
    first = world.cycles[0]
    found = {r["id"] for r in administrations(world, first)}
    assert found == {str(i.id) for i in Injection.objects.filter(session=first)}


def test_an_amendment_that_drops_a_point_never_gives_its_id_to_another_injection(world):
    session = world.cycles[0]
    before = {r["id"]: site_of(r) for r in administrations(world, session)}
    points = current_points(session)
    dropped = points[0]
    kept = [sessions.PointInput(p.site, p.side, p.units, p.route) for p in points[1:]]
    kept[0] = sessions.PointInput(kept[0].site, kept[0].side, Decimal("2.5"), kept[0].route)
    kept.append(sessions.PointInput("masseter", "left", Decimal(5)))
    world.clock.at(utc(TODAY) + timedelta(hours=1))
    sessions.amend(
        world.a.actor("physician"),
        session.id,
        reason="The first point was never given; the second was 2.5 U.",
        injections=kept,
    )
    after = {r["id"]: site_of(r) for r in administrations(world, session)}
    assert dropped.id not in after
    # Every id that stays names the same site and side as before (its units may be amended).
    for rid, (site, side, _) in after.items():
        if rid in before:
            assert before[rid][:2] == (site, side)
    assert after[points[1].id] == (points[1].site, points[1].side, Decimal("2.5"))
    new = [rid for rid in after if rid not in before]
    assert len(new) == 1
    assert after[new[0]][0] == "masseter"
    assert UUID(new[0]).version == 4
    event = SessionEvent.objects.filter(session=session, kind="amended").get()
    assert all("id" in row for row in event.data["injections"])


def test_an_old_amendment_without_ids_reads_with_ids_that_are_no_injections(world):
    event = SessionEvent.objects.get(session=world.cycles[2], kind="amended")
    rows = [{k: v for k, v in row.items() if k != "id"} for row in event.data["injections"]]
    # An amendment appended before its rows carried ids, as stored (rows are never rewritten).
    legacy = SessionEvent(id=event.id, data={**event.data, "injections": rows})
    injection_ids = {str(i) for i in Injection.objects.values_list("id", flat=True)}
    first = [p.id for p in amended_points(legacy)]
    assert first == [p.id for p in amended_points(legacy)]
    assert len(set(first)) == len(first) == len(rows)
    assert not set(first) & injection_ids


def test_resources_carry_their_version_and_change_time_and_reads_answer_an_etag(world):
    response = world.get("a-physician", f"/Procedure/{world.cycles[2].id}")
    assert response.status_code == 200
    body = response.json()
    validate(body)
    version = body["meta"]["versionId"]
    assert response["ETag"] == f'W/"{version}"'
    assert body["meta"]["lastUpdated"] == "2026-06-29T15:00:00Z"  # the amendment
    assert response["Last-Modified"] == "Mon, 29 Jun 2026 15:00:00 GMT"
    for resource_type in ("Patient", "MedicationAdministration", "Observation", "Provenance"):
        for resource in [e["resource"] for e in search(world, f"/{resource_type}")["entry"]]:
            if resource["resourceType"] == resource_type:
                assert resource["meta"]["versionId"]
                assert resource["meta"]["lastUpdated"].endswith("Z")


def test_last_updated_is_searchable_with_prefixes(world):
    maria = str(world.maria.id)
    later = match_ids(
        search(world, "/Procedure", patient=maria, _lastUpdated="gt2026-06-29T12:00:00Z")
    )
    assert str(world.cycles[2].id) in later
    assert str(world.cycles[0].id) not in later
    earlier = match_ids(search(world, "/Procedure", patient=maria, _lastUpdated="lt2026-02-01"))
    assert earlier == [str(world.cycles[0].id)]
    refused = world.get("a-physician", "/Procedure", _lastUpdated="soon")
    assert refused.status_code == 400


def test_a_removed_point_is_reported_deleted_in_a_since_export(world):
    world.clock.at(utc(TODAY))
    key = rsa_key()
    client = register(world.a.actor("admin"), key)
    session = world.cycles[0]
    points = current_points(session)
    world.clock.at(utc(TODAY) + timedelta(hours=1))
    sessions.amend(
        world.a.actor("physician"),
        session.id,
        reason="The first point was never given.",
        injections=[sessions.PointInput(p.site, p.side, p.units, p.route) for p in points[1:]],
    )
    world.clock.at(utc(TODAY) + timedelta(hours=2))
    token = get_token(world.client, str(client.id), key)
    started = kick_off(world.client, token, _since="2026-09-14T12:30:00Z")
    assert started.status_code == 202, started.content
    assert run_queued() == 1
    manifest = poll(world.client, token, started["Content-Location"]).json()
    [deleted] = manifest["deleted"]
    assert deleted["type"] == "Bundle"
    [line] = download(world.client, token, deleted["url"])
    validate(line)
    assert line["type"] == "transaction"
    assert [e["request"] for e in line["entry"]] == [
        {"method": "DELETE", "url": f"MedicationAdministration/{points[0].id}"}
    ]


# --- 10. Capabilities ----------------------------------------------------------------------------


def test_the_capability_statement_declares_bulk_data_smart_and_group(world):
    body = world.client.get("/fhir/metadata").json()
    validate(body)
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in body["instantiates"]
    rest = body["rest"][0]
    system_ops = {o["name"] for o in rest["operation"]}
    assert "export" in system_ops
    types = {r["type"]: r for r in rest["resource"]}
    assert "Group" in types
    assert "export" in {o["name"] for o in types["Group"]["operation"]}
    assert {"export", "everything"} <= {o["name"] for o in types["Patient"]["operation"]}
    service = rest["security"]["service"][0]["coding"][0]
    assert service["code"] == "SMART-on-FHIR"
    [oauth] = rest["security"]["extension"]
    assert oauth["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert {"url": "token", "valueUri": TOKEN_URL} in oauth["extension"]


def test_the_group_the_export_names_can_be_read(world):
    response = world.get("a-physician", f"/Group/{world.a.clinic.id}")
    assert response.status_code == 200
    group = response.json()
    validate(group)
    assert group["actual"] is True
    assert group["type"] == "person"


def test_smart_configuration_advertises_no_implicit_grant(world):
    body = world.client.get("/fhir/.well-known/smart-configuration").json()
    assert "response_types_supported" not in body or "token" not in body["response_types_supported"]
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]


def test_a_client_assertion_without_kid_is_refused(world):
    world.clock.at(utc(TODAY))
    key = rsa_key()
    client = register(world.a.actor("admin"), key)
    form = token_form(str(client.id), key)
    claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
    form["client_assertion"] = jwt.encode(claims, key.private, algorithm=key.alg)
    response = world.client.post("/fhir/auth/token", form)
    assert response.status_code == 401
    assert "kid" in response.json()["error_description"]


# --- 11. Searches ---------------------------------------------------------------------------------


def test_count_zero_gives_the_total_without_entries_or_next_link(world):
    bundle = search(world, "/MedicationAdministration", _count="0")
    assert bundle["total"] == 94
    assert "entry" not in bundle
    assert {link["relation"] for link in bundle["link"]} == {"self"}


def test_patients_match_by_record_number_identifier_posted_never_in_a_url(world):
    system = fhir.record_number_system(world.a.clinic.id)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world.token('a-physician')}"}

    def posted(identifier: str) -> list[str]:
        response = world.client.post(
            "/fhir/Patient/_search",
            f"identifier={identifier}",
            content_type="application/x-www-form-urlencoded",
            **headers,
        )
        assert response.status_code == 200, response.content
        validate(response.json())
        assert "BT-0001" not in json.dumps(response.json()["link"])
        return match_ids(response.json())

    assert posted(f"{system}|BT-0001") == [str(world.maria.id)]
    assert posted("BT-0001") == [str(world.maria.id)]
    assert posted("other-system|BT-0001") == []
    in_url = world.get("a-physician", "/Patient", identifier="BT-0001")
    assert in_url.status_code == 400
    assert "_search" in in_url.json()["issue"][0]["diagnostics"]


def test_unknown_parameters_are_ignored_only_when_lenient(world):
    strict = world.get("a-physician", "/Procedure", colour="blue")
    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world.token('a-physician')}"}
    lenient = world.client.get(
        "/fhir/Procedure", {"colour": "blue"}, HTTP_PREFER="handling=lenient", **headers
    )
    assert lenient.status_code == 200
    self_link = next(link for link in lenient.json()["link"] if link["relation"] == "self")
    assert "colour" not in self_link["url"]


def test_r4_parameter_names_are_served_and_bontracks_own_are_published(world):
    maria = str(world.maria.id)
    assert search(world, "/AdverseEvent", subject=maria)["total"] == 1
    assert search(world, "/AdverseEvent", date="2026-06-30")["total"] == 1
    assert search(world, "/MedicationAdministration", **{"effective-time": "2026-01-12"})["total"]
    assert search(world, "/Condition", **{"recorded-date": "2026-01-05"})["total"] == 1
    assert search(world, "/Provenance", recorded="2026-01-12")["total"] >= 1
    statement = world.client.get("/fhir/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        for param in resource.get("searchParam", []):
            assert param.get("definition"), (resource["type"], param["name"])


def test_local_code_systems_and_extensions_are_served_at_their_canonical_urls(world, settings):
    response = world.get("a-physician", "/Procedure", _id=str(world.cycles[2].id))
    text = json.dumps(response.json())
    assert "bontrack.example" not in text
    procedure = response.json()["entry"][0]["resource"]
    urls = [c["system"] for c in procedure["code"]["coding"]]
    base = settings.FHIR_BASE_URL
    for url in urls:
        assert url.startswith(f"{base}/CodeSystem/")
        published = world.client.get("/fhir" + url.removeprefix(base))
        assert published.status_code == 200, url
        body = published.json()
        validate(body)
        assert body["url"] == url
        assert "botulinum-toxin-injection" in {c["code"] for c in body["concept"]}
    extension = world.client.get("/fhir/StructureDefinition/sha256-digest")
    assert extension.status_code == 200
    validate(extension.json())
    assert extension.json()["type"] == "Extension"


# --- 12. Imports and stuck exports -------------------------------------------------------------


def test_a_stuck_export_fails_on_its_own_after_the_timeout(world, settings):
    world.clock.at(utc(TODAY))
    key = rsa_key()
    client = register(world.a.actor("admin"), key)
    token = get_token(world.client, str(client.id), key)
    started = kick_off(world.client, token)
    assert started.status_code == 202
    HUEY.flush()  # the worker is down
    world.clock.at(utc(TODAY) + timedelta(minutes=settings.EXPORT_TIMEOUT_MINUTES - 1))
    token = get_token(world.client, str(client.id), key)
    assert poll(world.client, token, started["Content-Location"]).status_code == 202
    world.clock.at(utc(TODAY) + timedelta(minutes=settings.EXPORT_TIMEOUT_MINUTES + 1))
    token = get_token(world.client, str(client.id), key)
    assert poll(world.client, token, started["Content-Location"]).status_code == 500
    assert ExportJob.objects.get().status == "failed"
    assert bulk.fail_stale_exports(utc(TODAY) + timedelta(days=1)) == 0


def _import(clinic: Any, body: dict[str, Any]) -> Any:
    return clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir", body)


def _with_patient(body: dict[str, Any], **patient: Any) -> dict[str, Any]:
    resource = {"resourceType": "Patient", "id": "p1", **patient}
    body["entry"].insert(0, {"fullUrl": "urn:uuid:patient-1", "resource": resource})
    return body


def test_a_bundle_of_another_patient_is_refused_naming_the_fields(clinic):
    day = six_weeks_ago()
    body = _with_patient(
        bundle(administration(1, day, 50)),
        name=[{"family": "Santos", "given": ["Maria"]}],
        birthDate="1983-06-14",
        gender="female",  # the chart's sex is not known: not compared
    )
    response = _import(clinic, body)
    assert response.status_code == 422, response.content
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "entry[0].resource.name",
        "entry[0].resource.birthDate",
        "patient",
    }
    assert not TreatmentSession.objects.filter(patient=clinic.patient, external=True).exists()


def test_a_bundle_of_the_charts_patient_is_accepted(clinic):
    p = clinic.patient
    body = _with_patient(
        bundle(administration(1, six_weeks_ago(), 50)),
        name=[{"family": p.family_name.upper(), "given": [p.given_name]}],
        birthDate=p.birth_date.isoformat(),
    )
    assert _import(clinic, body).status_code == 201


def test_two_administrations_without_sites_stay_two(clinic):
    day = six_weeks_ago()
    body = bundle(
        administration(1, day, 150, site=None, reason=SPASTICITY),
        administration(2, day, 150, site=None, reason=SPASTICITY),
    )
    response = _import(clinic, body)
    assert response.status_code == 201, response.content
    [session] = TreatmentSession.objects.filter(patient=clinic.patient, external=True)
    assert [i.units for i in session.injections.all()] == [Decimal(150), Decimal(150)]
    fhir_out = clinic.http.get(
        "/fhir/MedicationAdministration", {"patient": str(clinic.patient.id)}, **clinic.auth
    ).json()
    doses = sorted(e["resource"]["dosage"]["dose"]["value"] for e in fhir_out["entry"])
    assert doses == [150, 150]
    # Each keeps its identifier at the source, in the chart and in what /fhir gives back.
    assert sorted(i.source_identifier for i in session.injections.all()) == [
        "https://st-elsewhere.example/ma|MA-1",
        "https://st-elsewhere.example/ma|MA-2",
    ]
    assert sorted(
        (i["system"], i["value"]) for e in fhir_out["entry"] for i in e["resource"]["identifier"]
    ) == [("https://st-elsewhere.example/ma", "MA-1"), ("https://st-elsewhere.example/ma", "MA-2")]
    again = _import(clinic, body)
    assert [d["created"] for d in again.json()["doses"]] == [False]
    assert Injection.objects.filter(session__patient=clinic.patient).count() == 2

"""SMART Backend Services and Bulk Data $export, end to end through HTTP: a clinic admin registers
a client with its public key, the client signs a JWT for a token, kicks off an export, polls it,
downloads NDJSON files that validate as R4, and another clinic's client never sees a row."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from huey.contrib.djhuey import HUEY

from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.interop import bulk
from bontrack.interop.models import ExportJob
from tests.interop.bulk_support import (
    TOKEN_URL,
    KeyPair,
    download,
    ec_key,
    get_token,
    kick_off,
    poll,
    register,
    rsa_key,
    run_queued,
    token_form,
)
from tests.interop.support import EMITTED, validate
from tests.interop.world import TODAY, World, utc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _queue_and_files(settings: Any, tmp_path: Any) -> Any:
    """An empty task queue and a private export directory for each test."""
    settings.EXPORT_DIR = tmp_path / "exports"
    HUEY.flush()
    yield
    HUEY.flush()


@pytest.fixture
def now(world: World) -> World:
    world.clock.at(utc(TODAY))
    return world


def _client(
    world: World, key: KeyPair | None = None, staff: str = "a", **kw: Any
) -> tuple[str, KeyPair]:
    key = key or rsa_key()
    s = world.a if staff == "a" else world.b
    client = register(s.actor("admin"), key, **kw)
    return str(client.id), key


def _export(world: World, token: str, path: str = "/fhir/$export", **query: Any) -> dict[str, Any]:
    """Kick off, check it is accepted and in progress, run the task, fetch the manifest."""
    started = kick_off(world.client, token, path, **query)
    assert started.status_code == 202, started.content
    status_url = started["Content-Location"]
    assert status_url.startswith("http://testserver/fhir/bulk/")
    waiting = poll(world.client, token, status_url)
    assert waiting.status_code == 202
    assert "patients" in waiting["X-Progress"] or waiting["X-Progress"] == "queued"
    assert int(waiting["Retry-After"]) > 0
    assert run_queued() == 1
    done = poll(world.client, token, status_url)
    assert done.status_code == 200, done.content
    assert done["Content-Type"].startswith("application/json")
    manifest = done.json()
    manifest["_status_url"] = status_url
    return manifest


def _files(world: World, token: str, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {o["type"]: download(world.client, token, o["url"]) for o in manifest["output"]}


@pytest.mark.postgres(sqlite=True)
def test_a_registered_client_exports_its_clinic_as_ndjson_that_validates(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    manifest = _export(now, token)
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == "http://testserver/fhir/$export"
    assert manifest["transactionTime"] == "2026-09-14T12:00:00Z"
    assert [e["type"] for e in manifest["error"]] == ["OperationOutcome"]  # the restricted chart
    files = _files(now, token, manifest)
    assert set(files) == set(EMITTED)
    for item in manifest["output"]:
        assert item["url"].endswith(f"/{item['type']}.ndjson")
        assert item["count"] == len(files[item["type"]])
    for resource_type, resources in files.items():
        for resource in resources:
            assert resource["resourceType"] == resource_type
            validate(resource)
    # The same resources as the read API shows.
    maria = now.get("a-physician", f"/Patient/{now.maria.id}/$everything").json()
    shown = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in maria["entry"]}
    exported = {(r["resourceType"], r["id"]) for rs in files.values() for r in rs}
    assert shown <= exported
    procedure = next(r for r in files["Procedure"] if r["id"] == str(now.cycles[2].id))
    read = now.get("a-physician", f"/Procedure/{now.cycles[2].id}").json()
    assert procedure == read
    # The system client is no practitioner.
    assert all(r["id"] != client_id for r in files["Practitioner"])


def test_the_export_is_disclosed_patient_by_patient_and_every_token_use_is_logged(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    issued = SecurityEvent.objects.filter(kind="system-token-issued").get()
    assert issued.detail["client_id"] == client_id
    assert issued.clinic_id == now.a.clinic.id
    before = AuditEntry.objects.filter(clinic=now.a.clinic).count()
    manifest = _export(now, token)
    _files(now, token, manifest)
    entries = list(AuditEntry.objects.filter(clinic=now.a.clinic).order_by("seq")[before:])
    disclosures = [e for e in entries if e.action == "disclose"]
    patients = {now.maria.id, now.restricted.id}
    assert sorted(str(e.patient_id) for e in disclosures) == sorted(str(p) for p in patients)
    assert {e.role for e in entries} == {"system-client"}
    assert all(e.detail["client"] == client_id for e in disclosures)
    kickoffs = [e for e in entries if e.action == "export" and e.object_type == "bulk-export"]
    assert len(kickoffs) == 1
    downloads = [e for e in entries if e.object_type == "bulk-export-file"]
    assert len(downloads) == len(manifest["output"])
    uses = SecurityEvent.objects.filter(kind="system-token-use")
    # Kick-off, two polls and each file.
    assert uses.count() == 3 + len(manifest["output"])
    assert {u.detail["client_id"] for u in uses} == {client_id}


def test_restricted_charts_are_withheld_and_said_so_in_the_error_file(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    manifest = _export(now, token)
    files = _files(now, token, manifest)
    assert str(now.restricted.id) in {p["id"] for p in files["Patient"]}
    assert all(
        p["subject"]["reference"] != f"Patient/{now.restricted.id}" for p in files["Procedure"]
    )
    [error] = manifest["error"]
    [outcome] = download(now.client, token, error["url"])
    validate(outcome)
    assert outcome["issue"][0]["code"] == "suppressed"


@pytest.mark.postgres(sqlite=True)
def test_another_clinics_client_never_sees_a_row(now: World):
    a_id, a_key = _client(now)
    b_id, b_key = _client(now, staff="b")
    a_token = get_token(now.client, a_id, a_key)
    b_token = get_token(now.client, b_id, b_key)
    a_manifest = _export(now, a_token)
    # B's own export holds only clinic B.
    b_manifest = _export(now, b_token)
    b_text = json.dumps(_files(now, b_token, b_manifest))
    a_ids = {str(now.maria.id), str(now.restricted.id), str(now.lot.id), str(now.a.clinic.id)}
    a_ids |= {str(c.id) for c in now.cycles}
    assert not [i for i in a_ids if i in b_text]
    assert str(now.b_patient.id) in b_text
    # A's status and files answer 404 to B, and each attempt is logged.
    seq = SecurityEvent.objects.order_by("-seq").first().seq
    assert poll(now.client, b_token, a_manifest["_status_url"]).status_code == 404
    url = a_manifest["output"][0]["url"]
    refused = now.client.get(url, HTTP_AUTHORIZATION=f"Bearer {b_token}")
    assert refused.status_code == 404
    assert b"resourceType" in refused.content
    assert str(now.maria.id).encode() not in refused.content
    gone = now.client.delete(a_manifest["_status_url"], HTTP_AUTHORIZATION=f"Bearer {b_token}")
    assert gone.status_code == 404
    refusals = SecurityEvent.objects.filter(seq__gt=seq, kind="refused-access")
    assert refusals.count() == 3
    # Clinic A as a Group: 404 to B, logged; nothing is queued.
    group = kick_off(now.client, b_token, f"/fhir/Group/{now.a.clinic.id}/$export")
    assert group.status_code == 404
    assert run_queued() == 0
    # B's token reads nothing of A through the read API either.
    read = now.client.get(f"/fhir/Patient/{now.maria.id}", HTTP_AUTHORIZATION=f"Bearer {b_token}")
    assert read.status_code == 404


def test_a_user_of_the_same_clinic_cannot_fetch_the_clients_files(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    manifest = _export(now, token)
    staff = now.token("a-physician")
    assert poll(now.client, staff, manifest["_status_url"]).status_code == 404
    url = manifest["output"][0]["url"]
    assert now.client.get(url, HTTP_AUTHORIZATION=f"Bearer {staff}").status_code == 404
    assert now.client.get(url).status_code == 401


def test_group_and_patient_level_exports_and_type_and_since(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    group = _export(now, token, f"/fhir/Group/{now.a.clinic.id}/$export")
    assert {o["type"] for o in group["output"]} == set(bulk.COMPARTMENT)
    patient = _export(now, token, "/fhir/Patient/$export", _type="Patient,Procedure")
    assert [o["type"] for o in patient["output"]] == ["Patient", "Procedure"]
    # _since: only what changed after it (the last cycle's amendment is 2026-06-29 15:00).
    since = _export(now, token, "/fhir/$export", _since="2026-06-29T14:00:00Z", _type="Procedure")
    procedures = _files(now, token, since)["Procedure"]
    ids = {p["id"] for p in procedures}
    assert str(now.cycles[2].id) in ids
    assert str(now.plan.id) in ids
    assert str(now.cycles[0].id) not in ids


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"_type": "Nonsense"}, 400),
        ({"_since": "2026-01-01"}, 400),
        ({"_since": "yesterday"}, 400),
        ({"_outputFormat": "application/fhir+xml"}, 400),
        ({"_typeFilter": "Patient?active=true"}, 400),
    ],
)
def test_kick_off_refuses_what_it_does_not_serve(now: World, query: dict[str, str], status: int):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    response = kick_off(now.client, token, **query)
    assert response.status_code == status, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert ExportJob.objects.count() == 0


def test_kick_off_needs_prefer_respond_async(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    response = now.client.get("/fhir/$export", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert now.client.get("/fhir/$export", HTTP_PREFER="respond-async").status_code == 401


@pytest.mark.postgres(sqlite=True)
def test_a_second_export_of_the_clinic_while_one_runs_gets_429_then_delete_cancels(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    first = kick_off(now.client, token)
    assert first.status_code == 202
    second = kick_off(now.client, token, "/fhir/Patient/$export")
    assert second.status_code == 429
    assert int(second["Retry-After"]) > 0
    # Even another member of the clinic waits.
    staff = now.token("a-physician")
    assert kick_off(now.client, staff).status_code == 429
    # Another clinic is not held up.
    b_id, b_key = _client(now, staff="b")
    assert kick_off(now.client, get_token(now.client, b_id, b_key)).status_code == 202
    # DELETE cancels: the task finds it cancelled and writes nothing.
    status_url = first["Content-Location"]
    cancelled = now.client.delete(status_url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert cancelled.status_code == 202
    assert poll(now.client, token, status_url).status_code == 404
    run_queued()
    job = ExportJob.objects.get(id=status_url.rsplit("/", 1)[1])
    assert job.status == "cancelled"
    assert not bulk.export_dir(job.id).exists()
    # The clinic may export again.
    assert kick_off(now.client, token).status_code == 202


def test_deleting_a_completed_export_deletes_its_files(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    manifest = _export(now, token)
    job_id = manifest["_status_url"].rsplit("/", 1)[1]
    assert bulk.export_dir(job_id).exists()
    with __import__("django.test").test.TestCase.captureOnCommitCallbacks(execute=True):
        deleted = now.client.delete(manifest["_status_url"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert deleted.status_code == 202
    assert not bulk.export_dir(job_id).exists()
    url = manifest["output"][0]["url"]
    assert now.client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def test_old_exports_files_are_purged(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    manifest = _export(now, token)
    job_id = manifest["_status_url"].rsplit("/", 1)[1]
    assert bulk.purge_expired(utc(TODAY) + timedelta(hours=1)) == 0
    assert bulk.purge_expired(utc(TODAY) + timedelta(hours=25)) == 1
    assert not bulk.export_dir(job_id).exists()
    assert poll(now.client, token, manifest["_status_url"]).status_code == 404


def test_a_stale_export_does_not_hold_the_clinic_forever(now: World, settings: Any):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    assert kick_off(now.client, token).status_code == 202
    HUEY.flush()  # the consumer died with it
    now.clock.at(utc(TODAY) + timedelta(minutes=settings.EXPORT_TIMEOUT_MINUTES + 1))
    token = get_token(now.client, client_id, key)
    assert kick_off(now.client, token).status_code == 202
    assert ExportJob.objects.filter(status="failed").count() == 1


# --- SMART ---------------------------------------------------------------------------------------


def test_smart_configuration_is_published(now: World):
    for path in ("/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"):
        response = now.client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["token_endpoint"] == TOKEN_URL
        assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
        assert set(body["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
        assert "system/*.rs" in body["scopes_supported"]
        assert "client-confidential-asymmetric" in body["capabilities"]


@pytest.mark.parametrize("make_key", [rsa_key, ec_key], ids=["RS384", "ES384"])
def test_a_client_gets_a_short_lived_token_with_either_algorithm(now: World, make_key: Any):
    client_id, key = _client(now, make_key())
    response = now.client.post("/fhir/auth/token", token_form(client_id, key))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "system/*.rs"
    assert response["Cache-Control"] == "no-store"
    token = body["access_token"]
    read = now.client.get(f"/fhir/Patient/{now.maria.id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert read.status_code == 200
    # Five minutes later it is refused.
    now.clock.at(utc(TODAY) + timedelta(seconds=301))
    late = now.client.get(f"/fhir/Patient/{now.maria.id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert late.status_code == 401


def _refused(now: World, form: dict[str, str], error: str) -> None:
    response = now.client.post("/fhir/auth/token", form)
    assert response.status_code in (400, 401), response.content
    assert response.json()["error"] == error, response.content


def test_token_requests_that_must_fail(now: World):
    client_id, key = _client(now)
    other = rsa_key("rsa-1")  # the same kid, another key: the signature does not verify
    _refused(now, token_form(client_id, other), "invalid_client")
    _refused(now, token_form(client_id, key, audience="http://elsewhere/token"), "invalid_client")
    _refused(now, token_form(client_id, key, lifetime=-120), "invalid_client")
    _refused(now, token_form(client_id, key, lifetime=3600), "invalid_client")
    _refused(
        now, {**token_form(client_id, key), "grant_type": "password"}, "unsupported_grant_type"
    )
    _refused(now, token_form(client_id, key, scope="user/*.rs"), "invalid_scope")
    _refused(now, token_form(client_id, key, scope=""), "invalid_scope")
    _refused(now, token_form("00000000-0000-4000-8000-000000000000", key), "invalid_client")
    hs = token_form(client_id, key)
    import jwt as pyjwt

    hs["client_assertion"] = pyjwt.encode(
        {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": 9_999_999_999, "jti": "x"},
        "secret-" * 8,
        algorithm="HS384",
    )
    _refused(now, hs, "invalid_client")
    # A replayed assertion is refused.
    form = token_form(client_id, key, jti="once")
    assert now.client.post("/fhir/auth/token", form).status_code == 200
    _refused(now, form, "invalid_client")
    refusals = SecurityEvent.objects.filter(kind="system-token-refused")
    assert refusals.count() == 10
    assert all(r.detail["error"] for r in refusals)


def test_a_revoked_client_gets_no_token_and_its_tokens_stop(now: World):
    client_id, key = _client(now)
    token = get_token(now.client, client_id, key)
    admin = now.a.actor("admin")
    from bontrack.interop.smart import revoke_client

    revoke_client(admin, client_id)
    read = now.client.get(f"/fhir/Patient/{now.maria.id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert read.status_code == 401
    _refused(now, token_form(client_id, key), "invalid_client")


def test_scopes_limit_what_a_client_reads_and_exports(now: World):
    client_id, key = _client(now, scopes=("system/Patient.rs", "system/Procedure.read"))
    _refused(now, token_form(client_id, key, scope="system/*.rs"), "invalid_scope")
    token = get_token(now.client, client_id, key, scope="system/Patient.rs system/Procedure.read")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert now.client.get(f"/fhir/Patient/{now.maria.id}", **auth).status_code == 200
    assert now.client.get("/fhir/Procedure", **auth).status_code == 200
    assert now.client.get("/fhir/Observation", **auth).status_code == 403
    assert now.client.get(f"/fhir/Patient/{now.maria.id}/$everything", **auth).status_code == 403
    assert kick_off(now.client, token, _type="Observation").status_code == 403
    manifest = _export(now, token)
    assert [o["type"] for o in manifest["output"]] == ["Patient", "Procedure"]


def test_registration_refuses_private_keys_and_is_for_clinic_admins(now: World):
    from bontrack.core.errors import ForbiddenError, ServiceError
    from bontrack.interop.smart import register_client

    key = rsa_key()
    with pytest.raises(ServiceError, match="private key"):
        register_client(now.a.actor("admin"), name="x", jwks={"keys": [key.private_jwk]})
    with pytest.raises(ServiceError):
        register_client(now.a.actor("admin"), name="x", jwks={"keys": []})
    with pytest.raises(ServiceError):
        register_client(
            now.a.actor("admin"), name="x", jwks={"keys": [key.public_jwk]}, scopes=["patient/*.rs"]
        )
    with pytest.raises(ForbiddenError):
        register_client(now.a.actor("physician"), name="x", jwks={"keys": [key.public_jwk]})

"""Issue 7's "done when", on the demo clinic: a system client registered by the demo's admin over
the API gets a token with a signed JWT, exports the clinic as NDJSON, and every file validates;
an external spasticity dose imported from a FHIR Bundle blocks a PREEMPT plan that passes
without it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from bontrack.audit.services import Actor
from bontrack.interop import fhir
from bontrack.ops.demo import build_demo
from bontrack.patients.models import Patient
from bontrack.patients.services import register_patient
from bontrack.treatments import services as sessions
from tests.interop.bulk_support import download, get_token, kick_off, poll, rsa_key, run_queued
from tests.interop.support import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings: Any, tmp_path: Any) -> Any:
    settings.EXPORT_DIR = tmp_path / "exports"
    HUEY.flush()
    yield build_demo()
    HUEY.flush()


def _api_token(http: Client, demo: Any, who: str) -> dict[str, str]:
    response = http.post(
        "/api/v1/auth/token",
        {"username": who, "password": demo.passwords[who]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}


def test_a_system_client_of_the_demo_clinic_exports_it_and_every_file_validates(demo):
    http = Client()
    admin = _api_token(http, demo, "admin")
    key = rsa_key()
    registered = http.post(
        "/api/v1/system-clients",
        json.dumps({"name": "Regional registry", "jwks": {"keys": [key.public_jwk]}}),
        content_type="application/json",
        **admin,
    )
    assert registered.status_code == 201, registered.content
    client = registered.json()
    assert client["token_url"] == "http://testserver/fhir/auth/token"
    token = get_token(http, client["client_id"], key)
    started = kick_off(http, token)
    assert started.status_code == 202, started.content
    assert run_queued() == 1
    manifest = poll(http, token, started["Content-Location"]).json()
    patients = Patient.objects.filter(clinic=demo.clinic).count()
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    assert counts["Patient"] == patients
    assert counts["MedicationAdministration"] > 100
    for item in manifest["output"] + manifest["error"]:
        for resource in download(http, token, item["url"]):
            validate(resource)


def test_an_imported_spasticity_dose_blocks_a_preempt_plan_that_passes_without_it(demo):
    doctor = Actor(demo.members["physician"], "127.0.0.1")
    today = timezone.localdate()
    patient = register_patient(
        doctor,
        today,
        record_number="BT-0900",
        given_name="Iris",
        family_name="Novak",
        birth_date=today.replace(year=today.year - 45),
        weight_kg=68,
    )
    from bontrack.patients.services import record_consent

    record_consent(
        doctor,
        patient.id,
        indication="chronic-migraine",
        signed_on=today - timedelta(days=3),
        signed_by="Iris Novak",
    )
    plan = sessions.plan_session(
        doctor,
        patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=today,
        protocol="preempt-155",
    )
    assert sessions.recheck(doctor, plan.id)["verdict"] != "block"
    day = (today - timedelta(weeks=5)).isoformat()
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"value": "rehab-discharge-0900"},
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{n}",
                "resource": {
                    "resourceType": "MedicationAdministration",
                    "status": "completed",
                    "medicationCodeableConcept": {
                        "coding": [{"system": fhir.PRODUCT_SYSTEM, "code": "onabotulinumtoxinA"}]
                    },
                    "subject": {"display": "Iris Novak"},
                    "effectiveDateTime": day,
                    "performer": [{"actor": {"display": "Northfield Rehabilitation Centre"}}],
                    "reasonCode": [{"coding": [{"system": fhir.ICD10CM, "code": "G81.14"}]}],
                    "dosage": {
                        "site": {
                            "extension": [
                                {
                                    "url": fhir.LATERALITY_EXTENSION,
                                    "valueCodeableConcept": {
                                        "coding": [{"system": fhir.SNOMED, "code": "7771000"}]
                                    },
                                }
                            ],
                            "coding": [{"system": fhir.SITE_SYSTEM, "code": "biceps-brachii"}],
                        },
                        "dose": {"value": 75, "unit": "U", "system": fhir.UCUM, "code": "[arb'U]"},
                    },
                },
            }
            for n in range(4)
        ],
    }
    http = Client()
    physician = _api_token(http, demo, "physician")
    imported = http.post(
        f"/api/v1/patients/{patient.id}/external-doses/fhir",
        json.dumps(bundle),
        content_type="application/json",
        **physician,
    )
    assert imported.status_code == 201, imported.content
    result = sessions.recheck(doctor, plan.id)
    assert result["verdict"] == "block"
    assert any(
        f["rule"] == "cumulative-dose" and f["severity"] == "block" for f in result["findings"]
    )

"""Doses given elsewhere: recorded by hand or imported from a FHIR Bundle of
MedicationAdministration resources, shown on the timeline as such, and counted by the checker
exactly like its own doses (the same product only)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.interop import fhir
from bontrack.treatments import external
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.services import verify_digest
from tests import builders
from tests.interop.support import validate

pytestmark = pytest.mark.django_db

LEFT, RIGHT = fhir.LATERALITY["left"][0], fhir.LATERALITY["right"][0]


class Clinic:
    def __init__(self) -> None:
        # Its own prefix: the FHIR tests' world (clinics "a" and "b") may be present too.
        self.staff = builders.staff(prefix="ext")
        self.patient = builders.patient(self.staff, weight_kg=70)
        builders.consent(self.staff, self.patient, "chronic-migraine")
        self.http = Client()
        response = self.http.post(
            "/api/v1/auth/token",
            {"username": "ext-physician", "password": self.staff.password},
            content_type="application/json",
        )
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}

    def post(self, path: str, body: Any) -> Any:
        return self.http.post(
            f"/api/v1{path}", json.dumps(body), content_type="application/json", **self.auth
        )

    def get(self, path: str) -> Any:
        return self.http.get(f"/api/v1{path}", **self.auth)

    def preempt_plan(self) -> TreatmentSession:
        return sessions.plan_session(
            self.staff.actor("physician"),
            self.patient.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
        )

    def recheck(self, plan: TreatmentSession) -> dict[str, Any]:
        return sessions.recheck(self.staff.actor("physician"), plan.id)


@pytest.fixture
def clinic(db: None) -> Clinic:
    return Clinic()


def administration(
    n: int,
    day: str,
    units: float,
    *,
    product: dict[str, Any] | None = None,
    site: str | None = "biceps-brachii",
    laterality: str | None = LEFT,
    reason: dict[str, Any] | None = None,
    dose: dict[str, Any] | None = None,
    status: str = "completed",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": f"ma-{n}",
        "identifier": [{"system": "https://st-elsewhere.example/ma", "value": f"MA-{n}"}],
        "status": status,
        "medicationCodeableConcept": product
        or {"coding": [{"system": fhir.PRODUCT_SYSTEM, "code": "onabotulinumtoxinA"}]},
        "subject": {"display": "the patient"},
        "effectiveDateTime": day,
        "performer": [{"actor": {"display": "St Elsewhere Rehabilitation Hospital"}}],
        "reasonCode": [
            reason
            or {"coding": [{"system": fhir.INDICATION_SYSTEM, "code": "upper-limb-spasticity"}]}
        ],
        "dosage": {
            "dose": dose or {"value": units, "unit": "U", "system": fhir.UCUM, "code": "[arb'U]"},
        },
    }
    if site is not None:
        concept: dict[str, Any] = {"coding": [{"system": fhir.SITE_SYSTEM, "code": site}]}
        if laterality is not None:
            concept["extension"] = [
                {
                    "url": fhir.LATERALITY_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [{"system": fhir.SNOMED, "code": laterality}]
                    },
                }
            ]
        resource["dosage"]["site"] = concept
    return resource


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"value": "discharge-letter-2026-10"},
        "entry": [
            {"fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-000000000000", "resource": r}
            for n, r in enumerate(resources)
        ],
    }


def six_weeks_ago() -> str:
    return (timezone.localdate() - timedelta(weeks=6)).isoformat()


def spasticity_bundle() -> dict[str, Any]:
    """300 U of onabotulinumtoxinA for spasticity six weeks ago, 6 x 50 U, elsewhere."""
    day = six_weeks_ago()
    return bundle(
        *(administration(n, day, 50, laterality=LEFT if n < 3 else RIGHT) for n in range(6))
    )


@pytest.mark.postgres(sqlite=True)
def test_an_imported_external_dose_turns_a_preempt_plan_into_a_cumulative_dose_block(clinic):
    plan = clinic.preempt_plan()
    before = clinic.recheck(plan)
    assert before["verdict"] != "block", before["findings"]
    assert "cumulative-dose" not in {f["rule"] for f in before["findings"]}

    imported = clinic.post(
        f"/patients/{clinic.patient.id}/external-doses/fhir", spasticity_bundle()
    )
    assert imported.status_code == 201, imported.content
    [dose] = imported.json()["doses"]
    assert dose["total_units"] == "300"
    assert dose["sites"] == 6
    assert dose["created"] is True

    after = clinic.recheck(plan)
    assert after["verdict"] == "block"
    [block] = [f for f in after["findings"] if f["rule"] == "cumulative-dose"]
    assert block["severity"] == "block"
    assert block["overridable"] is True
    assert "455 U" in block["message"]
    assert "300 U" in block["message"]


def test_importing_the_same_bundle_twice_adds_nothing(clinic):
    path = f"/patients/{clinic.patient.id}/external-doses/fhir"
    assert clinic.post(path, spasticity_bundle()).status_code == 201
    again = clinic.post(path, spasticity_bundle())
    assert again.status_code == 201
    assert [d["created"] for d in again.json()["doses"]] == [False]
    assert TreatmentSession.objects.filter(patient=clinic.patient, external=True).count() == 1


def test_another_products_external_dose_never_counts_toward_onabotulinumtoxina(clinic):
    plan = clinic.preempt_plan()
    other = bundle(
        administration(
            0,
            six_weeks_ago(),
            500,
            site=None,
            product={"text": "Dysport 500 U"},
        )
    )
    response = clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir", other)
    assert response.status_code == 201, response.content
    assert response.json()["doses"][0]["product"] == "abobotulinumtoxinA"
    rules = {f["rule"] for f in clinic.recheck(plan)["findings"]}
    assert "cumulative-dose" not in rules
    assert "mixed-products" in rules  # counted exactly like a dose given here


def test_a_dose_recorded_by_hand_counts_and_is_on_the_timeline_as_given_elsewhere(clinic):
    plan = clinic.preempt_plan()
    response = clinic.post(
        f"/patients/{clinic.patient.id}/external-doses",
        {
            "given_on": six_weeks_ago(),
            "product": "onabotulinumtoxinA",
            "indication": "other",
            "units": 300,
            "place": "Bladder clinic, City Hospital",
            "source_document": "Letter of 2026-10-20",
            "notes": "Intradetrusor injection.",
        },
    )
    assert response.status_code == 201, response.content
    session = response.json()
    assert session["status"] == "signed"
    assert session["total_units"] == "300"
    assert session["digest"]
    assert verify_digest(TreatmentSession.objects.get(id=session["id"]))
    assert clinic.recheck(plan)["verdict"] == "block"
    timeline = clinic.get(f"/patients/{clinic.patient.id}/timeline").json()
    [item] = [t for t in timeline if t["id"] == session["id"]]
    assert item["external"] is True
    assert item["given_elsewhere_at"] == "Bladder clinic, City Hospital"
    assert item["injector"] is None
    ours = [t for t in timeline if t["id"] == str(plan.id)]
    assert ours[0]["external"] is False
    # The patient's page says so.
    http = Client()
    http.force_login(clinic.staff.physician.user)
    page = http.get(f"/patients/{clinic.patient.id}/")
    assert page.status_code == 200
    assert b"given elsewhere" in page.content
    assert b"Bladder clinic, City Hospital" in page.content
    assert http.get(f"/sessions/{session['id']}/").status_code == 200


def test_a_nurses_external_record_needs_no_co_signature(clinic):
    _session, created = external.record_external_dose(
        clinic.staff.actor("nurse"),
        clinic.patient.id,
        external.ExternalDose(
            given_on=timezone.localdate() - timedelta(days=10),
            product="onabotulinumtoxinA",
            indication="cervical-dystonia",
            place="Movement disorders clinic",
            source_document="Referral letter",
            units=Decimal(200),
        ),
    )
    assert created
    timeline = clinic.get(f"/patients/{clinic.patient.id}/timeline").json()
    assert timeline[0]["status"] == "signed"


def test_external_doses_are_valid_fhir_and_say_where_they_were_given(clinic):
    clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir", spasticity_bundle())
    clinic.post(
        f"/patients/{clinic.patient.id}/external-doses",
        {
            "given_on": six_weeks_ago(),
            "product": "incobotulinumtoxinA",
            "indication": "blepharospasm",
            "units": 40,
            "place": "Eye hospital",
            "source_document": "Clinic letter",
        },
    )
    everything = clinic.http.get(
        f"/fhir/Patient/{clinic.patient.id}/$everything", **clinic.auth
    ).json()
    validate(everything)
    resources = [e["resource"] for e in everything["entry"]]
    for r in resources:
        validate(r)
    procedures = [r for r in resources if r["resourceType"] == "Procedure"]
    assert len(procedures) == 2
    for p in procedures:
        assert p["location"]["display"] in ("St Elsewhere Rehabilitation Hospital", "Eye hospital")
        assert p["note"][0]["text"].startswith("Given elsewhere: ")
        assert len(p["performedDateTime"]) == 10  # the day
    doses = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    assert len(doses) == 7
    no_site = [d for d in doses if "site" not in d["dosage"]]
    assert [d["dosage"]["dose"]["value"] for d in no_site] == [40]
    assert all(d["dosage"]["dose"]["code"] == "[arb'U]" for d in doses)


def test_a_bundle_of_bad_entries_is_refused_entry_by_entry(clinic):
    day = six_weeks_ago()
    bad = bundle(
        administration(
            0, day, 50, dose={"value": 50, "unit": "IU", "code": "[iU]", "system": fhir.UCUM}
        ),
        administration(1, day, 50, product={"text": "something else"}),
        administration(2, "next week", 50),
        administration(3, day, 50, status="entered-in-error"),
        administration(4, day, 50, laterality=None),
        administration(5, day, -5),
        administration(
            6, day, 50, reason={"coding": [{"system": fhir.INDICATION_SYSTEM, "code": "nope"}]}
        ),
        {"resourceType": "Patient", "id": "p"},
    )
    response = clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir", bad)
    assert response.status_code == 422
    errors = response.json()["errors"]
    fields = [e["field"] for e in errors]
    assert fields == [
        "entry[0].resource.dosage.dose.code",
        "entry[1].resource.medicationCodeableConcept",
        "entry[2].resource.effectiveDateTime",
        "entry[3].resource.status",
        "entry[4].resource.dosage.site.extension",
        "entry[5].resource.dosage.dose.value",
        "entry[6].resource.reasonCode",
    ], errors
    assert "international units" in errors[0]["message"]
    assert not TreatmentSession.objects.filter(external=True).exists()
    not_a_bundle = clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir", {"a": 1})
    assert not_a_bundle.status_code == 422


def test_an_icd10_reason_outside_the_catalog_is_recorded_as_other_and_still_counts(clinic):
    plan = clinic.preempt_plan()
    bladder = bundle(
        administration(
            0,
            six_weeks_ago(),
            300,
            site=None,
            reason={
                "coding": [
                    {"system": fhir.ICD10CM, "code": "N32.81", "display": "Overactive bladder"}
                ]
            },
        )
    )
    dry = clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir?dry_run=true", bladder)
    assert dry.status_code == 200
    assert dry.json()["doses"][0]["indication"] == "other"
    assert not TreatmentSession.objects.filter(external=True).exists()
    assert (
        clinic.post(f"/patients/{clinic.patient.id}/external-doses/fhir", bladder).status_code
        == 201
    )
    assert clinic.recheck(plan)["verdict"] == "block"


# -- B.35: inputs that contradict themselves ---------------------------------------------------


def _by_hand(clinic: Clinic, **change: Any) -> Any:
    body = {
        "given_on": six_weeks_ago(),
        "product": "onabotulinumtoxinA",
        "indication": "upper-limb-spasticity",
        "place": "St Elsewhere Rehabilitation Hospital",
        "source_document": "Discharge letter",
        **change,
    }
    return clinic.post(f"/patients/{clinic.patient.id}/external-doses", body)


def _points(*units: int) -> list[dict[str, Any]]:
    return [{"site": "biceps-brachii", "side": "left", "units": u} for u in units]


def test_a_dose_whose_points_add_up_to_more_than_its_total_is_refused_with_the_numbers(clinic):
    response = _by_hand(clinic, units=10, injections=_points(*[50] * 6))
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "units"
    assert error["message"] == (
        "the injections add up to 300 U, more than the stated total of 10 U: correct the total "
        "or the injections"
    )
    assert not TreatmentSession.objects.filter(external=True).exists()


def test_points_adding_up_to_exactly_the_total_are_recorded_as_listed(clinic):
    response = _by_hand(clinic, units=100, injections=_points(50, 50))
    assert response.status_code == 201, response.content
    session = TreatmentSession.objects.get(id=response.json()["id"])
    assert [(i.site, i.units) for i in session.injections.order_by("position")] == [
        ("biceps-brachii", Decimal(50)),
        ("biceps-brachii", Decimal(50)),
    ]


def test_points_adding_up_to_less_are_a_partial_list_and_the_rest_counts_without_a_site(clinic):
    response = _by_hand(clinic, units=300.5, injections=_points(50, 50))
    assert response.status_code == 201, response.content
    assert response.json()["total_units"] == "300.5"
    session = TreatmentSession.objects.get(id=response.json()["id"])
    assert [(i.site, i.units) for i in session.injections.order_by("position")] == [
        ("biceps-brachii", Decimal(50)),
        ("biceps-brachii", Decimal(50)),
        ("", Decimal("200.5")),
    ]


def test_points_exceeding_the_total_by_a_thousandth_of_a_unit_are_refused(clinic):
    extra = {"site": "brachialis", "side": "left", "units": 0.001}
    response = _by_hand(clinic, units=100, injections=[*_points(50, 50), extra])
    assert response.status_code == 400, response.content
    assert "100.001 U, more than the stated total of 100 U" in response.content.decode()


def test_a_dose_dated_tomorrow_at_the_clinic_is_refused_and_today_is_accepted(clinic):
    today = timezone.localdate()
    tomorrow = _by_hand(clinic, given_on=(today + timedelta(days=1)).isoformat(), units=100)
    assert tomorrow.status_code == 400, tomorrow.content
    [error] = tomorrow.json()["errors"]
    assert error["field"] == "given_on"
    assert error["message"].startswith(f"{today + timedelta(days=1)} is in the future")
    assert _by_hand(clinic, given_on=today.isoformat(), units=100).status_code == 201


def test_a_bundle_entry_dated_after_today_is_refused_by_its_path(clinic):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = clinic.post(
        f"/patients/{clinic.patient.id}/external-doses/fhir",
        bundle(administration(0, six_weeks_ago(), 50), administration(1, tomorrow, 50)),
    )
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "entry[1].resource.effectiveDateTime"
    assert error["message"].startswith(f"{tomorrow} is in the future")
    assert not TreatmentSession.objects.filter(external=True).exists()

"""What /fhir emits for a clinic with a PREEMPT history: valid R4 (fhir.resources' R4B models),
and what that library does not check: the code systems (SNOMED CT, ICD-10-CM, LOINC, UCUM), US
Core's required Patient elements, and the dose unit rule."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bontrack.domain.catalog import catalog
from bontrack.interop import fhir
from bontrack.treatments import services as sessions
from bontrack.treatments.records import current_points, total_units
from tests.interop.support import EMITTED, codings, extension, of_type, quantities, validate
from tests.interop.world import World, utc

pytestmark = pytest.mark.django_db


def everything(world: World, who: str = "a-physician") -> dict[str, Any]:
    response = world.get(who, f"/Patient/{world.maria.id}/$everything")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    return response.json()


def test_every_resource_type_emitted_validates_against_r4(world):
    bundle = everything(world)
    validate(bundle)
    emitted = {r["resourceType"] for r in (e["resource"] for e in bundle["entry"])}
    assert emitted == set(EMITTED)
    for entry in bundle["entry"]:
        validate(entry["resource"])
    assert bundle["total"] == len(bundle["entry"])
    # Each type's search answers a valid searchset too (the clinic-wide lists included).
    for resource_type in EMITTED:
        response = world.get("a-physician", f"/{resource_type}")
        assert response.status_code == 200, (resource_type, response.content)
        searchset = response.json()
        validate(searchset)
        assert searchset["type"] == "searchset"
        for entry in searchset.get("entry", []):
            validate(entry["resource"])


def test_the_capability_statement_is_r4_and_lists_what_is_served(world):
    response = world.client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    statement = response.json()
    validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert "application/fhir+json" in statement["format"]
    listed = {r["type"]: r for r in statement["rest"][0]["resource"]}
    # Group: the clinic Group/{id}/$export names; Claim and Coverage: billing records, outside
    # the chart (tests/interop/test_fhir_claims.py).
    assert set(listed) == {*EMITTED, "Group", "Claim", "Coverage"}
    for resource_type, entry in listed.items():
        assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
        # Every parameter it lists is served: a search by it is not refused as unknown.
        for param in entry["searchParam"]:
            value = {
                "reference": f"{world.maria.id}",
                "date": "ge2026-01-01",
                "token": "x",
            }[param["type"]]
            if param["name"] == "medication":
                value = f"Medication/{world.lot.id}"
            if param["name"] == "target":
                value = f"Procedure/{world.cycles[0].id}"
            if param["name"] == "identifier":  # identifying: only in a POST _search body
                got = world.client.post(
                    f"/fhir/{resource_type}/_search",
                    f"identifier={value}",
                    content_type="application/x-www-form-urlencoded",
                    HTTP_AUTHORIZATION=f"Bearer {world.token('a-physician')}",
                )
            else:
                got = world.get("a-physician", f"/{resource_type}", **{param["name"]: value})
            assert got.status_code == 200, (resource_type, param["name"], got.content)
    assert listed["Patient"]["operation"][0]["name"] == "everything"
    assert world.get("a-physician", f"/Patient/{world.maria.id}/$everything").status_code == 200


def test_doses_are_the_products_own_units_in_ucum_arbitrary_units_never_converted(world):
    bundle = everything(world)
    text = json.dumps(bundle)
    assert "[iU]" not in text
    assert "[IU]" not in text
    administrations = of_type(bundle, "MedicationAdministration")
    assert len(administrations) == 3 * 31
    medications = {m["id"]: m for m in of_type(bundle, "Medication")}
    for resource in of_type(bundle, "Medication") + administrations:
        found = [
            q for _, q in quantities(resource) if q.get("unit") == "U" or "U]" in q.get("code", "")
        ]
        assert found, resource["id"]
        for q in found:
            assert q["system"] == "http://unitsofmeasure.org"
            assert q["code"] == "[arb'U]"
            assert q["unit"] == "U"
            assert isinstance(q["value"], int | float)
    # Every dose is bound to the Medication (the lot) of its own product.
    procedures = {p["id"]: p for p in of_type(bundle, "Procedure")}
    for ma in administrations:
        medication = medications[ma["medicationReference"]["reference"].split("/")[1]]
        procedure = procedures[ma["partOf"][0]["reference"].split("/")[1]]
        product = codings(medication["code"], fhir.PRODUCT_SYSTEM)
        assert product == codings(procedure["usedCode"][0], fhir.PRODUCT_SYSTEM)
        assert product == ["onabotulinumtoxinA"]
    # The doses are the amended values: cycle 3's last point was 2.5 U, not 5 U.
    for session in world.cycles:
        doses = [
            Decimal(str(ma["dosage"]["dose"]["value"]))
            for ma in administrations
            if ma["partOf"][0]["reference"] == f"Procedure/{session.id}"
        ]
        assert sum(doses) == total_units(current_points(session))
    amended = [
        ma
        for ma in administrations
        if ma["id"] == fhir.administration_id(current_points(world.cycles[2])[30])
    ]
    assert amended[0]["dosage"]["dose"]["value"] == 2.5


def test_sites_carry_snomed_where_the_catalog_has_it_with_the_mcode_laterality(world):
    bundle = everything(world)
    sites = catalog().sites
    lateralities = {"left": "7771000", "right": "24028007", "midline": "399488007"}
    seen_snomed = set()
    for ma in of_type(bundle, "MedicationAdministration"):
        site = ma["dosage"]["site"]
        code = codings(site, fhir.SITE_SYSTEM)[0]
        snomed = codings(site, fhir.SNOMED)
        if sites[code].snomed:
            assert snomed == [sites[code].snomed]
            seen_snomed.add(code)
        else:
            assert snomed == []
        side = site["text"].rsplit(", ", 1)[1]
        [laterality] = extension(site, fhir.LATERALITY_EXTENSION)
        assert codings(laterality["valueCodeableConcept"], fhir.SNOMED) == [lateralities[side]]
        assert codings(ma["dosage"]["route"], fhir.SNOMED) == ["78421000"]  # intramuscular
    assert seen_snomed == {"temporalis", "trapezius"}
    # The Procedure names every site once: a site injected on both sides is "right and left".
    procedure = next(p for p in of_type(bundle, "Procedure") if p["id"] == str(world.cycles[0].id))
    body_sites = {codings(b, fhir.SITE_SYSTEM)[0]: b for b in procedure["bodySite"]}
    assert set(body_sites) == {
        "corrugator",
        "procerus",
        "frontalis",
        "temporalis",
        "occipitalis",
        "cervical-paraspinal",
        "trapezius",
    }
    both = extension(body_sites["trapezius"], fhir.LATERALITY_EXTENSION)[0]
    assert codings(both["valueCodeableConcept"], fhir.SNOMED) == ["51440002"]
    midline = extension(body_sites["procerus"], fhir.LATERALITY_EXTENSION)[0]
    assert codings(midline["valueCodeableConcept"], fhir.SNOMED) == ["399488007"]
    assert codings(body_sites["trapezius"], fhir.SNOMED) == ["31764008"]


def test_routes_without_a_snomed_code_in_the_facts_keep_the_catalogs_code():
    assert codings(fhir.route_concept("intradermal"), fhir.SNOMED) == ["372464004"]
    subcutaneous = fhir.route_concept("subcutaneous")
    assert codings(subcutaneous, fhir.SNOMED) == []
    assert codings(subcutaneous, fhir.ROUTE_SYSTEM) == ["subcutaneous"]


def test_condition_and_reason_carry_icd10cm_observations_loinc(world):
    bundle = everything(world)
    [condition] = of_type(bundle, "Condition")
    assert codings(condition["code"], "http://hl7.org/fhir/sid/icd-10-cm") == ["G43.709"]
    for procedure in of_type(bundle, "Procedure"):
        assert codings(procedure["reasonCode"][0], fhir.ICD10CM) == ["G43.709"]
        assert codings(procedure["reasonCode"][0], fhir.INDICATION_SYSTEM) == ["chronic-migraine"]
        assert procedure["reasonReference"] == [{"reference": f"Condition/{condition['id']}"}]
    observations = of_type(bundle, "Observation")
    by_scale = {}
    for o in observations:
        by_scale.setdefault((codings(o["code"], fhir.SCALE_SYSTEM) or ["weight"])[0], []).append(o)
    for pain in by_scale["pain-nrs"]:
        assert codings(pain["code"], "http://loinc.org") == ["72514-3"]
    [weight] = by_scale["weight"]
    assert codings(weight["code"], "http://loinc.org") == ["29463-7"]
    assert weight["valueQuantity"] == {
        "value": 64,
        "unit": "kg",
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    }
    # Scales with no LOINC code in the facts carry the catalog's code only.
    for headache in by_scale["headache-days-28d"]:
        assert codings(headache["code"], "http://loinc.org") == []
        assert headache["valueQuantity"]["code"] == "d"
    follow = next(o for o in by_scale["headache-days-28d"] if o["valueQuantity"]["value"] == 12)
    assert follow["effectivePeriod"] == {"start": "2026-06-01", "end": "2026-06-28"}
    assert extension(follow, fhir.FOLLOWS_EXTENSION)[0]["valueReference"] == {
        "reference": f"Procedure/{world.cycles[1].id}"
    }


def test_patient_has_us_core_required_elements(world):
    bundle = everything(world)
    [patient] = of_type(bundle, "Patient")
    [identifier] = patient["identifier"]
    assert identifier["system"] == fhir.record_number_system(world.a.clinic.id)
    assert identifier["system"].startswith(f"{fhir.BONTRACK_URI}/clinic/")
    assert identifier["value"] == "BT-0001"
    assert patient["name"][0]["family"] == "Santos"
    assert patient["name"][0]["given"] == ["Maria"]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1983-06-14"
    # Every administrative sex maps to a FHIR gender.
    for sex in ("female", "male", "other", "unknown"):
        assert fhir.SEXES_TO_GENDER[sex] in ("female", "male", "other", "unknown")
    restricted = world.get("a-physician", f"/Patient/{world.restricted.id}").json()
    assert restricted["gender"] == "other"
    assert restricted["meta"]["security"][0]["code"] == "R"


def test_procedure_status_follows_the_sessions_state(world):
    bundle = everything(world)
    status = {p["id"]: p["status"] for p in of_type(bundle, "Procedure")}
    assert status[str(world.cycles[0].id)] == "completed"
    assert status[str(world.cycles[1].id)] == "completed"  # nurse's, co-signed
    assert status[str(world.cycles[2].id)] == "completed"  # amended
    assert status[str(world.plan.id)] == "preparation"
    # A plan has no administrations and no signature.
    assert not [
        ma
        for ma in of_type(bundle, "MedicationAdministration")
        if ma["partOf"][0]["reference"] == f"Procedure/{world.plan.id}"
    ]
    # Performers: the injector, and the co-signing prescriber once co-signed.
    nurse_cycle = next(
        p for p in of_type(bundle, "Procedure") if p["id"] == str(world.cycles[1].id)
    )
    assert [p["actor"]["reference"] for p in nurse_cycle["performer"]] == [
        f"Practitioner/{world.a.nurse.id}",
        f"Practitioner/{world.a.physician.id}",
    ]
    doctor = world.a.actor("physician")
    sessions.cancel_plan(doctor, world.plan.id, reason="The patient moved the visit.")
    world.clock.at(utc("2026-09-14T12:30:00"))
    sessions.mark_entered_in_error(
        doctor, world.cycles[0].id, reason="Charted on the wrong patient.", toxin_given=True
    )
    cancelled = world.get("a-physician", f"/Procedure/{world.plan.id}").json()
    assert cancelled["status"] == "not-done"
    assert cancelled["statusReason"]["text"] == "The patient moved the visit."
    wrong = world.get("a-physician", f"/Procedure/{world.cycles[0].id}").json()
    assert wrong["status"] == "entered-in-error"
    ma = world.get(
        "a-physician",
        f"/MedicationAdministration/{fhir.administration_id(current_points(world.cycles[0])[0])}",
    ).json()
    assert ma["status"] == "entered-in-error"
    # The nurse's session before its co-signature: completed (given), awaiting co-signature.
    assert fhir.PROCEDURE_STATUS["awaiting-co-signature"] == "completed"


def test_provenance_for_each_signature_with_its_digest(world):
    bundle = everything(world)
    provenances = {p["id"]: p for p in of_type(bundle, "Provenance")}
    for session in world.cycles:
        signature = provenances[str(session.id)]
        assert signature["target"] == [{"reference": f"Procedure/{session.id}"}]
        assert signature["recorded"] == fhir.instant(session.signed_at)
        [sig] = signature["signature"]
        assert extension(sig, fhir.DIGEST_EXTENSION)[0]["valueString"] == session.digest
        assert sig["who"]["reference"] == f"Practitioner/{session.signed_by_id}"
        assert signature["agent"][0]["who"]["reference"] == f"Practitioner/{session.signed_by_id}"
    events = {e.kind: e for s in world.cycles for e in s.events.all()}
    co_signed = provenances[str(events["co-signed"].id)]
    assert co_signed["agent"][0]["type"]["coding"][0]["code"] == "verifier"
    assert co_signed["agent"][0]["who"]["reference"] == f"Practitioner/{world.a.physician.id}"
    [sig] = co_signed["signature"]
    assert sig["type"][0]["code"] == "1.2.840.10065.1.12.1.5"
    assert extension(sig, fhir.DIGEST_EXTENSION)[0]["valueString"] == events["co-signed"].digest
    assert extension(sig, fhir.PRIOR_DIGEST_EXTENSION)[0]["valueString"] == world.cycles[1].digest
    amended = provenances[str(events["amended"].id)]
    assert amended["reason"][0]["text"].startswith("The last right trapezius point")
    [sig] = amended["signature"]
    assert extension(sig, fhir.DIGEST_EXTENSION)[0]["valueString"] == events["amended"].digest
    assert extension(sig, fhir.PRIOR_DIGEST_EXTENSION)[0]["valueString"] == world.cycles[2].digest
    assert len(provenances) == 5  # three signatures, a co-signature, an amendment


def test_adverse_event_suspects_the_administrations_with_causality(world):
    bundle = everything(world)
    [event] = of_type(bundle, "AdverseEvent")
    assert codings(event["event"], fhir.ADVERSE_EVENT_TERM_SYSTEM) == ["injection-site-pain"]
    suspects = [s["instance"]["reference"] for s in event["suspectEntity"]]
    assert suspects == [
        f"MedicationAdministration/{fhir.administration_id(p)}"
        for p in current_points(world.cycles[2])
    ]
    administrations = {
        f"MedicationAdministration/{m['id']}" for m in of_type(bundle, "MedicationAdministration")
    }
    assert set(suspects) <= administrations
    causality = event["suspectEntity"][0]["causality"][0]
    assert causality["assessment"]["coding"][0]["code"] == "Possible"
    assert causality["productRelatedness"] == "possible"
    assert event["outcome"]["coding"][0]["code"] == "resolved"


def test_a_recall_is_a_search_on_the_lot_then_its_administrations(world):
    found = world.get("a-physician", "/Medication", **{"lot-number": "C7421A"}).json()
    # Clinic B's lot of the same number is not clinic A's.
    assert [r["id"] for r in (e["resource"] for e in found["entry"])] == [str(world.lot.id)]
    medication = found["entry"][0]["resource"]
    assert medication["batch"] == {"lotNumber": "C7421A", "expirationDate": "2027-06-30"}
    exposed = world.get(
        "a-physician",
        "/MedicationAdministration",
        medication=f"Medication/{world.lot.id}",
        _count="500",
    ).json()
    assert exposed["total"] == 3 * 31 + 1  # Maria's three cycles and the restricted patient's point
    patients = {e["resource"]["subject"]["reference"] for e in exposed["entry"]}
    assert patients == {f"Patient/{world.maria.id}", f"Patient/{world.restricted.id}"}
    # A recalled lot says so.
    from bontrack.inventory.services import recall_lot

    recall_lot(world.a.actor("physician"), world.lot.id, reason="Manufacturer notice 2026-17")
    recalled = world.get("a-physician", f"/Medication/{world.lot.id}").json()
    assert recalled["status"] == "inactive"
    assert extension(recalled, fhir.RECALL_EXTENSION)


def test_a_dose_whose_lot_is_one_of_several_is_bound_to_its_product_and_found_by_each_lot(world):
    """A session that used vials of two lots, its points naming no vial: each dose names the
    product and both possible lots, and a recall of either lot finds it."""
    from bontrack.inventory.services import receive_lot, reconstitute_vial

    doctor = world.a.actor("physician")
    other = receive_lot(
        doctor,
        product="onabotulinumtoxinA",
        lot_number="C9000Z",
        vial_size_units=Decimal(100),
        expires_on=world.lot.expires_on,
        received_vials=1,
        received_on=world.clock.now.date(),
    )
    when = utc("2026-09-14T11:30:00")
    vials = []
    for lot in (world.lot, other):
        vial = lot.vials.filter(reconstituted_at__isnull=True).first()
        reconstitute_vial(doctor, vial.id, diluent_ml=Decimal(2), reconstituted_at=when)
        vials.append(vial.id)
    world.restricted.refresh_from_db()
    plan = sessions.plan_session(
        doctor,
        world.restricted.id,
        product="onabotulinumtoxinA",
        indication="cervical-dystonia",
        plan_date=when.date(),
        injections=[sessions.PointInput("trapezius", "right", Decimal(20))],
        vial_ids=vials,
    )
    world.clock.at(when)
    for f in sessions.stored_result_at(plan, when)["findings"]:
        sessions.decide(
            doctor,
            plan.id,
            fingerprint_=f["fingerprint"],
            kind="acknowledge" if f["severity"] == "warn" else "override",
            reason="Reviewed with the patient before treatment.",
        )
    sessions.sign_session(doctor, plan.id, administered_at=when)
    ma = world.get(
        "a-physician",
        f"/MedicationAdministration/{fhir.administration_id(current_points(plan)[0])}",
    ).json()
    validate(ma)
    assert "medicationReference" not in ma
    assert codings(ma["medicationCodeableConcept"], fhir.PRODUCT_SYSTEM) == ["onabotulinumtoxinA"]
    possible = {
        e["valueReference"]["reference"] for e in extension(ma, fhir.POSSIBLE_LOT_EXTENSION)
    }
    assert possible == {f"Medication/{world.lot.id}", f"Medication/{other.id}"}
    for lot in (world.lot, other):
        found = world.get(
            "a-physician", "/MedicationAdministration", medication=str(lot.id), _count="500"
        )
        ids = {e["resource"]["id"] for e in found.json().get("entry", [])}
        assert ma["id"] in ids


def test_every_resource_reads_back_by_its_id_as_its_search_shows_it(world):
    for patient in (world.maria, world.restricted):
        bundle = world.get("a-physician", f"/Patient/{patient.id}/$everything").json()
        for entry in bundle["entry"]:
            resource = entry["resource"]
            path = f"/{resource['resourceType']}/{resource['id']}"
            assert entry["fullUrl"] == f"http://testserver/fhir{path}"
            response = world.get("a-physician", path)
            assert response.status_code == 200, (path, response.content)
            assert response.json() == resource, path

"""FHIR R4 Claim and Coverage (docs/fhir.md, docs/billing.md "Reports and FHIR"): Maria's
PREEMPT cycles as professional claims once the clinic bills them (her coverage, the physician's
NPI, the nurse's session confirmed), valid R4 with the codes a claim carries; only what the claims
file exports is a Claim; another clinic sees nothing; every answer is disclosed; the billing
records are exported in bulk only when named; golden files hold both types."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from huey.contrib.djhuey import HUEY

from bontrack.accounts.services import set_npi
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.billing import services as billing
from bontrack.billing.models import ChargeSet, Coverage
from bontrack.interop import fhir
from tests.billing.support import confirm_catalog_items
from tests.interop.bulk_support import (
    download,
    get_token,
    kick_off,
    poll,
    register,
    rsa_key,
    run_queued,
)
from tests.interop.support import codings, of_type, resources, validate
from tests.interop.test_fhir_golden import Normaliser, compare
from tests.interop.world import TODAY, World, utc

pytestmark = pytest.mark.django_db

NPI = "1234567893"  # CMS's example: its Luhn check digit over 80840 and the first nine is 3
MEMBER = "1EG4-TE5-MK72"


def _cover(world: World, **values: Any) -> Coverage:
    fields: dict[str, Any] = {
        "payer_name": "Medicare Part B",
        "payer_id": "MCR-JE",
        "member_id": MEMBER,
        "relationship": "self",
        "valid_from": date(2026, 1, 1),
    }
    fields.update(values)
    return billing.record_coverage(world.a.actor("front_desk"), world.maria.id, **fields)


def _billable(world: World) -> Coverage:
    """What a clinic does to bill Maria's cycles: her insurance, the physician's NPI, the
    nurse's session confirmed as rendered by the co-signing physician (billing.md 7.9), and
    the catalog items confirmed once for the clinic (7.8)."""
    world.clock.at(utc(TODAY))
    coverage = _cover(world)
    set_npi(world.a.actor("admin"), world.a.physician.id, NPI)
    billing.confirm_claim_item(
        world.a.actor("front_desk"), world.cycles[1].id, item_code="rendering-provider"
    )
    confirm_catalog_items(world.a)
    return coverage


def _search(world: World, who: str, resource_type: str, **query: Any) -> dict[str, Any]:
    response = world.get(who, f"/{resource_type}", **query)
    assert response.status_code == 200, response.content
    return response.json()


def _claims(world: World, who: str = "a-physician") -> list[dict[str, Any]]:
    return of_type(_search(world, who, "Claim", patient=str(world.maria.id)), "Claim")


def _current(session_id: Any) -> ChargeSet:
    return ChargeSet.objects.filter(session_id=session_id, replaced_by__isnull=True).get()


def test_claims_and_coverage_are_valid_r4_with_the_codes_a_claim_carries(world):
    coverage = _billable(world)
    bundle = _search(world, "a-physician", "Claim", patient=str(world.maria.id))
    validate(bundle)
    claims = of_type(bundle, "Claim")
    assert [c["id"] for c in claims] == [str(_current(s.id).id) for s in world.cycles]
    for claim in claims:
        validate(claim)
        assert (claim["status"], claim["use"]) == ("active", "claim")
        assert codings(claim["type"], fhir.CLAIM_TYPE) == ["professional"]
        assert codings(claim["priority"], fhir.PROCESS_PRIORITY) == ["normal"]
        assert claim["patient"] == {"reference": f"Patient/{world.maria.id}"}
        assert claim["insurance"] == [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage.id}"}}
        ]
        assert codings(claim["diagnosis"][0]["diagnosisCodeableConcept"], fhir.ICD10CM) == [
            "G43.709"
        ]
        assert claim["provider"]["identifier"] == {"system": fhir.NPI, "value": NPI}
        assert claim["provider"]["reference"] == f"Practitioner/{world.a.physician.id}"
        assert claim["insurer"] == {"identifier": {"value": "MCR-JE"}, "display": "Medicare Part B"}
    # Cycle 1: PREEMPT 155 U from a 200 U vial (billing.md 2): 64615 × 1, J0585 × 155, JW × 45.
    first = claims[0]
    lines = [
        (
            codings(i["productOrService"], fhir.CPT) or codings(i["productOrService"], fhir.HCPCS),
            [c["code"] for m in i.get("modifier", []) for c in m["coding"]],
            i["quantity"]["value"],
        )
        for i in first["item"]
    ]
    assert lines == [(["64615"], [], 1), (["J0585"], [], 155), (["J0585"], ["JW"], 45)]
    jw = first["item"][2]["modifier"][0]["coding"][0]
    assert jw["system"] == fhir.HCPCS
    for item in first["item"]:
        assert item["servicedDate"] == "2026-01-12"
        assert item["diagnosisSequence"] == [1]
        assert codings(item["locationCodeableConcept"], fhir.PLACE_OF_SERVICE) == ["11"]
    # The lot's NDC (the catalog's 200 U BOTOX package), 11 digits, on the drug lines only.
    assert [
        [codings(d["productOrService"], fhir.NDC) for d in i.get("detail", [])]
        for i in first["item"]
    ] == [[], [["00023392102"]], [["00023392102"]]]
    # Cycle 3 was amended to 152.5 U: 153 billing units given, 47 discarded.
    assert [i["quantity"]["value"] for i in claims[2]["item"]] == [1, 153, 47]
    # The nurse's cycle renders under the co-signing physician.
    assert claims[1]["provider"]["reference"] == f"Practitioner/{world.a.physician.id}"

    [found] = of_type(
        _search(world, "a-physician", "Coverage", patient=str(world.maria.id)), "Coverage"
    )
    validate(found)
    assert found["id"] == str(coverage.id)
    assert found["status"] == "active"
    assert found["subscriberId"] == MEMBER
    assert found["beneficiary"] == found["subscriber"] == {"reference": f"Patient/{world.maria.id}"}
    assert codings(found["relationship"], fhir.SUBSCRIBER_RELATIONSHIP) == ["self"]
    assert found["period"] == {"start": "2026-01-01"}
    assert found["payor"] == [{"identifier": {"value": "MCR-JE"}, "display": "Medicare Part B"}]

    # The physician's Practitioner carries the NPI too.
    practitioner = world.get("a-physician", f"/Practitioner/{world.a.physician.id}").json()
    assert practitioner["identifier"] == [{"system": fhir.NPI, "value": NPI}]
    validate(practitioner)


def test_each_reads_back_by_its_id_with_its_version_and_beneficiary_finds_it(world):
    coverage = _billable(world)
    claim = _claims(world)[0]
    read = world.get("a-frontdesk", f"/Claim/{claim['id']}")
    assert read.status_code == 200, read.content
    assert read.json() == claim
    assert read["ETag"] == f'W/"{claim["meta"]["versionId"]}"'
    by_beneficiary = _search(
        world, "a-frontdesk", "Coverage", beneficiary=f"Patient/{world.maria.id}"
    )
    assert [r["id"] for r in resources(by_beneficiary)] == [str(coverage.id)]
    assert (
        world.get("a-frontdesk", f"/Coverage/{coverage.id}").json() == resources(by_beneficiary)[0]
    )


def test_only_a_claim_the_claims_file_exports_is_a_claim(world):
    world.clock.at(utc(TODAY))
    assert _claims(world) == []  # no coverage: "record the patient's insurance"
    _cover(world)
    assert _claims(world) == []  # no NPI for the rendering provider
    set_npi(world.a.actor("admin"), world.a.physician.id, NPI)
    assert _claims(world) == []  # the catalog items are not confirmed for the clinic yet
    confirm_catalog_items(world.a)
    # The nurse's cycle waits for its rendering provider to be confirmed (billing.md 7.9).
    assert [c["id"] for c in _claims(world)] == [
        str(_current(world.cycles[0].id).id),
        str(_current(world.cycles[2].id).id),
    ]
    billing.confirm_claim_item(
        world.a.actor("front_desk"), world.cycles[1].id, item_code="rendering-provider"
    )
    assert len(_claims(world)) == 3
    # A replaced charge set is no longer a Claim: its id reads 404 (this clinic: not logged).
    replaced = ChargeSet.objects.filter(session=world.cycles[2], replaced_by__isnull=False).first()
    assert replaced is not None
    seq = SecurityEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    assert world.get("a-physician", f"/Claim/{replaced.id}").status_code == 404
    assert not SecurityEvent.objects.filter(seq__gt=seq, kind="refused-access").exists()


def test_only_the_standing_coverage_is_served_and_an_ended_one_is_cancelled(world):
    world.clock.at(utc(TODAY))
    first = _cover(world)
    corrected = billing.record_coverage(
        world.a.actor("front_desk"),
        world.maria.id,
        payer_name="Medicare Part B",
        payer_id="MCR-JE",
        member_id=MEMBER,
        relationship="self",
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 6, 30),
        replaces=first.id,
    )
    [found] = resources(_search(world, "a-physician", "Coverage", patient=str(world.maria.id)))
    assert found["id"] == str(corrected.id)
    assert found["status"] == "cancelled"  # its validity ended before today (2026-09-14)
    assert found["period"] == {"start": "2026-01-01", "end": "2026-06-30"}
    assert world.get("a-physician", f"/Coverage/{first.id}").status_code == 404


def test_another_clinics_token_gets_404_for_each_id_and_sees_nothing(world):
    coverage = _billable(world)
    claim = _claims(world)[0]
    seq = SecurityEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    for path in (f"/Claim/{claim['id']}", f"/Coverage/{coverage.id}"):
        refused = world.get("b-physician", path)
        assert refused.status_code == 404, path
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert str(world.maria.id) not in refused.content.decode()
    assert SecurityEvent.objects.filter(seq__gt=seq, kind="refused-access").count() == 2
    for resource_type in ("Claim", "Coverage"):
        assert _search(world, "b-physician", resource_type)["total"] == 0
        named = world.get("b-physician", f"/{resource_type}", patient=str(world.maria.id))
        assert named.status_code == 404


def test_billing_readers_read_them_and_each_answer_is_disclosed_per_patient(world):
    _billable(world)
    last = AuditEntry.objects.filter(clinic=world.a.clinic).order_by("-seq").first()
    # The front desk reads claims (billing.read), never the chart (chart.read).
    assert len(of_type(_search(world, "a-frontdesk", "Claim"), "Claim")) == 3
    assert world.get("a-frontdesk", "/Procedure").status_code == 403
    disclosed = AuditEntry.objects.filter(
        clinic=world.a.clinic, seq__gt=last.seq, action="disclose", object_type="fhir"
    ).order_by("seq")
    assert [(e.patient_id, e.detail["resource_type"], e.detail["count"]) for e in disclosed] == [
        (world.maria.id, "Claim", 3)
    ]


def test_the_billing_records_are_exported_only_when_named_and_to_whom_reads_them(
    world, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    HUEY.flush()
    _billable(world)
    token = world.token("a-physician")

    def export(**query: Any) -> dict[str, list[dict[str, Any]]]:
        started = kick_off(world.client, token, "/fhir/Patient/$export", **query)
        assert started.status_code == 202, started.content
        assert run_queued() == 1
        done = poll(world.client, token, started["Content-Location"])
        assert done.status_code == 200, done.content
        return {o["type"]: download(world.client, token, o["url"]) for o in done.json()["output"]}

    assert not {"Claim", "Coverage"} & set(export())
    named = export(_type="Claim,Coverage")
    assert sorted(named) == ["Claim", "Coverage"]
    assert len(named["Claim"]) == 3
    assert len(named["Coverage"]) == 1
    for resource in named["Claim"] + named["Coverage"]:
        validate(resource)
    # A system client reads charts, never billing records: naming them is refused.
    key = rsa_key()
    client = register(world.a.actor("admin"), key)
    system = get_token(world.client, str(client.id), key)
    refused = kick_off(world.client, system, "/fhir/$export", _type="Claim")
    assert refused.status_code == 403, refused.content
    assert world.get(None, "/Claim").status_code == 401
    HUEY.flush()


def test_the_capability_statement_lists_claim_and_coverage(world):
    statement = world.client.get("/fhir/metadata").json()
    listed = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert [p["name"] for p in listed["Claim"]["searchParam"]] == ["_id", "_lastUpdated", "patient"]
    assert [p["definition"] for p in listed["Coverage"]["searchParam"]][2:] == [
        "http://hl7.org/fhir/SearchParameter/Coverage-patient",
        "http://hl7.org/fhir/SearchParameter/Coverage-beneficiary",
    ]


@pytest.mark.postgres(sqlite=True)
def test_claim_and_coverage_match_their_golden_files(world):
    _billable(world)
    normalise = Normaliser()
    for resource_type in ("Coverage", "Claim"):
        bundle = normalise(
            _search(world, "a-physician", resource_type, patient=str(world.maria.id))
        )
        compare(resource_type, [e["resource"] for e in bundle["entry"]])

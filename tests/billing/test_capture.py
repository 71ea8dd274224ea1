"""Charge capture (billing.md 7.1, 7.2, 7.9): derived from the signed record inside the signing
transaction, appended again after every correction, never blocking the signature.

Each expected figure is worked here from billing.md's rules, not read back from the code:
BOTOX is J0585 at 1 U per billing unit (section 1); the administered line is
ceil(dose ÷ 1); the JW line is the vial's billing units less those (section 2.4, 7.4).
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.billing import capture
from bontrack.billing.models import ChargeReason, ChargeSet, ChargeStatus
from bontrack.treatments import services as sessions
from tests import builders
from tests.billing.support import (
    PHYSICIAN_NPI,
    amend_units,
    billing_clinic,
    charge_sets,
    lines_of,
)

pytestmark = pytest.mark.django_db

BOTOX_UNITS_PER_BILLING_UNIT = 1  # billing.md 1: J0585, 1 U per billing unit
PREEMPT_DOSE = 155  # the protocol's 31 sites of 5 U
VIAL = 200


@pytest.mark.postgres(sqlite=True)
def test_signing_a_preempt_session_captures_j0585_with_jw_and_the_api_shows_the_superbill():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt()

    [captured] = charge_sets(session)
    given = math.ceil(PREEMPT_DOSE / BOTOX_UNITS_PER_BILLING_UNIT)
    discarded = VIAL // BOTOX_UNITS_PER_BILLING_UNIT - given
    assert (given, discarded) == (155, 45)
    assert (captured.sequence, captured.reason, captured.status) == (1, "signed", "complete")
    assert captured.replaces is None
    assert lines_of(captured) == [
        ("64615", (), 1),
        ("J0585", (), given),
        ("J0585", ("JW",), discarded),
    ]
    assert captured.charges["claimable"] is True
    assert captured.diagnosis == "G43.709"
    assert captured.rendering_provider_id == clinic.staff.physician.id
    assert captured.rendering_to_confirm is False

    response = clinic.client("front_desk").get(f"/api/v1/sessions/{session.id}/superbill")
    assert response.status_code == 200, response.content
    bill = response.json()
    assert [(line["code"], line["modifiers"], line["billing_units"]) for line in bill["lines"]] == [
        ("64615", [], 1),
        ("J0585", [], given),
        ("J0585", ["JW"], discarded),
    ]
    # The lot was received with the catalog's NDC for a 200 U BOTOX vial (billing.md 1).
    drug = bill["lines"][1]
    assert drug["ndc"] == "00023-3921-02"
    assert bill["totals"] == [
        {
            "hcpcs": "J0585",
            "product": "onabotulinumtoxinA",
            "administered": given,
            "discarded": discarded,
            "billed": given + discarded,
        }
    ]
    assert bill["place_of_service"] == "11"
    assert bill["diagnosis"] == "G43.709"
    assert bill["rendering_provider"]["npi"] == PHYSICIAN_NPI
    assert bill["coverage"]["payer_name"] == "Medicare Part B"
    assert bill["patient"]["record_number"] == "P-1"
    assert bill["refusals"] == []
    assert [i for i in bill["claim_items"] if not i["confirmed"]] == []
    assert bill["exportable"] is True, bill["left_out_because"]
    # The history lists the one set, current.
    history = clinic.client("auditor").get(f"/api/v1/sessions/{session.id}/charges").json()
    assert [(h["sequence"], h["reason"], h["current"]) for h in history] == [(1, "signed", True)]


def test_an_amendment_appends_a_revised_set_that_names_the_one_it_replaces():
    clinic = billing_clinic()
    clinic.diagnose()
    session = clinic.sign_preempt()
    amend_units(clinic, session, Decimal(100))

    first, revised = charge_sets(session)
    assert (revised.sequence, revised.reason, revised.replaces_id) == (2, "amended", first.id)
    # The signed set stays as it was: 155 given, 45 discarded; the revision reads the amended
    # dose from the same 200 U vial: 100 given, 200 - 100 discarded.
    assert lines_of(first)[1:] == [("J0585", (), 155), ("J0585", ("JW",), 45)]
    assert lines_of(revised)[1:] == [("J0585", (), 100), ("J0585", ("JW",), 100)]


def test_entered_in_error_appends_a_voiding_set_with_no_lines():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt()
    sessions.mark_entered_in_error(
        clinic.staff.actor("physician"),
        session.id,
        reason="Charted on the wrong patient",
        toxin_given=False,
    )

    first, void = charge_sets(session)
    assert (void.reason, void.status, void.replaces_id) == (
        "entered-in-error",
        "complete",
        first.id,
    )
    assert void.charges == {}
    bill = clinic.client().get(f"/api/v1/sessions/{session.id}/superbill").json()
    assert (bill["voided"], bill["lines"], bill["exportable"]) == (True, [], False)
    assert bill["left_out_because"] == ["entered in error: the claim is withdrawn"]


def test_a_nurse_session_renders_under_her_co_signer_to_confirm():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    s = clinic.staff
    nurse = s.actor("nurse")
    at = timezone.now() - timedelta(hours=1)
    vial = builders.open_vial(s, clinic.lot, at=at - timedelta(minutes=30))
    plan = sessions.plan_session(
        nurse,
        clinic.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=at.date(),
        protocol="preempt-155",
        vial_ids=[vial.id],
    )
    for f in sessions.stored_result_at(plan, at)["findings"]:
        sessions.decide(
            s.actor("physician"),
            plan.id,
            fingerprint_=f["fingerprint"],
            kind="acknowledge" if f["severity"] == "warn" else "override",
            reason="Reviewed with the patient before treatment.",
        )
    session = sessions.sign_session(nurse, plan.id, administered_at=at)

    [captured] = charge_sets(session)
    # Before the co-signature: her supervising prescriber, to confirm; not exported.
    assert captured.rendering_provider_id == s.physician.id
    assert captured.rendering_to_confirm is True
    client = clinic.client()
    bill = client.get(f"/api/v1/sessions/{session.id}/superbill").json()
    assert bill["rendering_provider"]["to_confirm"] is True
    assert "awaiting the co-signature of a supervising prescriber" in bill["left_out_because"]
    early = client.post(
        f"/api/v1/sessions/{session.id}/charges/confirmations",
        {"item_code": "rendering-provider"},
        content_type="application/json",
    )
    assert early.status_code == 409, early.content

    sessions.co_sign(s.actor("physician"), session.id)
    bill = client.get(f"/api/v1/sessions/{session.id}/superbill").json()
    assert bill["rendering_provider"]["id"] == str(s.physician.id)
    assert bill["rendering_provider"]["to_confirm"] is True
    item = next(i for i in bill["claim_items"] if i["code"] == "rendering-provider")
    assert item["confirmed"] is False
    assert bill["exportable"] is False
    confirmed = client.post(
        f"/api/v1/sessions/{session.id}/charges/confirmations",
        {"item_code": "rendering-provider", "charge_set_id": str(captured.id)},
        content_type="application/json",
    )
    assert confirmed.status_code == 201, confirmed.content
    bill = client.get(f"/api/v1/sessions/{session.id}/superbill").json()
    assert bill["exportable"] is True, bill["left_out_because"]
    again = client.post(
        f"/api/v1/sessions/{session.id}/charges/confirmations",
        {"item_code": "rendering-provider"},
        content_type="application/json",
    )
    assert again.status_code == 409


def test_a_cosmetic_session_is_invoice_only():
    clinic = billing_clinic()
    session = clinic.sign_preempt(indication="glabellar-lines", protocol="glabellar-20")
    [captured] = charge_sets(session)
    assert captured.charges["invoice_only"] is True
    assert captured.charges["lines"] == []
    bill = clinic.client().get(f"/api/v1/sessions/{session.id}/superbill").json()
    assert (bill["invoice_only"], bill["exportable"], bill["left_out_because"]) == (True, False, [])


def test_a_failing_derivation_is_an_incomplete_set_and_the_signature_stands(monkeypatch):
    clinic = billing_clinic()

    def broken(*_: object) -> None:
        raise RuntimeError("the billing catalog is unreadable")

    monkeypatch.setattr(capture, "derive_charges", broken)
    session = clinic.sign_preempt()
    assert session.is_signed
    [captured] = charge_sets(session)
    assert captured.status == ChargeStatus.INCOMPLETE
    assert captured.why == "the charges could not be derived: the billing catalog is unreadable"
    bill = clinic.client().get(f"/api/v1/sessions/{session.id}/superbill").json()
    assert bill["left_out_because"] == [captured.why]


def test_a_vial_drawn_by_two_sessions_reports_its_discard_on_the_later_one_only():
    """B.30, billing.md 7.2: 200 U vial, 50 U in the morning, 100 U in the afternoon of the same
    day: the morning claims 50 with no waste, the afternoon 100 and the 50 left (200 - 150)."""
    clinic = billing_clinic()
    clinic.diagnose()
    s = clinic.staff
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    vial = builders.open_vial(s, clinic.lot, at=day + timedelta(hours=8))
    morning = builders.signed_session(
        s,
        clinic.patient,
        day + timedelta(hours=9),
        vial,
        injections=[sessions.PointInput("frontalis", "left", Decimal(50))],
    )
    [alone] = charge_sets(morning)
    assert lines_of(alone)[1:] == [("J0585", (), 50), ("J0585", ("JW",), 150)]
    afternoon = builders.signed_session(
        s,
        clinic.patient,
        day + timedelta(hours=15),
        vial,
        injections=[sessions.PointInput("frontalis", "right", Decimal(100))],
    )

    [later] = charge_sets(afternoon)
    assert lines_of(later)[1:] == [("J0585", (), 100), ("J0585", ("JW",), 200 - 150)]
    assert "vial-shared" in [i["code"] for i in later.claim_items]
    _, revised = charge_sets(morning)
    assert (revised.reason, revised.replaces_id) == (ChargeReason.VIAL_SHARED, alone.id)
    assert lines_of(revised)[1:] == [("J0585", ("JZ",), 50)]
    assert "vial-shared" in [i["code"] for i in revised.claim_items]


def test_choosing_a_diagnosis_derives_the_refused_claim_again():
    clinic = billing_clinic()
    session = clinic.sign_preempt()
    [refused] = charge_sets(session)
    assert [r["code"] for r in refused.charges["refusals"]] == ["no-diagnosis"]

    clinic.diagnose(icd10="G43.719")
    _, derived = charge_sets(session)
    assert (derived.reason, derived.diagnosis) == ("diagnosis-chosen", "G43.719")
    assert derived.charges["refusals"] == []
    assert {line["diagnosis_pointer"] for line in derived.charges["lines"]} == {"A"}
    # A second choice leaves a claim that has its diagnosis as it stands.
    clinic.diagnose(icd10="G43.709")
    assert ChargeSet.objects.filter(session=session).count() == 2


def test_a_dose_given_elsewhere_is_never_captured():
    from bontrack.treatments.external import ExternalDose, record_external_dose

    clinic = billing_clinic()
    session, _ = record_external_dose(
        clinic.staff.actor("physician"),
        clinic.patient.id,
        ExternalDose(
            given_on=timezone.localdate() - timedelta(days=30),
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            units=Decimal(155),
            place="St Elsewhere Hospital",
            source_document="Discharge letter",
        ),
    )
    assert charge_sets(session) == []
    response = clinic.client().get(f"/api/v1/sessions/{session.id}/superbill")
    assert response.status_code == 409

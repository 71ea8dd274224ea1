"""The claims file (billing.md 7.8), coverage versions (7.7), a member's NPI (7.9) and a lot's
NDC (7.5), through the API as the clinic's billing desk uses them."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.accounts.services import set_npi
from bontrack.audit.models import AuditEntry
from bontrack.billing.coverage import coverage_on
from bontrack.billing.identifiers import luhn_valid, normal_ndc, npi_problem
from bontrack.billing.reads import CLAIM_COLUMNS, LEFT_OUT_COLUMNS
from bontrack.core.errors import ServiceError
from bontrack.treatments import services as sessions
from tests.billing.support import PHYSICIAN_NPI, billing_clinic

pytestmark = pytest.mark.django_db


def _claims(client, start: date, end: date) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The file's claim rows and its left-out rows, each as dicts of their header."""
    response = client.get(f"/api/v1/billing/claims.csv?start={start}&end={end}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    blank = rows.index([])
    claims, left_out = rows[:blank], rows[blank + 1 :]
    assert tuple(claims[0]) == CLAIM_COLUMNS
    assert tuple(left_out[0]) == LEFT_OUT_COLUMNS
    return (
        [dict(zip(claims[0], r, strict=True)) for r in claims[1:]],
        [dict(zip(left_out[0], r, strict=True)) for r in left_out[1:]],
    )


def test_a_claim_without_coverage_is_left_out_asking_for_the_patients_insurance():
    clinic = billing_clinic()
    clinic.diagnose()
    session = clinic.sign_preempt()
    today = timezone.localdate()
    client = clinic.client("front_desk")

    claims, left_out = _claims(client, today - timedelta(days=7), today)
    assert claims == []
    assert [(r["left_out_session_id"], r["why"]) for r in left_out] == [
        (str(session.id), "record the patient's insurance")
    ]

    clinic.cover()
    claims, left_out = _claims(client, today - timedelta(days=7), today)
    assert left_out == []
    assert [(r["code"], r["modifiers"], r["billing_units"]) for r in claims] == [
        ("64615", "", "1"),
        ("J0585", "", "155"),
        ("J0585", "JW", "45"),
    ]
    drug = claims[1]
    # billing.md 5.1: the claim form of the NDC is N4 then its 11 digits without hyphens.
    assert drug["ndc"] == "N400023392102"
    assert (drug["rendering_npi"], drug["diagnosis_a"], drug["diagnosis_pointer"]) == (
        PHYSICIAN_NPI,
        "G43.709",
        "A",
    )
    assert (drug["payer_name"], drug["member_id"], drug["relationship"]) == (
        "Medicare Part B",
        "1EG4-TE5-MK72",
        "self",
    )
    exported = AuditEntry.objects.filter(action="export", object_type="claims-csv")
    assert {e.patient_id for e in exported} == {clinic.patient.id}


def test_cosmetic_sessions_are_never_in_the_claims_file():
    clinic = billing_clinic()
    clinic.cover()
    cosmetic = clinic.sign_preempt(indication="glabellar-lines", protocol="glabellar-20")
    today = timezone.localdate()
    claims, left_out = _claims(clinic.client(), today - timedelta(days=7), today)
    assert claims == []
    assert str(cosmetic.id) not in {r["left_out_session_id"] for r in left_out}


def test_a_claim_is_left_out_until_its_provider_has_an_npi_and_its_items_are_confirmed():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    set_npi(clinic.staff.actor("admin"), clinic.staff.physician.id, "")
    # 100 U from a 200 U vial when a 100 U vial exists: the smallest-vial item (billing.md 7.6).
    session = clinic.sign_preempt(
        injections=[
            sessions.PointInput("frontalis", "left", Decimal(50)),
            sessions.PointInput("frontalis", "right", Decimal(50)),
        ],
    )
    today = timezone.localdate()
    client = clinic.client()
    _, [left_out] = _claims(client, today - timedelta(days=1), today)
    why = left_out["why"].split("; ")
    assert "record Pat Physician's NPI (the rendering provider)" in why
    assert any(w.startswith("confirm: the vials opened hold 200 U") for w in why), why

    put = clinic.client("admin").put(
        f"/api/v1/members/{clinic.staff.physician.id}/npi",
        {"npi": PHYSICIAN_NPI},
        content_type="application/json",
    )
    assert put.status_code == 200, put.content
    confirmed = client.post(
        f"/api/v1/sessions/{session.id}/charges/confirmations",
        {"item_code": "smallest-vial", "note": "Only 200 U vials were in stock."},
        content_type="application/json",
    )
    assert confirmed.status_code == 201, confirmed.content
    claims, left_out_now = _claims(client, today - timedelta(days=1), today)
    assert left_out_now == []
    assert [r["code"] for r in claims] == ["64615", "J0585", "J0585"]


def test_coverage_versions_replace_and_hold_by_date():
    clinic = billing_clinic()
    first = clinic.cover(valid_from=date(2024, 1, 1), valid_to=date(2025, 12, 31))
    later = clinic.cover(payer_name="Aetna", payer_id="60054", valid_from=date(2026, 1, 1))
    client = clinic.client()
    corrected = client.post(
        f"/api/v1/patients/{clinic.patient.id}/coverage",
        {
            "payer_name": "Aetna",
            "payer_id": "60054",
            "member_id": "W123456789",
            "relationship": "spouse",
            "valid_from": "2026-01-01",
            "replaces": str(later.id),
        },
        content_type="application/json",
    )
    assert corrected.status_code == 201, corrected.content
    versions = client.get(f"/api/v1/patients/{clinic.patient.id}/coverage").json()
    assert [(v["member_id"], v["standing"]) for v in versions] == [
        ("W123456789", True),
        ("1EG4-TE5-MK72", False),
        ("1EG4-TE5-MK72", True),
    ]
    clinic_id, patient_id = clinic.staff.clinic.id, clinic.patient.id
    assert coverage_on(clinic_id, patient_id, date(2025, 6, 1)) == first
    assert coverage_on(clinic_id, patient_id, date(2026, 6, 1)).member_id == "W123456789"
    assert coverage_on(clinic_id, patient_id, date(2023, 6, 1)) is None
    twice = client.post(
        f"/api/v1/patients/{clinic.patient.id}/coverage",
        {
            "payer_name": "Aetna",
            "payer_id": "60054",
            "member_id": "W1",
            "relationship": "self",
            "valid_from": "2026-01-01",
            "replaces": str(later.id),
        },
        content_type="application/json",
    )
    assert twice.status_code == 409
    backwards = client.post(
        f"/api/v1/patients/{clinic.patient.id}/coverage",
        {
            "payer_name": "Aetna",
            "payer_id": "60054",
            "member_id": "W1",
            "relationship": "self",
            "valid_from": "2026-01-01",
            "valid_to": "2025-01-01",
        },
        content_type="application/json",
    )
    assert backwards.status_code == 400
    assert backwards.json() == {
        "errors": [{"field": "valid_to", "message": "is before valid_from"}]
    }


def test_npi_check_digit():
    assert luhn_valid("80840" + PHYSICIAN_NPI)
    assert npi_problem(PHYSICIAN_NPI) == ""
    assert npi_problem("") == ""
    assert npi_problem("1234567890") != ""
    assert npi_problem("12345") == "an NPI is 10 digits"
    clinic = billing_clinic()
    with pytest.raises(ServiceError) as refused:
        set_npi(clinic.staff.actor("admin"), clinic.staff.nurse.id, "1234567890")
    assert refused.value.field == "npi"
    with pytest.raises(ServiceError):
        set_npi(clinic.staff.actor("physician"), clinic.staff.nurse.id, PHYSICIAN_NPI)


def test_a_lot_records_its_ndc_chosen_from_the_catalog_or_typed_to_confirm():
    assert normal_ndc("00023392102") == "00023-3921-02"
    with pytest.raises(ValueError, match="pad the short segment"):
        normal_ndc("10454-710-10")
    clinic = billing_clinic()
    client = clinic.client("physician")
    body = {
        "product": "onabotulinumtoxinA",
        "vial_size_units": 100,
        "expires_on": (timezone.localdate() + timedelta(days=200)).isoformat(),
        "received_vials": 2,
        "received_on": timezone.localdate().isoformat(),
    }
    default = client.post(
        "/api/v1/lots", {**body, "lot_number": "C1"}, content_type="application/json"
    ).json()
    assert (default["ndc"], default["ndc_to_confirm"]) == ("00023-1145-01", False)
    typed = client.post(
        "/api/v1/lots",
        {**body, "lot_number": "C2", "ndc": "12345678901"},
        content_type="application/json",
    ).json()
    assert (typed["ndc"], typed["ndc_to_confirm"]) == ("12345-6789-01", True)
    wrong = client.post(
        "/api/v1/lots",
        {**body, "lot_number": "C3", "ndc": "1234-5678-90"},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["field"] == "ndc"


def test_the_claims_file_refuses_a_period_ending_before_it_starts():
    clinic = billing_clinic()
    response = clinic.client().get("/api/v1/billing/claims.csv?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 400
    assert response.json() == {"errors": [{"field": "end", "message": "is before start"}]}


def test_the_lot_form_records_a_typed_ndc_to_confirm():
    from django.test import Client

    from bontrack.inventory.models import Lot

    clinic = billing_clinic()
    page = Client()
    page.force_login(clinic.staff.physician.user)
    answer = page.post(
        "/inventory/lots",
        {
            "product": "onabotulinumtoxinA",
            "lot_number": "WEB-1",
            "vial_size_units": "100",
            "expires_on": (timezone.localdate() + timedelta(days=200)).isoformat(),
            "received_vials": "3",
            "ndc": "00023-1145-02",
        },
    )
    assert answer.status_code == 302, answer.content
    lot = Lot.objects.get(lot_number="WEB-1")
    assert (lot.ndc, lot.ndc_to_confirm) == ("00023-1145-02", True)
    shown = page.get(f"/inventory/lots/{lot.id}/").content.decode()
    assert "NDC 00023-1145-02 (typed: to confirm)" in shown

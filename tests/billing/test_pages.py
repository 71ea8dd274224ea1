"""The claim pages (issue 19's "done when": sign a PREEMPT session and print a correct superbill
with JW in one click): the superbill and its PDF, claim items confirmed from it, a patient's
Billing page (coverage, claim diagnosis), and the claims file of a period.

Each expected figure is worked from billing.md's rules, as in tests/billing/test_capture.py:
BOTOX is J0585 at 1 U per billing unit, PREEMPT gives 155 U, the vial holds 200 U, so the
drug line is 155 billing units and the JW line 200 - 155 = 45; the lot's NDC 00023-3921-02 goes on
a claim as N4 followed by its 11 digits (billing.md 5.1).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.billing.models import ClaimConfirmation, Coverage
from bontrack.patients.models import Diagnosis
from bontrack.treatments import services as sessions
from tests.billing.support import PHYSICIAN_NPI, Clinic, billing_clinic

pytestmark = pytest.mark.django_db

BOTOX_UNITS_PER_BILLING_UNIT = 1
PREEMPT_DOSE = 155
VIAL = 200
GIVEN = PREEMPT_DOSE // BOTOX_UNITS_PER_BILLING_UNIT
DISCARDED = VIAL // BOTOX_UNITS_PER_BILLING_UNIT - GIVEN
NDC = "00023-3921-02"
NOTE = "Patient describes photophobia on waking; reviewed the headache diary together."


class _Lines(HTMLParser):
    """The superbill's claim lines as its table marks them (data-line-* attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, list[str], int, str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and "data-line-code" in found:
            modifiers = found.get("data-modifiers") or ""
            self.lines.append(
                (
                    found["data-line-code"] or "",
                    modifiers.split() if modifiers else [],
                    int(found.get("data-billing-units") or 0),
                    found.get("data-ndc") or None,
                    found.get("data-pointer") or None,
                )
            )


def page_lines(html: str) -> list[tuple[str, list[str], int, str | None, str | None]]:
    parser = _Lines()
    parser.feed(html)
    return parser.lines


def signed_in(clinic: Clinic, role: str) -> Client:
    client = Client()
    client.force_login(getattr(clinic.staff, role).user)
    return client


def test_a_signed_preempt_session_prints_its_superbill_with_jw_in_one_click():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt(notes=NOTE)
    physician = signed_in(clinic, "physician")

    # One click from the signed session.
    record = physician.get(f"/sessions/{session.id}/")
    assert record.status_code == 200
    assert f'href="/sessions/{session.id}/superbill/"' in record.content.decode()

    page = physician.get(f"/sessions/{session.id}/superbill/")
    assert page.status_code == 200
    html = page.content.decode()
    # The procedure, the drug given and the drug discarded (JW), each pointing at diagnosis A.
    assert page_lines(html) == [
        ("64615", [], 1, None, "A"),
        ("J0585", [], GIVEN, NDC, "A"),
        ("J0585", ["JW"], DISCARDED, NDC, "A"),
    ]
    assert "N4" + NDC.replace("-", "") in html
    assert "G43.709" in html
    for shown in (PHYSICIAN_NPI, "Pat Physician", "Medicare Part B", "1EG4-TE5-MK72"):
        assert shown in html
    for shown in ("Clinic A", "Alex Doe", "Record P-1", "Born 1 May 1980", "place of service 11"):
        assert shown in html
    assert 'data-hcpcs="J0585"' in html
    assert f'href="/sessions/{session.id}/superbill.pdf"' in html
    assert "This claim goes into the claims file" in html

    # The page and the API read one superbill: the same lines, in the same order.
    api = clinic.client("physician").get(f"/api/v1/sessions/{session.id}/superbill")
    assert api.status_code == 200, api.content
    assert page_lines(html) == [
        (
            line["code"],
            line["modifiers"],
            line["billing_units"],
            line["ndc"],
            line["diagnosis_pointer"],
        )
        for line in api.json()["lines"]
    ]

    pdf = physician.get(f"/sessions/{session.id}/superbill.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_the_front_desk_sees_the_superbill_but_not_the_clinical_note():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt(notes=NOTE)
    desk = signed_in(clinic, "front_desk")

    page = desk.get(f"/sessions/{session.id}/superbill/")
    assert page.status_code == 200
    html = page.content.decode()
    assert [(c, m, u) for c, m, u, _, _ in page_lines(html)][1:] == [
        ("J0585", [], GIVEN),
        ("J0585", ["JW"], DISCARDED),
    ]
    assert "photophobia" not in html
    assert f'href="/sessions/{session.id}/"' not in html  # no way into the chart
    assert desk.get(f"/sessions/{session.id}/").status_code == 403
    assert desk.get(f"/sessions/{session.id}/superbill.pdf").content.startswith(b"%PDF")


def test_a_claim_item_is_confirmed_from_the_superbill_by_billing_staff_only():
    clinic = billing_clinic()
    clinic.diagnose()
    clinic.cover()
    # 100 U from a 200 U vial when a 100 U vial exists: the smallest-vial item (billing.md 7.6).
    session = clinic.sign_preempt(
        injections=[
            sessions.PointInput("frontalis", "left", Decimal(50)),
            sessions.PointInput("frontalis", "right", Decimal(50)),
        ],
    )
    url = f"/sessions/{session.id}/superbill/confirmations"
    before = signed_in(clinic, "front_desk").get(f"/sessions/{session.id}/superbill/")
    assert 'data-item="smallest-vial" data-confirmed="false"' in before.content.decode()
    assert "stays out of the claims file until" in before.content.decode()

    nurse = signed_in(clinic, "nurse")
    assert nurse.get(f"/sessions/{session.id}/superbill/").status_code == 200
    refused = nurse.post(url, {"item_code": "smallest-vial"})
    assert refused.status_code == 403
    assert not ClaimConfirmation.objects.filter(charge_set__session=session).exists()

    desk = signed_in(clinic, "front_desk")
    unknown = desk.post(url, {"item_code": "no-such-item"})
    assert unknown.status_code == 400
    assert "Not confirmed: item code: not a claim item" in unknown.content.decode()

    done = desk.post(url, {"item_code": "smallest-vial", "note": "Only 200 U vials in stock."})
    assert done.status_code == 302
    [confirmation] = ClaimConfirmation.objects.filter(charge_set__session=session)
    assert (confirmation.item_code, confirmation.note) == (
        "smallest-vial",
        "Only 200 U vials in stock.",
    )
    after = desk.get(f"/sessions/{session.id}/superbill/").content.decode()
    assert 'data-item="smallest-vial" data-confirmed="true"' in after
    assert "Only 200 U vials in stock." in after
    again = desk.post(url, {"item_code": "smallest-vial"})
    assert again.status_code == 409
    assert "confirmed already" in again.content.decode()


def test_the_patients_billing_page_records_coverage_and_refuses_a_bad_date_range():
    clinic = billing_clinic()
    patient = clinic.patient
    desk = signed_in(clinic, "front_desk")
    assert (
        f'href="/patients/{patient.id}/billing/"'
        in desk.get(f"/patients/{patient.id}/").content.decode()
    )
    page = desk.get(f"/patients/{patient.id}/billing/")
    assert page.status_code == 200
    assert "No insurance holds today" in page.content.decode()

    url = f"/patients/{patient.id}/billing/coverage"
    fields = {
        "payer_name": "Medicare Part B",
        "payer_id": "MCR-JE",
        "member_id": "1EG4-TE5-MK72",
        "relationship": "self",
        "valid_from": "2026-01-01",
    }
    backwards = desk.post(url, {**fields, "valid_to": "2025-12-31"})
    assert backwards.status_code == 400
    assert "The insurance was not recorded: valid to: is before valid_from" in (
        backwards.content.decode()
    )
    assert not Coverage.objects.filter(patient=patient).exists()

    recorded = desk.post(url, {**fields, "valid_from": "2020-01-01"})
    assert recorded.status_code == 302
    [coverage] = Coverage.objects.filter(patient=patient)
    assert (coverage.payer_name, coverage.valid_from, coverage.valid_to) == (
        "Medicare Part B",
        date(2020, 1, 1),
        None,
    )
    shown = desk.get(f"/patients/{patient.id}/billing/").content.decode()
    assert f'id="current-coverage" data-coverage="{coverage.id}"' in shown

    # The nurse reads billing but does not write it.
    nurse = signed_in(clinic, "nurse")
    assert nurse.get(f"/patients/{patient.id}/billing/").status_code == 200
    assert nurse.post(url, fields).status_code == 403
    assert Coverage.objects.filter(patient=patient).count() == 1


def test_the_claim_diagnosis_chosen_on_the_billing_page_reaches_the_superbill():
    clinic = billing_clinic()
    clinic.cover()
    session = clinic.sign_preempt()
    desk = signed_in(clinic, "front_desk")
    bill = desk.get(f"/sessions/{session.id}/superbill/").content.decode()
    assert 'id="refusals"' in bill  # no diagnosis: the claim is refused until one is chosen

    url = f"/patients/{clinic.patient.id}/billing/diagnosis"
    wrong = desk.post(url, {"indication": "chronic-migraine", "icd10": "Z00.00"})
    assert wrong.status_code == 400
    assert "The diagnosis was not recorded: icd10: not a code the billing catalog suggests" in (
        wrong.content.decode()
    )
    chosen = desk.post(url, {"indication": "chronic-migraine", "icd10": "G43.709"})
    assert chosen.status_code == 302
    assert Diagnosis.objects.filter(patient=clinic.patient, icd10="G43.709").exists()
    page = desk.get(f"/patients/{clinic.patient.id}/billing/").content.decode()
    assert 'data-indication="chronic-migraine" data-icd10="G43.709"' in page
    bill = desk.get(f"/sessions/{session.id}/superbill/").content.decode()
    assert 'id="refusals"' not in bill
    assert "G43.709" in bill


def test_the_claims_page_lists_a_claim_without_coverage_as_left_out_and_downloads_the_file():
    clinic = billing_clinic()
    clinic.diagnose()
    session = clinic.sign_preempt()
    today = timezone.localdate()
    start, end = (today - timedelta(days=7)).isoformat(), today.isoformat()
    desk = signed_in(clinic, "front_desk")

    assert 'href="/billing/claims/"' in desk.get("/billing/claims/").content.decode()
    page = desk.get(f"/billing/claims/?start={start}&end={end}")
    assert page.status_code == 200
    html = page.content.decode()
    left_out = html[html.index('id="left-out"') :]
    assert f'data-session="{session.id}"' in left_out
    assert "record the patient&#x27;s insurance" in left_out
    assert "No claim of these dates is ready for the file." in html
    # Listing names the patient: a read entry on the audit trail, as the file's export entry.
    assert AuditEntry.objects.filter(
        action="read", object_type="claims", patient_id=clinic.patient.id
    ).exists()

    csv = desk.get(f"/billing/claims.csv?start={start}&end={end}")
    assert csv.status_code == 200
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert "record the patient's insurance" in csv.content.decode()

    clinic.cover()
    html = desk.get(f"/billing/claims/?start={start}&end={end}").content.decode()
    exported = html[html.index('id="exportable"') : html.index('id="left-out"')]
    assert f'data-session="{session.id}"' in exported
    assert 'data-line-code="J0585" data-modifiers="JW" data-billing-units="45"' in exported

    backwards = desk.get(f"/billing/claims/?start={end}&end={start}")
    assert backwards.status_code == 400
    assert "end: is before start" in backwards.content.decode()
    assert desk.get("/billing/claims/?start=yesterday").status_code == 400


def test_a_plan_has_no_superbill_yet():
    clinic = billing_clinic()
    plan = sessions.plan_session(
        clinic.staff.actor("physician"),
        clinic.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    desk = signed_in(clinic, "front_desk")
    for path in (f"/sessions/{plan.id}/superbill/", f"/sessions/{plan.id}/superbill.pdf"):
        response = desk.get(path)
        assert response.status_code == 409
        assert "no charges were captured for this session" in response.content.decode()

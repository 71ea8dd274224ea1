"""Audit reports (issue 8, part 4): the trail filtered and sorted by every field and exported as
CSV (ONC 170.315(d)(3)); a patient's accounting of disclosures (d)(11); requests to amend (d)(4)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.api.auth import issue_token
from bontrack.audit.models import AuditEntry
from bontrack.security.models import AmendmentDecision, AmendmentRequest
from bontrack.security.services import SORTABLE
from bontrack.treatments import services as sessions
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db


def _api(pages: Pages, member: str = "auditor") -> tuple[Client, dict[str, str]]:
    token = issue_token(getattr(pages.staff, member), "t", 1)[1]
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_trail_filters_by_every_field(pages: Pages):
    client, auth = _api(pages)
    pages.client("nurse_injector").get(f"/patients/{pages.patient.id}/")  # a read, from 127.0.0.1
    entries = list(AuditEntry.objects.filter(clinic=pages.staff.clinic))
    read = next(e for e in reversed(entries) if e.username == "a-nurse" and e.action == "read")
    filters = {
        "user": ("a-nurse", lambda e: e.username == "a-nurse"),
        "patient_id": (str(pages.patient.id), lambda e: e.patient_id == pages.patient.id),
        "action": ("read", lambda e: e.action == "read"),
        "data": ("patient", lambda e: e.object_type == "patient"),
        "address": ("127.0", lambda e: e.address.startswith("127.0")),
        "since": (read.at.isoformat(), lambda e: e.at >= read.at),
        "until": (
            (read.at - timedelta(seconds=1)).isoformat(),
            lambda e: e.at <= read.at - timedelta(seconds=1),
        ),
    }
    for name, (value, keep) in filters.items():
        got = client.get("/api/v1/audit", {name: value, "limit": 1000}, **auth)
        assert got.status_code == 200, (name, got.content)
        expected = sorted(e.seq for e in entries if keep(e))
        assert sorted(e["seq"] for e in got.json()) == expected, name


@pytest.mark.parametrize("field", sorted(SORTABLE))
def test_the_trail_sorts_by_every_field_both_ways(pages: Pages, field: str):
    client, auth = _api(pages)
    column = SORTABLE[field]
    key = {
        "time": "at",
        "user": "username",
        "patient": "patient_id",
        "data": "object_type",
        "object": "object_id",
    }.get(field, column)
    for sort in (field, f"-{field}"):
        got = client.get("/api/v1/audit", {"sort": sort, "limit": 1000}, **auth).json()
        values = [str(e[key] or "") for e in got]
        if key == "at":
            values = [e["at"] for e in got]
        ordered = sorted(values, reverse=sort.startswith("-"))
        assert [v.lower() if key != "at" else v for v in values] == [
            v.lower() if key != "at" else v for v in ordered
        ] or values == ordered, sort


def test_the_audit_page_filters_sorts_and_exports_as_csv(pages: Pages):
    admin = pages.client("clinic_admin")
    pages.client("physician").get(f"/sessions/{pages.signed.id}/note")  # a print
    page = admin.get("/audit/", {"action": "print", "sort": "user"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "a-physician" in body
    assert "sort=-user" in body  # the column header flips the order
    export = admin.get("/audit/export.csv", {"action": "print"})
    assert export["Content-Type"].startswith("text/csv")
    assert export["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0] == [
        "seq",
        "time",
        "user",
        "role",
        "patient",
        "action",
        "data",
        "object",
        "address",
        "detail",
        "hash",
    ]
    assert [r[5] for r in rows[1:]] == ["print"]
    # Exporting the trail is itself in the trail.
    last = AuditEntry.objects.filter(clinic=pages.staff.clinic).order_by("-seq").first()
    assert (last.action, last.object_type, last.detail["rows"]) == ("export", "audit-log", 1)
    bad = admin.get("/audit/", {"patient": "Doe"})  # a name is not an id
    assert "patient: give the patient" in bad.content.decode()
    assert pages.client("physician").get("/audit/").status_code == 403


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(pages: Pages):
    admin = pages.client("clinic_admin")
    from bontrack.security.services import break_glass  # noqa: F401 (a reason is free text)

    sessions.amend(
        pages.staff.actor("physician"),
        pages.signed.id,
        reason='=HYPERLINK("http://example.invalid")',
        notes="x",
    )
    text = admin.get("/audit/export.csv").content.decode()
    assert ",=HYPERLINK" not in text


def test_the_accounting_of_disclosures_lists_prints_exports_and_fhir_reads(pages: Pages):
    doctor = pages.client("physician")
    doctor.get(f"/sessions/{pages.signed.id}/note")  # print
    doctor.get(f"/patients/{pages.patient.id}/")  # a read: not a disclosure
    token = issue_token(pages.staff.physician, "fhir", 1)[1]
    Client().get(f"/fhir/Patient/{pages.patient.id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    doctor.get(f"/inventory/lots/{pages.lot.id}/exposures.csv")  # an export, if it is audited
    client, auth = _api(pages)
    rows = client.get(f"/api/v1/patients/{pages.patient.id}/disclosures", **auth).json()
    hows = [r["how"] for r in rows]
    assert "printed" in hows
    assert any(h.startswith("FHIR") for h in hows)
    assert all(r["action"] in ("print", "export", "disclose") for r in rows)
    page = pages.client("auditor").get(f"/patients/{pages.patient.id}/disclosures")
    assert page.status_code == 200
    assert "Accounting of disclosures" in page.content.decode()
    csv_file = pages.client("auditor").get(f"/patients/{pages.patient.id}/disclosures.csv")
    assert csv_file.content.decode().splitlines()[0].startswith("seq,time,user")
    assert (
        pages.client("nurse_injector").get(f"/patients/{pages.patient.id}/disclosures").status_code
        == 403
    )


def test_a_request_to_amend_is_recorded_then_decided_beside_it(pages: Pages):
    nurse = pages.client("nurse_injector")
    response = nurse.post(
        f"/patients/{pages.patient.id}/amendments",
        {
            "received_on": timezone.localdate().isoformat(),
            "session_id": str(pages.signed.id),
            "request": "The left biceps dose was 40 U, not 50 U",
        },
    )
    assert response.status_code == 302
    asked = AmendmentRequest.objects.get()
    # A nurse records the request; only a prescriber decides it (B.33).
    refused = nurse.post(
        f"/amendment-requests/{asked.id}/decision",
        {"decision": "accepted", "reason": "The vial log confirms 40 U"},
    )
    assert refused.status_code == 403
    assert (
        "Record the decision"
        not in nurse.get(f"/patients/{pages.patient.id}/amendments").content.decode()
    )
    event = sessions.amend(
        pages.staff.actor("physician"),
        pages.signed.id,
        reason="Patient's request: dose corrected from the vial log",
        notes="40 U",
    )
    doctor = pages.client("physician")
    doctor.post(
        f"/amendment-requests/{asked.id}/decision",
        {
            "decision": "accepted",
            "reason": "The vial log confirms 40 U",
            "amendment_id": str(event.id),
        },
    )
    decided = AmendmentDecision.objects.get()
    assert (decided.request_id, decided.decision, decided.amendment_id) == (
        asked.id,
        "accepted",
        event.id,
    )
    again = doctor.post(
        f"/amendment-requests/{asked.id}/decision",
        {"decision": "declined", "reason": "Changed my mind about it"},
    )
    assert again.status_code == 302
    assert AmendmentDecision.objects.count() == 1  # never overwritten
    asked.refresh_from_db()
    assert asked.request == "The left biceps dose was 40 U, not 50 U"
    page = nurse.get(f"/patients/{pages.patient.id}/amendments").content.decode()
    assert "The left biceps dose was 40 U" in page
    assert "accepted" in page
    assert "The vial log confirms 40 U" in page
    actions = list(
        AuditEntry.objects.filter(object_type="amendment-request").values_list("action", flat=True)
    )
    assert actions == ["create", "amend"]


def test_a_declined_request_through_the_api(pages: Pages):
    client, auth = _api(pages, "physician")
    made = client.post(
        f"/api/v1/patients/{pages.patient.id}/amendment-requests",
        {
            "request": "Remove the migraine diagnosis",
            "received_on": timezone.localdate().isoformat(),
        },
        content_type="application/json",
        **auth,
    )
    assert made.status_code == 201, made.content
    assert made.json()["status"] == "requested"
    declined = client.post(
        f"/api/v1/patients/amendment-requests/{made.json()['id']}/decision",
        {"decision": "declined", "reason": "Diagnosed by the neurologist's letter of 2025"},
        content_type="application/json",
        **auth,
    )
    assert declined.status_code == 201
    listed = client.get(f"/api/v1/patients/{pages.patient.id}/amendment-requests", **auth).json()
    assert [(r["status"], r["decision"]["reason"][:10]) for r in listed] == [
        ("declined", "Diagnosed ")
    ]
    twice = client.post(
        f"/api/v1/patients/amendment-requests/{made.json()['id']}/decision",
        {"decision": "accepted", "reason": "Second thoughts on it"},
        content_type="application/json",
        **auth,
    )
    assert twice.status_code == 409

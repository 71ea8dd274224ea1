"""The clinic's view of the security log: its accounts' sign-ins and failures, refused accesses
and break-glass, filtered and exported as CSV; another clinic's accounts and names that are no
account stay out of it; reading and exporting it are audited."""

from __future__ import annotations

import csv
import io

from django.test import Client

from bontrack.audit.models import AuditEntry
from tests.security.test_sign_in import sign_in
from tests.web.conftest import Pages


def _events_page(client: Client, **filters: str) -> str:
    response = client.get("/audit/security/", filters)
    assert response.status_code == 200
    return response.content.decode()


def test_the_admin_sees_the_clinics_sign_ins_failures_and_refusals_only(pages: Pages):
    sign_in(Client(), "a-nurse", "not the password at all")
    sign_in(Client(), "a-nurse", pages.staff.password)
    sign_in(Client(), "b-physician", "not the password at all")
    sign_in(Client(), "nobody-here", "not the password at all")
    # Clinic B's prescriber tries one of clinic A's patients: refused, and B's own log has it.
    assert pages.client("other_clinic").get(f"/patients/{pages.patient.id}/").status_code == 404

    page = _events_page(pages.client("clinic_admin"))
    assert "a-nurse" in page
    assert '<span class="badge block">sign-in-failed</span>' in page
    assert "b-physician" not in page
    assert "nobody-here" not in page

    # Clinic B's admin sees B's own: the failure of its prescriber and the refusal it met in A.
    b_admin = Client()
    b_admin.force_login(pages.other.admin.user)
    other = _events_page(b_admin)
    assert "b-physician" in other
    assert '<span class="badge block">refused-access</span>' in other
    assert "a-nurse" not in other


def test_filters_and_the_csv_export_are_audited(pages: Pages):
    sign_in(Client(), "a-nurse", "not the password at all")
    sign_in(Client(), "a-nurse", pages.staff.password)
    auditor = pages.client("auditor")

    failures = _events_page(auditor, event="sign-in-failed", user="a-nurse")
    assert "sign-in-failed" in failures
    assert "<td>sign-in</td>" not in failures
    refused = auditor.get("/audit/security/", {"since": "25 Nov", "until": ""})
    assert "since: give a date and time" in refused.content.decode()

    export = auditor.get("/audit/security.csv", {"user": "a-nurse"})
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert {r["event"] for r in rows} == {"sign-in-failed", "sign-in"}
    assert {r["user"] for r in rows} == {"a-nurse"}
    reads = AuditEntry.objects.filter(object_type="security-log").values_list("action", flat=True)
    assert set(reads) == {"read", "export"}


def test_only_auditors_and_admins_read_it(pages: Pages):
    for persona in ("physician", "nurse_injector", "front_desk"):
        assert pages.client(persona).get("/audit/security/").status_code == 403
        assert pages.client(persona).get("/audit/security.csv").status_code == 403

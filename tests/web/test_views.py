"""The pages with Django's test client: who sees what (the permission matrix of DESIGN 3.4),
another clinic's ids answer 404, sign-in and idle time-out, error pages without traces, the plan
editor's htmx partials calling the services, exports and the audit trail."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, timedelta

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.utils import timezone

from bontrack.accounts.services import add_member
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.inventory.models import VialClosing
from bontrack.treatments.models import FindingDecision, TreatmentSession
from bontrack.treatments.services import stored_result_at
from tests import builders
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _paths(pages: Pages) -> dict[str, str]:
    return {
        "today": "/",
        "patients": "/patients/",
        "patient": f"/patients/{pages.patient.id}/",
        "new_plan": f"/patients/{pages.patient.id}/plan",
        "plan": f"/sessions/{pages.plan.id}/",
        "signed": f"/sessions/{pages.signed.id}/",
        "note": f"/sessions/{pages.signed.id}/note",
        "adverse_event": f"/sessions/{pages.signed.id}/adverse-event",
        "inventory": "/inventory/",
        "lot": f"/inventory/lots/{pages.lot.id}/",
    }


# Who may open which page (GET): 200, else 403.
ALLOWED = {
    "today": {"physician", "nurse_injector", "front_desk", "auditor", "clinic_admin"},
    "patients": {"physician", "nurse_injector", "front_desk", "auditor", "clinic_admin"},
    "patient": {"physician", "nurse_injector", "front_desk", "auditor", "clinic_admin"},
    "new_plan": {"physician", "nurse_injector"},
    "plan": {"physician", "nurse_injector", "auditor", "clinic_admin"},
    "signed": {"physician", "nurse_injector", "auditor", "clinic_admin"},
    "note": {"physician", "nurse_injector", "auditor", "clinic_admin"},
    "adverse_event": {"physician", "nurse_injector"},
    "inventory": {"physician", "nurse_injector", "front_desk", "auditor", "clinic_admin"},
    "lot": {"physician", "nurse_injector", "front_desk", "auditor", "clinic_admin"},
}
ROLES = builders.CLINIC_A_PERSONAS


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_for_the_roles_allowed_and_403_for_the_others(pages, role):
    client = pages.client(role)
    for name, path in _paths(pages).items():
        response = client.get(path)
        expected = 200 if role in ALLOWED[name] else 403
        assert response.status_code == expected, (role, name, response.status_code)
        body = response.content.decode()
        assert "Traceback" not in body
        if expected == 403:
            assert "You cannot open this page" in body


def test_the_plan_editor_is_for_planners_others_read_the_plan(pages):
    editor = pages.client("physician").get(f"/sessions/{pages.plan.id}/").content.decode()
    assert 'id="workspace"' in editor
    assert 'class="bodymaps editable"' in editor
    assert editor.count('class="bm-point') == 31
    read_only = pages.client("auditor").get(f"/sessions/{pages.plan.id}/").content.decode()
    assert 'id="workspace"' not in read_only
    assert "Plan" in read_only


def test_front_desk_sees_demographics_but_no_chart_and_cannot_plan_sign_or_chart(pages):
    client = pages.client("front_desk")
    body = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert "Demographics and contact" in body
    assert "Cumulative dose" not in body
    assert "Sessions" not in body
    assert "Plan a session" not in body
    at = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    for path, data in (
        (f"/sessions/{pages.plan.id}/sign", {"administered_at": at}),
        (f"/sessions/{pages.plan.id}/points/add", {"site": "procerus", "side": "midline"}),
        (f"/sessions/{pages.plan.id}/decisions", {"fingerprint": "x", "kind": "acknowledge"}),
        (f"/patients/{pages.patient.id}/plan", {"indication": "chronic-migraine"}),
        (f"/inventory/lots/{pages.lot.id}/recall", {"reason": "notice"}),
    ):
        assert client.post(path, data, **HTMX).status_code == 403, path
    assert client.get(f"/sessions/{pages.signed.id}/note.pdf").status_code == 403
    assert not TreatmentSession.objects.filter(signed_at__isnull=False, pk=pages.plan.pk).exists()


def test_another_clinics_ids_answer_404_and_are_logged(pages):
    client = pages.client("physician")
    before = SecurityEvent.objects.filter(kind="refused-access").count()
    other = {
        "patient": f"/patients/{pages.other_patient.id}/",
        "session": f"/sessions/{pages.other_signed.id}/",
        "note": f"/sessions/{pages.other_signed.id}/note",
        "pdf": f"/sessions/{pages.other_signed.id}/note.pdf",
        "lot": f"/inventory/lots/{pages.other_lot.id}/",
        "csv": f"/inventory/lots/{pages.other_lot.id}/exposures.csv",
        "plan": f"/patients/{pages.other_patient.id}/plan",
    }
    for name, path in other.items():
        response = client.get(path)
        assert response.status_code == 404, name
        assert "Not found" in response.content.decode()
        assert pages.other_patient.family_name not in response.content.decode() or name == "x"
    posted = client.post(
        f"/sessions/{pages.other_signed.id}/co-sign", {}, **HTMX
    )  # a prescriber's action
    assert posted.status_code == 404
    assert SecurityEvent.objects.filter(kind="refused-access").count() > before


def test_pages_need_sign_in_and_sign_in_is_logged(pages):
    client = Client()
    for path in ("/", f"/patients/{pages.patient.id}/", f"/sessions/{pages.signed.id}/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    partial = client.post(
        f"/sessions/{pages.plan.id}/points/add",
        {"site": "procerus"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/sessions/{pages.plan.id}/",
    )
    assert partial.status_code == 204
    assert partial["HX-Redirect"] == f"/login/?next=%2Fsessions%2F{pages.plan.id}%2F"
    failed = client.post("/login/", {"username": "a-physician", "password": "wrong password"})
    assert failed.status_code == 200
    assert "wrong" in failed.content.decode()
    event = SecurityEvent.objects.order_by("-seq").first()
    assert (event.kind, event.username) == ("sign-in-failed", "a-physician")
    ok = client.post("/login/", {"username": "a-physician", "password": pages.staff.password})
    assert ok.status_code == 302
    event = SecurityEvent.objects.order_by("-seq").first()
    assert (event.kind, event.user_id, event.clinic_id) == (
        "sign-in",
        pages.staff.physician.user_id,
        pages.staff.clinic.id,
    )
    assert client.session["membership_id"] == str(pages.staff.physician.id)


def test_the_api_token_sign_in_is_not_logged_twice(pages):
    before = SecurityEvent.objects.filter(kind="sign-in-failed").count()
    Client().post(
        "/api/v1/auth/token",
        {"username": "a-physician", "password": "wrong password"},
        content_type="application/json",
    )
    assert SecurityEvent.objects.filter(kind="sign-in-failed").count() == before + 1


def test_idle_sessions_end_after_the_configured_minutes():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_a_user_of_several_clinics_chooses_one_and_the_api_acts_in_it(pages):
    add_member(
        pages.other.clinic,
        username="a-physician",
        password=pages.staff.password,
        role="prescriber",
        credentials=["physician"],
    )
    client = Client()
    response = client.post("/login/", {"username": "a-physician", "password": pages.staff.password})
    assert response["Location"].startswith("/clinic/")
    assert client.get("/").status_code == 302  # no clinic chosen yet
    chooser = client.get("/clinic/").content.decode()
    assert "Clinic A" in chooser
    assert "Clinic B" in chooser
    membership = pages.other.clinic.memberships.get(user__username="a-physician")
    chosen = client.post("/clinic/", {"membership_id": str(membership.id), "next": "/"})
    assert chosen["Location"] == "/"
    assert client.get(f"/patients/{pages.other_patient.id}/").status_code == 200
    assert client.get(f"/patients/{pages.patient.id}/").status_code == 404
    api = client.get("/api/v1/patients").json()
    assert [p["record_number"] for p in api] == ["Q-1"]


def test_error_pages_say_what_happened_without_a_trace(pages):
    client = pages.client("physician")
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "Not found" in missing.content.decode()
    api_missing = client.get("/api/v1/no-such-endpoint")
    assert api_missing.status_code == 404
    assert api_missing.json() == {"errors": [{"field": None, "message": "no such endpoint"}]}

    from bontrack.urls import server_failed

    page = server_failed(RequestFactory().get("/patients/"))
    assert page.status_code == 500
    assert "Something went wrong" in page.content.decode()
    assert "Traceback" not in page.content.decode()
    api = server_failed(RequestFactory().get("/api/v1/patients"))
    assert api.status_code == 500
    assert api["Content-Type"] == "application/json"


def test_the_patient_page_writes_one_read_entry_and_shows_the_chart(pages):
    client = pages.client("physician")
    before = AuditEntry.objects.filter(patient_id=pages.patient.id, action="read").count()
    body = client.get(f"/patients/{pages.patient.id}/").content.decode()
    reads = AuditEntry.objects.filter(patient_id=pages.patient.id, action="read")
    assert reads.count() == before + 1
    assert "onabotulinumtoxinA" in body
    assert "limit 400 U / 84 days" in body
    assert "<polyline" in body
    assert "Adult upper limb spasticity" in body


def _editor(client: Client, pages: Pages, path: str, data: dict[str, str]) -> str:
    response = client.post(f"/sessions/{pages.plan.id}/{path}", data, **HTMX)
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_the_editor_changes_points_through_the_service_and_rechecks(pages):
    client = pages.client("physician")
    body = client.get(f"/sessions/{pages.plan.id}/points/2", **HTMX).content.decode()
    assert 'id="point-editor"' in body
    assert "Procerus" in body
    body = _editor(client, pages, "points/2/change", {"units": "10", "action": "save"})
    assert "160 U" in body
    body = _editor(client, pages, "points/2/change", {"action": "remove"})
    assert "150 U" in body
    assert "in 30 points" in body
    body = _editor(
        client, pages, "points/add", {"site": "procerus", "side": "midline", "units": "5"}
    )
    assert "155 U" in body
    body = _editor(client, pages, "points/add", {"site": "procerus", "side": "left", "units": "5"})
    assert "procerus is injected midline, not left" in body
    pages.plan.refresh_from_db()
    assert pages.plan.check_result["total_units"] == "155"


def test_a_nurse_cannot_override_and_sees_why(pages):
    client = pages.client("nurse_injector")
    at = timezone.now()
    block = next(
        f
        for f in stored_result_at(pages.plan, at)["findings"]
        if f["severity"] == "block" and f["overridable"]
    )
    body = client.get(f"/sessions/{pages.plan.id}/").content.decode()
    assert "A prescriber must override this block" in body
    assert "Override with this reason" not in body
    body = _editor(
        client,
        pages,
        "decisions",
        {"fingerprint": block["fingerprint"], "kind": "override", "reason": "I think it is fine"},
    )
    assert "only a prescriber may override a block" in body
    assert not FindingDecision.objects.filter(session=pages.plan).exists()


def test_signing_refused_then_signed_after_the_decisions(pages):
    client = pages.client("physician")
    at = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=1)
    local = at.strftime("%Y-%m-%dT%H:%M")
    password = pages.staff.password  # signing and overriding ask for it again (ASVS 3.7.1)
    body = _editor(client, pages, "sign", {"administered_at": local, "confirm": password})
    assert "Not signed:" in body
    assert "cumulative-dose" in body or "acknowledge" in body
    for f in stored_result_at(pages.plan, at)["findings"]:
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        _editor(
            client,
            pages,
            "decisions",
            {
                "fingerprint": f["fingerprint"],
                "kind": kind,
                "reason": "Reviewed with the patient.",
                "confirm": password,
            },
        )
    vial = pages.lot.vials.filter(reconstituted_at__isnull=True).first()
    body = _editor(client, pages, "vials/open", {"lot_id": str(pages.lot.id), "diluent_ml": "4"})
    assert "5 U per 0.1 mL" in body
    response = client.post(
        f"/sessions/{pages.plan.id}/sign", {"administered_at": local, "confirm": password}, **HTMX
    )
    assert response.status_code == 204, response.content
    assert response["HX-Redirect"] == f"/sessions/{pages.plan.id}/"
    pages.plan.refresh_from_db()
    assert pages.plan.is_signed
    assert pages.plan.session_vials.get().vial.lot_id == vial.lot_id
    page = client.get(f"/sessions/{pages.plan.id}/").content.decode()
    assert "Procedure note" in page
    assert "Reviewed with the patient." in page
    pdf = client.get(f"/sessions/{pages.plan.id}/note.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert AuditEntry.objects.filter(action="print", object_id=str(pages.plan.id)).count() == 1


def test_recall_lists_the_patients_and_exports_them_safely(pages):
    from bontrack.patients.services import update_patient

    update_patient(
        pages.staff.actor("physician"), pages.patient.id, timezone.localdate(), phone="=1+2"
    )
    client = pages.client("physician")
    response = client.post(f"/inventory/lots/{pages.lot.id}/recall", {"reason": "Notice 7"})
    assert response.status_code == 302
    page = client.get(f"/inventory/lots/{pages.lot.id}/").content.decode()
    assert "Patients who received this lot" in page
    assert "Alex Doe" in page
    csv = client.get(f"/inventory/lots/{pages.lot.id}/exposures.csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("record_number,name,phone")
    assert "'=1+2" in lines[1]
    today = client.get("/").content.decode()
    assert re.search(r"L-P-1</strong></a></td>\s*<td>onabotulinumtoxinA</td>", today)


def test_inventory_reconstitute_and_waste(pages):
    client = pages.client("nurse_injector")
    vial = pages.lot.vials.filter(reconstituted_at__isnull=True).first()
    client.post(f"/inventory/vials/{vial.id}/reconstitute", {"diluent_ml": "2"})
    vial.refresh_from_db()
    assert vial.diluent_ml == 2
    page = client.get("/inventory/").content.decode()
    assert "data-use-by=" in page
    # No session drew it: its waste is the whole vial, and recording it closes the vial (B.30).
    client.post(f"/inventory/vials/{vial.id}/waste")
    assert VialClosing.objects.get(vial=vial).wasted_by_hand
    page = client.get(f"/inventory/lots/{pages.lot.id}/").content.decode()
    assert "closed" in page
    assert client.post(f"/inventory/vials/{vial.id}/waste").status_code == 302
    assert VialClosing.objects.filter(vial=vial).count() == 1
    assert (
        pages.client("front_desk")
        .post(f"/inventory/vials/{vial.id}/reconstitute", {"diluent_ml": "2"})
        .status_code
        == 403
    )


def test_adverse_event_form_records_through_the_service(pages):
    client = pages.client("physician")
    response = client.post(
        f"/sessions/{pages.signed.id}/adverse-event",
        {
            "term": "eyelid-ptosis",
            "onset_date": timezone.localdate().isoformat(),
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert "Eyelid ptosis" in page or "ptosis" in page.lower()


def test_new_plan_from_the_page_opens_the_editor(pages):
    client = pages.client("nurse_injector")
    options = client.get(
        f"/patients/{pages.patient.id}/plan?indication=glabellar-lines&product=abobotulinumtoxinA",
        **HTMX,
    ).content.decode()
    assert "glabellar-dysport-50" in options
    response = client.post(
        f"/patients/{pages.patient.id}/plan",
        {
            "indication": "chronic-migraine",
            "product": "onabotulinumtoxinA",
            "protocol": "preempt-155",
        },
    )
    assert response.status_code == 302
    session = TreatmentSession.objects.filter(patient=pages.patient).order_by("-created_at")[0]
    assert response["Location"] == f"/sessions/{session.id}/"
    assert session.planned_by_id == pages.staff.nurse.id


def test_pages_show_times_in_the_clinics_time_zone_not_the_servers(pages):
    """A clinic in Tokyo (UTC+9, no daylight saving) reads its own wall-clock times: the signed
    session's injection time and the audit trail's entries."""
    clinic = pages.staff.physician.clinic
    clinic.time_zone = "Asia/Tokyo"
    clinic.save(update_fields=["time_zone"])
    signed = pages.signed
    tokyo = signed.administered_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    utc = signed.administered_at.astimezone(UTC)

    page = pages.client("physician").get(f"/sessions/{signed.id}/").content.decode()
    assert f"{tokyo:%-d %B %Y, %H:%M}" in page
    assert f"{utc:%-d %B %Y, %H:%M}" not in page

    entry = AuditEntry.objects.filter(clinic=clinic).order_by("-at").first()
    audit = pages.client("clinic_admin").get("/audit/").content.decode()
    local = entry.at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"{local:%-d %b %Y %H:%M:%S}" in audit
    assert f"{entry.at.astimezone(UTC):%-d %b %Y %H:%M:%S}" not in audit

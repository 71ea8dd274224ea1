"""Access (issue 8, part 3): break-glass to a restricted chart (ONC 170.315(d)(6)) and API tokens
that are per user, hashed, scoped, expiring and revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.accounts.models import ApiToken
from bontrack.api.auth import hash_token
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.patients.services import update_patient
from bontrack.security.models import BreakGlassAccess
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db


@pytest.fixture
def restricted(pages: Pages):
    """Clinic A's patient, restricted by a second prescriber: the personas are not in its care
    team (the physician planned for the patient, so a new patient is used)."""
    from tests import builders

    keeper = builders.another_prescriber(pages.staff)
    patient = builders.patient(pages.staff, "VIP-1")
    from bontrack.audit.services import Actor

    return update_patient(
        Actor(keeper, "127.0.0.1"), patient.id, timezone.localdate(), restricted=True
    )


def test_a_restricted_chart_offers_break_glass_and_opens_with_a_reason(pages, restricted):
    client = pages.client("nurse_injector")
    page = client.get(f"/patients/{restricted.id}/")
    assert page.status_code == 403
    body = page.content.decode()
    assert "This chart is restricted" in body
    assert "Open the chart (break-glass)" in body
    assert "Cumulative dose" not in body  # nothing of the chart itself
    short = client.post(f"/patients/{restricted.id}/break-glass", {"reason": "need it"})
    assert short.status_code == 400
    assert "at least 10 characters" in short.content.decode()
    assert not BreakGlassAccess.objects.exists()

    seq = SecurityEvent.objects.order_by("-seq").first().seq
    opened = client.post(
        f"/patients/{restricted.id}/break-glass",
        {"reason": "Patient in the waiting room with a reaction; Dr Lee is away"},
    )
    assert opened.status_code == 302
    assert client.get(f"/patients/{restricted.id}/").status_code == 200
    entry = AuditEntry.objects.filter(action="break-glass").get()
    assert entry.patient_id == restricted.id
    assert entry.username == "a-nurse"
    assert entry.detail["reason"].startswith("Patient in the waiting room")
    event = SecurityEvent.objects.get(seq__gt=seq, kind="break-glass")
    assert event.detail["patient_id"] == str(restricted.id)
    assert "reason" not in event.detail  # the reason stays in the clinic's own trail

    # The clinic admin sees it; the nurse's access ends when it expires.
    audit = pages.client("clinic_admin").get("/audit/").content.decode()
    assert "Dr Lee is away" in audit
    assert "break-glass" in audit
    BreakGlassAccess.objects.filter(patient=restricted)  # append-only: expire by time, not edit
    access = BreakGlassAccess.objects.get()
    assert access.expires_at - access.at == timedelta(minutes=60)


def test_break_glass_expires(pages, restricted, settings):
    settings.BONTRACK_BREAK_GLASS_MINUTES = 0
    client = pages.client("nurse_injector")
    client.post(
        f"/patients/{restricted.id}/break-glass",
        {"reason": "Checking the last dose for a phone call"},
    )
    assert client.get(f"/patients/{restricted.id}/").status_code == 403


def test_break_glass_never_crosses_clinics(pages):
    other = Client()
    other.force_login(pages.other.physician.user)
    update_patient(
        pages.staff.actor("physician"), pages.patient.id, timezone.localdate(), restricted=True
    )
    response = other.post(
        f"/patients/{pages.patient.id}/break-glass", {"reason": "I am a doctor elsewhere, really"}
    )
    assert response.status_code == 404
    assert not BreakGlassAccess.objects.exists()
    assert SecurityEvent.objects.order_by("-seq").first().kind == "refused-access"


def test_break_glass_through_the_api_and_the_admins_list(pages, restricted):
    from bontrack.api.auth import issue_token

    nurse = issue_token(pages.staff.nurse, "t", 1)[1]
    admin = issue_token(pages.staff.admin, "t", 1)[1]
    api = Client()
    path = f"/api/v1/patients/{restricted.id}/timeline"
    refused = api.get(path, HTTP_AUTHORIZATION=f"Bearer {nurse}")
    assert refused.status_code == 403
    assert "break-glass" in refused.json()["errors"][0]["message"]
    done = api.post(
        f"/api/v1/patients/{restricted.id}/break-glass",
        {"reason": "Night shift: the patient called about ptosis"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {nurse}",
    )
    assert done.status_code == 201, done.content
    assert api.get(path, HTTP_AUTHORIZATION=f"Bearer {nurse}").status_code == 200
    listed = api.get("/api/v1/audit/break-glass", HTTP_AUTHORIZATION=f"Bearer {admin}").json()
    assert [(b["username"], b["patient_id"]) for b in listed] == [("a-nurse", str(restricted.id))]


# --- API tokens --------------------------------------------------------------------------------


def _token(client: Client, pages: Pages, **extra: object) -> dict:
    response = client.post(
        "/api/v1/auth/token",
        {"username": "a-nurse", "password": pages.staff.password, **extra},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_tokens_are_stored_hashed_and_expire(pages):
    client = Client()
    issued = _token(client, pages, days=1)
    stored = ApiToken.objects.get()
    assert issued["token"] not in str(ApiToken.objects.values().get())
    assert stored.key_hash == hash_token(issued["token"])
    assert stored.expires_at - timezone.now() <= timedelta(days=1)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/patients", **headers).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/patients", **headers).status_code == 401


def test_a_scoped_token_can_do_only_what_its_scopes_say(pages):
    client = Client()
    issued = _token(client, pages, scopes=["demographics.read"])
    assert issued["scopes"] == ["demographics.read"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issued['token']}"}
    assert client.get(f"/api/v1/patients/{pages.patient.id}", **headers).status_code == 200
    chart = client.get(f"/api/v1/patients/{pages.patient.id}/timeline", **headers)
    assert chart.status_code == 403
    assert client.get(f"/api/v1/patients/{pages.patient.id}", **headers).json()["clinical"] is None
    refused = client.post(
        "/api/v1/auth/token",
        {"username": "a-nurse", "password": pages.staff.password, "scopes": ["audit.read"]},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "scopes[0]"


def test_a_user_lists_and_revokes_their_tokens(pages):
    client = Client()
    first = _token(client, pages, name="laptop")
    second = _token(client, pages, name="script")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {first['token']}"}
    listed = client.get("/api/v1/auth/tokens", **headers).json()
    assert sorted(t["name"] for t in listed) == ["laptop", "script"]
    assert all("token" not in t and "key_hash" not in t for t in listed)
    script = next(t for t in listed if t["name"] == "script")
    assert client.delete(f"/api/v1/auth/tokens/{script['id']}", **headers).status_code == 204
    gone = {"HTTP_AUTHORIZATION": f"Bearer {second['token']}"}
    assert client.get("/api/v1/patients", **gone).status_code == 401
    assert SecurityEvent.objects.order_by("-seq").first().kind == "token-revoked"
    # The account page shows them too, and revokes.
    page = pages.client("nurse_injector")
    body = page.get("/account/").content.decode()
    assert "laptop" in body
    assert "revoked" in body
    laptop = ApiToken.objects.get(name="laptop")
    page.post(f"/account/tokens/{laptop.id}/revoke")
    assert client.get("/api/v1/patients", **headers).status_code == 401

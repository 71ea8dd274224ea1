"""Sessions (issue 8, part 2): idle and absolute time-outs, the list of one's sessions, and the
password asked again before signing, co-signing and overriding (ASVS 3.3, 3.7.1; ONC (d)(5))."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import SecurityEvent
from bontrack.security.middleware import SIGNED_IN_AT
from bontrack.security.reauth import MAX_FAILURES
from bontrack.treatments.models import FindingDecision, SessionEvent
from bontrack.treatments.services import stored_result_at
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def sign_in(client: Client, username: str, password: str) -> None:
    response = client.post("/login/", {"login": username, "password": password})
    assert response.status_code == 302, response.content[:300]


# --- Time-outs ---------------------------------------------------------------------------------


def test_the_limits_are_30_idle_minutes_and_12_hours():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.BONTRACK_SESSION_HOURS == 12
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"


def test_an_idle_session_ends_on_the_server(pages: Pages):
    client = Client()
    sign_in(client, "a-nurse", pages.staff.password)
    assert client.get("/").status_code == 200
    # 31 minutes without a request: the store's expiry has passed (the browser's cookie too).
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    again = client.get(f"/patients/{pages.patient.id}/")
    assert again.status_code == 302
    assert again["Location"].startswith("/login/?next=")


def test_each_request_renews_the_idle_limit(pages: Pages):
    client = Client()
    sign_in(client, "a-nurse", pages.staff.password)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    soon = timezone.now() + timedelta(minutes=5)
    Session.objects.filter(session_key=key).update(expire_date=soon)
    client.get("/")
    renewed = Session.objects.get(session_key=key).expire_date
    assert renewed > soon + timedelta(minutes=20)


def test_a_session_ends_twelve_hours_after_sign_in_however_active(pages: Pages):
    client = Client()
    sign_in(client, "a-nurse", pages.staff.password)
    session = client.session
    assert time.time() - session[SIGNED_IN_AT] < 60
    session[SIGNED_IN_AT] = time.time() - 12 * 3600 - 1
    session.save()
    seq = SecurityEvent.objects.order_by("-seq").first().seq
    ended = client.get("/")
    assert ended.status_code == 302
    assert ended["Location"].startswith("/login/")
    assert client.get("/api/v1/patients").status_code == 401
    kinds = [e.kind for e in SecurityEvent.objects.filter(seq__gt=seq)]
    assert kinds == ["session-expired"]
    partial = Client()
    sign_in(partial, "a-nurse", pages.staff.password)
    session = partial.session
    session[SIGNED_IN_AT] = time.time() - 13 * 3600
    session.save()
    htmx = partial.post(f"/sessions/{pages.plan.id}/workspace", **HTMX)
    assert htmx.status_code == 204
    assert htmx["HX-Redirect"] == "/login/"


# --- One's sessions ----------------------------------------------------------------------------


def test_a_user_lists_their_sessions_and_ends_another_one(pages: Pages):
    laptop, tablet = Client(HTTP_USER_AGENT="Laptop"), Client(HTTP_USER_AGENT="Tablet")
    sign_in(laptop, "a-nurse", pages.staff.password)
    sign_in(tablet, "a-nurse", pages.staff.password)
    page = laptop.get("/account/").content.decode()
    assert "Laptop" in page
    assert "Tablet" in page
    assert "this one" in page
    other = UserSession.objects.get(user=pages.staff.nurse.user, user_agent="Tablet")
    response = laptop.post(f"/account/sessions/{other.pk}/end")
    assert response.status_code == 302
    assert tablet.get("/").status_code == 302  # the tablet is signed out
    assert laptop.get("/").status_code == 200
    assert SecurityEvent.objects.order_by("-seq").first().kind == "session-ended"
    # Another user's session cannot be ended (nor seen).
    auditor = Client()
    sign_in(auditor, "a-auditor", pages.staff.password)
    mine = UserSession.objects.get(user=pages.staff.nurse.user, user_agent="Laptop")
    auditor.post(f"/account/sessions/{mine.pk}/end")
    assert laptop.get("/").status_code == 200
    assert "Laptop" not in auditor.get("/account/").content.decode()


# --- Asked again before signing, co-signing and overriding --------------------------------------


def _sign_data(pages: Pages, **extra: str) -> dict[str, str]:
    at = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=1)
    return {"administered_at": at.strftime("%Y-%m-%dT%H:%M"), **extra}


def _ready_to_sign(pages: Pages, client: Client) -> None:
    """Decide every finding (overrides by the physician, with the password) and open a vial."""
    at = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=1)
    for f in stored_result_at(pages.plan, at)["findings"]:
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        client.post(
            f"/sessions/{pages.plan.id}/decisions",
            {
                "fingerprint": f["fingerprint"],
                "kind": kind,
                "reason": "Reviewed with the patient.",
                "confirm": pages.staff.password,
            },
            **HTMX,
        )
    client.post(
        f"/sessions/{pages.plan.id}/vials/open",
        {"lot_id": str(pages.lot.id), "diluent_ml": "4"},
        **HTMX,
    )


def test_overriding_a_block_asks_for_the_password_again(pages: Pages):
    client = pages.client("physician")
    at = timezone.now()
    block = next(
        f
        for f in stored_result_at(pages.plan, at)["findings"]
        if f["severity"] == "block" and f["overridable"]
    )
    data = {"fingerprint": block["fingerprint"], "kind": "override", "reason": "Reviewed twice."}
    body = client.post(f"/sessions/{pages.plan.id}/decisions", data, **HTMX).content.decode()
    assert "Enter your password" in body
    wrong = client.post(
        f"/sessions/{pages.plan.id}/decisions", {**data, "confirm": "not it"}, **HTMX
    )
    assert "That password or code is wrong" in wrong.content.decode()
    assert not FindingDecision.objects.filter(session=pages.plan).exists()
    client.post(
        f"/sessions/{pages.plan.id}/decisions",
        {**data, "confirm": pages.staff.password},
        **HTMX,
    )
    assert FindingDecision.objects.filter(session=pages.plan, kind="override").count() == 1
    kinds = [e.kind for e in SecurityEvent.objects.order_by("-seq")[:3]]
    assert kinds == ["reauthenticated", "reauthentication-failed", "reauthentication-failed"]


def test_signing_asks_for_the_password_and_signs_nothing_without_it(pages: Pages):
    client = pages.client("physician")
    _ready_to_sign(pages, client)
    refused = client.post(f"/sessions/{pages.plan.id}/sign", _sign_data(pages), **HTMX)
    assert refused.status_code == 200
    assert "Not signed: Enter your password" in refused.content.decode()
    pages.plan.refresh_from_db()
    assert not pages.plan.is_signed
    signed = client.post(
        f"/sessions/{pages.plan.id}/sign",
        _sign_data(pages, confirm=pages.staff.password),
        **HTMX,
    )
    assert signed.status_code == 204, signed.content[:400]
    pages.plan.refresh_from_db()
    assert pages.plan.is_signed


@pytest.mark.mfa
def test_the_second_factors_code_also_confirms_a_signature(pages: Pages):
    from tests.security.test_sign_in import code_for, enrol_totp

    client = Client()
    sign_in(client, "a-physician", pages.staff.password)
    secret = enrol_totp(client)
    _ready_to_sign(pages, client)
    signed = client.post(
        f"/sessions/{pages.plan.id}/sign",
        _sign_data(pages, confirm=code_for(secret, 1)),
        **HTMX,
    )
    assert signed.status_code == 204, signed.content[:400]


def test_guessing_the_password_at_the_sign_form_ends_the_session(pages: Pages):
    client = pages.client("physician")
    for n in range(MAX_FAILURES - 1):
        body = client.post(
            f"/sessions/{pages.plan.id}/sign", _sign_data(pages, confirm=f"guess {n}"), **HTMX
        )
        assert body.status_code == 200
    last = client.post(
        f"/sessions/{pages.plan.id}/sign", _sign_data(pages, confirm="guess again"), **HTMX
    )
    assert last.status_code == 204
    assert last["HX-Redirect"] == "/login/"
    assert client.get("/").status_code == 302
    pages.plan.refresh_from_db()
    assert not pages.plan.is_signed
    assert SecurityEvent.objects.order_by("-seq").first().kind == "signed-out"


def test_co_signing_asks_for_the_password_again(pages: Pages):
    from decimal import Decimal

    from tests import builders
    from tests.builders import sessions

    when = timezone.now() - timedelta(hours=2)
    vial = builders.open_vial(pages.staff, pages.lot, at=when - timedelta(hours=1))
    nurse, doctor = pages.staff.actor("nurse"), pages.staff.actor("physician")
    plan = sessions.plan_session(
        nurse,
        pages.patient.id,
        product="onabotulinumtoxinA",
        indication="upper-limb-spasticity",
        plan_date=when.date(),
        injections=[sessions.PointInput("biceps-brachii", "left", Decimal(20))],
        vial_ids=[vial.id],
    )
    for f in sessions.stored_result_at(plan, when)["findings"]:
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        sessions.decide(doctor, plan.id, fingerprint_=f["fingerprint"], kind=kind, reason="Agreed.")
    nurse_signed = sessions.sign_session(nurse, plan.id, administered_at=when)
    client = pages.client("physician")
    refused = client.post(f"/sessions/{nurse_signed.id}/co-sign", {})
    assert refused.status_code == 302
    assert not SessionEvent.objects.filter(session=nurse_signed, kind="co-signed").exists()
    client.post(f"/sessions/{nurse_signed.id}/co-sign", {"confirm": pages.staff.password})
    assert SessionEvent.objects.filter(session=nurse_signed, kind="co-signed").exists()


def test_through_the_api_signing_needs_a_bearer_token_not_a_session(pages: Pages):
    client = pages.client("physician")
    for path in ("sign", "decisions", "co-sign"):
        response = client.post(
            f"/api/v1/sessions/{pages.plan.id}/{path}", {}, content_type="application/json"
        )
        assert response.status_code == 401, (path, response.content)
    # A session still reads through the API.
    assert client.get(f"/api/v1/sessions/{pages.plan.id}").status_code == 200

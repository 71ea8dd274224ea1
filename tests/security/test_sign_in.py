"""Sign-in (issue 8, part 1): django-allauth with its second factor, django-axes' lockout, every
success and failure in the security log.

The tests marked ``mfa`` run as production does: prescribers and clinic admins must hold a second
factor (tests/conftest.py turns the requirement off elsewhere).
"""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.test import Client, TestCase

from bontrack.audit.models import SecurityEvent
from bontrack.security.policy import has_second_factor
from tests import builders

pytestmark = pytest.mark.django_db


def code_for(secret: str, step: int = 0) -> str:
    """The TOTP code an authenticator app shows now (or ``step`` periods later)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


def secret_of(user) -> str:
    from allauth.mfa.utils import decrypt

    found = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return decrypt(found.data["secret"])


def kinds_since(seq: int) -> list[str]:
    return [e.kind for e in SecurityEvent.objects.filter(seq__gt=seq).order_by("seq")]


def last_seq() -> int:
    found = SecurityEvent.objects.order_by("-seq").first()
    return found.seq if found else 0


def sign_in(client: Client, username: str, password: str, **extra: str):
    return client.post("/login/", {"login": username, "password": password, **extra})


def enrol_totp(client: Client) -> str:
    """Through allauth's own pages, as a user would: the secret shown, a code from it."""
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200, page.status_code
    secret = client.session["mfa.totp.secret"]
    # allauth announces the new authenticator once its transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = client.post("/accounts/2fa/totp/activate/", {"code": code_for(secret)})
    assert done.status_code == 302, done.content[:500]
    return secret


@pytest.fixture
def staff() -> builders.Staff:
    return builders.staff()


# --- Password sign-in, and what is logged ------------------------------------------------------


def test_sign_in_by_the_form_logs_success_and_failure(staff):
    client = Client()
    seq = last_seq()
    wrong = sign_in(client, "a-nurse", "not the password at all")
    assert wrong.status_code == 200
    assert "The user name or password is wrong" in wrong.content.decode()
    ok = sign_in(client, "a-nurse", staff.password)
    assert ok.status_code == 302
    assert ok["Location"] == "/"
    assert client.get("/").status_code == 200
    events = list(SecurityEvent.objects.filter(seq__gt=seq).order_by("seq"))
    assert [(e.kind, e.username) for e in events] == [
        ("sign-in-failed", "a-nurse"),
        ("sign-in", "a-nurse"),
    ]
    assert events[1].user_id == staff.nurse.user_id
    assert events[1].address == "127.0.0.1"


def test_the_old_sign_in_address_and_field_still_work(staff):
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    ok = client.post("/login/", {"username": "a-nurse", "password": staff.password})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200


def test_there_is_no_sign_up_and_no_reset_by_mail(staff):
    client = Client()
    closed = client.get("/accounts/signup/")
    assert closed.status_code == 200
    assert "closed" in closed.content.decode().lower()
    assert (
        client.post("/accounts/signup/", {"username": "new", "password1": "x" * 20}).status_code
        == 200
    )
    assert not staff.clinic.memberships.filter(user__username="new").exists()
    reset = client.get("/accounts/password/reset/").content.decode()
    assert "Ask your clinic's administrator" in reset


# --- Lockout -----------------------------------------------------------------------------------


def test_ten_wrong_passwords_lock_the_account_from_anywhere(staff):
    seq = last_seq()
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 10
    answers = []
    for n in range(limit):
        client = Client(REMOTE_ADDR=f"10.0.0.{n + 1}")  # from ten addresses: per account
        answers.append(sign_in(client, "a-nurse", f"wrong password {n}").status_code)
    assert answers[:-1] == [200] * (limit - 1)
    assert answers[-1] == 429
    locked = sign_in(Client(REMOTE_ADDR="10.9.9.9"), "a-nurse", staff.password)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert not locked.wsgi_request.user.is_authenticated
    kinds = kinds_since(seq)
    assert kinds.count("sign-in-failed") == limit
    assert "locked-out" in kinds
    assert kinds[-1] == "sign-in-refused"  # the right password, while locked out
    assert "sign-in" not in kinds
    # Another account is not locked, from an address that has not failed.
    assert sign_in(Client(REMOTE_ADDR="10.9.9.9"), "a-auditor", staff.password).status_code == 302


def test_ten_failures_from_one_address_lock_that_address(staff):
    address = "192.0.2.7"
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(REMOTE_ADDR=address), f"nobody-{n}", "wrong password here")
    refused = sign_in(Client(REMOTE_ADDR=address), "a-auditor", staff.password)
    assert refused.status_code == 429
    assert sign_in(Client(REMOTE_ADDR="192.0.2.8"), "a-auditor", staff.password).status_code == 302


def test_the_api_token_sign_in_is_locked_out_too(staff):
    client = Client(REMOTE_ADDR="198.51.100.4")
    body = {"username": "a-nurse", "password": "wrong password"}
    statuses = [
        client.post("/api/v1/auth/token", body, content_type="application/json").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[:-1] == [401] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    right = client.post(
        "/api/v1/auth/token",
        {"username": "a-nurse", "password": staff.password},
        content_type="application/json",
    )
    assert right.status_code == 429
    assert right.json()["errors"][0]["message"].startswith("too many failed sign-ins")


# --- The second factor -------------------------------------------------------------------------


@pytest.mark.mfa
def test_a_prescriber_enrols_totp_before_anything_else_then_signs_in_with_it(staff):
    client = Client()
    seq = last_seq()
    assert sign_in(client, "a-physician", staff.password).status_code == 302
    # Nothing but enrolment until a second factor is set up: pages, API, FHIR.
    blocked = client.get("/patients/")
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/accounts/2fa/")
    api = client.get("/api/v1/patients")
    assert api.status_code == 403
    assert "second factor" in api.json()["errors"][0]["message"]
    fhir = client.get("/fhir/Patient")
    assert fhir.status_code == 403
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert client.get("/accounts/2fa/").status_code == 200

    secret = enrol_totp(client)
    assert has_second_factor(staff.physician.user)
    codes = RecoveryCodes(
        Authenticator.objects.get(user=staff.physician.user, type="recovery_codes")
    ).generate_codes()
    assert len(codes) == 10
    assert client.get("/patients/").status_code == 200
    client.post("/logout/")

    # Signing in again: the password, then the code.
    again = Client()
    step = sign_in(again, "a-physician", staff.password)
    assert step.status_code == 302
    assert step["Location"] == "/accounts/2fa/authenticate/"
    assert again.get("/").status_code == 302  # not signed in yet
    wrong = again.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert not wrong.wsgi_request.user.is_authenticated
    done = again.post("/accounts/2fa/authenticate/", {"code": code_for(secret, 1)})
    assert done.status_code == 302
    assert again.get("/patients/").status_code == 200

    kinds = kinds_since(seq)
    assert kinds.count("sign-in") == 2
    assert "mfa-enrolled" in kinds
    assert "mfa-failed" in kinds
    assert "mfa-passed" in kinds


@pytest.mark.mfa
def test_a_recovery_code_signs_in_once(staff):
    client = Client()
    sign_in(client, "a-admin", staff.password)
    enrol_totp(client)
    codes = RecoveryCodes(
        Authenticator.objects.get(user=staff.admin.user, type="recovery_codes")
    ).generate_codes()
    first = Client()
    sign_in(first, "a-admin", staff.password)
    assert first.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert first.get("/audit/").status_code == 200
    second = Client()
    sign_in(second, "a-admin", staff.password)
    reused = second.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert reused.status_code == 200
    assert second.get("/audit/").status_code == 302


@pytest.mark.mfa
def test_front_desk_needs_no_second_factor_unless_the_clinic_asks_it_of_everyone(staff):
    client = Client()
    assert sign_in(client, "a-frontdesk", staff.password).status_code == 302
    assert client.get("/patients/").status_code == 200
    staff.clinic.require_mfa = True
    staff.clinic.save(update_fields=["require_mfa"])
    blocked = client.get("/patients/")
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/accounts/2fa/")


@pytest.mark.mfa
def test_an_api_token_needs_the_second_factor_of_those_who_must_have_one(staff):
    api = Client()
    body = {"username": "a-physician", "password": staff.password}
    refused = api.post("/api/v1/auth/token", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "code"

    pages = Client()
    sign_in(pages, "a-physician", staff.password)
    secret = enrol_totp(pages)
    seq = last_seq()
    missing = api.post("/api/v1/auth/token", body, content_type="application/json")
    assert missing.status_code == 401
    wrong = api.post(
        "/api/v1/auth/token", {**body, "code": "123456"}, content_type="application/json"
    )
    assert wrong.status_code == 401
    ok = api.post(
        "/api/v1/auth/token",
        {**body, "code": code_for(secret, 1)},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    assert kinds_since(seq) == ["mfa-failed", "mfa-failed", "sign-in"]
    # The front desk needs none: a password is enough.
    desk = api.post(
        "/api/v1/auth/token",
        {"username": "a-frontdesk", "password": staff.password},
        content_type="application/json",
    )
    assert desk.status_code == 201


@pytest.mark.mfa
def test_the_second_factor_is_checked_against_guessing(staff):
    client = Client()
    sign_in(client, "a-physician", staff.password)
    enrol_totp(client)
    guesser = Client()
    sign_in(guesser, "a-physician", staff.password)
    answers = [
        guesser.post("/accounts/2fa/authenticate/", {"code": f"{n:06d}"}).content.decode()
        for n in range(11)
    ]
    assert "Too many failed" in answers[-1]
    assert not guesser.get("/").wsgi_request.user.is_authenticated

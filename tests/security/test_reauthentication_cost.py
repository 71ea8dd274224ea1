"""Asking again who acts (security/reauth.py) with a second factor's code never runs the password
hasher; with the password it does, as before. Failures count the same either way.

The password hasher here is bontrack's own Argon2id hasher at OWASP's floor (not the fast MD5
hasher of the rest of the suite), subclassed only to count its calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from bontrack.accounts.hashers import HostArgon2PasswordHasher
from bontrack.audit.models import SecurityEvent
from bontrack.security.reauth import FAILURES_KEY
from bontrack.treatments.models import FindingDecision
from bontrack.treatments.services import stored_result_at
from tests.security.test_sign_in import code_for, enrol_totp, sign_in
from tests.web.conftest import Pages

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]
HTMX = {"HTTP_HX_REQUEST": "true"}


class CountingArgon2Hasher(HostArgon2PasswordHasher):
    """The configured hasher, counting what it is asked to do."""

    calls: ClassVar[list[str]] = []

    def encode(self, password: str, salt: str) -> str:
        CountingArgon2Hasher.calls.append("encode")
        return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        CountingArgon2Hasher.calls.append("verify")
        return super().verify(password, encoded)


COUNTING = f"{__name__}.CountingArgon2Hasher"
# The suite's users were made with MD5: it stays listed so that their first sign-in verifies it,
# and Django re-hashes the password with the counting Argon2id hasher right then.
HASHERS = [COUNTING, "django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def counted() -> Iterator[list[str]]:
    with override_settings(PASSWORD_HASHERS=HASHERS):
        CountingArgon2Hasher.calls = []
        yield CountingArgon2Hasher.calls


def _physician_with_totp(pages: Pages) -> tuple[Client, str]:
    """Signed in through the form with the password (re-hashed with Argon2id on the way), then
    enrolled in TOTP through allauth's pages, as the second factor is required of prescribers."""
    client = Client()
    sign_in(client, "a-physician", pages.staff.password)
    secret = enrol_totp(client)
    stored = get_user_model().objects.get(username="a-physician").password
    assert stored.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    return client, secret


def _override(pages: Pages, client: Client, confirm: str):
    block = next(
        f
        for f in stored_result_at(pages.plan, timezone.now())["findings"]
        if f["severity"] == "block" and f["overridable"]
    )
    data = {"fingerprint": block["fingerprint"], "kind": "override", "reason": "Reviewed twice."}
    return client.post(f"/sessions/{pages.plan.id}/decisions", {**data, "confirm": confirm}, **HTMX)


def test_a_totp_code_re_authenticates_without_running_the_hasher(pages: Pages, counted):
    client, secret = _physician_with_totp(pages)
    counted.clear()
    answer = _override(pages, client, code_for(secret, 1))
    assert answer.status_code == 200
    assert FindingDecision.objects.filter(session=pages.plan, kind="override").count() == 1
    assert SecurityEvent.objects.order_by("-seq").first().kind == "reauthenticated"
    assert counted == []


def test_a_recovery_code_re_authenticates_without_running_the_hasher(pages: Pages, counted):
    from allauth.mfa.models import Authenticator

    client, _ = _physician_with_totp(pages)
    codes = (
        Authenticator.objects.get(
            user__username="a-physician", type=Authenticator.Type.RECOVERY_CODES
        )
        .wrap()
        .get_unused_codes()
    )
    counted.clear()
    _override(pages, client, codes[0])
    assert FindingDecision.objects.filter(session=pages.plan, kind="override").count() == 1
    assert counted == []


def test_the_password_still_re_authenticates_and_is_hashed_to_check_it(pages: Pages, counted):
    client, _ = _physician_with_totp(pages)
    counted.clear()
    _override(pages, client, pages.staff.password)
    assert FindingDecision.objects.filter(session=pages.plan, kind="override").count() == 1
    assert SecurityEvent.objects.order_by("-seq").first().kind == "reauthenticated"
    assert counted == ["verify"]


def test_a_wrong_code_counts_as_a_failure_as_a_wrong_password_does(pages: Pages, counted):
    client, secret = _physician_with_totp(pages)
    wrong_code = f"{(int(code_for(secret, 1)) + 1) % 1_000_000:06d}"
    _override(pages, client, wrong_code)
    _override(pages, client, "not the password either")
    assert not FindingDecision.objects.filter(session=pages.plan).exists()
    failures = SecurityEvent.objects.filter(kind="reauthentication-failed").order_by("seq")
    assert [e.detail["failures"] for e in failures] == [1, 2]
    assert client.session[FAILURES_KEY] == 2

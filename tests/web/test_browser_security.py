"""Sign-in security in a real browser (Playwright driving Debian's Chromium, as test_browser.py):
lockout after repeated wrong passwords, enrolling an authenticator app and signing in with it,
adding a security key (Chromium's virtual authenticator) and signing in with it, the idle
time-out, and the password or code asked again before signing.

Screenshots go to var/screenshots/ (security-*.png). Without /usr/bin/chromium the tests skip
saying why; under CI=true they fail instead.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.mfa.models import Authenticator
from django.utils import timezone

from bontrack.audit.models import SecurityEvent
from bontrack.treatments.models import TreatmentSession
from tests import builders
from tests.security.test_sign_in import code_for, last_seq
from tests.web.test_browser import browser, shot  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # A Content-Security-Policy violation is reported on the console.
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page, problems


def _sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")


def test_ten_wrong_passwords_lock_the_account(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s = builders.staff()
    page, problems = _page(browser)
    for n in range(9):
        _sign_in(page, live_server.url, "a-nurse", f"wrong password {n}")
        expect(page.locator(".alert.error")).to_contain_text("wrong")
    shot(page, "security-01-wrong-password")
    _sign_in(page, live_server.url, "a-nurse", "wrong password 9")
    expect(page.locator("h1")).to_have_text("Too many failed sign-ins")
    _sign_in(page, live_server.url, "a-nurse", s.password)  # the right one, too late
    expect(page.locator("h1")).to_have_text("Too many failed sign-ins")
    shot(page, "security-02-locked-out")
    assert problems == []


@pytest.mark.mfa
def test_a_prescriber_enrols_an_authenticator_app_and_signs_in_with_it(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s = builders.staff()
    base = live_server.url
    page, problems = _page(browser)
    _sign_in(page, base, "a-physician", s.password)
    # Nothing else until a second factor is set up.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    page.goto(f"{base}/patients/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    shot(page, "security-03-second-factor-required")
    page.goto(f"{base}/accounts/2fa/totp/activate/")
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    expect(page.locator("img")).to_have_count(1)  # the QR code, a data: image the CSP allows
    shot(page, "security-04-activate-totp")
    page.fill("input[name=code]", code_for(secret))
    page.click("main button[type=submit]")
    expect(page.locator("main h1")).to_have_text("Keep your recovery codes")
    shot(page, "security-05-recovery-codes")
    page.goto(f"{base}/")
    expect(page.locator("h1")).to_contain_text("Today")

    # Sign out and in again: the password, then the app's code.
    page.click("button:has-text('Sign out')")
    _sign_in(page, base, "a-physician", s.password)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    shot(page, "security-06-enter-code")
    page.fill("input[name=code]", "000000")
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("input[name=code]", code_for(secret, 1))
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")
    page.goto(f"{base}/account/")
    expect(page.locator("#second-factor")).to_contain_text("on")
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    shot(page, "security-07-account")
    assert problems == []


def test_an_idle_session_ends_and_signing_asks_for_the_password(browser, live_server, settings):  # noqa: F811
    from playwright.sync_api import expect

    s = builders.staff()
    p = builders.patient(s, weight_kg=Decimal(70))
    builders.consent(s, p, "glabellar-lines")
    stock = builders.lot(s, number="G1", vials=2)
    vial = builders.open_vial(s, stock, at=timezone.now() - timedelta(minutes=30))
    plan = builders.sessions.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="glabellar-lines",
        plan_date=timezone.localdate(),
        injections=[builders.sessions.PointInput("procerus", "midline", Decimal(4))],
        vial_ids=[vial.id],
    )
    for f in builders.sessions.stored_result_at(plan, timezone.now())["findings"]:
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        builders.sessions.decide(
            s.actor("physician"), plan.id, fingerprint_=f["fingerprint"], kind=kind, reason="ok"
        )
    base = live_server.url
    page, problems = _page(browser)

    # Signing asks for the password again: a wrong one signs nothing.
    _sign_in(page, base, "a-physician", s.password)
    page.goto(f"{base}/sessions/{plan.id}/")
    expect(page.locator("#sign button.go")).to_be_enabled()
    page.fill("#sign-confirm", "not my password")
    page.click("#sign button.go")
    expect(page.locator("#sign .alert.error")).to_contain_text("wrong: nothing was done")
    shot(page, "security-08-sign-refused")
    assert not TreatmentSession.objects.get(pk=plan.pk).is_signed
    page.fill("#sign-confirm", s.password)
    page.click("#sign button.go")
    expect(page.locator(".page-head .badge")).to_contain_text("Signed")
    assert TreatmentSession.objects.get(pk=plan.pk).is_signed

    # The clinic admin's audit page: the signature just made, sortable, exportable.
    page.click("button:has-text('Sign out')")
    _sign_in(page, base, "a-admin", s.password)
    page.goto(f"{base}/audit/?action=sign")
    expect(page.locator("#entries tbody tr")).to_have_count(1)
    shot(page, "security-10-audit")
    page.goto(f"{base}/patients/{p.id}/disclosures")
    shot(page, "security-11-disclosures")

    # Idle for longer than the limit (3 s here, 30 min in use): the next page asks to sign in.
    page.click("button:has-text('Sign out')")
    settings.SESSION_COOKIE_AGE = 3
    _sign_in(page, base, "a-nurse", s.password)
    expect(page.locator("h1")).to_contain_text("Today")
    time.sleep(4)
    page.goto(f"{base}/patients/{p.id}/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    shot(page, "security-09-idle-signed-out")
    assert problems == []


# A USB security key with a PIN, as Chromium's DevTools protocol emulates one: it answers
# navigator.credentials.create() and .get() without a person touching anything.
VIRTUAL_SECURITY_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.mark.mfa
def test_a_prescriber_adds_a_security_key_and_signs_in_with_it(browser, live_server, settings):  # noqa: F811
    from playwright.sync_api import expect

    # WebAuthn binds a key to the site's host (the relying party id) and runs only in a secure
    # context: http://localhost is one, and the settings accept its origin outside production.
    assert re.fullmatch(r"http://localhost:\d+", live_server.url)
    assert settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN
    s = builders.staff()
    base = live_server.url
    page, problems = _page(browser)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    key = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_SECURITY_KEY})
    key_id = {"authenticatorId": key["authenticatorId"]}

    # The password, then nothing but the second-factor pages until a key is added there.
    _sign_in(page, base, "a-physician", s.password)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    page.locator("#security-keys").get_by_role("link", name="Add a security key").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/webauthn/add/"))
    shot(page, "security-12-add-security-key")
    page.click("#mfa_webauthn_add")
    expect(page.locator(".alert.success").first).to_contain_text("Security key added")
    shot(page, "security-13-security-key-added")
    [credential] = cdp.send("WebAuthn.getCredentials", key_id)["credentials"]
    assert credential["rpId"] == "localhost"
    user = s.physician.user
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).count() == 1
    page.goto(f"{base}/")
    expect(page.locator("h1")).to_contain_text("Today")

    # Sign out and in again: the password, then the key (no code typed).
    page.click("button:has-text('Sign out')")
    seq = last_seq()
    _sign_in(page, base, "a-physician", s.password)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    shot(page, "security-14-use-security-key")
    page.get_by_role("button", name="Use a security key").click()
    expect(page.locator("h1")).to_contain_text("Today")
    [used] = cdp.send("WebAuthn.getCredentials", key_id)["credentials"]
    assert used["credentialId"] == credential["credentialId"]
    assert used["signCount"] > credential["signCount"]
    passed = SecurityEvent.objects.filter(seq__gt=seq, kind="mfa-passed", user_id=user.pk)
    assert [e.detail["type"] for e in passed] == ["webauthn"]
    shot(page, "security-15-signed-in-with-security-key")
    assert problems == []

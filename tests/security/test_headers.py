"""Headers and settings (issue 8, part 5): a Content-Security-Policy with nonces and no inline
script, frame denial, referrer policy, no-store; no patient data in addresses; under the
production settings `manage.py check --deploy` is clean, HSTS and __Host- cookies are on, and
start-up refuses an unsafe configuration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from bontrack.api.main import api
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "bontrack").rglob("templates/**/*.html"))


def test_pages_carry_a_nonce_based_csp_and_deny_framing(pages: Pages):
    response = pages.client("physician").get(f"/patients/{pages.patient.id}/")
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"]).group(1)
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'"
    # No style-src-attr: style="" attributes fall under style-src, which refuses them.
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    assert "style-src-attr" not in directives
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert f'nonce="{nonce}"' in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    other = pages.client("physician").get("/")
    assert re.search(r"'nonce-([^']+)'", other["Content-Security-Policy"]).group(1) != nonce


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script(template: Path):
    text = template.read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    handlers = re.findall(r"\son[a-z]+\s*=", text)
    assert handlers == [], handlers
    assert "javascript:" not in text


# WeasyPrint lays these out with the <style> element they carry (in the note, only when it is made
# into a PDF); no browser is sent one.
PDF_STYLED = {
    "bontrack/web/templates/web/note.html",
    # the superbill's and the invoice's PDF layouts (their pages use base.html)
    "bontrack/web/templates/web/superbill_print.html",
    "bontrack/web/templates/web/invoice_pdf.html",
    "bontrack/charting/templates/charting/consent_pdf.html",
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_style(template: Path):
    text = template.read_text(encoding="utf-8")
    attributes = [
        f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
        for m in re.finditer(r"\sstyle\s*=\s*\S{0,40}", text)
    ]
    assert attributes == [], attributes
    if str(template.relative_to(ROOT)) not in PDF_STYLED:
        assert "<style" not in text


def test_nothing_the_app_renders_is_cached(pages: Pages):
    client = pages.client("physician")
    for path in (
        f"/patients/{pages.patient.id}/",
        f"/sessions/{pages.signed.id}/note",
        "/login/",
        "/api/v1/patients",
        f"/fhir/Patient/{pages.patient.id}",
    ):
        assert client.get(path)["Cache-Control"] == "no-store", path


# --- No patient data in addresses --------------------------------------------------------------

# Query parameters the API takes: ids, codes, dates of records, paging and formats; never a name,
# a birth date or a contact detail.
ALLOWED_QUERY = {
    # ids and codes
    "patient_id",
    "lot_id",
    "injector_id",
    "indication",
    "product",
    "scale",
    "action",
    "data",
    # the audit report's staff user name and client address (not the patient's)
    "user",
    "address",
    # periods of records, paging, formats, switches
    "since",
    "until",
    "start",
    "end",
    # the day a price list, a day's takings or a diagnosis's validity is asked for
    "on",
    "date",
    "weeks",
    "overdue_weeks",
    "days",
    "expiring_within_days",
    "sort",
    "limit",
    "offset",
    "format",
    "dry_run",
    "available",
    "identify",
    # a correction request's state (open, accepted, declined, withdrawn)
    "status",
    # where a dose given elsewhere was given and the kind of document it was read from (the other
    # clinic, not the patient; docs/security.md asks that they name no patient)
    "place",
    "source_document",
}
IDENTIFYING = re.compile(r"name|birth|phone|email|address_line|^q$|search|record_number|mrn")


def test_no_api_operation_takes_patient_data_in_its_query_string():
    schema = api.get_openapi_schema()
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] == "query":
                    found[f"{method.upper()} {path}?{param['name']}"] = param["name"]
    identifying = sorted(k for k, name in found.items() if IDENTIFYING.search(name))
    assert identifying == []
    unknown = sorted(k for k, name in found.items() if name not in ALLOWED_QUERY)
    assert unknown == [], "a new query parameter: is it free of patient data? add it here"


def test_no_page_form_sends_patient_data_in_its_address():
    problems = []
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S):
            opening = form[: form.index(">") + 1]
            if 'method="post"' in opening.lower():
                continue
            names = re.findall(r'name="([^"]+)"', form)
            bad = [n for n in names if IDENTIFYING.search(n)]
            if bad:
                problems.append(f"{template.relative_to(ROOT)}: {bad}")
        for attribute in re.findall(r'hx-get="[^"]*"[^>]*name="([^"]+)"', text):
            if IDENTIFYING.search(attribute):
                problems.append(f"{template.relative_to(ROOT)}: hx-get {attribute}")
    assert problems == []


def test_the_booking_pages_patient_search_is_posted(pages: Pages):
    client = pages.client("front_desk")
    found = client.post("/appointments/new", {"q": "Doe", "at": ""}).content.decode()
    assert "Doe, Alex" in found
    page = client.get("/appointments/new", {"q": "Doe"}).content.decode()
    assert "Doe, Alex" not in page  # a name in the address is ignored, never echoed


def test_the_patient_search_is_posted(pages: Pages):
    client = pages.client("front_desk")
    found = client.post("/patients/", {"q": "Doe"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Doe, Alex" in found
    page = client.get("/patients/", {"q": "Nobody"}).content.decode()
    assert "Nobody" not in page  # a name in the address is ignored, never echoed


# --- The production settings -------------------------------------------------------------------

PRODUCTION = {
    "BONTRACK_ENV": "production",
    "SECRET_KEY": "k" * 20 + "9f8e7d6c5b4a3928171605f4e3d2c1b0a9" + "Zy",
    "BONTRACK_ALLOWED_HOSTS": "bontrack.clinic.example",
    # A Fernet key for second-factor secrets (never a real deployment's).
    "BONTRACK_CREDENTIALS_KEY": "4iHmiOp5wAwSlc5NtmYgS4qWniadNO0L_MJLjnKZGGw=",
    # The audit trail's HMAC key (never a real deployment's).
    "BONTRACK_AUDIT_KEY": "test-audit-key-kept-outside-the-database",
}


def _run(code: str, extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BONTRACK_", "DJANGO_", "PYTEST"))
        and k not in ("SECRET_KEY", "DATABASE_URL")
    }
    env.update({"BONTRACK_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "bontrack.settings"})
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_the_production_settings(tmp_path):
    done = _run(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        PRODUCTION,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_production_sends_hsts_and_host_prefixed_secure_cookies(tmp_path):
    code = """
import json, django
django.setup()
from django.test import Client
from django.conf import settings
# collectstatic has not run here: name static files without WhiteNoise's manifest.
settings.STORAGES["staticfiles"] = {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
client = Client(HTTP_HOST="bontrack.clinic.example")
plain = client.get("/login/")
secure = client.get("/login/", secure=True)
cookie = secure.cookies.get(settings.CSRF_COOKIE_NAME)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "hsts": secure.get("Strict-Transport-Security", ""),
    "csrf_cookie": settings.CSRF_COOKIE_NAME,
    "session_cookie": settings.SESSION_COOKIE_NAME,
    "secure": bool(cookie and cookie["secure"]),
    "httponly": bool(cookie and cookie["httponly"]),
    "samesite": cookie["samesite"] if cookie else "",
    "hashers": settings.PASSWORD_HASHERS[0],
}))
"""
    done = _run(code, PRODUCTION, tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://bontrack.clinic.example/login/"]
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["csrf_cookie"].startswith("__Host-")
    assert seen["session_cookie"].startswith("__Host-")
    assert seen["secure"]
    assert seen["httponly"]
    assert seen["samesite"] == "Lax"
    assert "Argon2" in seen["hashers"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"BONTRACK_DEBUG": "1"}, "BONTRACK_DEBUG is on"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY is weak"),
        ({"BONTRACK_ALLOWED_HOSTS": "*"}, "no wildcard"),
        ({"BONTRACK_MFA_ENFORCED": "0"}, "BONTRACK_MFA_ENFORCED is off"),
        ({"BONTRACK_LOCKOUT_FAILURES": "1000"}, "lockout is off or above 20"),
        ({"BONTRACK_IDLE_MINUTES": "240"}, "BONTRACK_IDLE_MINUTES is above 30"),
        ({"BONTRACK_SESSION_HOURS": "72"}, "BONTRACK_SESSION_HOURS is above 12"),
        ({"BONTRACK_CREDENTIALS_KEY": ""}, "BONTRACK_CREDENTIALS_KEY is not set"),
        ({"BONTRACK_CREDENTIALS_KEY": "a passphrase"}, "BONTRACK_CREDENTIALS_KEY is not a Fernet"),
        (
            {"BONTRACK_CREDENTIALS_KEY_FALLBACKS": "old-passphrase"},
            "BONTRACK_CREDENTIALS_KEY_FALLBACKS: key 1 is not a Fernet key",
        ),
    ],
)
def test_start_up_refuses_an_unsafe_production_configuration(tmp_path, change, complaint):
    done = _run("import django; django.setup()", {**PRODUCTION, **change}, tmp_path)
    assert done.returncode != 0
    assert "unsafe production configuration" in done.stderr
    assert complaint in done.stderr


def test_the_safe_production_configuration_starts(tmp_path):
    done = _run("import django; django.setup(); print('started')", PRODUCTION, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"


def test_tests_and_make_run_stay_local():
    assert settings.PRODUCTION is False
    assert settings.SESSION_COOKIE_NAME == "sessionid"

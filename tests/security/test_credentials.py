"""Second-factor secrets encrypted at rest (ONC 170.315(d)(12); bontrack/security/credentials.py).

The database rows are read with a cursor, as someone holding a copy of the database would read
them; the keys are checked with cryptography's Fernet directly. Sign-in goes through allauth's
own pages, as in test_sign_in.py.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import SecurityEvent
from bontrack.security import credentials
from bontrack.security.credentials import CredentialKeyError
from tests import builders
from tests.security.test_headers import PRODUCTION, _run
from tests.security.test_sign_in import code_for, enrol_totp, sign_in

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def new_key() -> str:
    return Fernet.generate_key().decode()


def stored_rows(user_id: int) -> dict[str, str]:
    """The user's authenticators as the database holds them: type -> the data column's text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, data FROM mfa_authenticator WHERE user_id = %s", [user_id])
        rows = cursor.fetchall()
    return {kind: data if isinstance(data, str) else json.dumps(data) for kind, data in rows}


def stored(user_id: int, kind: str) -> dict[str, Any]:
    return json.loads(stored_rows(user_id)[kind])


def signs_in_with(username: str, password: str, code: str) -> bool:
    """The password, then a code at allauth's second-factor page; True when signed in."""
    client = Client()
    first = sign_in(client, username, password)
    assert first["Location"] == "/accounts/2fa/authenticate/", first
    done = client.post("/accounts/2fa/authenticate/", {"code": code})
    return done.status_code == 302 and client.get("/").status_code == 200


def enrolled(staff: builders.Staff, username: str = "a-physician") -> str:
    client = Client()
    sign_in(client, username, staff.password)
    return enrol_totp(client)


@pytest.fixture
def staff() -> builders.Staff:
    return builders.staff()


@pytest.fixture
def key(settings) -> str:
    """A known current key and no fallbacks, whatever the environment configures."""
    current = new_key()
    settings.BONTRACK_CREDENTIALS_KEY = current
    settings.BONTRACK_CREDENTIALS_KEY_FALLBACKS = []
    return current


# --- At rest -----------------------------------------------------------------------------------


@pytest.mark.mfa
@pytest.mark.postgres(sqlite=True)
def test_enrolment_stores_no_secret_in_clear_and_sign_in_with_a_code_still_works(staff, key):
    secret = enrolled(staff)
    user_id = staff.physician.user_id
    rows = stored_rows(user_id)
    assert sorted(rows) == ["recovery_codes", "totp"]
    assert secret not in rows["totp"]
    token = json.loads(rows["totp"])["secret"]
    assert Fernet(key.encode()).decrypt(token.encode()).decode() == secret
    seed_token = json.loads(rows["recovery_codes"])["seed"]
    seed = Fernet(key.encode()).decrypt(seed_token.encode()).decode()
    assert seed not in rows["recovery_codes"]
    assert len(seed) == 80  # allauth's 40 random bytes, in hexadecimal
    # Nor is the secret left in the session that enrolled it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_data FROM django_session")
        sessions = [SessionStore().decode(row[0]) for row in cursor.fetchall()]
    assert sessions
    assert not any(secret in json.dumps(data) for data in sessions)

    assert signs_in_with("a-physician", staff.password, code_for(secret))
    codes = RecoveryCodes(Authenticator.objects.get(user_id=user_id, type="recovery_codes"))
    assert signs_in_with("a-physician", staff.password, codes.generate_codes()[3])


# --- Rotation ----------------------------------------------------------------------------------


@pytest.mark.mfa
def test_a_rotated_key_keeps_sign_in_working_and_reencrypting_retires_the_old_one(
    staff, key, settings
):
    old = key
    secret = enrolled(staff)
    user_id = staff.physician.user_id
    before = {kind: stored(user_id, kind) for kind in ("totp", "recovery_codes")}

    # A new key, the old one kept to read what it encrypted.
    new = new_key()
    settings.BONTRACK_CREDENTIALS_KEY = new
    settings.BONTRACK_CREDENTIALS_KEY_FALLBACKS = [old]
    assert signs_in_with("a-physician", staff.password, code_for(secret))

    out = io.StringIO()
    call_command("reencrypt_credentials", stdout=out)
    assert "the secrets of 2 authenticators are encrypted" in out.getvalue()
    after = {kind: stored(user_id, kind) for kind in ("totp", "recovery_codes")}
    for kind, field in (("totp", "secret"), ("recovery_codes", "seed")):
        token = after[kind][field].encode()
        assert after[kind][field] != before[kind][field]
        assert Fernet(new.encode()).decrypt(token) == Fernet(old.encode()).decrypt(
            before[kind][field].encode()
        )
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(token)
    assert after["recovery_codes"]["used_mask"] == before["recovery_codes"]["used_mask"]
    assert SecurityEvent.objects.filter(kind="credentials-reencrypted").count() == 1

    # The old key is no longer needed: the code and the recovery codes work without it.
    settings.BONTRACK_CREDENTIALS_KEY_FALLBACKS = []
    assert signs_in_with("a-physician", staff.password, code_for(secret, 1))
    codes = RecoveryCodes(Authenticator.objects.get(user_id=user_id, type="recovery_codes"))
    assert signs_in_with("a-physician", staff.password, codes.generate_codes()[0])


# --- Failing loudly ----------------------------------------------------------------------------


@pytest.mark.mfa
def test_a_secret_that_no_configured_key_opens_is_an_error_naming_the_keys(staff, key, settings):
    secret = enrolled(staff)
    user_id = staff.physician.user_id
    before = stored_rows(user_id)
    settings.BONTRACK_CREDENTIALS_KEY = new_key()

    client = Client()
    sign_in(client, "a-physician", staff.password)
    with pytest.raises(CredentialKeyError, match="does not decrypt with BONTRACK_CREDENTIALS_KEY"):
        client.post("/accounts/2fa/authenticate/", {"code": code_for(secret)})
    assert not client.get("/").wsgi_request.user.is_authenticated

    # Re-encrypting needs the old key too: it changes nothing and says which authenticator.
    with pytest.raises(CommandError, match=r"authenticator \d+ \(totp of user \d+\).*nothing"):
        call_command("reencrypt_credentials", stdout=io.StringIO())
    assert stored_rows(user_id) == before

    # A secret stored in clear is never taken as it stands.
    with pytest.raises(CredentialKeyError, match="stored in clear"):
        credentials.decrypt(secret)


@pytest.mark.mfa
def test_without_a_usable_key_enrolment_says_what_to_set(staff, settings):
    client = Client()
    sign_in(client, "a-physician", staff.password)
    client.get("/accounts/2fa/totp/activate/")
    secret = client.session["mfa.totp.secret"]
    settings.BONTRACK_CREDENTIALS_KEY = ""
    with pytest.raises(CredentialKeyError, match="set BONTRACK_CREDENTIALS_KEY to a Fernet key"):
        client.post("/accounts/2fa/totp/activate/", {"code": code_for(secret)})
    settings.BONTRACK_CREDENTIALS_KEY = "a passphrase, not a key"
    with pytest.raises(CredentialKeyError, match="BONTRACK_CREDENTIALS_KEY is not a Fernet key"):
        client.post("/accounts/2fa/totp/activate/", {"code": code_for(secret, 1)})
    assert not Authenticator.objects.filter(user=staff.physician.user).exists()


# --- Secrets stored before they were encrypted -------------------------------------------------


def _insert(user_id: int, kind: str, data: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mfa_authenticator (user_id, type, data, created_at) "
            "VALUES (%s, %s, %s, %s)",
            [user_id, kind, json.dumps(data), timezone.now()],
        )


@pytest.mark.postgres(sqlite=True)
@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_secrets_stored_in_clear_and_leaves_encrypted_ones_alone(staff, key):
    # As allauth makes them: a base32 TOTP secret, a hexadecimal seed.
    plain_secret = base64.b32encode(secrets.token_bytes(20)).decode()
    plain_seed = secrets.token_hex(40)
    encrypted_secret = credentials.encrypt(base64.b32encode(secrets.token_bytes(20)).decode())
    webauthn = {"name": "Master key", "credential": {"type": "public-key", "id": "AAEC"}}
    physician, admin, nurse = (staff.physician.user_id, staff.admin.user_id, staff.nurse.user_id)

    call_command("migrate", "security", "0001_break_glass_and_amendment_requests", verbosity=0)
    try:
        _insert(physician, "totp", {"secret": plain_secret})
        _insert(physician, "recovery_codes", {"seed": plain_seed, "used_mask": 5})
        _insert(admin, "totp", {"secret": encrypted_secret})
        _insert(admin, "recovery_codes", {"seed": plain_seed, "migrated_codes": ["12345678"]})
        _insert(nurse, "webauthn", webauthn)
    finally:
        call_command("migrate", "security", verbosity=0)

    fernet = Fernet(key.encode())
    rows = stored_rows(physician)
    assert plain_secret not in rows["totp"]
    assert plain_seed not in rows["recovery_codes"]
    totp = json.loads(rows["totp"])
    assert fernet.decrypt(totp["secret"].encode()).decode() == plain_secret
    codes = json.loads(rows["recovery_codes"])
    assert fernet.decrypt(codes["seed"].encode()).decode() == plain_seed
    assert codes["used_mask"] == 5
    assert stored(admin, "totp") == {"secret": encrypted_secret}  # not encrypted twice
    migrated = stored(admin, "recovery_codes")["migrated_codes"]
    assert [fernet.decrypt(c.encode()).decode() for c in migrated] == ["12345678"]
    assert stored(nurse, "webauthn") == webauthn
    # allauth reads what the migration wrote.
    assert signs_in_with("a-physician", staff.password, code_for(plain_secret))


# --- The key outside the database: make, production, backups ---------------------------------


def _environment(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BONTRACK_", "DJANGO_", "PYTEST"))
        and k not in ("SECRET_KEY", "DATABASE_URL")
    }
    env.update(
        {
            "BONTRACK_VAR_DIR": str(var_dir),
            "SECRET_KEY": "credentials-test-" + "k" * 40,
            "DATABASE_URL": "",
            "DJANGO_SETTINGS_MODULE": "bontrack.settings",
        }
    )
    env.update(extra)
    return env


def test_make_writes_a_private_key_file_that_production_accepts(tmp_path):
    made = subprocess.run(
        ["make", "-s", "secret-key"],
        cwd=ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    key_file = tmp_path / "credentials_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    written = key_file.read_text().strip()
    Fernet(written.encode())  # a valid key
    again = subprocess.run(
        ["make", "-s", "secret-key"], cwd=ROOT, env=_environment(tmp_path), timeout=60, check=True
    )
    assert again.returncode == 0
    assert key_file.read_text().strip() == written  # never replaced: it opens the stored secrets

    without_env = {k: v for k, v in PRODUCTION.items() if k != "BONTRACK_CREDENTIALS_KEY"}
    started = _run("import django; django.setup(); print('started')", without_env, tmp_path)
    assert started.returncode == 0, started.stderr
    refused = _run("import django; django.setup()", without_env, tmp_path / "elsewhere")
    assert refused.returncode != 0
    assert "BONTRACK_CREDENTIALS_KEY is not set" in refused.stderr

    given = tmp_path / "given"
    subprocess.run(
        ["make", "-s", "secret-key"],
        cwd=ROOT,
        env=_environment(given, BONTRACK_CREDENTIALS_KEY=new_key()),
        timeout=60,
        check=True,
    )
    assert not (given / "credentials_key").exists()


ENROL = """
import django; django.setup()
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user("keyholder", password="a long password here")
TOTP.activate(user, "{secret}")
RecoveryCodes.activate(user)
"""


def _process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_backup_holds_neither_the_key_nor_a_secret_and_restore_checks_the_key(tmp_path):
    key, other = new_key(), new_key()
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    source = _environment(tmp_path / "source", BONTRACK_CREDENTIALS_KEY=key)
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "credentials_key").write_text(key)  # beside the database, as make does
    for args in (
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        [sys.executable, "-c", ENROL.format(secret=secret)],
        [sys.executable, "-m", "bontrack.cli", "backup", str(tmp_path / "backup")],
    ):
        done = _process(args, source)
        assert done.returncode == 0, done.stderr

    files = [p for p in (tmp_path / "backup").rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        assert key.encode() not in content, path
        assert secret.encode() not in content, path

    restore = [sys.executable, "-m", "bontrack.cli", "restore", str(tmp_path / "backup")]
    wrong = _process(restore, _environment(tmp_path / "wrong", BONTRACK_CREDENTIALS_KEY=other))
    assert wrong.returncode == 1, wrong.stderr
    assert "2 of 2 second factors do not open with the configured key" in wrong.stderr
    assert "does not decrypt with BONTRACK_CREDENTIALS_KEY" in wrong.stderr

    rotated = _environment(
        tmp_path / "right", BONTRACK_CREDENTIALS_KEY=other, BONTRACK_CREDENTIALS_KEY_FALLBACKS=key
    )
    right = _process(restore, rotated)
    assert right.returncode == 0, right.stderr
    assert "2 second factors whose secrets open with the configured credentials key" in right.stdout

"""The HMAC key of the audit trail and the security log, held outside the database.

``BONTRACK_AUDIT_KEY`` (else ``var/audit_key``, written by ``make secret-key``) keys every new
entry and every checkpoint; the keys of ``BONTRACK_AUDIT_KEY_FALLBACKS`` still verify what they
keyed after a rotation. Each keyed entry stores the id of its key (a fingerprint, never the key),
so that entries keyed before a rotation, and the unkeyed entries of earlier releases, keep
verifying. Whoever can edit the tables but not read the key can no longer re-hash a chain into
one that verifies.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_ID_LENGTH = 16


class AuditKeyError(ImproperlyConfigured):
    """No audit key, or an entry keyed with a key that is not configured."""


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes


def _key(text: str) -> AuditKey:
    secret = text.encode("utf-8")
    fingerprint = hashlib.sha256(b"bontrack audit key id\x00" + secret).hexdigest()
    return AuditKey(fingerprint[:KEY_ID_LENGTH], secret)


def _written_key_file() -> str:
    """Outside production a missing key is written where ``make secret-key`` writes it, as that
    target would (production refuses to start without one: security/production.py). Written
    beside and linked into place, so that a process starting at the same moment reads the whole
    key or writes none of its own."""
    path = Path(settings.VAR_DIR) / "audit_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".audit_key.{os.getpid()}.{secrets.token_hex(4)}")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as written:
            written.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process's key came first: every process uses that one
        finally:
            draft.unlink()
    return path.read_text(encoding="utf-8").strip()


def signing_key() -> AuditKey:
    current = str(getattr(settings, "BONTRACK_AUDIT_KEY", "") or "")
    if not current and not getattr(settings, "PRODUCTION", False):
        current = _written_key_file()
        settings.BONTRACK_AUDIT_KEY = current
    if not current:
        raise AuditKeyError(
            "no key for the audit trail: set BONTRACK_AUDIT_KEY, or run `make secret-key` to "
            f"write {settings.VAR_DIR}/audit_key"
        )
    return _key(current)


def verifying_keys() -> dict[str, bytes]:
    """Every configured key by its id: the current one and the older ones of a rotation."""
    texts = [str(getattr(settings, "BONTRACK_AUDIT_KEY", "") or "")]
    texts += [str(k) for k in getattr(settings, "BONTRACK_AUDIT_KEY_FALLBACKS", [])]
    keys = [_key(t) for t in texts if t]
    return {k.id: k.secret for k in keys}

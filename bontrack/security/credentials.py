"""Second-factor secrets encrypted at rest (ONC 170.315(d)(12)).

django-allauth keeps each TOTP secret and each set of recovery codes' seed in
``Authenticator.data``, passing them through the MFA adapter's ``encrypt``/``decrypt``
(``security/mfa_adapter.py``), which use the functions here: Fernet (AES-128-CBC with
HMAC-SHA256) under ``BONTRACK_CREDENTIALS_KEY``, with the keys of
``BONTRACK_CREDENTIALS_KEY_FALLBACKS`` still accepted for reading after a rotation.

The key is read from the settings at each use rather than at start-up, so that commands which never
touch a second factor (a backup of a clinic without any, the task consumer) run without it; in
production start-up refuses without one (``security/production.py``). A stored value that no
configured key opens is an error naming the keys, never a secret taken as it stands.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

GENERATE = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
# The Authenticator types whose data holds secrets, and where: a TOTP's shared secret; recovery
# codes' seed, and the codes themselves when they were carried over from django-allauth-2fa.
# WebAuthn keeps only public keys.
SECRET_FIELDS = {"totp": ("secret",), "recovery_codes": ("seed",)}
SECRET_LISTS = {"recovery_codes": ("migrated_codes",)}
# A Fernet token: version 0x80, an 8-byte time, a 16-byte IV, whole AES blocks, a 32-byte HMAC.
_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_-]+=*")
_TOKEN_OVERHEAD = 1 + 8 + 16 + 32
_AES_BLOCK = 16
NO_KEY_OPENS = (
    "a second-factor secret does not decrypt with BONTRACK_CREDENTIALS_KEY nor any key in "
    "BONTRACK_CREDENTIALS_KEY_FALLBACKS: configure the key it was encrypted with (after a "
    "rotation the old key stays a fallback until `manage.py reencrypt_credentials` has run)"
)
STORED_IN_CLEAR = (
    "a second-factor secret is stored in clear, which is never read as it stands: "
    "`manage.py migrate` (security 0002) or `manage.py reencrypt_credentials` encrypts it"
)


class CredentialKeyError(ImproperlyConfigured):
    """No usable key, or a stored secret that none of the configured keys opens."""


def _fernet(name: str, key: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise CredentialKeyError(
            f"{name} is not a Fernet key (32 random bytes in url-safe base64): generate one with "
            f"{GENERATE}"
        ) from error


def credentials_cipher() -> MultiFernet:
    """The current key first (it encrypts), then the older ones (they only decrypt)."""
    current = str(getattr(settings, "BONTRACK_CREDENTIALS_KEY", "") or "")
    if not current:
        raise CredentialKeyError(
            "no key for second-factor secrets: set BONTRACK_CREDENTIALS_KEY to a Fernet key "
            f"({GENERATE}), or run `make secret-key` to write "
            f"{settings.VAR_DIR}/credentials_key"
        )
    fallbacks = list(getattr(settings, "BONTRACK_CREDENTIALS_KEY_FALLBACKS", []))
    return MultiFernet(
        [_fernet("BONTRACK_CREDENTIALS_KEY", current)]
        + [
            _fernet(f"BONTRACK_CREDENTIALS_KEY_FALLBACKS (key {n})", key)
            for n, key in enumerate(fallbacks, start=1)
        ]
    )


def looks_encrypted(value: str) -> bool:
    """Whether ``value`` has the shape of a Fernet token (a TOTP secret is base32 in capitals and
    a seed is hexadecimal: neither can)."""
    if not _TOKEN_ALPHABET.fullmatch(value):
        return False
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, ValueError):
        return False
    body = len(raw) - _TOKEN_OVERHEAD
    return raw[:1] == b"\x80" and body >= _AES_BLOCK and body % _AES_BLOCK == 0


def encrypt(text: str) -> str:
    return credentials_cipher().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    if not looks_encrypted(token):
        raise CredentialKeyError(STORED_IN_CLEAR)
    try:
        return credentials_cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise CredentialKeyError(NO_KEY_OPENS) from None


def _rewrite(kind: str, data: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """``data`` with each of its secrets replaced by ``change(secret)``."""
    updated = dict(data)
    for name in SECRET_FIELDS.get(kind, ()):
        if isinstance(updated.get(name), str):
            updated[name] = change(updated[name])
    for name in SECRET_LISTS.get(kind, ()):
        if isinstance(updated.get(name), list):
            updated[name] = [change(value) for value in updated[name]]
    return updated


def sealed(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every secret stored in clear encrypted; tokens are left as they are."""
    return _rewrite(kind, data, lambda v: v if looks_encrypted(v) else encrypt(v))


def resealed(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every secret encrypted under the current key (from any configured key, or
    from clear); raises ``CredentialKeyError`` when a token opens with none of them."""
    cipher = credentials_cipher()

    def reseal(value: str) -> str:
        if not looks_encrypted(value):
            return encrypt(value)
        try:
            return cipher.rotate(value.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise CredentialKeyError(NO_KEY_OPENS) from None

    return _rewrite(kind, data, reseal)


@dataclass(frozen=True)
class Unreadable:
    authenticator_id: int
    user_id: int
    kind: str
    problem: str


def unreadable(rows: Iterable[tuple[int, int, str, dict[str, Any]]]) -> list[Unreadable]:
    """The authenticators (id, user id, type, data) with a secret the configured keys do not
    open, e.g. after restoring a backup without its key."""
    found = []
    for authenticator_id, user_id, kind, data in rows:
        try:
            _rewrite(kind, data, decrypt)
        except CredentialKeyError as error:
            found.append(Unreadable(authenticator_id, user_id, kind, str(error)))
    return found

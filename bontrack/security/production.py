"""Start-up refuses an unsafe production configuration (``BONTRACK_ENV=production``).

``settings.py`` calls ``production_problems`` on its own namespace at import time, so that a
deployment with debug on, a weak secret key, a wildcard host, plain HTTP, no second factor, no
lockout or no key for the second factor's secrets never serves a request. Pure: reads only the
settings it is given (no models, no I/O).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

MIN_KEY_LENGTH = 50
MIN_HSTS_SECONDS = 31_536_000  # one year
FERNET_KEY_BYTES = 32
GENERATE_FERNET_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def _is_fernet_key(key: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == FERNET_KEY_BYTES


def production_problems(s: Mapping[str, Any]) -> list[str]:
    problems = []
    if s.get("DEBUG"):
        problems.append("BONTRACK_DEBUG is on: debug pages show settings and source")
    key = str(s.get("SECRET_KEY", ""))
    if len(key) < MIN_KEY_LENGTH or len(set(key)) < 5 or key.startswith("django-insecure-"):
        problems.append(
            f"SECRET_KEY is weak: give at least {MIN_KEY_LENGTH} random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    hosts = list(s.get("ALLOWED_HOSTS", []))
    if not hosts or any(h in ("*", ".") or h.startswith("*") for h in hosts):
        problems.append("BONTRACK_ALLOWED_HOSTS must name the site's host names, no wildcard")
    if not s.get("BONTRACK_HTTPS"):
        problems.append(
            "BONTRACK_HTTPS is off: production is served over HTTPS only (secure cookies, HSTS)"
        )
    else:
        for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT"):
            if not s.get(name):
                problems.append(f"{name} must be on over HTTPS")
        if int(s.get("SECURE_HSTS_SECONDS", 0)) < MIN_HSTS_SECONDS:
            problems.append("SECURE_HSTS_SECONDS must be at least a year")
        for name in ("SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME"):
            if not str(s.get(name, "")).startswith("__Host-"):
                problems.append(f"{name} must carry the __Host- prefix")
    if not s.get("BONTRACK_MFA_ENFORCED"):
        problems.append("BONTRACK_MFA_ENFORCED is off: prescribers and admins need a second factor")
    if not s.get("AXES_ENABLED", True) or int(s.get("AXES_FAILURE_LIMIT", 0)) > 20:
        problems.append("sign-in lockout is off or above 20 failures (BONTRACK_LOCKOUT_FAILURES)")
    if int(s.get("SESSION_COOKIE_AGE", 0)) > 30 * 60:
        problems.append("BONTRACK_IDLE_MINUTES is above 30")
    if float(s.get("BONTRACK_SESSION_HOURS", 0)) > 12:
        problems.append("BONTRACK_SESSION_HOURS is above 12")
    hashers = list(s.get("PASSWORD_HASHERS", []))
    if not hashers or "Argon2" not in hashers[0]:
        problems.append("passwords must be hashed with Argon2 (PASSWORD_HASHERS)")
    if s.get("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN"):
        problems.append("WebAuthn must not accept insecure origins in production")
    problems.extend(_credentials_key_problems(s))
    return problems


def _credentials_key_problems(s: Mapping[str, Any]) -> list[str]:
    """Second-factor secrets are encrypted under a key given by the operator, kept apart from
    the database and its backups: never a throwaway one."""
    key = str(s.get("BONTRACK_CREDENTIALS_KEY", ""))
    if not key or s.get("BONTRACK_CREDENTIALS_KEY_SOURCE") not in ("environment", "file"):
        missing = (
            "BONTRACK_CREDENTIALS_KEY is not set (nor $BONTRACK_VAR_DIR/credentials_key): "
            f"second-factor secrets are encrypted with it ({GENERATE_FERNET_KEY})"
        )
        return [missing]
    problems = []
    if not _is_fernet_key(key):
        problems.append(
            f"BONTRACK_CREDENTIALS_KEY is not a Fernet key (generate one: {GENERATE_FERNET_KEY})"
        )
    for n, old in enumerate(s.get("BONTRACK_CREDENTIALS_KEY_FALLBACKS", []), start=1):
        if not _is_fernet_key(str(old)):
            problems.append(f"BONTRACK_CREDENTIALS_KEY_FALLBACKS: key {n} is not a Fernet key")
    return problems

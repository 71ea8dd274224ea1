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
from datetime import timedelta
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
    if s.get("TESTING"):
        problems.append(
            "BONTRACK_TESTING is set: it gives throwaway keys and a weak password hasher"
        )
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
    problems.extend(_number_problems(s))
    hashers = list(s.get("PASSWORD_HASHERS", []))
    if not hashers or "Argon2" not in hashers[0]:
        problems.append("passwords must be hashed with Argon2 (PASSWORD_HASHERS)")
    if s.get("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN"):
        problems.append("WebAuthn must not accept insecure origins in production")
    problems.extend(_credentials_key_problems(s))
    if not s.get("BONTRACK_AUDIT_KEY") or s.get("BONTRACK_AUDIT_KEY_SOURCE") not in (
        "environment",
        "file",
    ):
        problems.append(
            "BONTRACK_AUDIT_KEY is not set (nor $BONTRACK_VAR_DIR/audit_key): the audit trail and "
            "the security log are keyed with it (`make secret-key` writes one)"
        )
    return problems


# The longest a break-glass access may keep a restricted chart open (docs/security.md): a shift.
MAX_BREAK_GLASS_MINUTES = 24 * 60
MAX_EXPORT_RETENTION_HOURS = 7 * 24


def _number_problems(s: Mapping[str, Any]) -> list[str]:
    """Numbers that switch a safeguard off when they are 0 or negative (axes treats a limit of 0
    as "never lock"; a session of 0 hours or 0 idle minutes makes the middleware's arithmetic
    meaningless), or stretch one past reason."""
    problems = []
    if int(s.get("AXES_FAILURE_LIMIT", 0)) < 1:
        problems.append(
            "BONTRACK_LOCKOUT_FAILURES must be 1 to 20: 0 or less never locks an account out"
        )
    cooloff = s.get("AXES_COOLOFF_TIME")
    minutes = cooloff.total_seconds() / 60 if isinstance(cooloff, timedelta) else 0
    if minutes < 1:
        problems.append("BONTRACK_LOCKOUT_MINUTES must be at least 1: a lockout must last")
    idle = int(s.get("SESSION_COOKIE_AGE", 0))
    if idle > 30 * 60:
        problems.append("BONTRACK_IDLE_MINUTES is above 30")
    elif idle < 60:
        problems.append("BONTRACK_IDLE_MINUTES must be 1 to 30")
    hours = float(s.get("BONTRACK_SESSION_HOURS", 0))
    if hours > 12:
        problems.append("BONTRACK_SESSION_HOURS is above 12")
    elif hours <= 0:
        problems.append("BONTRACK_SESSION_HOURS must be above 0 (at most 12)")
    glass = int(s.get("BONTRACK_BREAK_GLASS_MINUTES", 0))
    if not 1 <= glass <= MAX_BREAK_GLASS_MINUTES:
        problems.append(
            f"BONTRACK_BREAK_GLASS_MINUTES must be 1 to {MAX_BREAK_GLASS_MINUTES} (24 hours): "
            "a break-glass access opens a restricted chart for that long"
        )
    if int(s.get("BONTRACK_TRUSTED_PROXIES", 0)) < 0:
        problems.append("BONTRACK_TRUSTED_PROXIES must be 0 or more")
    retention = int(s.get("EXPORT_RETENTION_HOURS", 24))
    if not 1 <= retention <= MAX_EXPORT_RETENTION_HOURS:
        problems.append(
            f"BONTRACK_EXPORT_RETENTION_HOURS must be 1 to {MAX_EXPORT_RETENTION_HOURS}: "
            "bulk export files hold whole charts"
        )
    if int(s.get("EXPORT_TIMEOUT_MINUTES", 60)) < 1:
        problems.append("BONTRACK_EXPORT_TIMEOUT_MINUTES must be at least 1")
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

"""Start-up refuses an unsafe production configuration (``BONTRACK_ENV=production``).

``settings.py`` calls ``production_problems`` on its own namespace at import time, so that a
deployment with debug on, a weak secret key, a wildcard host, plain HTTP, no second factor or no
lockout never serves a request. Pure: reads only the settings it is given (no models, no I/O).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIN_KEY_LENGTH = 50
MIN_HSTS_SECONDS = 31_536_000  # one year


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
    return problems

"""Production start-up refuses the numbers that switch a safeguard off or stretch it past reason
(security/production.py): a lockout after 0 or -1 failures or for 0 minutes, sessions of 0 hours,
a break-glass access longer than 24 hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bontrack.security.production import production_problems

SAFE: dict[str, Any] = {
    "SECRET_KEY": "k" * 20 + "9f8e7d6c5b4a3928171605f4e3d2c1b0a9" + "Zy",
    "ALLOWED_HOSTS": ["bontrack.clinic.example"],
    "BONTRACK_HTTPS": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SESSION_COOKIE_NAME": "__Host-bontrack-session",
    "CSRF_COOKIE_NAME": "__Host-bontrack-csrf",
    "BONTRACK_MFA_ENFORCED": True,
    "AXES_ENABLED": True,
    "AXES_FAILURE_LIMIT": 10,
    "AXES_COOLOFF_TIME": timedelta(minutes=30),
    "SESSION_COOKIE_AGE": 30 * 60,
    "BONTRACK_SESSION_HOURS": 12.0,
    "BONTRACK_BREAK_GLASS_MINUTES": 60,
    "BONTRACK_TRUSTED_PROXIES": 1,
    "EXPORT_RETENTION_HOURS": 24,
    "EXPORT_TIMEOUT_MINUTES": 60,
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.Argon2PasswordHasher"],
    "BONTRACK_CREDENTIALS_KEY": "4iHmiOp5wAwSlc5NtmYgS4qWniadNO0L_MJLjnKZGGw=",
    "BONTRACK_CREDENTIALS_KEY_SOURCE": "environment",
    "BONTRACK_AUDIT_KEY": "an-audit-key-kept-outside-the-database",
    "BONTRACK_AUDIT_KEY_SOURCE": "environment",
}


def test_the_safe_numbers_raise_no_problem():
    assert production_problems(SAFE) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"AXES_FAILURE_LIMIT": 0}, "BONTRACK_LOCKOUT_FAILURES must be 1 to 20"),
        ({"AXES_FAILURE_LIMIT": -1}, "BONTRACK_LOCKOUT_FAILURES must be 1 to 20"),
        ({"AXES_COOLOFF_TIME": timedelta(0)}, "BONTRACK_LOCKOUT_MINUTES must be at least 1"),
        ({"AXES_COOLOFF_TIME": timedelta(minutes=-5)}, "BONTRACK_LOCKOUT_MINUTES"),
        ({"SESSION_COOKIE_AGE": 0}, "BONTRACK_IDLE_MINUTES must be 1 to 30"),
        ({"BONTRACK_SESSION_HOURS": 0.0}, "BONTRACK_SESSION_HOURS must be above 0"),
        ({"BONTRACK_SESSION_HOURS": -1.0}, "BONTRACK_SESSION_HOURS must be above 0"),
        ({"BONTRACK_BREAK_GLASS_MINUTES": 69 * 24 * 60}, "BONTRACK_BREAK_GLASS_MINUTES must be"),
        ({"BONTRACK_BREAK_GLASS_MINUTES": 24 * 60 + 1}, "BONTRACK_BREAK_GLASS_MINUTES must be"),
        ({"BONTRACK_BREAK_GLASS_MINUTES": 0}, "BONTRACK_BREAK_GLASS_MINUTES must be"),
        ({"BONTRACK_TRUSTED_PROXIES": -1}, "BONTRACK_TRUSTED_PROXIES must be 0 or more"),
        ({"EXPORT_RETENTION_HOURS": 0}, "BONTRACK_EXPORT_RETENTION_HOURS must be"),
        ({"EXPORT_RETENTION_HOURS": 24 * 30}, "BONTRACK_EXPORT_RETENTION_HOURS must be"),
        ({"EXPORT_TIMEOUT_MINUTES": 0}, "BONTRACK_EXPORT_TIMEOUT_MINUTES must be at least 1"),
        ({"TESTING": True}, "BONTRACK_TESTING is set"),
    ],
)
def test_production_refuses_a_number_that_switches_a_safeguard_off(change, complaint):
    problems = production_problems({**SAFE, **change})
    assert any(complaint in p for p in problems), problems


@pytest.mark.parametrize(
    "change",
    [
        {"AXES_FAILURE_LIMIT": 1},
        {"AXES_FAILURE_LIMIT": 20},
        {"AXES_COOLOFF_TIME": timedelta(minutes=1)},
        {"SESSION_COOKIE_AGE": 60},
        {"BONTRACK_BREAK_GLASS_MINUTES": 24 * 60},
        {"BONTRACK_BREAK_GLASS_MINUTES": 1},
    ],
)
def test_production_accepts_the_edges_of_each_safe_range(change):
    assert production_problems({**SAFE, **change}) == []

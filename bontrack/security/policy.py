"""Who must hold a second factor, and checking one (or the password) again.

- Prescribers and clinic admins always need a second factor (TOTP with recovery codes, or a
  security key through WebAuthn); a clinic may require one of everyone (``Clinic.require_mfa``).
- ``settings.BONTRACK_MFA_ENFORCED`` is on in every deployment; the test suite turns it off except
  in the tests marked ``mfa`` (tests/conftest.py), so that its personas sign in with a password.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from django.conf import settings

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Role

MFA_ROLES = frozenset({Role.PRESCRIBER.value, Role.CLINIC_ADMIN.value})
# The authenticators that are a second factor on their own (recovery codes are a fallback).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def mfa_required(user: Any) -> bool:
    """Whether this user must hold a second factor before doing anything else."""
    if not getattr(settings, "BONTRACK_MFA_ENFORCED", True):
        return False
    if user is None or not user.is_authenticated:
        return False
    memberships = Membership.objects.filter(user=user, active=True)
    return (
        memberships.filter(role__in=MFA_ROLES).exists()
        or memberships.filter(clinic__require_mfa=True).exists()
    )


def has_second_factor(user: Any) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()


def verify_code(user: Any, code: str) -> bool:
    """A current TOTP code or an unused recovery code of this user (each usable once)."""
    code = code.strip().replace(" ", "")
    if not code:
        return False
    for found in Authenticator.objects.filter(user_id=user.pk).exclude(
        type=Authenticator.Type.WEBAUTHN
    ):
        if found.wrap().validate_code(code):
            found.record_usage()
            return True
    return False


def looks_like_code(secret: str) -> bool:
    """A TOTP code or a recovery code as typed: digits only, of either length (allauth's)."""
    compact = secret.strip().replace(" ", "")
    lengths = (mfa_settings.TOTP_DIGITS, mfa_settings.RECOVERY_CODE_DIGITS)
    return compact.isdigit() and len(compact) in lengths


def verify_secret(user: Any, secret: str) -> bool:
    """The password, or the code of the user's second factor: asked again before signing a
    session or overriding a block (ASVS 3.7.1). What looks like a code is tried as one first,
    so that a right code never pays for the password hash (Argon2id: the dearest step of a
    page); a wrong one is still tried as a password, as a password that looks like a code may
    predate the 12-character rule."""
    if not secret:
        return False
    if looks_like_code(secret):
        if has_second_factor(user) and verify_code(user, secret):
            return True
        return bool(user.check_password(secret))
    if user.check_password(secret):
        return True
    return has_second_factor(user) and verify_code(user, secret)

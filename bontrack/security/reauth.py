"""Asking again who is signing (ASVS 3.7.1): the sign, co-sign and override forms of the pages
carry a ``confirm`` field, the user's password or their second factor's code, checked here before
the service is called. Through the API these calls need a bearer token, itself a credential given
for the call (docs/security.md).

Each failure is written to the security log; after ``MAX_FAILURES`` in one session the session
ends, so that a hijacked session cannot be used to guess the password.
"""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import HttpRequest

from bontrack.audit.services import record_security_event
from bontrack.core.addresses import client_ip
from bontrack.security.policy import verify_secret

FIELD = "confirm"
MAX_FAILURES = 5
FAILURES_KEY = "bontrack.reauth_failures"


class ReauthenticationError(Exception):
    """The password or code was wrong (``ended``: too many times, the session has ended)."""

    def __init__(self, message: str, ended: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.ended = ended


def confirm_identity(request: HttpRequest, what: str) -> None:
    """Raise ``ReauthenticationError`` unless the request carries the signed-in user's
    password or a current code of their second factor."""
    user = request.user
    secret = request.POST.get(FIELD, "")
    if verify_secret(user, secret):
        request.session.pop(FAILURES_KEY, None)
        record_security_event(
            "reauthenticated",
            username=user.get_username(),
            user_id=user.pk,
            address=client_ip(request),
            purpose=what,
        )
        return
    failures = int(request.session.get(FAILURES_KEY, 0)) + 1
    record_security_event(
        "reauthentication-failed",
        username=user.get_username(),
        user_id=user.pk,
        address=client_ip(request),
        purpose=what,
        failures=failures,
    )
    if failures >= MAX_FAILURES:
        record_security_event(
            "signed-out",
            username=user.get_username(),
            user_id=user.pk,
            address=client_ip(request),
            reason="too many failed re-authentications",
        )
        logout(request)
        raise ReauthenticationError(
            "Too many wrong passwords: you have been signed out.", ended=True
        )
    request.session[FAILURES_KEY] = failures
    if not secret:
        raise ReauthenticationError(f"Enter your password (or your app's code) to {what}.")
    raise ReauthenticationError(
        f"That password or code is wrong: nothing was done. Enter it again to {what}."
    )

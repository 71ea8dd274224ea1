"""What sign-in, the second factor and lockout do goes to the security log (DESIGN 3.4): every
success and failure. Sign-in and failed sign-in themselves are written by ``web/signals.py``."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.signals import password_changed, password_reset
from allauth.mfa.signals import (
    authentication_failed,
    authenticator_added,
    authenticator_removed,
    authenticator_used,
)
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from bontrack.audit.services import record_security_event
from bontrack.core.addresses import client_ip
from bontrack.security.middleware import SIGNED_IN_AT


def _address(request: HttpRequest | None) -> str:
    return client_ip(request) if request is not None else ""


@receiver(user_logged_in, dispatch_uid="bontrack-security-session-start")
def session_started(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The absolute session lifetime counts from here (``SessionLifetimeMiddleware``)."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = time.time()
        # Listed on the account page however the user signed in (allauth lists its own only).
        from allauth.usersessions.models import UserSession

        if getattr(request, "user", None) is user and request.META.get("REMOTE_ADDR"):
            UserSession.objects.create_from_request(request)


@receiver(user_locked_out, dispatch_uid="bontrack-security-locked-out")
def locked_out(
    sender: Any,
    request: HttpRequest | None = None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    record_security_event(
        "locked-out", username=(username or "")[:150], address=(ip_address or "")[:64]
    )


@receiver(authentication_failed, dispatch_uid="bontrack-security-mfa-failed")
def second_factor_failed(
    sender: Any, request: HttpRequest | None, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record_security_event(
        "mfa-failed",
        username=user.get_username(),
        user_id=user.pk,
        address=_address(request),
        type=str(authenticator.type),
        reauthentication=bool(kwargs.get("reauthentication")),
    )


@receiver(authenticator_used, dispatch_uid="bontrack-security-mfa-used")
def second_factor_used(
    sender: Any, request: HttpRequest | None, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record_security_event(
        "mfa-passed",
        username=user.get_username(),
        user_id=user.pk,
        address=_address(request),
        type=str(authenticator.type),
        reauthentication=bool(kwargs.get("reauthenticated")),
    )


@receiver(authenticator_added, dispatch_uid="bontrack-security-mfa-added")
def second_factor_added(
    sender: Any, request: HttpRequest | None, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record_security_event(
        "mfa-enrolled",
        username=user.get_username(),
        user_id=user.pk,
        address=_address(request),
        type=str(authenticator.type),
    )


@receiver(authenticator_removed, dispatch_uid="bontrack-security-mfa-removed")
def second_factor_removed(
    sender: Any, request: HttpRequest | None, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    record_security_event(
        "mfa-removed",
        username=user.get_username(),
        user_id=user.pk,
        address=_address(request),
        type=str(authenticator.type),
    )


@receiver(password_changed, dispatch_uid="bontrack-security-password-changed")
@receiver(password_reset, dispatch_uid="bontrack-security-password-reset")
def password_was_changed(
    sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any
) -> None:
    if user is not None:
        record_security_event(
            "password-changed",
            username=user.get_username(),
            user_id=user.pk,
            address=_address(request),
        )

"""Sign-in and failed sign-in through the pages (and the admin) go to the security log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from bontrack.audit.services import record_security_event


def _address(request: HttpRequest | None) -> str:
    from bontrack.core.addresses import client_ip

    return client_ip(request) if request is not None else ""


@receiver(user_logged_in, dispatch_uid="bontrack-web-sign-in")
def signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    from bontrack.accounts.models import Membership

    clinics = list(
        Membership.objects.filter(user=user, active=True).values_list("clinic_id", flat=True)[:2]
    )
    record_security_event(
        "sign-in",
        username=user.get_username(),
        user_id=user.pk,
        clinic_id=clinics[0] if len(clinics) == 1 else None,
        address=_address(request),
        via="web",
    )


@receiver(user_login_failed, dispatch_uid="bontrack-web-sign-in-failed")
def sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The API's token endpoint writes its own entry (bontrack/api/tokens.py): never twice.
    if request is not None and request.path.startswith("/api/"):
        return
    username = str(credentials.get("username", ""))[:150]
    record_security_event("sign-in-failed", username=username, address=_address(request), via="web")

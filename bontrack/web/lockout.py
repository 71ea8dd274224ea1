"""What a locked-out sign-in gets (django-axes calls this): the API's error shape under /api/, a
page saying how long elsewhere. Status 429 either way."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def locked_out_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        message = (
            f"too many failed sign-ins: this account or address is locked for {minutes} minutes"
        )
        return JsonResponse({"errors": [{"field": None, "message": message}]}, status=429)
    return render(
        request,
        "security/locked_out.html",
        {"cooloff_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


def username_of(request: HttpRequest, credentials: Any = None) -> str | None:
    """The user name a sign-in names: from ``authenticate``'s credentials, else from the form
    (allauth's ``login`` field, or ``username`` of the API and the old form)."""
    if credentials:
        found = credentials.get("username") or credentials.get("login")
        if found:
            return str(found)
    if request is not None and request.method == "POST":
        return request.POST.get("login") or request.POST.get("username") or None
    return None


def refused_before_trying(request: HttpRequest) -> HttpResponse | None:
    """A sign-in form post from a locked-out account or address: refused before the password is
    even checked (django-axes' backend refuses it too, but allauth's own rate limit would answer
    first with a different message)."""
    from axes.handlers.proxy import AxesProxyHandler

    if request.method == "POST" and not AxesProxyHandler.is_allowed(request):
        from bontrack.audit.services import record_security_event
        from bontrack.core.addresses import client_ip

        record_security_event(
            "sign-in-refused",
            username=(username_of(request) or "")[:150],
            address=client_ip(request),
            reason="locked out",
        )
        return locked_out_response(request, None)
    return None

"""Session lifetime, the second-factor requirement and ``Cache-Control: no-store``.

- ``SessionLifetimeMiddleware``: a session ends ``BONTRACK_SESSION_HOURS`` (12) after sign-in,
  however active (ASVS 3.3.2, ONC 170.315(d)(5)); the idle limit (``BONTRACK_IDLE_MINUTES``, 30)
  is the session's own expiry, renewed by each request and enforced by the session store.
- ``SecondFactorRequiredMiddleware``: a signed-in user who must hold a second factor and has none
  reaches only the pages that enrol one (and sign-out); the API answers 403.
- ``NoStoreMiddleware``: nothing the app renders is kept by a browser or proxy cache (patient
  pages, API and FHIR answers); static files are served before it (WhiteNoise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from bontrack.audit.services import record_security_event
from bontrack.core.addresses import client_ip
from bontrack.security.policy import has_second_factor, mfa_required

SIGNED_IN_AT = "bontrack.signed_in_at"
# Where a user who must enrol a second factor may still go.
ENROLMENT_PATHS = ("/accounts/", "/logout/", "/login/", "/static/")
ENROLMENT_PAGE = "/accounts/2fa/"

Handler = Callable[[HttpRequest], HttpResponse]


def _session_user(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


def _to_sign_in(request: HttpRequest) -> HttpResponse | None:
    """An htmx request reloads the whole page at the sign-in form; others go on as signed out
    (the pages then send them to sign in, the API answers 401)."""
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = settings.LOGIN_URL
        return response
    return None


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _session_user(request):
            now = time.time()
            signed_in_at = request.session.get(SIGNED_IN_AT)
            limit = float(settings.BONTRACK_SESSION_HOURS) * 3600
            if signed_in_at is None:
                request.session[SIGNED_IN_AT] = now
            elif now - float(signed_in_at) > limit:
                user = request.user
                record_security_event(
                    "session-expired",
                    username=user.get_username(),
                    user_id=user.pk,
                    address=client_ip(request),
                    hours=settings.BONTRACK_SESSION_HOURS,
                )
                logout(request)
                early = _to_sign_in(request)
                if early is not None:
                    return early
        return self.get_response(request)


class SecondFactorRequiredMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            _session_user(request)
            and not request.path.startswith(ENROLMENT_PATHS)
            and mfa_required(request.user)
            and not has_second_factor(request.user)
        ):
            message = (
                "your role requires a second factor: set up an authenticator app or a security "
                f"key at {ENROLMENT_PAGE} first"
            )
            if request.path.startswith("/api/"):
                return JsonResponse({"errors": [{"field": None, "message": message}]}, status=403)
            if request.path.startswith("/fhir/"):
                outcome = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "security", "diagnostics": message}],
                }
                return JsonResponse(outcome, status=403, content_type="application/fhir+json")
            if request.headers.get("HX-Request") == "true":
                response = HttpResponse(status=204)
                response["HX-Redirect"] = ENROLMENT_PAGE
                return response
            return HttpResponseRedirect(
                ENROLMENT_PAGE + "?" + urlencode({"next": request.get_full_path()})
            )
        return self.get_response(request)


class NoStoreMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response

"""Sign in, choose the clinic (when the user works in several), sign out."""

from __future__ import annotations

from typing import Any

from allauth.account.views import LoginView
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from bontrack.security.routes import PUBLIC, SIGNED_IN, declare
from bontrack.web.access import active_memberships
from bontrack.web.lockout import refused_before_trying


def _safe_next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or fallback
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


class SignInView(LoginView):
    """django-allauth's sign-in (password, then the second factor of a user who has one:
    ``/accounts/2fa/authenticate/``), with django-axes' lockout in front of it (settings.py).
    After it, the adapter (accounts/adapter.py) sends a user of several clinics to choose one."""

    template_name = "account/login.html"
    permission = PUBLIC

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return refused_before_trying(request) or super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["idle_minutes"] = settings.SESSION_COOKIE_AGE // 60
        context["session_hours"] = settings.BONTRACK_SESSION_HOURS
        return context


@declare(SIGNED_IN)
@login_required
@require_http_methods(["GET", "POST"])
def choose_clinic(request: HttpRequest) -> HttpResponse:
    memberships = active_memberships(request)
    if request.method == "POST":
        chosen = request.POST.get("membership_id", "")
        if any(str(m.id) == chosen for m in memberships):
            request.session["membership_id"] = chosen
            return HttpResponseRedirect(_safe_next(request))
    return render(
        request,
        "web/choose_clinic.html",
        {
            "memberships": memberships,
            "next": _safe_next(request),
            "current": request.session.get("membership_id"),
        },
    )


@declare(PUBLIC)
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/login/")

"""Sign in, choose the clinic (when the user works in several), sign out."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from bontrack.web.access import active_memberships


def _safe_next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or fallback
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


class SignInView(LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    extra_context = {"idle_minutes": settings.SESSION_COOKIE_AGE // 60}  # noqa: RUF012

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        memberships = active_memberships(self.request)
        if len(memberships) == 1:
            self.request.session["membership_id"] = str(memberships[0].id)
            return response
        return HttpResponseRedirect(
            "/clinic/?next=" + _safe_next(self.request, self.get_success_url())
        )


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


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/login/")

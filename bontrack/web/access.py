"""Every page names the permission it needs: ``@clinic_view(Perm.X)`` signs the user in, finds
the membership they act through (the clinic chosen at sign-in, or their only one), builds the
``Actor``, checks the permission, and turns the services' refusals into the 403 and 404 pages.
Rows are reached only through the access funnels and the services."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from bontrack.access import (
    BY_URL_PARAMETER,
    RestrictedChartError,
    flush_refusal,
    refuse_outside_clinic,
    require,
)
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.addresses import client_ip
from bontrack.core.errors import ForbiddenError, NotFoundError
from bontrack.web.break_glass import break_glass_form

View = TypeVar("View", bound=Callable[..., HttpResponse])


def active_memberships(request: HttpRequest) -> list[Membership]:
    return list(
        Membership.objects.select_related("user", "clinic")
        .filter(user=request.user, active=True)  # type: ignore[misc]
        .order_by("clinic__name")
    )


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership chosen at sign-in (kept in the session), or the user's only one."""
    memberships = active_memberships(request)
    chosen = request.session.get("membership_id")
    found = next((m for m in memberships if str(m.id) == chosen), None)
    if found is None and len(memberships) == 1:
        found = memberships[0]
        request.session["membership_id"] = str(found.id)
    return found


def _sign_in_first(request: HttpRequest) -> HttpResponse:
    """Signed out (or the idle time ran out): to the sign-in page, then back. An htmx request
    reloads the whole page there rather than swapping the sign-in form into a panel."""
    if getattr(request, "htmx", False):
        page = urlsplit(request.headers.get("HX-Current-URL", "")).path or "/"
        response = HttpResponse(status=204)
        response["HX-Redirect"] = "/login/?" + urlencode({"next": page})
        return response
    return redirect_to_login(request.get_full_path())


def outside_clinic(actor: Actor, kwargs: dict[str, Any]) -> NotFoundError | None:
    """The refusal for the first object named in the address that is not the caller's clinic's.
    The rows a page's address names (the funnel's kinds, by parameter) are checked against the
    caller's clinic before the view runs, so that another clinic's id answers 404 (and is logged)
    whatever the view does first, such as reading its form (tests/web/test_idor_pages.py)."""
    for name, value in kwargs.items():
        kind = BY_URL_PARAMETER.get(name)
        if kind is not None and isinstance(value, UUID) and not kind.holds(actor, value):
            return refuse_outside_clinic(actor, kind.word, value)
    return None


def clinic_time(membership: Membership | None) -> AbstractContextManager[None]:
    """Render times as the clinic's wall-clock times, whatever the server's zone (UTC)."""
    if membership is None:
        return nullcontext()
    return timezone.override(zoneinfo.ZoneInfo(membership.clinic.time_zone))


def clinic_view(perm: Perm, methods: Sequence[str] = ("GET",)) -> Callable[[View], View]:
    """Sign-in, membership and permission for one page; the view gets ``(request, actor, ...)``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return _sign_in_first(request)
            membership = current_membership(request)
            if membership is None:
                if not active_memberships(request):
                    raise PermissionDenied("you have no active membership of a clinic")
                return HttpResponseRedirect(
                    "/clinic/?" + urlencode({"next": request.get_full_path()})
                )
            actor = Actor(membership, client_ip(request))
            request.actor = actor  # type: ignore[attr-defined]
            try:
                require(actor, perm)
                outside = outside_clinic(actor, kwargs)
                if outside is not None:
                    raise outside
                with clinic_time(membership):
                    return view(request, actor, *args, **kwargs)
            except NotFoundError as error:
                flush_refusal(error)
                raise Http404(error.message) from None
            except RestrictedChartError as error:
                # A restricted chart outside the care team: the break-glass form, not a dead end.
                return break_glass_form(request, actor, error.patient_id, status=403)
            except ForbiddenError as error:
                raise PermissionDenied(error.message) from None

        inner.permission = perm  # type: ignore[attr-defined]
        return require_http_methods(list(methods))(inner)  # type: ignore[return-value]

    return decorate

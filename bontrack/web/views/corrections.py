"""Correcting a signed session from its page: an amendment (the points and notes as they really
were, with the reason) or marking it entered in error. Both are appended beside the signed
record, which never changes, and both ask for the password or code again, as signing does."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.domain.catalog import catalog
from bontrack.security.reauth import ReauthenticationError, confirm_identity
from bontrack.treatments import services
from bontrack.treatments.errors import ServiceError
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import Point, current_points, status_of
from bontrack.web import bodymap, present
from bontrack.web.access import clinic_view

CORRECTABLE = ("signed", "awaiting-co-signature", "amended")
MAX_UNITS = Decimal(1000)


def current_notes(session: TreatmentSession) -> str:
    amendments = [e for e in session.events.all() if e.kind == "amended"]
    if not amendments:
        return session.notes
    latest = max(amendments, key=lambda e: (e.at, str(e.id)))
    return str(latest.data.get("notes", session.notes) or "")


def _units(raw: str, label: str, errors: dict[str, str]) -> Decimal | None:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        errors[label] = "give the units as a number, e.g. 5 or 2.5"
        return None
    if not value.is_finite() or value < 0 or value > MAX_UNITS:
        errors[label] = f"must be between 0 and {MAX_UNITS} U"
        return None
    return value


def _posted_points(
    request: HttpRequest, points: list[Point], errors: dict[str, str]
) -> list[services.PointInput]:
    """The corrected points: each recorded one with its units (0 removes it), and an optional
    added one."""
    corrected = []
    for n, point in enumerate(points):
        units = _units(request.POST.get(f"units-{n}", ""), f"units-{n}", errors)
        if units:
            corrected.append(services.PointInput(point.site, point.side, units, point.route))
    site, side = request.POST.get("add_site", ""), request.POST.get("add_side", "")
    raw = request.POST.get("add_units", "").strip()
    if site or raw:
        if site not in catalog().sites:
            errors["add_site"] = "choose the site of the added point"
        elif side not in catalog().sites[site].sides:
            errors["add_side"] = f"{catalog().sites[site].name} has no {side or 'such'} side"
        units = _units(raw, "add_units", errors)
        if units and "add_site" not in errors and "add_side" not in errors:
            corrected.append(services.PointInput(site, side, units))
    if not corrected and not errors:
        errors["units-0"] = (
            "an amendment keeps at least one point: if nothing was injected, mark the session "
            "entered in error instead"
        )
    return corrected


def _context(
    session: TreatmentSession,
    posted: Any = None,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The page, refilled with what was posted (and each field's complaint) after a refusal."""
    day = present.clinic_today(session.clinic.time_zone)
    points = current_points(session)
    errors = errors or {}
    posted = posted or {}
    return {
        "session": session,
        "banner": present.patient_banner(session.patient, day, True),
        "indication_name": present.indication_name(session.indication),
        "product_name": present.product_name(session.product),
        "rows": [
            {
                "n": n,
                "point": p,
                "label": bodymap.site_label(p.site, p.side),
                "value": posted.get(f"units-{n}", present.units(p.units)),
                "error": errors.get(f"units-{n}", ""),
            }
            for n, p in enumerate(points)
        ],
        "add": {
            "site": posted.get("add_site", ""),
            "side": posted.get("add_side", ""),
            "units": posted.get("add_units", ""),
            "error": errors.get("add_site") or errors.get("add_side") or errors.get("add_units"),
        },
        "errors": errors,
        "sites": [(s.code, s.name) for s in catalog().sites.values()],
        "nav": "patients",
        **extra,
    }


def _open_for_correction(actor: Actor, session_id: UUID) -> TreatmentSession:
    session = services.read_session(actor, session_id, Perm.SIGN)
    if status_of(session) not in CORRECTABLE:
        raise ServiceError(None, "only a signed session that is not entered in error is corrected")
    return session


def _confirm_and_append(
    request: HttpRequest, what: str, errors: dict[str, str], append: Callable[[], object]
) -> HttpResponse | None:
    """Unless the form already has errors: ask for the password or code again, then append. A
    refusal goes into ``errors`` by field; the answer is the sign-in page when too many wrong
    answers have ended the session, else None."""
    if errors:
        return None
    try:
        confirm_identity(request, what)
    except ReauthenticationError as failed:
        if failed.ended:
            return HttpResponseRedirect("/login/")
        errors["confirm"] = failed.message
        return None
    try:
        append()
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        errors[error.field or "reason"] = error.message
    return None


def _refused(request: HttpRequest, error: ServiceError) -> None:
    if error.status in (403, 404):
        raise error
    messages.error(request, error.message)


@clinic_view(Perm.SIGN, methods=("GET", "POST"))
def amend(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    try:
        session = _open_for_correction(actor, session_id)
    except ServiceError as error:
        _refused(request, error)
        return HttpResponseRedirect(f"/sessions/{session_id}/")
    points = current_points(session)
    if request.method != "POST":
        return render(request, "web/amend.html", _context(session, notes=current_notes(session)))
    errors: dict[str, str] = {}
    corrected = _posted_points(request, points, errors)
    reason = request.POST.get("reason", "").strip()
    if len(reason) < 5:
        errors["reason"] = "say why the record is corrected (at least 5 characters)"
    notes = request.POST.get("notes", "")[:4000]
    ended = _confirm_and_append(
        request,
        "amend this session",
        errors,
        lambda: services.amend(actor, session.id, reason=reason, injections=corrected, notes=notes),
    )
    if ended is not None:
        return ended
    if not errors:
        messages.success(request, "Amendment appended: the signed record is kept beside it.")
        return HttpResponseRedirect(f"/sessions/{session.id}/")
    context = _context(session, request.POST, errors, notes=notes, reason=reason)
    return render(request, "web/amend.html", context, status=400)


@clinic_view(Perm.SIGN, methods=("GET", "POST"))
def entered_in_error(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    try:
        session = _open_for_correction(actor, session_id)
    except ServiceError as error:
        _refused(request, error)
        return HttpResponseRedirect(f"/sessions/{session_id}/")
    if request.method != "POST":
        return render(request, "web/entered_in_error.html", _context(session))
    errors: dict[str, str] = {}
    reason = request.POST.get("reason", "").strip()
    if len(reason) < 5:
        errors["reason"] = "say why this record is wrong (at least 5 characters)"
    ended = _confirm_and_append(
        request,
        "mark this session entered in error",
        errors,
        lambda: services.mark_entered_in_error(actor, session.id, reason=reason),
    )
    if ended is not None:
        return ended
    if not errors:
        messages.success(
            request, "Marked entered in error: it no longer counts toward dose limits."
        )
        return HttpResponseRedirect(f"/sessions/{session.id}/")
    context = _context(session, request.POST, errors, reason=reason)
    return render(request, "web/entered_in_error.html", context, status=400)

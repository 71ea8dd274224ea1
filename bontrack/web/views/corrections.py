"""Correcting a signed session from its page (B.33).

A prescriber amends it (the points and notes as they really were, with the reason) or marks it
entered in error (saying whether the toxin was given), with the password or code asked again. A
nurse injector files a correction request instead, naming the record as she saw it; she may
withdraw it; a prescriber accepts it (as proposed or edited, with the password again) or declines
it with a reason. Everything is appended beside the signed record, which never changes.
"""

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
from bontrack.core.errors import ForbiddenError, ServiceError
from bontrack.domain.catalog import catalog
from bontrack.security.reauth import ReauthenticationError, confirm_identity
from bontrack.treatments import corrections, services
from bontrack.treatments.corrections import RequestStatus
from bontrack.treatments.models import CorrectionKind, CorrectionRequest, TreatmentSession
from bontrack.treatments.records import (
    COUNTING_STATUSES,
    Point,
    current_digest,
    current_notes,
    current_points,
    status_of,
    total_units,
)
from bontrack.web import bodymap, present
from bontrack.web.access import clinic_view

MAX_UNITS = Decimal(1000)
NURSE_FILES_A_REQUEST = (
    "Only a prescriber amends a signed session or marks it entered in error: file a correction "
    "request from the session's page, and a prescriber will accept or decline it."
)

__all__ = ["current_notes"]


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
    """The corrected points: each listed one with its units (0 removes it), and an optional
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


def _toxin_given(request: HttpRequest, errors: dict[str, str]) -> bool | None:
    answer = request.POST.get("toxin_given", "")
    if answer not in ("yes", "no"):
        errors["toxin_given"] = (
            "say whether the toxin was given (charted on the wrong patient or session) or not"
        )
        return None
    return answer == "yes"


def _context(
    session: TreatmentSession,
    points: list[Point] | None = None,
    posted: Any = None,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The form, refilled with what was posted (and each field's complaint) after a refusal."""
    day = present.clinic_today(session.clinic.time_zone)
    points = current_points(session) if points is None else points
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
        "toxin_given": posted.get("toxin_given", ""),
        "nav": "patients",
        **extra,
    }


def _open_for_correction(actor: Actor, session_id: UUID) -> TreatmentSession:
    session = services.read_session(actor, session_id, Perm.SIGN)
    if status_of(session) not in COUNTING_STATUSES:
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
        errors[_form_field(error.field)] = error.message
    return None


def _form_field(field: str | None) -> str:
    """The form field a service's complaint belongs to (``injections[2].units`` → units-2)."""
    if field and field.startswith(("injections[", "proposed.injections[")):
        index = field.split("[", 1)[1].split("]", 1)[0]
        return f"units-{index}"
    return {"toxin_given": "toxin_given", "proposed.toxin_given": "toxin_given"}.get(
        field or "", "reason"
    )


def _refused(request: HttpRequest, error: ServiceError) -> None:
    if error.status in (403, 404):
        raise error
    messages.error(request, error.message)


def _prescriber_only(actor: Actor) -> None:
    if not actor.membership.can(Perm.CORRECT):
        raise ForbiddenError(None, NURSE_FILES_A_REQUEST)


@clinic_view(Perm.SIGN, methods=("GET", "POST"))
def amend(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    _prescriber_only(actor)
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
    context = _context(session, points, request.POST, errors, notes=notes, reason=reason)
    return render(request, "web/amend.html", context, status=400)


@clinic_view(Perm.SIGN, methods=("GET", "POST"))
def entered_in_error(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    _prescriber_only(actor)
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
    given = _toxin_given(request, errors)
    ended = _confirm_and_append(
        request,
        "mark this session entered in error",
        errors,
        lambda: services.mark_entered_in_error(actor, session.id, reason=reason, toxin_given=given),
    )
    if ended is not None:
        return ended
    if not errors:
        messages.success(
            request, "Marked entered in error: it no longer counts toward dose limits."
        )
        return HttpResponseRedirect(f"/sessions/{session.id}/")
    context = _context(session, None, request.POST, errors, reason=reason)
    return render(request, "web/entered_in_error.html", context, status=400)


# -- correction requests -------------------------------------------------------------------------


@clinic_view(Perm.SIGN, methods=("GET", "POST"))
def request_correction(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """A nurse injector proposes a correction in full: the points as they were, or entered in
    error; the form carries the record's digest as she saw it."""
    try:
        session = _open_for_correction(actor, session_id)
    except ServiceError as error:
        _refused(request, error)
        return HttpResponseRedirect(f"/sessions/{session_id}/")
    points = current_points(session)
    if request.method != "POST":
        context = _context(
            session,
            notes=current_notes(session),
            digest=current_digest(session),
            kind=CorrectionKind.AMEND,
        )
        return render(request, "web/correction_request.html", context)
    errors: dict[str, str] = {}
    kind = request.POST.get("kind", "")
    reason = request.POST.get("reason", "").strip()
    notes = request.POST.get("notes", "")[:4000]
    digest = request.POST.get("corrects_digest", "")
    proposal = None
    if kind == CorrectionKind.AMEND:
        corrected = _posted_points(request, points, errors)
        proposal = corrections.Proposal(CorrectionKind.AMEND, tuple(corrected), notes)
    elif kind == CorrectionKind.ENTERED_IN_ERROR:
        given = _toxin_given(request, errors)
        proposal = corrections.Proposal(CorrectionKind.ENTERED_IN_ERROR, toxin_given=given)
    else:
        errors["kind"] = "choose what to propose: an amendment or entered in error"
    if len(reason) < 5:
        errors["reason"] = "say what is wrong in the record (at least 5 characters)"
    if not errors and proposal is not None:
        try:
            corrections.file_request(
                actor, session.id, corrects_digest=digest, reason=reason, proposal=proposal
            )
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            errors[_form_field(error.field)] = error.message
    if not errors:
        messages.success(
            request, "Correction request filed: a prescriber will accept or decline it."
        )
        return HttpResponseRedirect(f"/sessions/{session.id}/")
    context = _context(
        session,
        points,
        request.POST,
        errors,
        notes=notes,
        reason=reason,
        digest=digest,
        kind=kind,
    )
    return render(request, "web/correction_request.html", context, status=400)


def _request_view(actor: Actor, found: CorrectionRequest) -> dict[str, Any]:
    session = found.session
    proposal = corrections.proposal_of(found)
    status = corrections.status_of_request(found)
    decision = getattr(found, "decision", None)
    proposed_points = [
        Point(p.site, p.side, p.units, p.route or "intramuscular") for p in proposal.injections
    ]
    return {
        "request": found,
        "session": session,
        "patient": session.patient,
        "status": status,
        "decision": decision,
        "stale": status == RequestStatus.OPEN and corrections.stale(found),
        "proposal": proposal,
        "proposed_rows": [
            {"label": bodymap.site_label(p.site, p.side), "units": present.units(p.units)}
            for p in proposed_points
        ],
        "proposed_total": present.units(total_units(proposed_points)),
        "current_total": present.units(total_units(current_points(session))),
        "indication_name": present.indication_name(session.indication),
        "product_name": present.product_name(session.product),
        "can_decide": status == RequestStatus.OPEN and actor.membership.can(Perm.CORRECT),
        "can_withdraw": status == RequestStatus.OPEN and found.by_id == actor.membership.id,
    }


@clinic_view(Perm.CHART_READ)
def request_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    status = request.GET.get("status", RequestStatus.OPEN)
    if status not in (*corrections.STATUSES, "all"):
        status = RequestStatus.OPEN
    found = corrections.list_requests(actor, status)
    return render(
        request,
        "web/correction_requests.html",
        {
            "requests": [
                {
                    **_request_view(actor, r),
                    "banner": present.patient_banner(
                        r.session.patient, present.clinic_today(actor.clinic.time_zone), True
                    ),
                }
                for r in found
            ],
            "status": status,
            "statuses": (*corrections.STATUSES, "all"),
            "nav": "today",
        },
    )


def _detail(
    request: HttpRequest,
    actor: Actor,
    found: CorrectionRequest,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    view = _request_view(actor, found)
    session = found.session
    proposal = view["proposal"]
    points = [
        Point(p.site, p.side, p.units, p.route or "intramuscular") for p in proposal.injections
    ]
    day = present.clinic_today(session.clinic.time_zone)
    form = _context(
        session, points, request.POST if errors else None, errors, notes=proposal.notes or ""
    )
    return render(
        request,
        "web/correction_request_detail.html",
        {
            **form,
            **view,
            "banner": present.patient_banner(session.patient, day, True),
            "reason": request.POST.get("reason", "") if errors else "",
            "decline_reason": request.POST.get("decline_reason", "") if errors else "",
        },
        status=status,
    )


@clinic_view(Perm.CHART_READ)
def request_detail(request: HttpRequest, actor: Actor, correction_id: UUID) -> HttpResponse:
    return _detail(request, actor, corrections.read_request(actor, correction_id))


@clinic_view(Perm.CORRECT, methods=("POST",))
def accept(request: HttpRequest, actor: Actor, correction_id: UUID) -> HttpResponse:
    """Accept as proposed, or as edited on the page; the password or code is asked again."""
    found = corrections.read_request(actor, correction_id)
    errors: dict[str, str] = {}
    edited = None
    if found.kind == CorrectionKind.AMEND:
        proposal = corrections.proposal_of(found)
        listed = [
            Point(p.site, p.side, p.units, p.route or "intramuscular") for p in proposal.injections
        ]
        corrected = _posted_points(request, listed, errors)
        notes = request.POST.get("notes", proposal.notes or "")[:4000]
        edited = corrections.Proposal(CorrectionKind.AMEND, tuple(corrected), notes, proposal.vials)
    reason = request.POST.get("reason", "")
    ended = _confirm_and_append(
        request,
        "accept this correction",
        errors,
        lambda: corrections.accept_request(actor, found.id, edited=edited, reason=reason),
    )
    if ended is not None:
        return ended
    if errors:
        return _detail(request, actor, found, errors, status=400)
    messages.success(request, "Correction accepted: it is appended to the signed record.")
    return HttpResponseRedirect(f"/sessions/{found.session_id}/")


@clinic_view(Perm.CORRECT, methods=("POST",))
def decline(request: HttpRequest, actor: Actor, correction_id: UUID) -> HttpResponse:
    found = corrections.read_request(actor, correction_id)
    try:
        corrections.decline_request(actor, found.id, reason=request.POST.get("decline_reason", ""))
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        key = "decline_reason" if error.field == "reason" else "reason"
        return _detail(request, actor, found, {key: error.message}, status=400)
    messages.success(request, "Correction declined: the record stays as it was.")
    return HttpResponseRedirect("/corrections/")


@clinic_view(Perm.SIGN, methods=("POST",))
def withdraw(request: HttpRequest, actor: Actor, correction_id: UUID) -> HttpResponse:
    found = corrections.read_request(actor, correction_id)
    try:
        corrections.withdraw_request(actor, found.id)
        messages.success(request, "Correction request withdrawn.")
    except ServiceError as error:
        _refused(request, error)
    return HttpResponseRedirect(f"/sessions/{found.session_id}/")


@clinic_view(Perm.SIGN, methods=("POST",))
def addendum(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """The session's injector appends text to its note; nothing else changes."""
    try:
        services.add_addendum(actor, session_id, text=request.POST.get("text", ""))
        messages.success(request, "Addendum appended to the note.")
    except ServiceError as error:
        _refused(request, error)
    return HttpResponseRedirect(f"/sessions/{session_id}/#addenda")

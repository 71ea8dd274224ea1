"""Correction requests (B.33) and a nurse injector's supervising prescribers (DESIGN 3.4).

A nurse injector files a request naming the digest it corrects; she may withdraw it; a
prescriber accepts it (with a bearer token: it appends a correction of the signed record) or
declines it with a reason.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Status

from bontrack.access import CORRECTION_REQUEST, access
from bontrack.accounts.permissions import Perm
from bontrack.accounts.services import set_supervisors
from bontrack.api.auth import FRESH_CREDENTIAL, actor_of
from bontrack.api.correction_schemas import (
    AcceptIn,
    CorrectionRequestIn,
    CorrectionRequestOut,
    DeclineIn,
    DrawIn,
    ProposedAmendment,
    ProposedEnteredInError,
    SupervisorsIn,
    SupervisorsOut,
    WithdrawIn,
)
from bontrack.api.perms import SIGNED_IN, needs
from bontrack.api.schemas import ErrorOut
from bontrack.core.errors import ServiceError
from bontrack.treatments import corrections, services, supply
from bontrack.treatments.models import CorrectionKind, CorrectionRequest

router = Router(tags=["corrections"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def draws(items: list[DrawIn] | None) -> tuple[supply.DrawInput, ...] | None:
    if items is None:
        return None
    return tuple(supply.DrawInput(vial_id=v.vial_id, drawn_units=v.drawn_units) for v in items)


def proposal(
    kind: str, body: ProposedAmendment | ProposedEnteredInError, field: str = "proposed"
) -> corrections.Proposal:
    if kind == CorrectionKind.ENTERED_IN_ERROR:
        if not isinstance(body, ProposedEnteredInError):
            raise ServiceError(f"{field}.toxin_given", "an entered-in-error proposes toxin_given")
        return corrections.Proposal(kind, toxin_given=body.toxin_given)
    if not isinstance(body, ProposedAmendment):
        raise ServiceError(f"{field}.injections", "an amendment proposes its injections in full")
    return corrections.Proposal(
        kind,
        tuple(services.PointInput(p.site, p.side, p.units, p.route) for p in body.injections),
        body.notes,
        draws(body.vials),
    )


def request_out(request: CorrectionRequest) -> dict[str, Any]:
    decision = getattr(request, "decision", None)
    return {
        "id": request.id,
        "session_id": request.session_id,
        "patient_id": request.session.patient_id,
        "kind": request.kind,
        "status": corrections.status_of_request(request),
        "corrects_digest": request.corrects_digest,
        "stale": decision is None and corrections.stale(request),
        "reason": request.reason,
        "proposed": request.proposed,
        "by": request.by_id,
        "at": request.at,
        "decision": None
        if decision is None
        else {
            "outcome": decision.outcome,
            "reason": decision.reason,
            "by": decision.by_id,
            "at": decision.at,
            "event_id": decision.event_id,
            "event_digest": decision.event.digest if decision.event_id else None,
        },
    }


def _fresh(request: HttpRequest, request_id: UUID) -> CorrectionRequest:
    return corrections.request_rows(actor_of(request).membership.clinic_id).get(pk=request_id)


@router.post(
    "/sessions/{session_id}/correction-requests",
    response={201: CorrectionRequestOut, **ERRORS},
    openapi_extra=needs(Perm.SIGN),
)
def file_request(request: HttpRequest, session_id: UUID, body: CorrectionRequestIn) -> Any:
    """A nurse injector proposes a correction of a signed session, naming its current digest
    (the latest amendment's, else the session's)."""
    filed = corrections.file_request(
        actor_of(request),
        session_id,
        corrects_digest=body.corrects_digest,
        reason=body.reason,
        proposal=proposal(body.kind, body.proposed),
    )
    return Status(201, request_out(_fresh(request, filed.id)))


@router.get(
    "/correction-requests",
    response={200: list[CorrectionRequestOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_requests(
    request: HttpRequest,
    status: Query[Literal["open", "accepted", "declined", "withdrawn", "all"]] = "open",  # type: ignore[type-arg]
) -> Any:
    """The clinic's correction requests, open ones by default, newest first."""
    return [request_out(r) for r in corrections.list_requests(actor_of(request), status)]


@router.get(
    "/correction-requests/{request_id}",
    response={200: CorrectionRequestOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def read_request(request: HttpRequest, request_id: UUID) -> Any:
    return request_out(corrections.read_request(actor_of(request), request_id))


@router.post(
    "/correction-requests/{request_id}/withdraw",
    response={200: CorrectionRequestOut, **ERRORS},
    openapi_extra=needs(Perm.SIGN, SIGNED_IN),
)
def withdraw(request: HttpRequest, request_id: UUID, body: WithdrawIn) -> Any:
    """Only the one who filed the request withdraws it, while it is open."""
    corrections.withdraw_request(actor_of(request), request_id, reason=body.reason)
    return request_out(_fresh(request, request_id))


@router.post(
    "/correction-requests/{request_id}/accept",
    auth=FRESH_CREDENTIAL,
    response={200: CorrectionRequestOut, **ERRORS},
    openapi_extra=needs(Perm.CORRECT),
)
def accept(request: HttpRequest, request_id: UUID, body: AcceptIn) -> Any:
    """A prescriber accepts the request as proposed, or edited (a full proposal of the same
    kind); refused (409) when the session changed since the request named its digest."""
    actor = actor_of(request)
    edited = None
    if body.proposed is not None:
        kind = access(actor, CORRECTION_REQUEST, request_id, Perm.CHART_READ).kind
        edited = proposal(kind, body.proposed)
    corrections.accept_request(actor, request_id, edited=edited, reason=body.reason)
    return request_out(_fresh(request, request_id))


@router.post(
    "/correction-requests/{request_id}/decline",
    response={200: CorrectionRequestOut, **ERRORS},
    openapi_extra=needs(Perm.CORRECT),
)
def decline(request: HttpRequest, request_id: UUID, body: DeclineIn) -> Any:
    corrections.decline_request(actor_of(request), request_id, reason=body.reason)
    return request_out(_fresh(request, request_id))


@router.put(
    "/members/{member_id}/supervisors",
    response={200: SupervisorsOut, **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def put_supervisors(request: HttpRequest, member_id: UUID, body: SupervisorsIn) -> Any:
    """The clinic admin sets a nurse injector's supervising prescribers (one or more)."""
    member = set_supervisors(actor_of(request), member_id, body.supervisor_ids)
    return {
        "member_id": member.id,
        "supervisor_ids": sorted(member.supervisors.values_list("id", flat=True), key=str),
    }

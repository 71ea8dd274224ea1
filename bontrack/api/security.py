"""Break-glass, the accounting of disclosures and patients' requests to amend (issue 8).

The services (security/services.py) reach patient rows through the access funnels: another
clinic's ids answer 404 and are logged to the security log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut
from bontrack.api.security_schemas import (
    AmendmentDecisionIn,
    AmendmentRequestIn,
    AmendmentRequestOut,
    BreakGlassIn,
    BreakGlassOut,
    DisclosureOut,
)
from bontrack.security import services
from bontrack.security.models import AmendmentDecision, AmendmentRequest, BreakGlassAccess


def decision_word(decision: AmendmentDecision) -> str:
    """A decision as the contract words it: "accepted" or "declined" (older rows stored
    "denied")."""
    return str(decision.get_decision_display())


router = Router(tags=["patients"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def break_glass_out(b: BreakGlassAccess) -> dict[str, Any]:
    return {
        "id": b.id,
        "patient_id": b.patient_id,
        "membership_id": b.membership_id,
        "username": b.membership.user.get_username(),
        "reason": b.reason,
        "at": b.at,
        "expires_at": b.expires_at,
        "address": b.address,
    }


@router.post(
    "/patients/{patient_id}/break-glass",
    response={201: BreakGlassOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def break_glass(request: HttpRequest, patient_id: UUID, body: BreakGlassIn) -> Any:
    """Open a restricted patient's chart outside one's care team, giving a reason (at least 10
    characters): for an hour (BONTRACK_BREAK_GLASS_MINUTES) the chart's routes answer as for the
    care team. Flagged in the audit trail and shown to the clinic admin (`GET
    /audit/break-glass`)."""
    return Status(
        201, break_glass_out(services.break_glass(actor_of(request), patient_id, body.reason))
    )


@router.get(
    "/patients/{patient_id}/disclosures",
    response={200: list[DisclosureOut], **ERRORS},
    openapi_extra=needs(Perm.AUDIT_READ),
)
def disclosures(request: HttpRequest, patient_id: UUID) -> Any:
    """The accounting of disclosures of one patient: every export, print and FHIR read of
    their record, oldest first (HIPAA 164.528, ONC 170.315(d)(11))."""
    _, found = services.disclosures(actor_of(request), patient_id)
    return [services.disclosure_row(e) for e in found]


def amendment_out(r: AmendmentRequest) -> dict[str, Any]:
    decision = services.decision_of(r)
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "session_id": r.session_id,
        "received_on": r.received_on,
        "request": r.request,
        "recorded_by": r.recorded_by.display_name,
        "recorded_at": r.recorded_at,
        "status": decision_word(decision) if decision is not None else "requested",
        "decision": {
            "id": decision.id,
            "decision": decision_word(decision),
            "reason": decision.reason,
            "amendment_id": decision.amendment_id,
            "by": decision.by.display_name,
            "at": decision.at,
        }
        if decision is not None
        else None,
    }


@router.get(
    "/patients/{patient_id}/amendment-requests",
    response={200: list[AmendmentRequestOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_amendment_requests(request: HttpRequest, patient_id: UUID) -> Any:
    """The patient's requests to amend, each with its acceptance or denial (ONC 170.315(d)(4))."""
    return [amendment_out(r) for r in services.amendment_requests(actor_of(request), patient_id)]


@router.post(
    "/patients/{patient_id}/amendment-requests",
    response={201: AmendmentRequestOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ, Perm.DEMOGRAPHICS_WRITE),
)
def record_amendment_request(
    request: HttpRequest, patient_id: UUID, body: AmendmentRequestIn
) -> Any:
    """Record a patient's request to amend their record (optionally one session of it)."""
    found = services.record_amendment_request(
        actor_of(request),
        patient_id,
        request=body.request,
        received_on=body.received_on,
        session_id=body.session_id,
    )
    return Status(201, amendment_out(found))


@router.post(
    "/patients/amendment-requests/{request_id}/decision",
    response={201: AmendmentRequestOut, **ERRORS},
    openapi_extra=needs(Perm.CORRECT),
)
def decide_amendment_request(
    request: HttpRequest, request_id: UUID, body: AmendmentDecisionIn
) -> Any:
    """Accept or decline a request; the decision is appended beside it (409 once decided). An
    accepted request may name the amendment that made the change (`amendment_id`: the id of a
    session's `amended` record, from `POST /sessions/{id}/amendments`)."""
    actor = actor_of(request)
    services.decide_amendment_request(
        actor,
        request_id,
        decision=body.decision,
        reason=body.reason,
        amendment_id=body.amendment_id,
    )
    found = services.amendment_rows(actor.membership.clinic_id).get(pk=request_id)
    return Status(201, amendment_out(found))

"""Correction requests (B.33): a nurse injector proposes a correction of a signed session, in
full, naming the digest it corrects; she may withdraw it; a prescriber accepts it (possibly
edited: it is then a normal amendment or entered-in-error, with fresh credentials asked by the
page or the API) or declines it with a reason. Requests and their decisions are appended, never
changed; the word for a refusal is "declined" everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from bontrack.access import CORRECTION_REQUEST, SESSION, access, require
from bontrack.accounts.permissions import Perm, Role
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.treatments import services, supply
from bontrack.treatments.models import (
    CorrectionDecision,
    CorrectionKind,
    CorrectionOutcome,
    CorrectionRequest,
    SessionEvent,
    SessionEventKind,
    TreatmentSession,
)
from bontrack.treatments.records import SessionStatus, current_digest, status_of


class RequestStatus(StrEnum):
    """Where a correction request stands: open until decided, then its decision's outcome."""

    OPEN = "open"
    ACCEPTED = CorrectionOutcome.ACCEPTED.value
    DECLINED = CorrectionOutcome.DECLINED.value
    WITHDRAWN = CorrectionOutcome.WITHDRAWN.value


STATUSES = tuple(RequestStatus)
MIN_REASON = 5
MAX_NOTES = 4000
STALE = "the session changed since the request: review it again"


@dataclass(frozen=True)
class Proposal:
    """A proposed correction in full: an amendment's points, notes and vials, or an
    entered-in-error's answer to "was the toxin given?"."""

    kind: str
    injections: tuple[services.PointInput, ...] = ()
    notes: str | None = None
    vials: tuple[supply.DrawInput, ...] | None = None
    toxin_given: bool | None = None

    def as_data(self) -> dict[str, Any]:
        if self.kind == CorrectionKind.ENTERED_IN_ERROR:
            return {"toxin_given": bool(self.toxin_given)}
        data: dict[str, Any] = {
            "injections": [
                {
                    "site": p.site,
                    "side": p.side,
                    "units": format(p.units.normalize(), "f"),
                    "route": p.route,
                }
                for p in self.injections
            ],
            "notes": self.notes or "",
        }
        if self.vials is not None:
            data["vials"] = [
                {
                    "vial_id": str(v.vial_id),
                    **(
                        {"drawn_units": format(v.drawn_units.normalize(), "f")}
                        if v.drawn_units is not None
                        else {}
                    ),
                }
                for v in self.vials
            ]
        return data


def proposal_of(request: CorrectionRequest) -> Proposal:
    """A stored request's proposal, as the services take it."""
    data = request.proposed
    if request.kind == CorrectionKind.ENTERED_IN_ERROR:
        return Proposal(CorrectionKind.ENTERED_IN_ERROR, toxin_given=bool(data.get("toxin_given")))
    vials = data.get("vials")
    return Proposal(
        CorrectionKind.AMEND,
        tuple(
            services.PointInput(r["site"], r["side"], Decimal(r["units"]), r.get("route"))
            for r in data.get("injections", [])
        ),
        data.get("notes", ""),
        None
        if vials is None
        else tuple(
            supply.DrawInput(
                v["vial_id"],
                Decimal(v["drawn_units"]) if v.get("drawn_units") is not None else None,
            )
            for v in vials
        ),
    )


def validated(proposal: Proposal) -> Proposal:
    """The proposal with its points checked as an amendment's are, else a ServiceError naming
    the field (``proposed.…``)."""
    if proposal.kind not in CorrectionKind.values:
        raise ServiceError("kind", "must be amend or entered-in-error")
    if proposal.kind == CorrectionKind.ENTERED_IN_ERROR:
        if proposal.toxin_given is None:
            raise ServiceError(
                "proposed.toxin_given",
                "say whether the toxin was given (charted on the wrong patient or session) or not",
            )
        return proposal
    if not proposal.injections:
        raise ServiceError(
            "proposed.injections",
            "an amendment keeps at least one point: if nothing was injected, propose entered in "
            "error instead",
        )
    if proposal.notes is not None and len(proposal.notes) > MAX_NOTES:
        raise ServiceError("proposed.notes", f"must be at most {MAX_NOTES:,} characters")
    for n, v in enumerate(proposal.vials or ()):
        if v.drawn_units is not None and (not v.drawn_units.is_finite() or v.drawn_units <= 0):
            raise ServiceError(f"proposed.vials[{n}].drawn_units", "must be greater than 0")
    points = services.validate_points(proposal.injections, "proposed.injections")
    return Proposal(proposal.kind, tuple(points), proposal.notes, proposal.vials)


def _reason(reason: str, what: str) -> str:
    text = reason.strip()
    if len(text) < MIN_REASON:
        raise ServiceError("reason", f"{what} (at least {MIN_REASON} characters)")
    return text


def status_of_request(request: CorrectionRequest) -> RequestStatus:
    decision = getattr(request, "decision", None)
    return RequestStatus.OPEN if decision is None else RequestStatus(decision.outcome)


def file_request(
    actor: Actor,
    session_id: UUID | str,
    *,
    corrects_digest: str,
    reason: str,
    proposal: Proposal,
) -> CorrectionRequest:
    """A nurse injector proposes a correction of a signed session for a prescriber to decide."""
    text = _reason(reason, "say what is wrong in the record")
    checked = validated(proposal)
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.SIGN)
        services.locked_signed_session(session)
        if corrects_digest.strip().lower() != current_digest(session):
            raise ConflictError(
                "corrects_digest",
                "this is not the session's current digest: it changed since you opened it, "
                "review it again",
            )
        if checked.kind == CorrectionKind.AMEND:
            # The proposal must be one a prescriber could accept as it stands (B.30): its draws
            # are settled and checked as the amendment's would be, then rolled back.
            with transaction.atomic():
                services.amendment_data(
                    actor,
                    session,
                    points=list(checked.injections),
                    notes=checked.notes,
                    vials=checked.vials,
                    field="proposed.vials",
                )
                transaction.set_rollback(True)
        request = CorrectionRequest.objects.create(
            clinic_id=session.clinic_id,
            session=session,
            kind=checked.kind,
            corrects_digest=current_digest(session),
            reason=text,
            proposed=checked.as_data(),
            by=actor.membership,
            at=timezone.now(),
        )
        trail.record(
            "create",
            "correction-request",
            request.id,
            session.patient_id,
            session=str(session.id),
            kind=request.kind,
            corrects=request.corrects_digest,
        )
    return request


def _still_open(request: CorrectionRequest) -> None:
    decided = CorrectionDecision.objects.filter(
        clinic_id=request.clinic_id, request=request
    ).first()
    if decided is not None:
        raise ConflictError(None, f"this correction request was already {decided.outcome}")


def _decide(
    actor: Actor,
    request: CorrectionRequest,
    outcome: CorrectionOutcome,
    reason: str,
    event: Any = None,
) -> CorrectionDecision:
    return CorrectionDecision.objects.create(
        clinic_id=request.clinic_id,
        request=request,
        outcome=outcome,
        reason=reason,
        by=actor.membership,
        at=timezone.now(),
        event=event,
    )


def withdraw_request(
    actor: Actor, request_id: UUID | str, *, reason: str = ""
) -> CorrectionDecision:
    """The nurse who filed a request withdraws it while it is open."""
    with clinical_transaction(actor) as trail:
        request = access(actor, CORRECTION_REQUEST, request_id, Perm.SIGN)
        _still_open(request)
        if request.by_id != actor.membership.id:
            raise ForbiddenError(None, "only the one who filed a correction request withdraws it")
        decision = _decide(actor, request, CorrectionOutcome.WITHDRAWN, reason.strip())
        trail.record(
            "update",
            "correction-request",
            request.id,
            request.session.patient_id,
            outcome=CorrectionOutcome.WITHDRAWN,
        )
    return decision


def decline_request(actor: Actor, request_id: UUID | str, *, reason: str) -> CorrectionDecision:
    """A prescriber declines a request, saying why; the record stays as it is."""
    text = _reason(reason, "say why the correction is declined")
    with clinical_transaction(actor) as trail:
        request = access(actor, CORRECTION_REQUEST, request_id, Perm.CHART_READ)
        services.require_correct(actor, "declines a correction request")
        _still_open(request)
        decision = _decide(actor, request, CorrectionOutcome.DECLINED, text)
        trail.record(
            "update",
            "correction-request",
            request.id,
            request.session.patient_id,
            outcome=CorrectionOutcome.DECLINED,
            reason=text,
        )
    return decision


def accept_request(
    actor: Actor,
    request_id: UUID | str,
    *,
    edited: Proposal | None = None,
    reason: str = "",
) -> CorrectionDecision:
    """A prescriber accepts a request, as proposed or edited: the correction is appended as
    their own amendment or entered-in-error (B.33). Refused when the session changed since the
    request named its digest."""
    checked = validated(edited) if edited is not None else None
    with clinical_transaction(actor) as trail:
        request = access(actor, CORRECTION_REQUEST, request_id, Perm.CHART_READ)
        services.require_correct(actor, "accepts a correction request")
        _still_open(request)
        session = services.locked_signed_session(
            in_clinic(TreatmentSession.objects.all(), request.clinic_id, "patient").get(
                pk=request.session_id
            )
        )
        if current_digest(session) != request.corrects_digest:
            raise ConflictError("corrects_digest", STALE)
        proposal = checked or validated(proposal_of(request))
        if proposal.kind != request.kind:
            raise ServiceError(
                "kind", f"this request proposes {request.kind}: decline it and correct directly"
            )
        why = reason.strip() or request.reason
        if proposal.kind == CorrectionKind.ENTERED_IN_ERROR:
            event = services.append_entered_in_error(
                actor, trail, session, reason=why, toxin_given=bool(proposal.toxin_given)
            )
        else:
            event = services.append_amendment(
                actor,
                trail,
                session,
                reason=why,
                points=list(proposal.injections),
                notes=proposal.notes,
                vials=proposal.vials,
            )
        decision = _decide(actor, request, CorrectionOutcome.ACCEPTED, reason.strip(), event)
        trail.record(
            "update",
            "correction-request",
            request.id,
            session.patient_id,
            outcome=CorrectionOutcome.ACCEPTED,
            edited=edited is not None,
            digest=event.digest,
        )
    return decision


def request_rows(clinic_id: UUID) -> QuerySet[CorrectionRequest]:
    """The clinic's correction requests with their session, patient and decision, every row
    read inside the clinic."""
    decisions = CorrectionDecision.objects.filter(clinic_id=clinic_id).select_related("by__user")
    return (
        in_clinic(CorrectionRequest.objects.all(), clinic_id, "session__patient")
        .select_related("by__user")
        .prefetch_related(
            Prefetch(
                "decision",
                queryset=decisions.prefetch_related(
                    prefetch_in_clinic("event", SessionEvent, clinic_id)
                ),
            )
        )
    )


def _decided(**filters: Any) -> Exists:
    """Requests with a decision (of ``filters``) in their clinic."""
    return Exists(
        CorrectionDecision.objects.filter(
            clinic_id=OuterRef("clinic_id"), request_id=OuterRef("pk"), **filters
        )
    )


def _requests(actor: Actor) -> QuerySet[CorrectionRequest]:
    return request_rows(actor.membership.clinic_id)


def list_requests(
    actor: Actor, status: str = RequestStatus.OPEN, session_id: UUID | str | None = None
) -> list[CorrectionRequest]:
    """The clinic's correction requests by status (``all``: every one), newest first; one read
    entry per patient shown."""
    require(actor, Perm.CHART_READ)
    if status not in (*STATUSES, "all"):
        raise ServiceError("status", f"must be one of {', '.join((*STATUSES, 'all'))}")
    rows = _requests(actor)
    if session_id is not None:
        session = access(actor, SESSION, session_id, Perm.CHART_READ)
        rows = rows.filter(session=session)
    if status == RequestStatus.OPEN:
        rows = rows.filter(~_decided())
    elif status != "all":
        rows = rows.filter(_decided(outcome=status))
    found = [
        r
        for r in rows.order_by("-at", "-id")[:200]
        if not r.session.patient.restricted or _may_open(actor, r)
    ]
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(r.session.patient_id for r in found):
            trail.record("read", "correction-requests", "", patient_id)
    return found


def _may_open(actor: Actor, request: CorrectionRequest) -> bool:
    return _may_open_session(actor, request.session)


def read_request(actor: Actor, request_id: UUID | str) -> CorrectionRequest:
    with clinical_transaction(actor) as trail:
        request = access(actor, CORRECTION_REQUEST, request_id, Perm.CHART_READ)
        trail.record("read", "correction-request", request.id, request.session.patient_id)
    return _requests(actor).get(pk=request.pk)


def open_request_count(actor: Actor) -> int:
    """How many requests wait for a prescriber (the Today page's count)."""
    return (
        CorrectionRequest.objects.filter(clinic_id=actor.membership.clinic_id)
        .filter(~_decided())
        .count()
    )


def stale(request: CorrectionRequest) -> bool:
    """Whether the session changed since the request named its digest (accepting is refused)."""
    session = request.session
    return status_of(session) == SessionStatus.ENTERED_IN_ERROR or current_digest(session) != (
        request.corrects_digest
    )


def requests_of_session(session: TreatmentSession) -> Sequence[CorrectionRequest]:
    return list(
        request_rows(session.clinic_id).filter(session_id=session.id).order_by("-at", "-id")
    )


@dataclass(frozen=True)
class AwaitingCoSignature:
    session: TreatmentSession
    # Why any prescriber may co-sign it (no supervisor of the nurse is active and privileged).
    why: str


def awaiting_my_co_signature(actor: Actor, limit: int = 50) -> list[AwaitingCoSignature]:
    """Nurse injectors' sessions this prescriber may co-sign (DESIGN 3.4): those of the nurses
    they supervise, and any whose nurse has no active supervisor privileged for the indication;
    oldest first, one read entry per patient shown."""
    if not actor.membership.can(Perm.OVERRIDE):
        return []
    clinic = actor.membership.clinic_id
    settled = SessionEvent.objects.filter(
        clinic_id=OuterRef("clinic_id"),
        session_id=OuterRef("pk"),
        kind__in=(SessionEventKind.CO_SIGNED, SessionEventKind.ENTERED_IN_ERROR),
    )
    candidates = (
        in_clinic(TreatmentSession.objects.all(), clinic, "patient")
        .filter(signed_at__isnull=False, external=False, signed_by__role=Role.NURSE_INJECTOR)
        .filter(~Exists(settled))
        .select_related("signed_by__user", "injector__user")
        .prefetch_related(prefetch_in_clinic("events", SessionEvent, clinic))
        .order_by("signed_at")
    )
    found = []
    for session in candidates:
        if status_of(session) != SessionStatus.AWAITING_CO_SIGNATURE or (
            session.patient.restricted and not _may_open_session(actor, session)
        ):
            continue
        allowed = services.co_signers(session)
        if allowed.includes(actor.membership):
            found.append(AwaitingCoSignature(session, allowed.why))
        if len(found) >= limit:
            break
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(item.session.patient_id for item in found):
            trail.record("read", "co-signature-queue", patient_id, patient_id)
    return found


def _may_open_session(actor: Actor, session: TreatmentSession) -> bool:
    try:
        access(actor, SESSION, session.id, Perm.CHART_READ)
    except ServiceError:
        return False
    return True

"""Treatment sessions: plan, check, decide, sign, co-sign, amend, enter in error, cancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from bontrack.access import SESSION, access
from bontrack.accounts.permissions import Perm
from bontrack.api.auth import FRESH_CREDENTIAL, actor_of
from bontrack.api.correction_schemas import AddendumIn, AmendIn, EnteredInErrorIn
from bontrack.api.corrections import draws
from bontrack.api.perms import SIGNED_IN, needs
from bontrack.api.schemas import (
    AdverseEventIn,
    AdverseEventOut,
    DecisionIn,
    DigestOut,
    ErrorOut,
    PlanIn,
    PlanPatch,
    PointIn,
    ReasonIn,
    SessionOut,
    SignIn,
    TechniqueIn,
    units_text,
)
from bontrack.audit.services import clinical_transaction
from bontrack.core.errors import ConflictError
from bontrack.outcomes.services import record_adverse_event
from bontrack.treatments import reads, services, supply
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import (
    Point,
    current_digest,
    current_notes,
    current_points,
    status_of,
    total_units,
)
from bontrack.treatments.signing_rows import cache_related

router = Router(tags=["sessions"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _points(items: list[PointIn] | None) -> list[services.PointInput] | None:
    if items is None:
        return None
    return [services.PointInput(p.site, p.side, p.units, p.route) for p in items]


def _point_out(p: Point) -> dict[str, Any]:
    return {"site": p.site, "side": p.side, "units": units_text(p.units), "route": p.route}


def _vials_out(record: reads.SessionRecord) -> list[dict[str, Any]]:
    """A plan's chosen vials (no draws yet), or a signed session's current draws (B.30: as
    signed, or as the latest amendment that lists vials gives them; none once entered in error
    with the toxin not given)."""
    if not record.session.is_signed:
        return [{"vial_id": v.vial_id, "drawn_units": None} for v in record.vials.vials]
    return [
        {"vial_id": v.vial_id, "drawn_units": units_text(v.drawn)}
        for v in record.vials.drawn
        if v.drawn is not None
    ]


def _technique(body: TechniqueIn | None) -> services.Technique | None:
    return services.Technique(body.guidance, body.needle) if body is not None else None


def _weight_out(weight: reads.WeightUsed | None) -> dict[str, Any] | None:
    if weight is None:
        return None
    return {
        "kg": units_text(weight.kg),
        "measured_on": weight.measured_on,
        "units_per_kg": units_text(weight.units_per_kg),
    }


def session_out(session: TreatmentSession) -> dict[str, Any]:
    return record_out(reads.session_record(session.pk, session.clinic_id))


def signed_out(signed: services.Signed) -> dict[str, Any]:
    """The session ``services.sign`` wrote, from the rows it holds (its points, records and
    vial rows): nothing is read again."""
    session = signed.session
    cache_related(session, "injections", signed.injections)
    cache_related(session, "events", signed.events)
    cache_related(session, "session_vials", signed.uses)
    events = signed.events
    points = tuple(current_points(session, events))
    total = total_units(points)
    weight = (
        reads.WeightUsed(
            Decimal(session.weight_kg),
            session.weight_measured_on,
            services.units_per_kg(total, Decimal(session.weight_kg)),
        )
        if session.weight_kg is not None
        else None
    )
    return record_out(
        reads.SessionRecord(
            session=session,
            status=status_of(session, events),
            events=events,
            points=points,
            original_points=tuple(
                Point(i.site, i.side, i.units, i.route) for i in session.injections.all()
            ),
            total=total,
            notes=current_notes(session, events),
            weight=weight,
            vials=reads.vials_of(session, events, points),
            findings=(),
            verdict=str(session.check_result.get("verdict", "")),
            current_digest=current_digest(session, events),
            amendment_findings=(),
        )
    )


def record_out(record: reads.SessionRecord) -> dict[str, Any]:
    session = record.session
    return {
        "id": session.id,
        "patient_id": session.patient_id,
        "status": record.status,
        "product": session.product,
        "indication": session.indication,
        "protocol": session.protocol,
        "plan_date": session.plan_date,
        "notes": session.notes,
        "technique": {"guidance": session.guidance, "needle": session.needle},
        "weight_used": _weight_out(record.weight),
        "injector_id": session.injector_id,
        "total_units": units_text(record.total),
        "injections": [_point_out(p) for p in record.points],
        "original_injections": [_point_out(p) for p in record.original_points],
        "vial_ids": [u.vial_id for u in session.session_vials.all()],
        "vials": _vials_out(record),
        "check": session.check_result,
        "catalog_version": session.catalog_version,
        "administered_at": session.administered_at,
        "signed_at": session.signed_at,
        "signed_by": session.signed_by_id,
        "digest": session.digest,
        "current_digest": record.current_digest,
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "reason": e.reason,
                "by": e.by_id,
                "at": e.at,
                "digest": e.digest,
                "amends_digest": e.amends_digest,
                "data": e.data,
            }
            for e in record.events
        ],
    }


@router.post(
    "",
    response={201: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def plan_session(request: HttpRequest, body: PlanIn) -> Any:
    session = services.plan_session(
        actor_of(request),
        body.patient_id,
        product=body.product,
        indication=body.indication,
        plan_date=body.plan_date,
        protocol=body.protocol,
        injections=_points(body.injections),
        injector_id=body.injector_id,
        vial_ids=body.vial_ids,
        notes=body.notes,
        technique=_technique(body.technique),
    )
    return Status(201, session_out(session))


@router.get(
    "/{session_id}",
    response={200: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def read_session(request: HttpRequest, session_id: UUID) -> Any:
    actor = actor_of(request)
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.CHART_READ)
        trail.record("read", "session", session.id, session.patient_id)
    return session_out(session)


@router.patch(
    "/{session_id}",
    response={200: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def update_plan(request: HttpRequest, session_id: UUID, body: PlanPatch) -> Any:
    session = services.update_plan(
        actor_of(request),
        session_id,
        injections=_points(body.injections),
        vial_ids=body.vial_ids,
        injector_id=body.injector_id,
        plan_date=body.plan_date,
        notes=body.notes,
        technique=_technique(body.technique),
    )
    return session_out(session)


@router.delete(
    "/{session_id}",
    response={204: None, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def delete_session(request: HttpRequest, session_id: UUID) -> Any:
    """Signed sessions are never deleted (409); a plan is cancelled, which is appended."""
    actor = actor_of(request)
    session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
    if session.is_signed:
        raise ConflictError(None, "a signed session is never deleted: mark it entered-in-error")
    services.cancel_plan(actor, session_id, reason="deleted through the API")
    return Status(204, None)


@router.post(
    "/{session_id}/check",
    response={200: dict[str, Any], **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def recheck(request: HttpRequest, session_id: UUID) -> Any:
    return services.recheck(actor_of(request), session_id)


@router.post(
    "/{session_id}/decisions",
    auth=FRESH_CREDENTIAL,
    response={201: dict[str, Any], **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def decide(request: HttpRequest, session_id: UUID, body: DecisionIn) -> Any:
    decision = services.decide(
        actor_of(request),
        session_id,
        fingerprint_=body.fingerprint,
        kind=body.kind,
        reason=body.reason,
    )
    return Status(
        201, {"fingerprint": decision.fingerprint, "rule": decision.rule, "kind": decision.kind}
    )


@router.post(
    "/{session_id}/sign",
    auth=FRESH_CREDENTIAL,
    response={200: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.SIGN),
)
def sign(request: HttpRequest, session_id: UUID, body: SignIn) -> Any:
    """Sign what was injected. ``vials`` give the vials and the units drawn from each (B.30);
    draws not given are filled in the order the vials were opened. Refused (409, ``supply``) when
    the draws do not add up to the session's total or a vial cannot hold its draw."""
    vials = (
        [
            supply.DrawInput(
                vial_id=v.vial_id,
                drawn_units=v.drawn_units,
                lot_number=v.lot_number,
                size_units=v.size_units,
                expires_on=v.expires_on,
            )
            for v in body.vials
        ]
        if body.vials is not None
        else None
    )
    signed = services.sign(
        actor_of(request),
        session_id,
        administered_at=body.administered_at,
        vial_ids=body.vial_ids,
        vials=vials,
    )
    return signed_out(signed)


@router.post(
    "/{session_id}/co-sign",
    auth=FRESH_CREDENTIAL,
    response={200: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.OVERRIDE),
)
def co_sign(request: HttpRequest, session_id: UUID) -> Any:
    event = services.co_sign(actor_of(request), session_id)
    return session_out(event.session)


@router.post(
    "/{session_id}/amendments",
    auth=FRESH_CREDENTIAL,
    response={201: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.CORRECT),
)
def amend(request: HttpRequest, session_id: UUID, body: AmendIn) -> Any:
    """A prescriber corrects a signed session (B.33); a nurse injector files a correction request
    instead (POST /sessions/{id}/correction-requests)."""
    event = services.amend(
        actor_of(request),
        session_id,
        reason=body.reason,
        injections=_points(body.injections),
        notes=body.notes,
        vials=draws(body.vials),
    )
    return Status(201, session_out(event.session))


@router.post(
    "/{session_id}/entered-in-error",
    auth=FRESH_CREDENTIAL,
    response={200: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.CORRECT),
)
def entered_in_error(request: HttpRequest, session_id: UUID, body: EnteredInErrorIn) -> Any:
    """A prescriber marks a signed session entered in error, saying whether the toxin was given
    (its vial draws stay) or not (they are released)."""
    event = services.mark_entered_in_error(
        actor_of(request), session_id, reason=body.reason, toxin_given=body.toxin_given
    )
    return session_out(event.session)


@router.post(
    "/{session_id}/addenda",
    response={201: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.SIGN, SIGNED_IN),
)
def add_addendum(request: HttpRequest, session_id: UUID, body: AddendumIn) -> Any:
    """The session's injector appends text to its note: no units, sites or vials."""
    event = services.add_addendum(actor_of(request), session_id, text=body.text)
    return Status(201, session_out(event.session))


@router.post(
    "/{session_id}/cancel",
    response={200: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def cancel(request: HttpRequest, session_id: UUID, body: ReasonIn) -> Any:
    event = services.cancel_plan(actor_of(request), session_id, reason=body.reason)
    return session_out(event.session)


@router.get(
    "/{session_id}/verify",
    response={200: DigestOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def verify(request: HttpRequest, session_id: UUID) -> Any:
    actor = actor_of(request)
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.CHART_READ)
        if not session.is_signed:
            raise ConflictError(None, "a plan has no digest yet")
        trail.record("read", "session-digest", session.id, session.patient_id)
    return {
        "session_id": session.id,
        "digest": session.digest,
        "intact": services.verify_digest(session),
    }


@router.post(
    "/{session_id}/adverse-events",
    response={201: AdverseEventOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def add_adverse_event(request: HttpRequest, session_id: UUID, body: AdverseEventIn) -> Any:
    return Status(201, record_adverse_event(actor_of(request), session_id, **body.model_dump()))

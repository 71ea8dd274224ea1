"""Treatment sessions: plan, re-check, decide on findings, sign, co-sign, amend, cancel.

The only code that writes session rows. Every write re-runs the domain check with the patient's
real history, stores the findings, and appends its audit entries in the same transaction.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils import timezone

from bontrack.accounts.access import (
    access_membership,
    access_patient,
    access_session,
    access_vial,
    require,
)
from bontrack.accounts.permissions import Perm
from bontrack.audit.chain import digest
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.domain.catalog import catalog
from bontrack.domain.planning import expand_protocol
from bontrack.inventory.services import record_use_at_signing
from bontrack.patients.models import Consent, Patient
from bontrack.plan_input import MAX_DECIMALS, MAX_UNITS, has_at_most_decimals
from bontrack.treatments.checking import fingerprint, run_check, stored_result
from bontrack.treatments.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.treatments.models import (
    FindingDecision,
    Injection,
    SessionEvent,
    SessionVial,
    TreatmentSession,
)
from bontrack.treatments.records import current_points, status_of, total_units
from bontrack.treatments.signals import session_signed


@dataclass(frozen=True)
class PointInput:
    site: str
    side: str
    units: Decimal
    route: str | None = None


def _validate_points(points: Sequence[PointInput], field: str = "injections") -> list[PointInput]:
    cat = catalog()
    checked = []
    for n, p in enumerate(points):
        here = f"{field}[{n}]"
        site = cat.sites.get(p.site)
        if site is None:
            raise ServiceError(f"{here}.site", f"unknown site code {p.site!r}")
        if p.side not in site.sides:
            raise ServiceError(
                f"{here}.side", f"{site.code} is injected {' or '.join(site.sides)}, not {p.side}"
            )
        if not p.units.is_finite() or p.units <= 0:
            raise ServiceError(f"{here}.units", "must be greater than 0")
        if p.units > MAX_UNITS:
            raise ServiceError(f"{here}.units", f"must be at most {MAX_UNITS:,} U")
        if not has_at_most_decimals(p.units, MAX_DECIMALS):
            raise ServiceError(f"{here}.units", f"must have at most {MAX_DECIMALS} decimals")
        route = p.route or site.default_route
        if route not in cat.routes:
            raise ServiceError(f"{here}.route", f"unknown route {route!r}")
        checked.append(PointInput(site.code, p.side, p.units, route))
    return checked


def _write_points(session: TreatmentSession, points: Sequence[PointInput]) -> None:
    session.injections.all().delete()
    Injection.objects.bulk_create(
        Injection(
            clinic_id=session.clinic_id,
            session=session,
            position=n,
            site=p.site,
            side=p.side,
            units=p.units,
            route=p.route or "intramuscular",
        )
        for n, p in enumerate(points)
    )


def _recheck(session: TreatmentSession, now: datetime | None = None) -> dict[str, Any]:
    result = stored_result(run_check(session, now or timezone.now()))
    session.check_result = result
    session.catalog_version = result["catalog_version"]
    session.save(update_fields=["check_result", "catalog_version", "updated_at"])
    return result


def _require_plan(session: TreatmentSession) -> None:
    if session.is_signed:
        raise ConflictError(
            None, "this session is signed and can no longer change: append an amendment"
        )
    if status_of(session) == "cancelled":
        raise ConflictError(None, "this plan was cancelled")


def _injector(actor: Actor, injector_id: UUID | str | None) -> Any:
    if injector_id is None:
        return (
            actor.membership if actor.membership.role in ("prescriber", "nurse-injector") else None
        )
    member = access_membership(actor, injector_id)
    if member.role not in ("prescriber", "nurse-injector"):
        raise ServiceError("injector_id", "the injector must be a prescriber or a nurse injector")
    return member


def plan_session(
    actor: Actor,
    patient_id: UUID | str,
    *,
    product: str,
    indication: str,
    plan_date: date,
    protocol: str | None = None,
    injections: Sequence[PointInput] | None = None,
    injector_id: UUID | str | None = None,
    vial_ids: Sequence[UUID | str] = (),
    notes: str = "",
) -> TreatmentSession:
    cat = catalog()
    if product not in cat.products:
        raise ServiceError("product", f"unknown product code {product!r}")
    if indication not in cat.indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if protocol is not None and protocol not in cat.protocols:
        raise ServiceError("protocol", f"unknown protocol {protocol!r}")
    if protocol is None and not injections:
        raise ServiceError("injections", "give a protocol, injections, or both")
    if injections:
        points = _validate_points(injections)
    else:
        assert protocol is not None
        points = [
            PointInput(i.site, i.side, i.units.amount, i.route)
            for i in expand_protocol(cat.protocols[protocol], product)
        ]
    with clinical_transaction(actor) as trail:
        patient = access_patient(actor, patient_id, Perm.PLAN_WRITE)
        session = TreatmentSession.objects.create(
            clinic_id=actor.membership.clinic_id,
            patient=patient,
            product=product,
            indication=indication,
            protocol=protocol or "",
            plan_date=plan_date,
            notes=notes,
            planned_by=actor.membership,
            injector=_injector(actor, injector_id),
            catalog_version=cat.version,
        )
        _write_points(session, points)
        _attach_vials(actor, session, vial_ids)
        result = _recheck(session)
        trail.record("create", "session", session.id, patient.id, verdict=result["verdict"])
    return session


def load_protocol(actor: Actor, session_id: UUID | str, *, protocol: str) -> TreatmentSession:
    """Replace a plan's points with a protocol's default points and name the plan after it."""
    cat = catalog()
    found = cat.protocols.get(protocol)
    if found is None:
        raise ServiceError("protocol", f"unknown protocol {protocol!r}")
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.PLAN_WRITE)
        _lock_session(session)
        _require_plan(session)
        points = [
            PointInput(i.site, i.side, i.units.amount, i.route)
            for i in expand_protocol(found, session.product)
        ]
        _write_points(session, points)
        session.protocol = protocol
        session.save()
        result = _recheck(session)
        trail.record(
            "update",
            "session",
            session.id,
            session.patient_id,
            protocol=protocol,
            verdict=result["verdict"],
        )
    return session


def read_session(
    actor: Actor, session_id: UUID | str, perm: Perm = Perm.CHART_READ, action: str = "read"
) -> TreatmentSession:
    """Open one session for reading (``action="print"`` for a printed or PDF note); writes the
    entry of its patient's audit trail."""
    if action not in ("read", "print"):
        raise ServiceError("action", "must be read or print")
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, perm)
        trail.record(action, "session", session.id, session.patient_id)
    return session


def _attach_vials(actor: Actor, session: TreatmentSession, vial_ids: Sequence[UUID | str]) -> None:
    SessionVial.objects.filter(session=session).delete()
    for n, vial_id in enumerate(vial_ids):
        vial = access_vial(actor, vial_id, Perm.INVENTORY_READ)
        if vial.patient_id is not None and vial.patient_id != session.patient_id:
            raise ServiceError(
                f"vial_ids[{n}]", "this vial was used for another patient: vials are single-patient"
            )
        SessionVial.objects.create(clinic_id=session.clinic_id, session=session, vial=vial)


def update_plan(
    actor: Actor,
    session_id: UUID | str,
    *,
    injections: Sequence[PointInput] | None = None,
    vial_ids: Sequence[UUID | str] | None = None,
    injector_id: UUID | str | None = None,
    plan_date: date | None = None,
    notes: str | None = None,
) -> TreatmentSession:
    points = _validate_points(injections) if injections is not None else None
    if injections is not None and not injections:
        raise ServiceError("injections", "must list at least one injection")
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.PLAN_WRITE)
        _lock_session(session)
        _require_plan(session)
        if points is not None:
            _write_points(session, points)
        if vial_ids is not None:
            _attach_vials(actor, session, vial_ids)
        if injector_id is not None:
            session.injector = _injector(actor, injector_id)
        if plan_date is not None:
            session.plan_date = plan_date
        if notes is not None:
            session.notes = notes
        session.save()
        result = _recheck(session)
        trail.record("update", "session", session.id, session.patient_id, verdict=result["verdict"])
    return session


def stored_result_at(session: TreatmentSession, now: datetime) -> dict[str, Any]:
    """The check as it would run at ``now`` (for example the injection time), unsaved."""
    return stored_result(run_check(session, now))


def recheck(actor: Actor, session_id: UUID | str) -> dict[str, Any]:
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.PLAN_WRITE)
        _require_plan(session)
        result = _recheck(session)
        trail.record("read", "session-check", session.id, session.patient_id)
    return result


def decide(
    actor: Actor, session_id: UUID | str, *, fingerprint_: str, kind: str, reason: str = ""
) -> FindingDecision:
    """Acknowledge a warning, or override an overridable block with a written reason."""
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.PLAN_WRITE)
        _require_plan(session)
        finding = next(
            (
                f
                for f in session.check_result.get("findings", [])
                if f["fingerprint"] == fingerprint_
            ),
            None,
        )
        if finding is None:
            raise ServiceError(
                "fingerprint", "no current finding has this fingerprint: re-check the plan"
            )
        if kind == "acknowledge":
            if finding["severity"] == "block":
                raise ServiceError(
                    "kind",
                    "a block is not acknowledged: a prescriber overrides it or the plan changes",
                )
        elif kind == "override":
            require_override(actor)
            if not finding["overridable"]:
                raise ServiceError("kind", f"{finding['rule']} can never be overridden")
            if len(reason.strip()) < 10:
                raise ServiceError(
                    "reason", "an override needs a written reason (at least 10 characters)"
                )
        else:
            raise ServiceError("kind", "must be acknowledge or override")
        decision = FindingDecision.objects.create(
            clinic_id=session.clinic_id,
            session=session,
            fingerprint=fingerprint_,
            rule=finding["rule"],
            kind=kind,
            reason=reason.strip(),
            by=actor.membership,
            at=timezone.now(),
        )
        action = "override" if kind == "override" else "update"
        trail.record(
            action, "finding", session.id, session.patient_id, rule=finding["rule"], kind=kind
        )
    return decision


def require_override(actor: Actor) -> None:
    if not actor.membership.can(Perm.OVERRIDE):
        raise ForbiddenError("kind", "only a prescriber may override a block")


def _lock_session(session: TreatmentSession) -> None:
    _lock_patient(session.patient_id)


def _lock_patient(patient_id: UUID) -> None:
    """Serialise signings for one patient. PostgreSQL: a row lock that does not conflict with the
    key-share locks of inserts referencing the patient; SQLite: the IMMEDIATE transaction already
    holds the write lock."""
    if connection.vendor == "postgresql":
        list(Patient.objects.select_for_update(no_key=True).filter(pk=patient_id).values_list("pk"))


def local_date(clinic_tz: str, moment: datetime) -> date:
    return moment.astimezone(zoneinfo.ZoneInfo(clinic_tz)).date()


def consent_finding(session: TreatmentSession, day: date) -> dict[str, Any] | None:
    """B.22, B.29: signing needs a consent for the indication valid on the session date."""
    consents = Consent.objects.filter(patient_id=session.patient_id, indication=session.indication)
    if any(c.valid_on(day) for c in consents):
        return None
    cite = catalog().rule_sources["consent"].cite
    item = {
        "rule": "consent",
        "severity": "block",
        "overridable": False,
        "message": (
            f"No valid consent for {session.indication} on {day.isoformat()}: a consent signed by "
            "the patient (or guardian) within 12 months, not expired and not withdrawn, is needed."
        ),
        "source": cite.text(),
        "sites": [],
    }
    item["fingerprint"] = fingerprint(item)
    return item


def sign_session(
    actor: Actor,
    session_id: UUID | str,
    *,
    administered_at: datetime,
    vial_ids: Sequence[UUID | str] | None = None,
) -> TreatmentSession:
    """Sign what was injected: re-check with the real vials, lots, injector and time inside the
    transaction that writes the signature, holding the patient's lock."""
    if timezone.is_naive(administered_at):
        raise ServiceError("administered_at", "must include a UTC offset")
    if administered_at > timezone.now() + timedelta(minutes=5):
        raise ServiceError("administered_at", "is in the future: sign after injecting")
    require(actor, Perm.SIGN)
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.SIGN)
        _lock_patient(session.patient_id)
        session.refresh_from_db()
        _require_plan(session)
        if actor.membership.role not in ("prescriber", "nurse-injector"):
            raise ForbiddenError(None, "only the injector signs what they injected")
        if vial_ids is not None:
            _attach_vials(actor, session, vial_ids)
        session.injector = actor.membership
        session.plan_date = local_date(session.clinic.time_zone, administered_at)
        session.administered_at = administered_at
        # Checked as it will be signed, then written once with the signature below.
        result = stored_result(run_check(session, administered_at))
        session.catalog_version = result["catalog_version"]
        consent = consent_finding(session, session.plan_date)
        if consent is not None:
            result["findings"].insert(0, consent)
            result["verdict"] = "block"
        decisions = {d.fingerprint: d for d in session.decisions.all()}
        _refuse_unresolved(result["findings"], decisions)
        findings = [
            {**f, "decision": _decision_json(decisions.get(f["fingerprint"]))}
            for f in result["findings"]
        ]
        session.check_result = {**result, "findings": findings}
        session.signed_at = timezone.now()
        session.signed_by = actor.membership
        session.digest = digest(session_document(session))
        TreatmentSession.objects.filter(pk=session.pk).update(
            injector=session.injector,
            plan_date=session.plan_date,
            administered_at=session.administered_at,
            catalog_version=session.catalog_version,
            check_result=session.check_result,
            signed_at=session.signed_at,
            signed_by=session.signed_by,
            digest=session.digest,
            updated_at=session.signed_at,
        )
        for use in session.session_vials.select_related("vial"):
            if use.vial.patient_id is None:
                use.vial.patient_id = session.patient_id
                use.vial.save(update_fields=["patient"])
        # Stock follows the chart: the units given and the rest of each vial (wasted).
        record_use_at_signing(session, total_units(current_points(session)), session.signed_at)
        trail.record("sign", "session", session.id, session.patient_id, digest=session.digest)
        session_signed.send(sender=TreatmentSession, session=session, trail=trail)
        overrides = [d for d in decisions.values() if d.kind == "override"]
        for d in overrides:
            trail.record(
                "override", "finding", session.id, session.patient_id, rule=d.rule, reason=d.reason
            )
    return session


def unresolved_findings(
    session: TreatmentSession, findings: list[dict[str, Any]]
) -> dict[str, str]:
    """For each finding that would refuse the signature as decided so far, its fingerprint and
    the refusal's words (the same test as signing)."""
    decisions = {d.fingerprint: d for d in session.decisions.select_related("by")}
    refusals = {}
    for f in findings:
        try:
            _refuse_unresolved([f], decisions)
        except ConflictError as error:
            refusals[f["fingerprint"]] = error.message
    return refusals


def _decision_json(decision: FindingDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "kind": decision.kind,
        "reason": decision.reason,
        "by": str(decision.by_id),
        "at": decision.at.isoformat(),
    }


def _refuse_unresolved(
    findings: list[dict[str, Any]], decisions: dict[str, FindingDecision]
) -> None:
    for f in findings:
        decision = decisions.get(f["fingerprint"])
        if f["severity"] == "block":
            if not f["overridable"]:
                raise ConflictError("findings", f"cannot be signed: {f['rule']}: {f['message']}")
            if decision is None or decision.kind != "override":
                raise ConflictError(
                    "findings",
                    f"cannot be signed until a prescriber overrides {f['rule']}: {f['message']}",
                )
            if not decision.by.can(Perm.OVERRIDE):
                raise ConflictError(
                    "findings", f"the override of {f['rule']} was not made by a prescriber"
                )
        elif f["severity"] == "warn" and decision is None:
            raise ConflictError(
                "findings", f"acknowledge the warning first: {f['rule']}: {f['message']}"
            )


def session_document(session: TreatmentSession) -> dict[str, Any]:
    """The canonical content of a signed session, which its digest covers (DESIGN 3.4)."""
    return {
        "id": session.id,
        "clinic": session.clinic_id,
        "patient": session.patient_id,
        "product": session.product,
        "indication": session.indication,
        "protocol": session.protocol,
        "plan_date": session.plan_date,
        "notes": session.notes,
        "administered_at": session.administered_at,
        "injections": [
            {
                "position": i.position,
                "site": i.site,
                "side": i.side,
                "units": Decimal(i.units),
                "route": i.route,
                "vial": i.vial_id,
            }
            for i in Injection.objects.filter(session_id=session.pk).order_by("position")
        ],
        "vials": sorted(str(v.vial_id) for v in SessionVial.objects.filter(session_id=session.pk)),
        "catalog_version": session.catalog_version,
        "findings": session.check_result.get("findings", []),
        "injector": session.injector_id,
        "signed_by": session.signed_by_id,
        "signed_at": session.signed_at,
        # A dose given elsewhere: where, and the document it was read from (treatments/external).
        **(
            {
                "external": True,
                "source_place": session.source_place,
                "source_document": session.source_document,
            }
            if session.external
            else {}
        ),
    }


def verify_digest(session: TreatmentSession) -> bool:
    return bool(session.digest) and digest(session_document(session)) == session.digest


def _append_event(
    actor: Actor,
    session: TreatmentSession,
    kind: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> SessionEvent:
    event = SessionEvent(
        clinic_id=session.clinic_id,
        session=session,
        kind=kind,
        reason=reason,
        by=actor.membership,
        at=timezone.now(),
        data=data or {},
    )
    previous = [e.digest for e in session.events.filter(kind="amended").order_by("at")]
    event.amends_digest = previous[-1] if (previous and kind == "amended") else session.digest
    event.digest = digest(
        {
            "session": session.id,
            "kind": kind,
            "reason": reason,
            "by": actor.membership.id,
            "at": event.at,
            "data": event.data,
            "amends": event.amends_digest,
        }
    )
    event.save()
    return event


def co_sign(actor: Actor, session_id: UUID | str) -> SessionEvent:
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.OVERRIDE)
        if status_of(session) != "awaiting-co-signature":
            raise ConflictError(None, "this session is not awaiting a co-signature")
        event = _append_event(actor, session, "co-signed", "")
        trail.record("sign", "co-signature", session.id, session.patient_id, digest=event.digest)
    return event


def amend(
    actor: Actor,
    session_id: UUID | str,
    *,
    reason: str,
    injections: Sequence[PointInput] | None = None,
    notes: str | None = None,
) -> SessionEvent:
    """Append a correction of what was recorded; the original stays readable."""
    if len(reason.strip()) < 5:
        raise ServiceError("reason", "an amendment needs a reason")
    points = _validate_points(injections) if injections is not None else None
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.SIGN)
        if not session.is_signed:
            raise ConflictError(
                None, "a plan is changed directly; only signed sessions are amended"
            )
        if status_of(session) == "entered-in-error":
            raise ConflictError(None, "this session was entered in error")
        _lock_patient(session.patient_id)
        current = current_points(session)
        rows = (
            [
                {"site": p.site, "side": p.side, "units": str(p.units), "route": p.route}
                for p in points
            ]
            if points is not None
            else [
                {
                    "site": p.site,
                    "side": p.side,
                    "units": str(p.units),
                    "route": p.route,
                    "vial_id": p.vial_id,
                }
                for p in current
            ]
        )
        data = {"injections": rows, "notes": notes if notes is not None else session.notes}
        event = _append_event(actor, session, "amended", reason.strip(), data)
        trail.record("amend", "session", session.id, session.patient_id, digest=event.digest)
    return event


def mark_entered_in_error(actor: Actor, session_id: UUID | str, *, reason: str) -> SessionEvent:
    if len(reason.strip()) < 5:
        raise ServiceError("reason", "give the reason")
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.SIGN)
        if not session.is_signed:
            raise ConflictError(None, "a plan is cancelled, not entered in error")
        if status_of(session) == "entered-in-error":
            raise ConflictError(None, "already entered in error")
        event = _append_event(actor, session, "entered-in-error", reason.strip())
        trail.record("amend", "session", session.id, session.patient_id, kind="entered-in-error")
    return event


def cancel_plan(actor: Actor, session_id: UUID | str, *, reason: str = "") -> SessionEvent:
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.PLAN_WRITE)
        _require_plan(session)
        event = _append_event(actor, session, "cancelled", reason)
        trail.record("update", "session", session.id, session.patient_id, kind="cancelled")
    return event

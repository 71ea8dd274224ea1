"""Treatment sessions: plan, re-check, decide on findings, sign, co-sign, amend, cancel.

The only code that writes session rows. Every write re-runs the domain check with the patient's
real history, stores the findings, and appends its audit entries in the same transaction.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID, uuid4

from django.db import connection, transaction
from django.db.models import Case, DecimalField, Value, When
from django.utils import timezone

from bontrack.access import (
    MEMBER,
    PATIENT,
    SESSION,
    SESSION_TO_SIGN,
    VIAL,
    access,
    refuse_outside_clinic,
    require,
)
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import INJECTOR_ROLES, Perm, Role
from bontrack.audit.chain import digest
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.billing.capture import ChargeReason, Known, capture_charges
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.check import evaluate, requires_weight
from bontrack.domain.planning import expand_protocol
from bontrack.domain.treatment import HistoryEntry, Injector, Verdict
from bontrack.outcomes import due_state
from bontrack.outcomes.verdicts import Counted, domain_verdict, judge_patient
from bontrack.patients.models import Consent, Patient, with_withdrawals
from bontrack.plan_input import MAX_DECIMALS, MAX_UNITS, has_at_most_decimals
from bontrack.treatments import supply
from bontrack.treatments.checking import (
    fingerprint,
    history_entry,
    history_of,
    patient_values,
    plan_values,
    run_check,
    stored_result,
)
from bontrack.treatments.models import (
    GUIDANCE,
    FindingDecision,
    Injection,
    SessionEvent,
    SessionEventKind,
    SessionVial,
    TreatmentSession,
)
from bontrack.treatments.records import (
    Point,
    SessionStatus,
    counts_toward_limits,
    current_digest,
    current_notes,
    current_points,
    status_of,
    total_units,
)
from bontrack.treatments.signals import session_signed
from bontrack.treatments.signing_rows import SigningRows, cache_related, read_for_signing


@dataclass(frozen=True)
class PointInput:
    site: str
    side: str
    units: Decimal
    route: str | None = None
    source_identifier: str = ""  # an imported administration's identifier ("system|value")


MAX_NOTES = 20_000
MAX_NEEDLE = 40


@dataclass(frozen=True)
class Technique:
    """How the points were placed (DESIGN 3.4): ``guidance`` one of GUIDANCE ("" not recorded),
    ``needle`` its gauge and length as written on the box ("30 G 13 mm")."""

    guidance: str = ""
    needle: str = ""


def _checked_note(notes: str | None) -> str | None:
    if notes is None:
        return None
    if len(notes) > MAX_NOTES:
        raise ServiceError(
            "notes",
            f"must be at most {MAX_NOTES:,} characters: shorten the note or add an "
            "addendum after signing",
        )
    return notes.strip()


def _checked_technique(technique: Technique | None) -> Technique | None:
    if technique is None:
        return None
    if technique.guidance not in ("", *GUIDANCE):
        raise ServiceError(
            "technique.guidance",
            f"must be one of {', '.join(GUIDANCE)} (or empty while not yet recorded), "
            f"not {technique.guidance!r}",
        )
    needle = " ".join(technique.needle.split())
    if len(needle) > MAX_NEEDLE:
        raise ServiceError(
            "technique.needle",
            f'must be at most {MAX_NEEDLE} characters: the gauge and length, as "30 G 13 mm"',
        )
    return Technique(technique.guidance, needle)


def weight_used(
    session: TreatmentSession, vials: Sequence[Any] | None = None
) -> tuple[Decimal, date | None] | None:
    """The weight a weight-based dose rule reads for this session (a child's), with the day it was
    measured; None when no such rule applies or no weight measured on or before the session's date
    is known."""
    patient = patient_values(session.patient, session.plan_date)
    plan = plan_values(session, vials=vials)
    if patient.weight_kg is None or not requires_weight(
        plan, patient, history_of(session.patient, exclude=session)
    ):
        return None
    return Decimal(patient.weight_kg), patient.weight_measured_on


def units_per_kg(total: Decimal, kg: Decimal) -> Decimal:
    """A total per kg of body weight as the note prints it, to 0.01 U/kg (the check itself compares
    the exact figures)."""
    return (total / kg).quantize(Decimal("0.01"), ROUND_HALF_UP).normalize()


def validate_points(points: Sequence[PointInput], field: str = "injections") -> list[PointInput]:
    """The points checked against the catalog (a known site and one of its sides, units above 0
    and within the edge's bounds, a known route, else the site's default) and returned with the
    route filled in; the first problem is raised as a ``ServiceError`` naming ``field[n]``. Every
    writer of points uses it: plans, amendments, correction requests, doses given elsewhere."""
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
        checked.append(PointInput(site.code, p.side, p.units, route, p.source_identifier))
    return checked


def _write_points(session: TreatmentSession, points: Sequence[PointInput]) -> None:
    Injection.objects.filter(clinic_id=session.clinic_id, session_id=session.pk).delete()
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
    if status_of(session) == SessionStatus.CANCELLED:
        raise ConflictError(None, "this plan was cancelled")


def _injector(actor: Actor, injector_id: UUID | str | None) -> Any:
    if injector_id is None:
        return actor.membership if actor.membership.role in INJECTOR_ROLES else None
    member = access(actor, MEMBER, injector_id)
    if member.role not in INJECTOR_ROLES:
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
    technique: Technique | None = None,
) -> TreatmentSession:
    cat = catalog()
    notes = _checked_note(notes) or ""
    technique = _checked_technique(technique) or Technique()
    if product not in cat.products:
        raise ServiceError("product", f"unknown product code {product!r}")
    if indication not in cat.indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if protocol is not None and protocol not in cat.protocols:
        raise ServiceError("protocol", f"unknown protocol {protocol!r}")
    if protocol is None and not injections:
        raise ServiceError("injections", "give a protocol, injections, or both")
    if injections:
        points = validate_points(injections)
    else:
        assert protocol is not None
        points = [
            PointInput(i.site, i.side, i.units.amount, i.route)
            for i in expand_protocol(cat.protocols[protocol], product)
        ]
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        session = TreatmentSession.objects.create(
            clinic_id=actor.membership.clinic_id,
            patient=patient,
            product=product,
            indication=indication,
            protocol=protocol or "",
            plan_date=plan_date,
            notes=notes,
            guidance=technique.guidance,
            needle=technique.needle,
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
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
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
        session = access(actor, SESSION, session_id, perm)
        trail.record(action, "session", session.id, session.patient_id)
    return session


def _attach_vials(
    actor: Actor,
    session: TreatmentSession,
    vial_ids: Sequence[UUID | str],
    field: str = "vial_ids",
    rows: Sequence[Any] | None = None,
) -> None:
    """The plan's vials, replacing those chosen before (``rows``: already read through the
    funnel). A vial opened for another patient is never drawn for this one (B.30)."""
    SessionVial.objects.filter(clinic_id=session.clinic_id, session=session).delete()
    seen = set()
    for n, vial_id in enumerate(vial_ids):
        vial = rows[n] if rows is not None else access(actor, VIAL, vial_id, Perm.INVENTORY_READ)
        if vial.patient_id is not None and vial.patient_id != session.patient_id:
            raise ServiceError(
                f"{field}[{n}]",
                "this vial was opened for another patient: a vial is drawn for one patient "
                "only; pick another vial",
            )
        if vial.id in seen:
            raise ServiceError(f"{field}[{n}]", "this vial is listed twice: list it once")
        seen.add(vial.id)
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
    technique: Technique | None = None,
) -> TreatmentSession:
    notes = _checked_note(notes)
    technique = _checked_technique(technique)
    points = validate_points(injections) if injections is not None else None
    if injections is not None and not injections:
        raise ServiceError("injections", "must list at least one injection")
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
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
        if technique is not None:
            session.guidance, session.needle = technique.guidance, technique.needle
        session.save()
        result = _recheck(session)
        trail.record("update", "session", session.id, session.patient_id, verdict=result["verdict"])
    return session


def stored_result_at(session: TreatmentSession, now: datetime) -> dict[str, Any]:
    """The check as it would run at ``now`` (for example the injection time), unsaved."""
    return stored_result(run_check(session, now))


def recheck(actor: Actor, session_id: UUID | str) -> dict[str, Any]:
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
        _require_plan(session)
        result = _recheck(session)
        trail.record("read", "session-check", session.id, session.patient_id)
    return result


def decide(
    actor: Actor, session_id: UUID | str, *, fingerprint_: str, kind: str, reason: str = ""
) -> FindingDecision:
    """Acknowledge a warning, or override an overridable block with a written reason."""
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
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
    lock_patient(session.clinic_id, session.patient_id)


def lock_patient(clinic_id: UUID, patient_id: UUID) -> None:
    """Serialise signings for one patient. PostgreSQL: a row lock that does not conflict with the
    key-share locks of inserts referencing the patient; SQLite: the IMMEDIATE transaction already
    holds the write lock."""
    if connection.vendor == "postgresql":
        list(
            Patient.objects.select_for_update(no_key=True)
            .filter(clinic_id=clinic_id, pk=patient_id)
            .values_list("pk")
        )


def local_date(clinic_tz: str, moment: datetime) -> date:
    return moment.astimezone(zoneinfo.ZoneInfo(clinic_tz)).date()


def consent_finding(
    session: TreatmentSession, day: date, consents: Sequence[Consent] | None = None
) -> dict[str, Any] | None:
    """B.22, B.29: signing needs a consent for the indication valid on the session date.
    ``consents``: the patient's consents for the indication (with their withdrawals), read."""
    if consents is None:
        consents = with_withdrawals(
            list(
                Consent.objects.filter(
                    clinic_id=session.clinic_id,
                    patient_id=session.patient_id,
                    indication=session.indication,
                )
            )
        )
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


FUTURE_LEEWAY = timedelta(minutes=5)


def refuse_future_injection(administered_at: datetime, field: str = "administered_at") -> None:
    """B.34: an injection time later than the server's clock plus 5 minutes is refused (exactly
    5 minutes ahead is accepted)."""
    if administered_at > timezone.now() + FUTURE_LEEWAY:
        raise ServiceError(
            field,
            "the injection time is in the future: sign after injecting, with the time the needle "
            "went in; to plan ahead, set the plan date instead",
        )


@dataclass(frozen=True)
class Signed:
    """A session as its signing wrote it: the row, and its points, records and vial rows (with
    their vials and lots), for an answer that reads nothing again."""

    session: TreatmentSession
    injections: tuple[Injection, ...]
    events: tuple[SessionEvent, ...]
    uses: tuple[SessionVial, ...]


def sign_session(
    actor: Actor,
    session_id: UUID | str,
    *,
    administered_at: datetime,
    vial_ids: Sequence[UUID | str] | None = None,
    vials: Sequence[supply.DrawInput] | None = None,
) -> TreatmentSession:
    """``sign``: the signed session (its related rows are read again when asked for)."""
    return sign(
        actor, session_id, administered_at=administered_at, vial_ids=vial_ids, vials=vials
    ).session


def sign(
    actor: Actor,
    session_id: UUID | str,
    *,
    administered_at: datetime,
    vial_ids: Sequence[UUID | str] | None = None,
    vials: Sequence[supply.DrawInput] | None = None,
) -> Signed:
    """Sign what was injected: re-check with the real vials, lots, injector and time inside the
    transaction that writes the signature, holding the patient's lock.

    ``vials`` (or ``vial_ids``, the same without draws) replace the plan's vials; each may give
    the units drawn from it, the others are filled in the order the vials were opened (B.30).
    The draws are checked by ``supply`` and stored once, on the session's vial rows."""
    if timezone.is_naive(administered_at):
        raise ServiceError("administered_at", "must include a UTC offset")
    refuse_future_injection(administered_at)
    if vials is not None and vial_ids is not None:
        raise ServiceError("vials", "give vials (with their draws) or vial_ids, not both")
    field = "vial_ids" if vial_ids is not None else "vials"
    if vial_ids is not None:
        vials = [supply.DrawInput(vial_id=v) for v in vial_ids]
    require(actor, Perm.SIGN)
    with clinical_transaction(actor) as trail:
        # One statement reads the session and its patient and locks the patient; one more reads
        # every other row signing needs (treatments/signing_rows.py), the audit chain's head too
        # where it stays the head until the end (SQLite; PostgreSQL's chain lock comes last).
        session = access(actor, SESSION_TO_SIGN, session_id, Perm.SIGN)
        session.clinic = actor.membership.clinic
        stock = [item.vial_id for item in vials or () if item.vial_id is not None]
        read = read_for_signing(
            session,
            actor.membership,
            _vial_uuids(actor, stock),
            with_audit_head=trail.head_readable_early(),
        )
        trail.head = read.audit_head
        _keep_own_rows(session, read)
        _require_plan(session)
        if actor.membership.role not in INJECTOR_ROLES:
            raise ForbiddenError(None, "only the injector signs what they injected")
        uses = list(session.session_vials.all())
        if vials is not None:
            rows, requested = _named_vials(actor, session, vials, field, read)
        else:
            rows = [u.vial for u in uses]
            requested = {}
        session.injector = actor.membership
        tz = session.clinic.time_zone
        session.plan_date = local_date(tz, administered_at)
        session.administered_at = administered_at
        signed = _signed_draws(read)
        states = supply.states_of(
            rows, tz, read.closings, signed, opening_at={v.id: administered_at for v in rows}
        )
        settled = supply.settle_draws(
            session,
            rows,
            requested,
            total=total_units(current_points(session)),
            at=administered_at,
            field=field,
            states=states,
        )
        # Checked as it will be signed, then written once with the signature below.
        history = _history(read, tz)
        patient = patient_values(session.patient, session.plan_date)
        plan = plan_values(session, vials=settled.values)
        weight_rule = requires_weight(plan, patient, history)
        if patient.weight_kg is None and weight_rule:
            _refuse_without_weight(session)
        result = stored_result(
            evaluate(
                plan,
                patient,
                history,
                _injector_value(actor.membership, read.supervisor_ids),
                administered_at,
                verdicts=_verdicts(read, session.indication),
                at_signing=True,
            )
        )
        session.catalog_version = result["catalog_version"]
        if patient.weight_kg is not None and weight_rule:
            session.weight_kg = Decimal(patient.weight_kg)
            session.weight_measured_on = patient.weight_measured_on
        else:
            session.weight_kg, session.weight_measured_on = None, None
        consent = consent_finding(session, session.plan_date, read.consents)
        if consent is not None:
            result["findings"].insert(0, consent)
            result["verdict"] = "block"
        decisions = {d.fingerprint: d for d in read.decisions}
        _refuse_unresolved(result["findings"], decisions)
        findings = [
            {**f, "decision": _decision_json(decisions.get(f["fingerprint"]))}
            for f in result["findings"]
        ]
        session.check_result = {**result, "findings": findings}
        # The draws first: once the session is signed its vial rows are closed (DESIGN 3.4).
        uses = _record_draws(session, uses, rows, settled.draws)
        supply.claim_vials(session, rows)
        session.signed_at = timezone.now()
        session.signed_by = actor.membership
        session.canon = supply.CANON
        session.digest = digest(
            session_document(session, uses=uses, injections=session.injections.all())
        )
        written = TreatmentSession.objects.filter(
            pk=session.pk,
            clinic_id=session.clinic_id,
            signed_at__isnull=True,
            updated_at=session.updated_at,
        ).update(
            canon=session.canon,
            injector=session.injector,
            plan_date=session.plan_date,
            administered_at=session.administered_at,
            catalog_version=session.catalog_version,
            check_result=session.check_result,
            weight_kg=session.weight_kg,
            weight_measured_on=session.weight_measured_on,
            signed_at=session.signed_at,
            signed_by=session.signed_by,
            digest=session.digest,
            updated_at=session.signed_at,
        )
        if written != 1:
            # Read before the patient's lock was granted, and changed meanwhile.
            raise ConflictError(
                None, "this plan changed while it was being signed: open it again and sign"
            )
        session.updated_at = session.signed_at
        due_state.refresh(session.clinic_id, session.patient_id, locked=True)
        trail.record("sign", "session", session.id, session.patient_id, digest=session.digest)
        capture_charges(
            session,
            ChargeReason.SIGNED,
            actor,
            trail,
            known=Known(
                events=list(session.events.all()),
                uses=uses,
                vials={v.id: v for v in rows},
                closings=read.closings,
                signed=[*signed, (session.id, administered_at, supply.session_draws(uses, ()))],
                signed_at={
                    **{s.id: s.signed_at for s in read.history if s.signed_at is not None},
                    session.id: session.signed_at,
                },
                diagnoses=read.diagnoses,
                coverages=read.coverages,
                charge_sets=read.charge_sets,
            ),
        )
        session_signed.send(sender=TreatmentSession, session=session, trail=trail)
        overrides = [d for d in decisions.values() if d.kind == "override"]
        for d in overrides:
            trail.record(
                "override", "finding", session.id, session.patient_id, rule=d.rule, reason=d.reason
            )
    written_rows = Signed(
        session,
        tuple(session.injections.all()),
        tuple(session.events.all()),
        tuple(session.session_vials.all()),
    )
    # Records are appended to a signed session later: its related rows are read when asked for.
    session._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    return written_rows


def _vial_uuids(actor: Actor, ids: Sequence[UUID | str]) -> list[UUID]:
    """The vial ids a signer named; one that is not an id is no vial of this clinic (404)."""
    found = []
    for vial_id in ids:
        try:
            found.append(vial_id if isinstance(vial_id, UUID) else UUID(str(vial_id)))
        except ValueError:
            raise refuse_outside_clinic(actor, VIAL.word, vial_id) from None
    return found


def _keep_own_rows(session: TreatmentSession, read: SigningRows) -> None:
    """The session's own points, records and vial rows (with their vials) as read."""
    cache_related(session, "injections", read.injections.get(session.pk, []))
    cache_related(session, "events", read.events.get(session.pk, []))
    uses = read.uses.get(session.pk, [])
    for u in uses:
        u.vial = read.vials[u.vial_id]
    cache_related(session, "session_vials", sorted(uses, key=lambda u: u.pk))


def _named_vials(
    actor: Actor,
    session: TreatmentSession,
    items: Sequence[supply.DrawInput],
    field: str,
    read: SigningRows,
) -> tuple[list[Any], dict[UUID, Decimal | None]]:
    """The vials a signer names, as ``supply.resolve_vials`` and ``_attach_vials`` take them:
    stock vials from the rows read (another clinic's id: 404), a vial not from stock created."""
    if any(item.vial_id is not None for item in items):
        require(actor, Perm.INVENTORY_READ)
    rows: list[Any] = []
    requested: dict[UUID, Decimal | None] = {}
    for n, item in enumerate(items):
        here = f"{field}[{n}]"
        if item.vial_id is not None:
            vial_id = _vial_uuids(actor, [item.vial_id])[0]
            vial = read.vials.get(vial_id)
            if vial is None:
                raise refuse_outside_clinic(actor, VIAL.word, item.vial_id)
        elif item.lot_number is not None:
            vial = supply.vial_not_from_stock(session, item, here)
        else:
            raise ServiceError(
                here, "name a vial of stock (vial_id) or type the lot, size and expiry"
            )
        if vial.id in requested:
            raise ServiceError(f"{here}.vial_id", "this vial is listed twice: list it once")
        if vial.patient_id is not None and vial.patient_id != session.patient_id:
            raise ServiceError(
                here,
                "this vial was opened for another patient: a vial is drawn for one patient "
                "only; pick another vial",
            )
        rows.append(vial)
        requested[vial.id] = item.drawn_units
    return rows, requested


def _record_draws(
    session: TreatmentSession,
    uses: Sequence[SessionVial],
    vials: Sequence[Any],
    draws: Sequence[tuple[Any, Decimal]],
) -> list[SessionVial]:
    """Store the units drawn from each vial on the session's vial rows: one UPDATE when the
    signer kept the plan's vials, else the rows replaced (the signer's order kept)."""
    units = {v.id: u for v, u in draws}
    kept = [u.vial_id for u in uses]
    if sorted(kept) == sorted(v.id for v in vials):
        own = SessionVial.objects.filter(clinic_id=session.clinic_id, session_id=session.pk)
        if len(kept) == 1:
            own.update(drawn_units=units[kept[0]])
        elif kept:
            own.update(
                drawn_units=Case(
                    *(When(vial_id=vial_id, then=Value(units[vial_id])) for vial_id in kept),
                    output_field=DecimalField(max_digits=10, decimal_places=3),
                )
            )
        for u in uses:
            u.drawn_units = units[u.vial_id]
        stored = list(uses)
    else:
        SessionVial.objects.filter(clinic_id=session.clinic_id, session_id=session.pk).delete()
        stored = SessionVial.objects.bulk_create(
            SessionVial(
                clinic_id=session.clinic_id, session=session, vial=v, drawn_units=units[v.id]
            )
            for v in vials
        )
    cache_related(session, "session_vials", stored)
    return stored


def _signed_draws(read: SigningRows) -> list[supply.SignedDraws]:
    """Each signed session of the patient: its id, injection time and current draws."""
    return [
        (
            s.id,
            s.administered_at,
            supply.session_draws(read.uses.get(s.id, []), read.events.get(s.id, [])),
        )
        for s in read.history
    ]


def _history(read: SigningRows, tz: str) -> list[HistoryEntry]:
    """``checking.history_of`` from the rows read: every signed session of the patient that
    still counts, with its amended values, its time in the clinic's zone and its injector."""
    zone = zoneinfo.ZoneInfo(tz)
    history = []
    for s in read.history:
        events = read.events.get(s.id, [])
        if not counts_toward_limits(status_of(s, events)):
            continue
        points = current_points(s, events, _own_points(read.injections.get(s.id, [])))
        history.append(history_entry(s, points, zone))
    return history


def _own_points(injections: Sequence[Injection]) -> list[Point]:
    return [
        Point(
            i.site,
            i.side,
            i.units,
            i.route,
            str(i.vial_id) if i.vial_id else None,
            str(i.id),
            i.source_identifier,
        )
        for i in injections
    ]


def _injector_value(member: Membership, supervisor_ids: Sequence[UUID]) -> Injector:
    """``checking.injector_values`` with the supervisors read."""
    return Injector(
        credentials=tuple(member.credentials),
        indications=tuple(member.indications),
        supervised_by=",".join(sorted(str(i) for i in supervisor_ids)) or None,
    )


def _verdicts(read: SigningRows, indication: str) -> tuple[Verdict, ...]:
    """``outcomes.verdicts.check_verdicts`` from the rows read: the cycles are the patient's
    signed sessions of the indication that are not entered in error."""
    counted = [
        Counted(s.id, s.patient_id, s.indication, s.plan_date)
        for s in read.history
        if s.indication == indication
        and not any(e.kind == SessionEventKind.ENTERED_IN_ERROR for e in read.events.get(s.id, []))
    ]
    found, _, _ = judge_patient(read.assessments, counted, read.continued)
    return tuple(
        verdict
        for v in found
        if v.continued is None and (verdict := domain_verdict(v.verdict)) is not None
    )


def _refuse_without_weight(session: TreatmentSession) -> None:
    """As ``checking.run_check``: a weight-based rule applies and no weight of the session's
    date is known."""
    measured = session.patient.weight_measured_on
    if session.patient.weight_kg is not None and measured is not None:
        raise ServiceError(
            "patient.weight_kg",
            f"the patient's weight was measured on {measured.isoformat()}, after this "
            f"session's date {session.plan_date.isoformat()}, and a weight-based dose rule "
            "applies: enter the weight measured on or before that date (with its date) to "
            "chart this session",
        )
    raise ServiceError(
        "patient.weight_kg",
        "the patient is a child and a weight-based dose rule applies: record a weight first",
    )


def unresolved_findings(
    session: TreatmentSession, findings: list[dict[str, Any]]
) -> dict[str, str]:
    """For each finding that would refuse the signature as decided so far, its fingerprint and
    the refusal's words (the same test as signing)."""
    decisions = {
        d.fingerprint: d
        for d in FindingDecision.objects.select_related("by").filter(
            clinic_id=session.clinic_id, session_id=session.pk
        )
    }
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


def session_document(
    session: TreatmentSession,
    *,
    uses: Sequence[SessionVial] | None = None,
    injections: Iterable[Injection] | None = None,
) -> dict[str, Any]:
    """The canonical content of a signed session, which its digest covers, under the version it
    was signed with (DESIGN 3.4): 1 named the vials; 2 carries ``"canon": 2`` and the units drawn
    from each vial (B.30); 3 adds each imported administration's source identifier; 4 the
    technique (guidance, needle) and the weight a weight-based rule read, with its date.
    ``uses`` and ``injections``: the session's rows as the signer holds them (else read)."""
    if uses is None:
        uses = SessionVial.objects.filter(clinic_id=session.clinic_id, session_id=session.pk)
    if injections is None:
        injections = Injection.objects.filter(
            clinic_id=session.clinic_id, session_id=session.pk
        ).order_by("position")
    if session.canon == 1:
        vials: list[Any] = sorted(str(v.vial_id) for v in uses)
        version: dict[str, Any] = {}
    elif session.canon in (2, 3, 4):
        vials = sorted(
            (
                {
                    "vial": str(v.vial_id),
                    "drawn_units": Decimal(v.drawn_units) if v.drawn_units is not None else None,
                }
                for v in uses
            ),
            key=lambda v: v["vial"],
        )
        version = {"canon": session.canon}
    else:
        raise ValueError(f"no canonical form {session.canon} for signed sessions")
    return {
        **version,
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
                **({"source_identifier": i.source_identifier} if session.canon >= 3 else {}),
            }
            for i in sorted(injections, key=lambda i: i.position)
        ],
        "vials": vials,
        "catalog_version": session.catalog_version,
        "findings": session.check_result.get("findings", []),
        "injector": session.injector_id,
        "signed_by": session.signed_by_id,
        "signed_at": session.signed_at,
        **(
            {
                "technique": {"guidance": session.guidance, "needle": session.needle},
                "weight": {
                    "kg": Decimal(session.weight_kg),
                    "measured_on": session.weight_measured_on,
                }
                if session.weight_kg is not None
                else None,
            }
            if session.canon >= 4
            else {}
        ),
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
    """Whether the stored record still hashes to its digest, rebuilt under its own version."""
    if not session.digest:
        return False
    try:
        document = session_document(session)
    except ValueError:
        return False
    return digest(document) == session.digest


MAX_ADDENDUM = 4000

# Events appended from now on carry ``"canon": 2`` and their clinic; an amendment's data may carry
# its vials and draws (B.30) and the check of the amended record (B.33). Version 1 (neither) is
# still rebuilt to verify the events appended before (DESIGN 3.4).
EVENT_CANON = 2


def event_document(event: SessionEvent) -> dict[str, Any]:
    """The canonical content of an appended event under the version it was appended with."""
    document: dict[str, Any] = {
        "session": event.session_id,
        "kind": event.kind,
        "reason": event.reason,
        "by": event.by_id,
        "at": event.at,
        "data": event.data,
        "amends": event.amends_digest,
    }
    if event.canon == 1:
        return document
    if event.canon == 2:
        return {**document, "canon": 2, "clinic": event.clinic_id}
    raise ValueError(f"no canonical form {event.canon} for session events")


def verify_event(event: SessionEvent) -> bool:
    return bool(event.digest) and digest(event_document(event)) == event.digest


# The records that correct a signed session's values (B.33), as opposed to those that sign,
# annotate or cancel it.
_CORRECTING = frozenset({SessionEventKind.AMENDED, SessionEventKind.ENTERED_IN_ERROR})


def _append_event(
    actor: Actor,
    session: TreatmentSession,
    kind: SessionEventKind,
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
        canon=EVENT_CANON,
    )
    # A correction names the record as it stood (the latest amendment's digest, else the
    # signature's); anything else names the signed session.
    event.amends_digest = current_digest(session) if kind in _CORRECTING else session.digest
    event.digest = digest(event_document(event))
    event.save()
    return event


@dataclass(frozen=True)
class CoSigners:
    """Who may co-sign a nurse injector's session, and why, when the rule fell back to every
    prescriber of the clinic (shown on the page)."""

    members: tuple[Membership, ...]
    why: str = ""

    def includes(self, member: Membership) -> bool:
        return any(m.id == member.id for m in self.members)


def co_signers(session: TreatmentSession) -> CoSigners:
    """DESIGN 3.4: one of her supervising prescribers privileged for the session's indication;
    when none of them is active (and privileged), any prescriber of the clinic."""
    nurse = session.signed_by
    assert nurse is not None
    supervisors = list(nurse.supervisors.select_related("user").order_by("created_at"))
    fit = [
        m
        for m in supervisors
        if m.active and m.role == Role.PRESCRIBER and session.indication in m.indications
    ]
    if fit:
        return CoSigners(tuple(fit))
    everyone = tuple(
        Membership.objects.select_related("user")
        .filter(clinic_id=session.clinic_id, role=Role.PRESCRIBER, active=True)
        .order_by("created_at")
    )
    indication = catalog().indications.get(session.indication)
    what = indication.name if indication is not None else session.indication
    if not supervisors:
        why = f"{nurse.display_name} has no supervising prescriber"
    else:
        names = ", ".join(m.display_name for m in supervisors)
        why = (
            f"none of {nurse.display_name}'s supervising prescribers ({names}) is active and "
            f"privileged for {what}"
        )
    return CoSigners(everyone, why + ": any prescriber of the clinic may co-sign.")


def co_sign(actor: Actor, session_id: UUID | str) -> SessionEvent:
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.OVERRIDE)
        if status_of(session) != SessionStatus.AWAITING_CO_SIGNATURE:
            raise ConflictError(None, "this session is not awaiting a co-signature")
        allowed = co_signers(session)
        if not allowed.includes(actor.membership):
            names = ", ".join(m.display_name for m in allowed.members)
            raise ForbiddenError(
                None,
                "this session is co-signed by a supervising prescriber of the nurse who is "
                f"privileged for its indication: ask {names}",
            )
        event = _append_event(
            actor,
            session,
            SessionEventKind.CO_SIGNED,
            "",
            {"why": allowed.why} if allowed.why else None,
        )
        trail.record("sign", "co-signature", session.id, session.patient_id, digest=event.digest)
    return event


def require_correct(actor: Actor, what: str) -> None:
    """B.33: only a prescriber corrects a signed record; a nurse files a request instead."""
    if not actor.membership.can(Perm.CORRECT):
        raise ForbiddenError(
            None,
            f"only a prescriber {what}: file a correction request naming what to correct, and a "
            "prescriber will accept or decline it",
        )


def correctable(actor: Actor, session_id: UUID | str, what: str) -> TreatmentSession:
    """The signed session a prescriber corrects, the patient locked (inside a transaction)."""
    session = access(actor, SESSION, session_id, Perm.CHART_READ)
    require_correct(actor, what)
    return locked_signed_session(session)


def locked_signed_session(session: TreatmentSession) -> TreatmentSession:
    lock_patient(session.clinic_id, session.patient_id)
    if not session.is_signed:
        raise ConflictError(None, "a plan is changed directly; only signed sessions are corrected")
    if status_of(session) == SessionStatus.ENTERED_IN_ERROR:
        raise ConflictError(None, "this session was entered in error: it is corrected no more")
    return session


def recheck_open_plans(patient_id: UUID, trail: Any) -> int:
    """After a correction or a change of the check's patient inputs, every open plan of the
    patient is checked again and its stored result refreshed (B.33); how many were."""
    clinic_id = trail.actor.membership.clinic_id
    plans = TreatmentSession.objects.select_related("patient", "injector").filter(
        clinic_id=clinic_id,
        patient__clinic_id=clinic_id,
        patient_id=patient_id,
        signed_at__isnull=True,
    )
    checked = 0
    for plan in plans:
        if status_of(plan) != SessionStatus.PLAN:
            continue
        try:
            result = _recheck(plan)
        except ServiceError:
            # A plan that cannot be checked any more (a child without a weight) says so in its
            # editor and is checked again at signing; the correction itself stands.
            continue
        trail.record("update", "session-check", plan.id, patient_id, verdict=result["verdict"])
        checked += 1
    return checked


def _point_rows(points: Sequence[Any], with_vials: bool) -> list[dict[str, Any]]:
    return [
        {
            "site": p.site,
            "side": p.side,
            "units": format(Decimal(p.units).normalize(), "f"),
            "route": p.route,
            **({"vial_id": p.vial_id} if with_vials and getattr(p, "vial_id", None) else {}),
        }
        for p in points
    ]


def _keep_point_ids(rows: list[dict[str, Any]], current: Sequence[Any]) -> None:
    """Give each amended row the id of the point it corrects (FHIR ids are never reused): the
    same site, side, units and route first, then the same site and side, in order; a row that
    corrects none is a new point with a new id."""
    free = [p for p in current if p.id]
    for exact in (True, False):
        for row in rows:
            if "id" in row:
                continue
            for point in free:
                same = point.site == row["site"] and point.side == row["side"]
                if same and (
                    not exact
                    or (
                        Decimal(point.units) == Decimal(row["units"])
                        and point.route == row["route"]
                    )
                ):
                    row["id"] = point.id
                    free.remove(point)
                    break
    for row in rows:
        row.setdefault("id", str(uuid4()))


def _amendment_check(
    actor: Actor,
    session: TreatmentSession,
    data: dict[str, Any],
    vials: Sequence[Any] | None,
) -> dict[str, Any]:
    """The check of the record as amended, at its injection time. It runs on the amendment as it
    will read once appended, inside a savepoint that is rolled back."""
    moment = session.administered_at or session.signed_at or timezone.now()
    with transaction.atomic():
        _append_event(actor, session, SessionEventKind.AMENDED, "provisional", data)
        try:
            result: dict[str, Any] = stored_result(
                run_check(session, moment, vials=vials, at_signing=vials is not None)
            )
        except ServiceError as error:
            result = {"verdict": "not-checked", "findings": [], "reason": error.message}
        transaction.set_rollback(True)
    return result


def amendment_data(
    actor: Actor,
    session: TreatmentSession,
    *,
    points: Sequence[PointInput] | None,
    notes: str | None,
    vials: Sequence[supply.DrawInput] | None,
    field: str = "vials",
) -> dict[str, Any]:
    """What an amendment stores (B.33): its points and notes in full, its vials and draws when it
    carries them, and its check, kept for information: a record of what was given is never
    refused for a limit, only when its vials cannot hold it (``supply``, B.30).

    Without ``vials``, an amendment that keeps the total keeps the draws; one that changes it
    draws again from the record's vials, filled in the order they were opened."""
    current = current_points(session)
    rows = _point_rows(points, False) if points is not None else _point_rows(current, True)
    _keep_point_ids(rows, current)
    data: dict[str, Any] = {
        "injections": rows,
        "notes": notes if notes is not None else current_notes(session),
    }
    total = sum((Decimal(r["units"]) for r in rows), Decimal(0))
    items = list(vials) if vials is not None else None
    if items is None and not session.external and total != total_units(current):
        items = [supply.DrawInput(vial_id=vial_id) for vial_id in _record_vials(session)]
    settled = None
    if items is not None and not session.external:
        moment = session.administered_at or session.signed_at or timezone.now()
        settled = supply.amendment_draws(actor, session, items, total=total, at=moment, field=field)
        data["vials"] = settled.rows()
    data["check"] = _amendment_check(
        actor, session, data, settled.values if settled is not None else None
    )
    # Only draws the amendment carries are judged: one that keeps the record's draws (notes,
    # the same total) leaves them as they were signed.
    refused = [
        f
        for f in data["check"]["findings"]
        if settled is not None and f["rule"] == "supply" and f["severity"] == "block"
    ]
    if refused:
        raise ConflictError(field, f"cannot be amended so: {refused[0]['message']}")
    return data


def _record_vials(session: TreatmentSession) -> list[str]:
    """The vials of the record as it stands: the latest amendment's that carries vials, else the
    signed session's."""
    amended = [
        e for e in session.events.all() if e.kind == SessionEventKind.AMENDED and "vials" in e.data
    ]
    if amended:
        latest = max(amended, key=lambda e: (e.at, str(e.id)))
        return [str(v["vial_id"]) for v in latest.data["vials"]]
    return [str(u.vial_id) for u in session.session_vials.all()]


def append_amendment(
    actor: Actor,
    trail: Any,
    session: TreatmentSession,
    *,
    reason: str,
    points: Sequence[PointInput] | None,
    notes: str | None,
    vials: Sequence[supply.DrawInput] | None,
) -> SessionEvent:
    """Append an amendment of a locked, correctable session (inside its transaction)."""
    data = amendment_data(actor, session, points=points, notes=notes, vials=vials)
    event = _append_event(actor, session, SessionEventKind.AMENDED, reason, data)
    trail.record(
        "amend",
        "session",
        session.id,
        session.patient_id,
        digest=event.digest,
        amends=event.amends_digest,
        verdict=data["check"]["verdict"],
    )
    capture_charges(session, ChargeReason.AMENDED, actor, trail)
    recheck_open_plans(session.patient_id, trail)
    due_state.refresh(session.clinic_id, session.patient_id)
    return event


def amend(
    actor: Actor,
    session_id: UUID | str,
    *,
    reason: str,
    injections: Sequence[PointInput] | None = None,
    notes: str | None = None,
    vials: Sequence[supply.DrawInput] | None = None,
) -> SessionEvent:
    """A prescriber appends a correction of what was recorded (B.33); the original stays
    readable. The pages and the API have asked for fresh credentials."""
    if len(reason.strip()) < 5:
        raise ServiceError("reason", "an amendment needs a reason (at least 5 characters)")
    if injections is not None and not injections:
        raise ServiceError(
            "injections",
            "an amendment keeps at least one point: if nothing was injected, mark the session "
            "entered in error instead",
        )
    points = validate_points(injections) if injections is not None else None
    with clinical_transaction(actor) as trail:
        session = correctable(actor, session_id, "amends a signed session")
        return append_amendment(
            actor, trail, session, reason=reason.strip(), points=points, notes=notes, vials=vials
        )


def append_entered_in_error(
    actor: Actor, trail: Any, session: TreatmentSession, *, reason: str, toxin_given: bool
) -> SessionEvent:
    """Mark a locked, correctable session entered in error (inside its transaction). B.33:
    toxin given (charted on the wrong patient or session) keeps its draws; not given releases
    them."""
    event = _append_event(
        actor,
        session,
        SessionEventKind.ENTERED_IN_ERROR,
        reason,
        {"toxin_given": bool(toxin_given)},
    )
    trail.record(
        "amend",
        "session",
        session.id,
        session.patient_id,
        kind=SessionEventKind.ENTERED_IN_ERROR,
        toxin_given=bool(toxin_given),
        digest=event.digest,
    )
    capture_charges(session, ChargeReason.ENTERED_IN_ERROR, actor, trail)
    recheck_open_plans(session.patient_id, trail)
    due_state.refresh(session.clinic_id, session.patient_id)
    return event


def mark_entered_in_error(
    actor: Actor, session_id: UUID | str, *, reason: str, toxin_given: bool | None
) -> SessionEvent:
    if len(reason.strip()) < 5:
        raise ServiceError("reason", "say why this record is wrong (at least 5 characters)")
    if toxin_given is None:
        raise ServiceError(
            "toxin_given",
            "say whether the toxin was given (charted on the wrong patient or session) or not "
            "(its vial draws are then released)",
        )
    with clinical_transaction(actor) as trail:
        session = correctable(actor, session_id, "marks a signed session entered in error")
        return append_entered_in_error(
            actor, trail, session, reason=reason.strip(), toxin_given=toxin_given
        )


def add_addendum(actor: Actor, session_id: UUID | str, *, text: str) -> SessionEvent:
    """The session's injector appends text to its note (B.33): no units, sites or vials, no
    prescriber needed; the signed record and its digest stay as they were."""
    text = text.strip()
    if not text:
        raise ServiceError("text", "write the addendum")
    if len(text) > MAX_ADDENDUM:
        raise ServiceError("text", f"must be at most {MAX_ADDENDUM:,} characters")
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.SIGN)
        if not session.is_signed:
            raise ConflictError(
                None, "a plan's notes are edited directly; addenda follow a signature"
            )
        if session.injector_id != actor.membership.id:
            raise ForbiddenError(
                None,
                "only the session's injector appends a note addendum: to correct units, sites "
                "or vials, file a correction request",
            )
        event = _append_event(actor, session, SessionEventKind.ADDENDUM, "", {"text": text})
        trail.record(
            "amend", "session", session.id, session.patient_id, kind=SessionEventKind.ADDENDUM
        )
    return event


def cancel_plan(actor: Actor, session_id: UUID | str, *, reason: str = "") -> SessionEvent:
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
        _require_plan(session)
        event = _append_event(actor, session, SessionEventKind.CANCELLED, reason)
        trail.record(
            "update", "session", session.id, session.patient_id, kind=SessionEventKind.CANCELLED
        )
    return event

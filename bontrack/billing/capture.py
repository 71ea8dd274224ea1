"""Charge capture: the claim a signed record supports, appended at signing and after each
correction (billing.md 7.1, 7.2, 7.9).

``capture_charges`` runs inside the transaction that signs, amends or marks a session entered in
error, holding the patient's lock, once the session's rows are final. It never raises into that
transaction: a charge set that cannot be built is stored ``incomplete``, with why, so that a
failure of billing never stands between a clinician and the signature.

The visit handed to the domain is read from the record as it now stands: the current points (as
amended), the vials the session drew from with their sizes and discards, each lot's NDC, the
structured guidance, the date of service in the clinic's zone, and the patient's diagnosis for the
indication. A vial serves one patient (B.30); when two sessions of the patient drew from the same
vial, its discard is reported on the later session only, both claims carry a "vial-shared" item
to confirm, and the earlier session's charges are revised (reason ``vial-shared``).

This module sits below the treatment services (they call it), so it reads the records
(``treatments.records``, ``treatments.supply``), never the services.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Role
from bontrack.audit.services import Actor, AuditTrail
from bontrack.billing.coverage import coverage_on, holding_on
from bontrack.billing.models import ChargeReason, ChargeSet, ChargeStatus, Coverage
from bontrack.domain.billing import (
    BillingCatalog,
    Visit,
    VisitPoint,
    VisitVial,
    billing_catalog,
    charge_set_json,
    derive_charges,
)
from bontrack.domain.units import Units
from bontrack.inventory.models import Vial, VialClosing
from bontrack.patients.models import Diagnosis
from bontrack.treatments.models import SessionEvent, SessionEventKind, SessionVial, TreatmentSession
from bontrack.treatments.records import current_points
from bontrack.treatments.supply import (
    SignedDraws,
    VialState,
    session_draws,
    states_of,
    vial_states,
)

logger = logging.getLogger(__name__)

# The claim items the capture adds to the domain's (billing.md 7.8: confirmed per claim).
RENDERING_ITEM = "rendering-provider"
VIAL_SHARED_ITEM = "vial-shared"

RENDERING_MESSAGE = (
    "a nurse injector's session: the rendering provider defaults to the co-signing prescriber "
    "(incident-to rules were not read, billing.md section 6): confirm who renders it"
)


@dataclass(frozen=True)
class Derived:
    """What a capture stores, before it is numbered and appended."""

    status: ChargeStatus
    why: str
    charges: dict[str, Any]
    date_of_service: date
    rendering_provider: Membership | None
    rendering_to_confirm: bool
    claim_items: list[dict[str, str]]
    diagnosis: str

    def same_claim(self, stored: ChargeSet) -> bool:
        """Whether ``stored`` already says exactly this (nothing to revise)."""
        return (
            stored.status == self.status
            and stored.charges == self.charges
            and stored.claim_items == self.claim_items
            and stored.rendering_provider_id
            == (self.rendering_provider.id if self.rendering_provider else None)
        )


@dataclass(frozen=True)
class Known:
    """The rows a signing has read already (``treatments/signing_rows.py``), so that the
    capture reads none: the session's records and vial rows (with their draws as signed), the
    vials it names (with their lots) and their closings, the draws and times of every signed
    session of the patient (this one included), the patient's diagnoses and standing coverage
    for the indication, and the session's charge sets."""

    events: Sequence[SessionEvent]
    uses: Sequence[SessionVial]
    vials: Mapping[UUID, Vial]
    closings: Mapping[UUID, VialClosing]
    signed: Sequence[SignedDraws]
    signed_at: Mapping[UUID, datetime]
    diagnoses: Sequence[Diagnosis]
    coverages: Sequence[Coverage]
    charge_sets: Sequence[ChargeSet]


def capture_charges(
    session: TreatmentSession,
    reason: ChargeReason,
    actor: Actor,
    trail: AuditTrail | None = None,
    known: Known | None = None,
) -> ChargeSet | None:
    """Append the session's charge set for ``reason``: derived from the record, a voiding set
    for an entered-in-error, an incomplete one with why when deriving fails. Nothing for a dose
    given elsewhere (another clinic's claim). Never raises. ``known``: the rows the caller has
    read (signing), derived from without a query."""
    if session.external:
        return None
    if known is not None and reason == ChargeReason.SIGNED:
        return _capture_known(session, actor, trail, known)
    recorded = len(trail.pending) if trail is not None else 0
    try:
        with transaction.atomic():
            captured = _capture(session, ChargeReason(reason), actor, trail)
    except Exception as error:
        # Whatever went wrong, billing never blocks the signature (billing.md 7.1). The rows
        # of the failed attempt were rolled back: so are the audit entries that named them.
        logger.exception("charge capture failed for session %s", session.id)
        if trail is not None:
            del trail.pending[recorded:]
        try:
            with transaction.atomic():
                captured = _append(
                    session,
                    ChargeReason(reason),
                    actor,
                    trail,
                    Derived(
                        status=ChargeStatus.INCOMPLETE,
                        why=f"the charges could not be derived: {error}",
                        charges={},
                        date_of_service=date_of_service(session),
                        rendering_provider=None,
                        rendering_to_confirm=False,
                        claim_items=[],
                        diagnosis="",
                    ),
                )
        except Exception:
            # Not even the incomplete set could be stored: the signature still stands.
            logger.exception("no charge set could be stored for session %s", session.id)
            return None
    return captured


def _capture_known(
    session: TreatmentSession, actor: Actor, trail: AuditTrail | None, known: Known
) -> ChargeSet | None:
    """A signature's capture from rows already read. The derivation reads and writes nothing,
    so a failure of it needs no savepoint: it gives the incomplete set, appended with the one
    INSERT of the signing's transaction (a row of checked values, as the signature's own)."""
    try:
        derived = derive(session, known.events, known)
    except Exception as error:
        logger.exception("charge capture failed for session %s", session.id)
        derived = Derived(
            status=ChargeStatus.INCOMPLETE,
            why=f"the charges could not be derived: {error}",
            charges={},
            date_of_service=date_of_service(session),
            rendering_provider=None,
            rendering_to_confirm=False,
            claim_items=[],
            diagnosis="",
        )
    captured = _append(session, ChargeReason.SIGNED, actor, trail, derived, known)
    mine = {str(u.vial_id) for u in known.uses}
    shared = any(
        other != session.id and units > 0 and vial_id in mine
        for other, _, draws in known.signed
        for vial_id, units in draws.items()
    )
    if shared:
        # Another session of the patient drew from these vials: its claim may change (rare).
        recorded = len(trail.pending) if trail is not None else 0
        try:
            with transaction.atomic():
                _revise_sharers(session, known.events, actor, trail)
        except Exception:
            logger.exception("revising the sharers of session %s failed", session.id)
            if trail is not None:
                del trail.pending[recorded:]
    return captured


def _capture(
    session: TreatmentSession, reason: ChargeReason, actor: Actor, trail: AuditTrail | None
) -> ChargeSet:
    events = list(
        SessionEvent.objects.filter(
            clinic_id=session.clinic_id, session_id=session.id
        ).select_related("by")
    )
    if reason == ChargeReason.ENTERED_IN_ERROR:
        derived = Derived(
            status=ChargeStatus.COMPLETE,
            why="entered in error: the claim is withdrawn",
            charges={},
            date_of_service=date_of_service(session),
            rendering_provider=None,
            rendering_to_confirm=False,
            claim_items=[],
            diagnosis="",
        )
    else:
        derived = derive(session, events)
    captured = _append(session, reason, actor, trail, derived)
    _revise_sharers(session, events, actor, trail)
    return captured


def date_of_service(session: TreatmentSession) -> date:
    """The clinic-local date of the injection (the plan date while none is recorded)."""
    if session.administered_at is None:
        return session.plan_date
    return local_date(session.clinic.time_zone, session.administered_at)


def local_date(time_zone: str, moment: datetime) -> date:
    return moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def derive(
    session: TreatmentSession, events: Sequence[SessionEvent], known: Known | None = None
) -> Derived:
    """The charge set the record supports now (not stored)."""
    catalog = billing_catalog()
    day = date_of_service(session)
    vials, items = visit_vials(session, events, catalog, known)
    diagnosis = diagnosis_of(session, known)
    visit = Visit(
        product=session.product,
        indication=session.indication,
        date_of_service=day,
        points=tuple(
            VisitPoint(p.site, p.side, Units(session.product, Decimal(p.units)))
            for p in current_points(session, events)
        ),
        vials=vials,
        guidance=session.guidance,
        diagnosis=diagnosis,
    )
    charges = derive_charges(visit, catalog)
    provider, to_confirm = rendering_provider(session, events)
    if to_confirm:
        items.append({"code": RENDERING_ITEM, "message": RENDERING_MESSAGE})
    return Derived(
        status=ChargeStatus.COMPLETE,
        why="",
        charges=charge_set_json(charges),
        date_of_service=day,
        rendering_provider=provider,
        rendering_to_confirm=to_confirm,
        claim_items=items,
        diagnosis=diagnosis or "",
    )


def diagnosis_of(session: TreatmentSession, known: Known | None = None) -> str | None:
    """The patient's ICD-10-CM code for the session's indication: the latest one noted."""
    if known is not None:
        noted = sorted(
            (d for d in known.diagnoses if d.indication == session.indication),
            key=lambda d: (d.noted_on, d.created_at),
            reverse=True,
        )
        return (noted[0].icd10 or None) if noted else None
    found = (
        Diagnosis.objects.filter(
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            indication=session.indication,
        )
        .order_by("-noted_on", "-created_at")
        .values_list("icd10", flat=True)
        .first()
    )
    return found or None


def rendering_provider(
    session: TreatmentSession, events: Iterable[SessionEvent]
) -> tuple[Membership | None, bool]:
    """Who renders the claim, and whether that is to confirm (billing.md 7.9): a prescriber
    renders their own session; a nurse injector's session, her co-signing prescriber (before
    the co-signature: her supervising prescriber privileged for the indication), to confirm."""
    signer = session.signed_by
    if signer is None or signer.role != Role.NURSE_INJECTOR:
        return (signer if signer is not None and signer.role == Role.PRESCRIBER else None), False
    co_signatures = [e for e in events if e.kind == SessionEventKind.CO_SIGNED]
    if co_signatures:
        return max(co_signatures, key=lambda e: (e.at, str(e.id))).by, True
    supervisors = [
        m
        for m in signer.supervisors.select_related("user").order_by("created_at")
        if m.active and m.role == Role.PRESCRIBER
    ]
    privileged = [m for m in supervisors if session.indication in m.indications]
    chosen = (privileged or supervisors or [None])[0]
    return chosen, True


def visit_vials(
    session: TreatmentSession,
    events: Sequence[SessionEvent],
    catalog: BillingCatalog,
    known: Known | None = None,
) -> tuple[tuple[VisitVial, ...], list[dict[str, str]]]:
    """The vials the session drew from, each with its size and discard, and the claim items
    they raise: a vial another session of the patient drew from too (its discard goes on the
    later session's claim only)."""
    uses = (
        known.uses
        if known is not None
        else SessionVial.objects.filter(clinic_id=session.clinic_id, session_id=session.id)
    )
    draws = session_draws(uses, events)
    drawn = {UUID(v): units for v, units in draws.items() if units > 0}
    if known is not None:
        rows = sorted(
            (v for v in known.vials.values() if v.id in drawn and v.lot.product == session.product),
            key=lambda v: (v.created_at, v.id),
        )
        tz = session.clinic.time_zone
        states = states_of(rows, tz, known.closings, known.signed) if rows else {}
        order = _known_order(known)
    else:
        rows = list(
            Vial.objects.select_related("lot")
            .filter(
                clinic_id=session.clinic_id,
                lot__clinic_id=session.clinic_id,
                id__in=drawn,
                lot__product=session.product,
            )
            .order_by("created_at", "id")
        )
        states = vial_states(rows, session.clinic.time_zone) if rows else {}
        order = _drawing_order(
            session.clinic_id, (s for state in states.values() for s, _ in state.draws)
        )
    product = catalog.product(session.product)
    vials: list[VisitVial] = []
    items: list[dict[str, str]] = []
    for vial in rows:
        state = states[vial.id]
        size, discarded, shared = vial_share(session.id, state, order)
        if shared:
            items.append(
                {
                    "code": VIAL_SHARED_ITEM,
                    "message": (
                        f"vial {str(vial.id)[:8]} (lot {vial.lot.lot_number}) was drawn by more "
                        "than one session of the patient: its discard is reported on the later "
                        "session's claim only; confirm the split"
                    ),
                }
            )
        # A typed NDC (``ndc_to_confirm``) is not in the catalog: the domain lists it to confirm.
        ndc = vial.lot.ndc or None
        entry = product.ndc_entry(ndc) if product is not None and ndc is not None else None
        vials.append(
            VisitVial(
                size=Units(session.product, size),
                discarded=Units(session.product, discarded),
                ndc=ndc,
                ndc_cosmetic=entry is not None and entry.cosmetic,
            )
        )
    return tuple(vials), _unique(items)


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for item in items:
        key = (item["code"], item["message"])
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _drawing_order(
    clinic_id: UUID, session_ids: Iterable[UUID]
) -> dict[UUID, tuple[float, float, str]]:
    """For each signed session, a key that orders the sessions by when they drew (injection
    time, then signature)."""
    ids = set(session_ids)
    if not ids:
        return {}
    order = {}
    for row in TreatmentSession.objects.filter(
        clinic_id=clinic_id, id__in=ids, signed_at__isnull=False
    ).values("id", "administered_at", "signed_at"):
        signed = row["signed_at"].timestamp()
        given = row["administered_at"].timestamp() if row["administered_at"] else signed
        order[row["id"]] = (given, signed, str(row["id"]))
    return order


def _known_order(known: Known) -> dict[UUID, tuple[float, float, str]]:
    """``_drawing_order`` of every signed session the signing read."""
    order = {}
    for session_id, administered_at, _ in known.signed:
        signed = known.signed_at[session_id].timestamp()
        given = administered_at.timestamp() if administered_at else signed
        order[session_id] = (given, signed, str(session_id))
    return order


def vial_share(
    session_id: UUID, state: VialState, order: dict[UUID, tuple[float, float, str]]
) -> tuple[Decimal, Decimal, bool]:
    """This session's share of a vial, as the claim reads it: (size, discarded, shared).

    Alone on the vial, the session claims its whole size and the discard is the size less its
    draw. Shared, the claim must not bill another session's draw as waste: the later session
    claims its own draw plus the vial's discard (the size less every draw), the earlier one its
    own draw and no discard (billing.md 7.2)."""
    size = state.size
    mine = sum((u for s, u in state.draws if s == session_id), Decimal(0))
    others = {s for s, u in state.draws if s != session_id and u > 0}
    discard = max(size - state.used, Decimal(0))
    if not others:
        return size, max(size - mine, Decimal(0)), False
    last = max([session_id, *others], key=lambda s: order.get(s, (0.0, 0.0, str(s))))
    if last == session_id:
        return mine + discard, discard, True
    return mine, Decimal(0), True


def _append(
    session: TreatmentSession,
    reason: ChargeReason,
    actor: Actor,
    trail: AuditTrail | None,
    derived: Derived,
    known: Known | None = None,
) -> ChargeSet:
    if known is not None:
        previous = max(known.charge_sets, key=lambda c: c.sequence, default=None)
        coverage = holding_on(known.coverages, derived.date_of_service)
    else:
        previous = (
            ChargeSet.objects.filter(clinic_id=session.clinic_id, session_id=session.id)
            .order_by("-sequence")
            .first()
        )
        coverage = coverage_on(session.clinic_id, session.patient_id, derived.date_of_service)
    charge_set = ChargeSet.objects.create(
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        session_id=session.id,
        sequence=previous.sequence + 1 if previous is not None else 1,
        replaces=previous,
        reason=reason,
        status=derived.status,
        why=derived.why,
        charges=derived.charges,
        date_of_service=derived.date_of_service,
        rendering_provider=derived.rendering_provider,
        rendering_to_confirm=derived.rendering_to_confirm,
        claim_items=derived.claim_items,
        coverage=coverage,
        diagnosis=derived.diagnosis,
        created_at=timezone.now(),
        created_by=actor.membership,
    )
    if trail is not None:
        trail.record(
            "create",
            "charge-set",
            charge_set.id,
            session.patient_id,
            session=str(session.id),
            sequence=charge_set.sequence,
            reason=reason.value,
            status=derived.status.value,
        )
    return charge_set


def _vials_ever(clinic_id: UUID, session_id: UUID, events: Iterable[SessionEvent]) -> set[UUID]:
    """Every vial the session's record has named: as signed and in each amendment."""
    found = set(
        SessionVial.objects.filter(clinic_id=clinic_id, session_id=session_id).values_list(
            "vial_id", flat=True
        )
    )
    for e in events:
        if e.kind == SessionEventKind.AMENDED:
            found |= {UUID(str(v["vial_id"])) for v in (e.data or {}).get("vials", [])}
    return found


def _revise_sharers(
    session: TreatmentSession,
    events: Sequence[SessionEvent],
    actor: Actor,
    trail: AuditTrail | None,
) -> None:
    """The other sessions of the patient that drew from this session's vials: when what their
    claim now says differs from their latest charge set (a discard that moved to a later
    session, or back after a correction), they get a revised set (reason ``vial-shared``)."""
    ever = _vials_ever(session.clinic_id, session.id, events)
    vials = list(
        Vial.objects.select_related("lot").filter(
            clinic_id=session.clinic_id, lot__clinic_id=session.clinic_id, id__in=ever
        )
    )
    if not vials:
        return
    states = vial_states(vials, session.clinic.time_zone)
    sharers = {s for state in states.values() for s, _ in state.draws} - {session.id}
    if not sharers:
        return
    others = (
        TreatmentSession.objects.filter(
            id__in=sharers, clinic_id=session.clinic_id, external=False, signed_at__isnull=False
        )
        .select_related("clinic", "signed_by")
        .order_by("administered_at", "id")
    )
    for other in others:
        latest = (
            ChargeSet.objects.filter(clinic_id=other.clinic_id, session_id=other.id)
            .order_by("-sequence")
            .first()
        )
        if latest is None or latest.reason == ChargeReason.ENTERED_IN_ERROR:
            continue
        other_events = list(
            SessionEvent.objects.filter(
                clinic_id=other.clinic_id, session_id=other.id
            ).select_related("by")
        )
        derived = derive(other, other_events)
        if not derived.same_claim(latest):
            _append(other, ChargeReason.VIAL_SHARED, actor, trail, derived)

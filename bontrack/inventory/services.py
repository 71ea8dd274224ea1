"""Inventory: receive lots, open and reconstitute vials, close a vial or record its waste, recall
a lot. A vial's used, wasted and remaining units are derived (``bontrack.treatments.supply``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from bontrack.access import LOT, VIAL, access, chart_open_to, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.billing.identifiers import lot_ndc
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.units import format_decimal
from bontrack.inventory.models import Lot, Vial, VialClosing
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionVial
from bontrack.treatments.supply import (
    VialState,
    VialStatus,
    closing_words,
    may_be_open,
    vial_states,
)


def receive_lot(
    actor: Actor,
    *,
    product: str,
    lot_number: str,
    vial_size_units: Decimal,
    expires_on: date,
    received_vials: int,
    received_on: date,
    ndc: str | None = None,
) -> Lot:
    """``ndc``: the NDC on the carton (billing.md 7.5). Left out, the billing catalog's NDC for
    the product and vial size is recorded when it lists exactly one; one the catalog does not
    list for them is recorded to confirm."""
    require(actor, Perm.INVENTORY_WRITE)
    found = catalog().products.get(product)
    if found is None:
        raise ServiceError("product", f"unknown product code {product!r}")
    if vial_size_units not in found.vial_sizes:
        sizes = ", ".join(str(s) for s in found.vial_sizes)
        raise ServiceError("vial_size_units", f"{product} comes in {sizes} U")
    if not lot_number.strip():
        raise ServiceError("lot_number", "must not be empty")
    if received_vials < 1 or received_vials > 10000:
        raise ServiceError("received_vials", "must be between 1 and 10,000")
    try:
        carton_ndc, ndc_to_confirm = lot_ndc(product, vial_size_units, ndc)
    except ValueError as error:
        raise ServiceError("ndc", str(error)) from None
    with clinical_transaction(actor) as trail:
        if Lot.objects.filter(
            clinic_id=actor.membership.clinic_id, product=product, lot_number=lot_number
        ).exists():
            raise ConflictError("lot_number", "this lot is already in stock")
        lot = Lot.objects.create(
            clinic_id=actor.membership.clinic_id,
            product=product,
            lot_number=lot_number.strip(),
            vial_size_units=vial_size_units,
            expires_on=expires_on,
            received_vials=received_vials,
            received_on=received_on,
            ndc=carton_ndc,
            ndc_to_confirm=ndc_to_confirm,
        )
        Vial.objects.bulk_create(
            Vial(clinic_id=lot.clinic_id, lot=lot) for _ in range(received_vials)
        )
        trail.record("create", "lot", lot.id, lot_number=lot.lot_number)
    return lot


def reconstitute_vial(
    actor: Actor, vial_id: UUID | str, *, diluent_ml: Decimal, reconstituted_at: datetime
) -> Vial:
    if timezone.is_naive(reconstituted_at):
        raise ServiceError("reconstituted_at", "must include a UTC offset")
    if reconstituted_at > timezone.now() + timedelta(minutes=5):
        raise ServiceError("reconstituted_at", "is in the future")
    with clinical_transaction(actor) as trail:
        vial = access(actor, VIAL, vial_id, Perm.INVENTORY_WRITE)
        product = catalog().products[vial.lot.product]
        if diluent_ml < 0 or (diluent_ml == 0 and product.form == "powder"):
            raise ServiceError("diluent_ml", "must be greater than 0 for a powder")
        if vial.reconstituted_at is not None:
            raise ConflictError(None, "this vial was already reconstituted")
        if VialClosing.objects.filter(clinic_id=vial.clinic_id, vial=vial).exists():
            raise ConflictError(None, "this vial is closed: pick another vial")
        if vial.lot.recalled_at is not None:
            raise ConflictError(None, "this vial's lot is recalled: do not use it")
        vial.diluent_ml = diluent_ml
        vial.reconstituted_at = reconstituted_at
        vial.reconstituted_by = actor.membership
        vial.save()
        trail.record("update", "vial", vial.id, reconstituted=True)
    return vial


def close_vial(actor: Actor, vial_id: UUID | str, *, note: str = "") -> Vial:
    """Close a vial now (B.30): nothing more is drawn from it and what it still held is wasted.
    Appended once; a vial closed already (by hand, at the end of its day or at its use-by time)
    is not closed again."""
    return _close(actor, vial_id, note=note, by_hand=False)


def record_waste(actor: Actor, vial_id: UUID | str, *, units: Decimal | None = None) -> Vial:
    """Waste recorded by hand, for a vial no session drew (B.30): the whole vial is wasted, and
    it is closed. A vial that sessions drew is closed instead; its waste is its size less the
    draws."""
    return _close(actor, vial_id, note="", by_hand=True, units=units)


def _close(
    actor: Actor, vial_id: UUID | str, *, note: str, by_hand: bool, units: Decimal | None = None
) -> Vial:
    with clinical_transaction(actor) as trail:
        vial = access(actor, VIAL, vial_id, Perm.INVENTORY_WRITE)
        if vial.patient_id is not None:
            _lock_patient(vial.clinic_id, vial.patient_id)
        now = timezone.now()
        state = vial_states([vial], actor.clinic.time_zone)[vial.id]
        if state.closed(now):
            raise ConflictError(
                None, f"this vial {closing_words(state, actor.clinic.time_zone)}: nothing to close"
            )
        size = Decimal(vial.lot.vial_size_units)
        if by_hand:
            if state.draws:
                raise ConflictError(
                    "units",
                    f"sessions drew {format_decimal(state.used)} U from this vial: its waste is "
                    "what is left when it closes; close the vial instead",
                )
            if units is not None and units != size:
                raise ServiceError(
                    "units",
                    f"a vial no session drew is wasted whole: {format_decimal(size)} U (leave the "
                    "figure out, or close the vial if it is still in use)",
                )
        VialClosing.objects.create(
            clinic_id=vial.clinic_id,
            vial=vial,
            at=now,
            by=actor.membership,
            wasted_by_hand=by_hand,
            note=note.strip()[:500],
        )
        trail.record(
            "update",
            "vial",
            vial.id,
            closed=True,
            wasted=format_decimal(size - state.used),
        )
    return vial


@dataclass(frozen=True)
class Exposure:
    """A patient who received a recalled lot, and when. A restricted patient outside the
    viewer's care team (without a break-glass access) is counted with no details (DESIGN 3.4):
    ``restricted`` is true, the name says what to do, and no record number, contact, session or
    date is given."""

    patient_id: UUID
    record_number: str
    name: str
    phone: str
    email: str
    session_id: UUID | None
    administered_on: date | None
    restricted: bool = False


RESTRICTED_EXPOSURE = "restricted patient: break glass or ask their care team"


def recall_lot(actor: Actor, lot_id: UUID | str, *, reason: str) -> list[Exposure]:
    if not reason.strip():
        raise ServiceError("reason", "give the recall's reason or notice number")
    with clinical_transaction(actor) as trail:
        lot = access(actor, LOT, lot_id, Perm.INVENTORY_WRITE)
        if lot.recalled_at is not None:
            raise ConflictError(None, "this lot is already recalled")
        lot.recalled_at = timezone.now()
        lot.recall_reason = reason.strip()
        lot.save()
        trail.record("update", "lot", lot.id, recalled=True)
    return exposures(actor, lot.id)


def exposed_uses(lot: Lot) -> QuerySet[SessionVial]:
    """The signed sessions' uses of the lot's vials, oldest session first. The lot's vials are
    read first, through the ``(clinic, lot)`` index, and their uses by ``(clinic, vial)``, so
    that the cost follows the lot's vials whatever the size of the clinic or of the others; every
    table of each statement is held to the lot's clinic."""
    clinic_id = lot.clinic_id
    vial_ids = list(
        Vial.objects.filter(clinic_id=clinic_id, lot_id=lot.id).values_list("id", flat=True)
    )
    return SessionVial.objects.filter(
        clinic_id=clinic_id,
        vial_id__in=vial_ids,
        session__clinic_id=clinic_id,
        session__patient__clinic_id=clinic_id,
        session__signed_at__isnull=False,
    ).order_by("session__plan_date", "session_id")


def exposures(actor: Actor, lot_id: UUID | str) -> list[Exposure]:
    """Every signed session that used a vial of the lot; one disclosure entry per patient whose
    details are shown. Every exposed patient is counted: a restricted one outside the viewer's
    care team once, without details, until the viewer breaks glass (DESIGN 3.4)."""
    with clinical_transaction(actor) as trail:
        lot = access(actor, LOT, lot_id, Perm.INVENTORY_READ)
        require(actor, Perm.DEMOGRAPHICS_READ)
        uses = exposed_uses(lot).values_list(
            "session_id",
            "session__plan_date",
            "session__patient_id",
            "session__patient__record_number",
            "session__patient__given_name",
            "session__patient__family_name",
            "session__patient__phone",
            "session__patient__email",
            "session__patient__restricted",
        )
        rows = list(uses)
        restricted = {row[2] for row in rows if row[8]}
        closed = (
            {
                p.id: not chart_open_to(actor.membership, p)
                for p in Patient.objects.filter(clinic_id=lot.clinic_id, id__in=restricted)
            }
            if restricted
            else {}
        )
        found: dict[UUID, Exposure] = {}
        for session_id, day, patient_id, record, given, family, phone, email, _ in rows:
            if closed.get(patient_id):
                found.setdefault(
                    patient_id,
                    Exposure(
                        patient_id, "", RESTRICTED_EXPOSURE, "", "", None, None, restricted=True
                    ),
                )
                continue
            found.setdefault(
                session_id,
                Exposure(patient_id, record, f"{given} {family}", phone, email, session_id, day),
            )
        for patient_id in dict.fromkeys(e.patient_id for e in found.values()):
            if closed.get(patient_id):
                trail.record("read", "recall-list-count", lot.id, patient_id)
            else:
                trail.record("disclose", "recall-list", lot.id, patient_id)
    return list(found.values())


def _count(rows: QuerySet[Any], what: Count) -> Coalesce:
    """A count of ``rows`` per outer lot, as a subquery (no GROUP BY on the lots themselves)."""
    counted = rows.order_by().values("clinic_id").annotate(n=what).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _unopened_vials(clinic_id: UUID) -> Coalesce:
    """The outer lot's vials never opened, claimed or closed."""
    closed = VialClosing.objects.filter(clinic_id=clinic_id, vial_id=OuterRef("pk"))
    vials = Vial.objects.filter(
        clinic_id=clinic_id,
        lot_id=OuterRef("pk"),
        reconstituted_at__isnull=True,
        patient__isnull=True,
    ).exclude(Exists(closed))
    return _count(vials, Count("id"))


def _exposed_patients(clinic_id: UUID) -> Coalesce:
    """How many patients received the outer lot in a signed session."""
    uses = SessionVial.objects.filter(
        clinic_id=clinic_id,
        vial__clinic_id=clinic_id,
        vial__lot_id=OuterRef("pk"),
        session__clinic_id=clinic_id,
        session__signed_at__isnull=False,
    )
    return _count(uses, Count("session__patient_id", distinct=True))


def stock(actor: Actor, today: date, expiring_within_days: int = 60) -> list[dict[str, object]]:
    require(actor, Perm.INVENTORY_READ)
    lots = (
        Lot.objects.filter(clinic_id=actor.membership.clinic_id)
        .annotate(unopened=_unopened_vials(actor.membership.clinic_id))
        .order_by("product", "expires_on")
    )
    rows = []
    for lot in lots:
        rows.append(
            {
                "lot": lot,
                "unopened": lot.unopened,  # type: ignore[attr-defined]
                "expired": lot.expires_on < today,
                "expiring_soon": today
                <= lot.expires_on
                <= today + timedelta(days=expiring_within_days),
                "recalled": lot.recalled_at is not None,
            }
        )
    return rows


def usable_vials(
    actor: Actor, *, product: str, patient_id: UUID | str | None, today: date, now: datetime
) -> list[Vial]:
    """Vials of the clinic's stock that may be picked for a patient's session (B.30): of the
    product, lot not expired (usable through its expiry day) and not recalled, not opened for
    another patient, not closed (by hand, at the end of the day it was opened or at its use-by
    time) and still holding something. Opened vials first, then unopened."""
    require(actor, Perm.INVENTORY_READ)
    found = catalog().products.get(product)
    if found is None:
        raise ServiceError("product", f"unknown product code {product!r}")
    clinic_id = actor.membership.clinic_id
    closed = VialClosing.objects.filter(clinic_id=clinic_id, vial_id=OuterRef("pk"))
    vials = list(
        Vial.objects.select_related("lot")
        .filter(
            clinic_id=clinic_id,
            lot__clinic_id=clinic_id,
            lot__product=product,
            lot__recalled_at__isnull=True,
            lot__expires_on__gte=today,
        )
        .exclude(Exists(closed))
        .filter(Q(patient__isnull=True) | Q(patient_id=patient_id))
        .filter(may_be_open(now, clinic_id))
        .order_by("lot__expires_on", "created_at")[:500]
    )
    states = vial_states(vials, actor.clinic.time_zone)
    usable = [v for v in vials if states[v.id].remaining(now) > 0]
    return sorted(
        usable,
        key=lambda v: (states[v.id].status(now) == VialStatus.UNOPENED, v.lot.expires_on),
    )


def vial_figures(actor: Actor, vials: list[Vial], now: datetime) -> dict[UUID, VialState]:
    """The derived state of listed vials (rows with their lot), in a constant number of
    queries."""
    require(actor, Perm.INVENTORY_READ)
    return vial_states(vials, actor.clinic.time_zone)


def recalled_lots(actor: Actor) -> list[tuple[Lot, int]]:
    """The clinic's recalled lots, newest recall first, each with how many patients received it
    in a signed session (a count only: the list with names is `exposures`, which discloses)."""
    require(actor, Perm.INVENTORY_READ)
    lots = (
        Lot.objects.filter(clinic_id=actor.membership.clinic_id, recalled_at__isnull=False)
        .annotate(patients=_exposed_patients(actor.membership.clinic_id))
        .order_by("-recalled_at")
    )
    return [(lot, lot.patients) for lot in lots]  # type: ignore[attr-defined]


def _lock_patient(clinic_id: UUID, patient_id: UUID) -> None:
    """Closing a vial waits for a signing of its patient that is drawing from it (DESIGN 3.4's
    lock order: patient first)."""
    if connection.vendor == "postgresql":
        list(
            Patient.objects.select_for_update(no_key=True)
            .filter(clinic_id=clinic_id, pk=patient_id)
            .values_list("pk")
        )

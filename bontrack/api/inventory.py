"""Lots, vials, stock and recalls."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from bontrack.access import LOT, VIAL, access, require
from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import (
    CloseVialIn,
    ErrorOut,
    ExposureOut,
    LotIn,
    LotOut,
    ReasonIn,
    ReconstituteIn,
    StockRow,
    VialOut,
    WasteIn,
    units_text,
)
from bontrack.audit.services import Actor
from bontrack.core.scoping import in_clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.planning import use_by
from bontrack.inventory import services
from bontrack.inventory.models import Lot, Vial, VialClosing
from bontrack.treatments.supply import VialState, vial_states

router = Router(tags=["inventory"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def lot_out(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "product": lot.product,
        "lot_number": lot.lot_number,
        "vial_size_units": units_text(lot.vial_size_units),
        "expires_on": lot.expires_on,
        "received_vials": lot.received_vials,
        "received_on": lot.received_on,
        "recalled_at": lot.recalled_at,
        "recall_reason": lot.recall_reason,
        "ndc": lot.ndc,
        "ndc_to_confirm": lot.ndc_to_confirm,
    }


def vial_out(actor: Actor, vial: Vial, state: VialState | None = None) -> dict[str, Any]:
    """A vial with its derived figures (B.30); ``state`` read for a whole list at once. The
    patient a vial was opened for is clinical: only chart readers get its id (the front desk
    sees the stock, not who was treated)."""
    product = catalog().products[vial.lot.product]
    now = timezone.now()
    if state is None:
        state = vial_states([vial], vial.clinic.time_zone)[vial.id]
    closed = state.closed(now)
    return {
        "id": vial.id,
        "lot_id": vial.lot_id,
        "product": vial.lot.product,
        "lot_number": vial.lot.lot_number,
        "size_units": units_text(vial.lot.vial_size_units),
        "reconstituted_at": vial.reconstituted_at,
        "diluent_ml": units_text(vial.diluent_ml) if vial.diluent_ml is not None else None,
        "use_by": use_by(product, vial.reconstituted_at) if vial.reconstituted_at else None,
        "patient_id": vial.patient_id if actor.membership.can(Perm.CHART_READ) else None,
        "from_stock": vial.from_stock,
        "status": state.status(now),
        "opened_at": state.opened_at,
        "closes_at": state.closes_at,
        "closed_at": state.closes_at if closed else None,
        "closed_how": state.closed_how if closed else None,
        "used_units": units_text(state.used),
        "wasted_units": units_text(state.wasted(now)),
        "remaining_units": units_text(state.remaining(now)),
    }


@router.get(
    "/lots",
    response={200: list[LotOut], **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_READ),
)
def list_lots(request: HttpRequest) -> Any:
    require(actor_of(request), Perm.INVENTORY_READ)
    lots = Lot.objects.filter(clinic_id=actor_of(request).membership.clinic_id).order_by(
        "product", "expires_on"
    )
    return [lot_out(lot) for lot in lots]


@router.post(
    "/lots",
    response={201: LotOut, **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_WRITE),
)
def receive_lot(request: HttpRequest, body: LotIn) -> Any:
    return Status(201, lot_out(services.receive_lot(actor_of(request), **body.model_dump())))


@router.get(
    "/lots/{lot_id}",
    response={200: LotOut, **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_READ),
)
def read_lot(request: HttpRequest, lot_id: UUID) -> Any:
    return lot_out(access(actor_of(request), LOT, lot_id, Perm.INVENTORY_READ))


@router.post(
    "/lots/{lot_id}/recall",
    response={200: list[ExposureOut], **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_WRITE),
)
def recall_lot(request: HttpRequest, lot_id: UUID, body: ReasonIn) -> Any:
    """Mark the lot recalled (its vials block every check from now on) and list who received it."""
    return services.recall_lot(actor_of(request), lot_id, reason=body.reason)


@router.get(
    "/lots/{lot_id}/exposures",
    response={200: list[ExposureOut], **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_READ),
)
def lot_exposures(request: HttpRequest, lot_id: UUID) -> Any:
    return services.exposures(actor_of(request), lot_id)


@router.get(
    "/stock",
    response={200: list[StockRow], **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_READ),
)
def stock(request: HttpRequest, expiring_within_days: int = 60) -> Any:
    rows = services.stock(actor_of(request), timezone.localdate(), expiring_within_days)
    return [{**row, "lot": lot_out(row["lot"])} for row in rows]  # type: ignore[arg-type]


@router.get(
    "/vials",
    response={200: list[VialOut], **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_READ),
)
def list_vials(request: HttpRequest, lot_id: UUID | None = None, available: bool = False) -> Any:
    actor = actor_of(request)
    require(actor, Perm.INVENTORY_READ)
    clinic = actor.membership.clinic_id
    vials = in_clinic(Vial.objects.all(), clinic, "lot").select_related("clinic")
    if lot_id is not None:
        vials = vials.filter(lot_id=lot_id)
    if available:
        closed = VialClosing.objects.filter(clinic_id=OuterRef("clinic_id"), vial_id=OuterRef("pk"))
        vials = vials.filter(~Exists(closed)).filter(
            patient__isnull=True,
            lot__recalled_at__isnull=True,
            lot__expires_on__gte=timezone.localdate(),
        )
    rows = list(vials.order_by("lot__expires_on", "created_at")[:500])
    states = vial_states(rows, actor.clinic.time_zone)
    now = timezone.now()
    return [
        vial_out(actor, v, states[v.id])
        for v in rows
        if not available or not states[v.id].closed(now)
    ]


@router.post(
    "/vials/{vial_id}/reconstitute",
    response={200: VialOut, **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_WRITE),
)
def reconstitute(request: HttpRequest, vial_id: UUID, body: ReconstituteIn) -> Any:
    vial = services.reconstitute_vial(
        actor_of(request),
        vial_id,
        diluent_ml=body.diluent_ml,
        reconstituted_at=body.reconstituted_at,
    )
    return vial_out(actor_of(request), vial)


@router.post(
    "/vials/{vial_id}/waste",
    response={200: VialOut, **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_WRITE),
)
def waste(request: HttpRequest, vial_id: UUID, body: WasteIn) -> Any:
    """Record the waste of a vial no session drew (B.30): the whole vial, and it is closed. A
    vial sessions drew is closed instead (``/close``)."""
    return vial_out(
        actor_of(request), services.record_waste(actor_of(request), vial_id, units=body.units)
    )


@router.post(
    "/vials/{vial_id}/close",
    response={200: VialOut, **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_WRITE),
)
def close(request: HttpRequest, vial_id: UUID, body: CloseVialIn) -> Any:
    """Close a vial now (B.30): nothing more is drawn from it; its waste is its size less what
    sessions drew. A vial also closes by itself at the end of the day it was opened and at its
    use-by time."""
    return vial_out(
        actor_of(request), services.close_vial(actor_of(request), vial_id, note=body.note)
    )


@router.get(
    "/vials/{vial_id}",
    response={200: VialOut, **ERRORS},
    openapi_extra=needs(Perm.INVENTORY_READ),
)
def read_vial(request: HttpRequest, vial_id: UUID) -> Any:
    actor = actor_of(request)
    return vial_out(actor, access(actor, VIAL, vial_id, Perm.INVENTORY_READ))

"""Inventory: lots and vials, receiving a lot, reconstituting a vial (with its use-by countdown),
closing a vial or recording the waste of one no session drew, recalling a lot and the patients
who received it (with a CSV export). Used, wasted and remaining units are derived (B.30)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from bontrack.access import LOT, VIAL, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core import csvfiles
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import in_clinic
from bontrack.domain.catalog import catalog
from bontrack.inventory import services as inventory
from bontrack.inventory.models import Lot, Vial, VialClosing
from bontrack.treatments.models import SessionVial
from bontrack.treatments.supply import ClosedHow, VialState, VialStatus, may_be_open
from bontrack.treatments.workspace import vial_use_by
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.forms import LotForm, RecallForm, ReconstituteForm, first_error

CLOSED_HOW = {
    ClosedHow.CLOSED: "closed",
    ClosedHow.END_OF_DAY: "closed at the end of its day",
    ClosedHow.USE_BY: "past its use-by time",
}


def _vial_row(vial: Vial, tz: str, figures: VialState) -> dict[str, Any]:
    now = timezone.now()
    until = vial_use_by(vial)
    state = figures.status(now)
    return {
        "vial": vial,
        "state": state,
        "closed_words": CLOSED_HOW.get(figures.closed_how, "")
        if state == VialStatus.CLOSED
        else "",
        "closes_at": present.local(figures.closes_at, tz) if state == VialStatus.OPEN else None,
        "used": present.units(figures.used),
        "remaining": present.units(figures.remaining(now)),
        "drawn": bool(figures.draws),
        "short": str(vial.id)[:8],
        "diluent": present.units(vial.diluent_ml) if vial.diluent_ml is not None else "",
        "reconstituted_at": present.local(vial.reconstituted_at, tz),
        "use_by": present.local(until, tz),
        "use_by_iso": until.isoformat() if until else "",
        "past": until is not None and until <= timezone.now(),
        "wasted": present.units(figures.wasted(now)),
    }


@clinic_view(Perm.INVENTORY_READ)
def inventory_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    tz = actor.clinic.time_zone
    day = present.clinic_today(tz)
    stock = inventory.stock(actor, day)
    now = timezone.now()
    clinic = actor.membership.clinic_id
    closed = VialClosing.objects.filter(clinic_id=OuterRef("clinic_id"), vial_id=OuterRef("pk"))
    candidates = list(
        in_clinic(Vial.objects.all(), clinic, "lot")
        .filter(~Exists(closed))
        .filter(may_be_open(now, clinic))
        .exclude(reconstituted_at__isnull=True, patient__isnull=True)
        .order_by("reconstituted_at", "created_at")
    )
    figures = inventory.vial_figures(actor, candidates, now)
    in_use = [
        _vial_row(v, tz, figures[v.id])
        for v in candidates
        if figures[v.id].status(now) == VialStatus.OPEN
    ]
    return render(
        request,
        "web/inventory.html",
        {
            "rows": [
                {
                    **row,
                    "product": present.product_name(row["lot"].product),  # type: ignore[union-attr]
                    "size": present.units(row["lot"].vial_size_units),  # type: ignore[union-attr]
                    "days_left": (row["lot"].expires_on - day).days,  # type: ignore[union-attr]
                }
                for row in stock
            ],
            "in_use": in_use,
            "can_write": actor.membership.can(Perm.INVENTORY_WRITE),
            "lot_form": LotForm(),
            "nav": "inventory",
        },
    )


@clinic_view(Perm.INVENTORY_WRITE, methods=("POST",))
def receive_lot(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = LotForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The lot was not received: {first_error(form)}")
        return HttpResponseRedirect("/inventory/")
    try:
        lot = inventory.receive_lot(
            actor, received_on=present.clinic_today(actor.clinic.time_zone), **form.cleaned_data
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"The lot was not received: {error.message}")
        return HttpResponseRedirect("/inventory/")
    messages.success(request, f"Lot {lot.lot_number} received: {lot.received_vials} vials.")
    return HttpResponseRedirect(f"/inventory/lots/{lot.id}/")


def _lot_context(actor: Actor, lot: Lot) -> dict[str, Any]:
    tz = actor.clinic.time_zone
    vials = list(Vial.objects.filter(clinic_id=lot.clinic_id, lot_id=lot.id).order_by("created_at"))
    for vial in vials:
        vial.lot = lot  # the lot already read, not joined again
    figures = inventory.vial_figures(actor, vials, timezone.now())
    day = present.clinic_today(tz)
    product = catalog().products.get(lot.product)
    dilutions = (
        [
            present.units(d.diluent_ml)
            for d in product.dilutions
            if d.vial_units == lot.vial_size_units
        ]
        if product is not None
        else []
    )
    exposures = (
        inventory.exposures(actor, lot.id)
        if lot.recalled_at is not None and actor.membership.can(Perm.DEMOGRAPHICS_READ)
        else []
    )
    # Which signed session drew what from each vial (the patient is one click away, on the
    # session, whose read is audited there).
    uses: dict[Any, list[dict[str, Any]]] = {}
    drawn = (
        SessionVial.objects.filter(
            clinic_id=lot.clinic_id,
            vial_id__in=[v.id for v in vials],
            session__clinic_id=lot.clinic_id,
            session__signed_at__isnull=False,
        )
        .order_by("session__administered_at")
        .values_list("vial_id", "session_id", "session__administered_at", "drawn_units")
    )
    for vial_id, session_id, administered_at, units in drawn:
        uses.setdefault(vial_id, []).append(
            {
                "session_id": session_id,
                "on": present.local(administered_at, tz),
                "units": present.units(units) if units is not None else "",
            }
        )
    return {
        "lot": lot,
        "product": present.product_name(lot.product),
        "size": present.units(lot.vial_size_units),
        "expired": lot.expires_on < day,
        "days_left": (lot.expires_on - day).days,
        "vials": [
            {**_vial_row(v, tz, figures[v.id]), "sessions": uses.get(v.id, [])} for v in vials
        ],
        "dilutions": dilutions,
        "exposures": exposures,
        "recalled_at": present.local(lot.recalled_at, tz),
        "can_write": actor.membership.can(Perm.INVENTORY_WRITE),
        "nav": "inventory",
    }


@clinic_view(Perm.INVENTORY_READ)
def lot_detail(request: HttpRequest, actor: Actor, lot_id: UUID) -> HttpResponse:
    lot = access(actor, LOT, lot_id, Perm.INVENTORY_READ)
    return render(request, "web/lot.html", _lot_context(actor, lot))


@clinic_view(Perm.INVENTORY_WRITE, methods=("POST",))
def lot_recall(request: HttpRequest, actor: Actor, lot_id: UUID) -> HttpResponse:
    form = RecallForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the recall's reason or notice number.")
        return HttpResponseRedirect(f"/inventory/lots/{lot_id}/")
    try:
        found = inventory.recall_lot(actor, lot_id, reason=form.cleaned_data["reason"])
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error.message)
        return HttpResponseRedirect(f"/inventory/lots/{lot_id}/")
    patients = len({e.patient_id for e in found})
    messages.warning(
        request,
        f"Lot recalled: its vials now block every check. {patients} patient"
        f"{'' if patients == 1 else 's'} received it: contact them from the list below.",
    )
    return HttpResponseRedirect(f"/inventory/lots/{lot_id}/#exposures")


@clinic_view(Perm.INVENTORY_READ)
def lot_exposures_csv(request: HttpRequest, actor: Actor, lot_id: UUID) -> HttpResponse:
    lot = access(actor, LOT, lot_id, Perm.INVENTORY_READ)
    found = inventory.exposures(actor, lot.id)
    response = HttpResponse(content_type=csvfiles.MEDIA_TYPE)
    response["Content-Disposition"] = csvfiles.content_disposition(f"recall-{lot.lot_number}.csv")
    writer = csvfiles.writer(response)
    writer.writerow(
        ["record_number", "name", "phone", "email", "administered_on", "session_id", "lot"]
    )
    for e in found:
        writer.writerow(
            [
                e.record_number,
                e.name,
                e.phone,
                e.email,
                e.administered_on.isoformat() if e.administered_on else "",
                str(e.session_id) if e.session_id else "",
                lot.lot_number,
            ]
        )
    return response


@clinic_view(Perm.INVENTORY_WRITE, methods=("POST",))
def vial_reconstitute(request: HttpRequest, actor: Actor, vial_id: UUID) -> HttpResponse:
    vial = access(actor, VIAL, vial_id, Perm.INVENTORY_WRITE)
    form = ReconstituteForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not reconstituted: {first_error(form)}")
    else:
        try:
            inventory.reconstitute_vial(
                actor,
                vial.id,
                diluent_ml=form.cleaned_data["diluent_ml"],
                reconstituted_at=timezone.now(),
            )
            messages.success(request, "Vial reconstituted: the use-by countdown has started.")
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            messages.error(request, f"Not reconstituted: {error.message}")
    return HttpResponseRedirect(f"/inventory/lots/{vial.lot_id}/")


def _end_of_vial(
    request: HttpRequest,
    actor: Actor,
    vial_id: UUID,
    act: Callable[[Actor, UUID], object],
    done: str,
    refused: str,
) -> HttpResponse:
    """Close a vial one way or another (B.30), then back to its lot's page with what happened."""
    vial = access(actor, VIAL, vial_id, Perm.INVENTORY_WRITE)
    try:
        act(actor, vial.id)
        messages.success(request, done)
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"{refused}: {error.message}")
    return HttpResponseRedirect(f"/inventory/lots/{vial.lot_id}/")


@clinic_view(Perm.INVENTORY_WRITE, methods=("POST",))
def vial_waste(request: HttpRequest, actor: Actor, vial_id: UUID) -> HttpResponse:
    """Waste of a vial no session drew: the whole vial, and it is closed (B.30)."""
    return _end_of_vial(
        request,
        actor,
        vial_id,
        inventory.record_waste,
        "Waste recorded: the whole vial is wasted and it is closed.",
        "Waste not recorded",
    )


@clinic_view(Perm.INVENTORY_WRITE, methods=("POST",))
def vial_close(request: HttpRequest, actor: Actor, vial_id: UUID) -> HttpResponse:
    """Close an open vial now: what it still holds is wasted (B.30)."""
    return _end_of_vial(
        request,
        actor,
        vial_id,
        inventory.close_vial,
        "Vial closed: what it still held is recorded as wasted.",
        "Not closed",
    )

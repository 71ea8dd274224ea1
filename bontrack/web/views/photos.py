"""Clinical photos: the patient's photos per indication and view, taken with a tablet's camera or
picked from its gallery or a clinic camera's files, each file served through the access funnel
with an audit entry, and the comparison of any two photos of one view (side by side, and as a
ghost overlay with an opacity slider)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.charting.models import TIMEPOINTS
from bontrack.charting.services import photos as photo_services
from bontrack.core.csvfiles import content_disposition
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.patients import services as patients
from bontrack.treatments.models import TreatmentSession
from bontrack.web import present
from bontrack.web.access import clinic_view

TIMEPOINT_WORDS = {
    "baseline": "Baseline",
    "before": "Before treatment",
    "after": "After treatment",
    "follow-up": "Follow-up",
}


def _indications_with_views() -> list[tuple[str, str]]:
    return [(i.code, i.name) for i in catalog().indications.values() if i.photo_views]


def _photo_row(photo: Any) -> dict[str, Any]:
    return {
        "photo": photo,
        "view_name": photo_services.view_name(photo.indication, photo.view),
        "timepoint": TIMEPOINT_WORDS.get(photo.timepoint, photo.timepoint),
    }


@clinic_view(Perm.CHART_READ, methods=("GET", "POST"))
def photo_page(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    """GET: the patient's photos, one row per indication and view, oldest first; the upload form
    for clinicians. POST: upload (a tablet offers its camera, its gallery and its files: no
    ``capture`` attribute, which would force the camera)."""
    day = present.clinic_today(actor.clinic.time_zone)
    if request.method == "POST":
        upload = request.FILES.get("photo")
        data = request.POST
        if upload is None:
            messages.error(request, "No photo was stored: choose or take a photo first.")
        else:
            try:
                photo_services.upload_photo(
                    actor,
                    patient_id,
                    upload=upload,
                    size=upload.size,
                    indication=data.get("indication", ""),
                    view=data.get("view", ""),
                    timepoint=data.get("timepoint", ""),
                    taken_on=_date(data.get("taken_on", ""), day),
                    today=day,
                    session_id=data.get("session_id") or None,
                )
                messages.success(request, "Photo stored (location and camera data removed).")
            except ServiceError as error:
                if error.status in (403, 404):
                    raise
                messages.error(request, f"The photo was not stored: {error.message}")
        query = f"?indication={data.get('indication', '')}"
        if data.get("session_id"):
            query += f"&session={data.get('session_id')}"
        return HttpResponseRedirect(f"/patients/{patient_id}/photos/{query}")
    patient = patients.read_patient(actor, patient_id)
    found = photo_services.list_photos(actor, patient_id)
    treated = list(
        TreatmentSession.objects.filter(clinic_id=patient.clinic_id, patient=patient).values_list(
            "indication", flat=True
        )
    )
    choices = _indications_with_views()
    chosen = request.GET.get("indication", "")
    if chosen not in dict(choices):
        with_photos = [p.indication for p in found]
        chosen = next(
            (i for i in [*reversed(with_photos), *reversed(treated)] if i in dict(choices)),
            choices[0][0] if choices else "",
        )
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in found:
        groups.setdefault((p.indication, p.view), []).append(_photo_row(p))
    rows = [
        {
            "indication": ind,
            "indication_name": present.indication_short(ind),
            "view": view,
            "view_name": photo_services.view_name(ind, view),
            "photos": items,
        }
        for (ind, view), items in sorted(groups.items(), key=lambda kv: (kv[0][0] != chosen, kv[0]))
    ]
    session_id = request.GET.get("session", "")
    sessions = TreatmentSession.objects.filter(
        clinic_id=patient.clinic_id, patient=patient, indication=chosen
    ).order_by("-plan_date")[:12]
    return render(
        request,
        "web/photos.html",
        {
            "banner": present.patient_banner(patient, day, True),
            "patient": patient,
            "rows": rows,
            "indications": choices,
            "indication": chosen,
            "views": photo_services.photo_views(chosen),
            "timepoints": [(t, TIMEPOINT_WORDS[t]) for t in TIMEPOINTS],
            "sessions": sessions,
            "session_id": session_id,
            "today": day,
            "can_upload": actor.membership.can(Perm.PLAN_WRITE),
            "nav": "patients",
        },
    )


def _date(raw: str, default: Any) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        raise ServiceError("taken_on", "give a date, e.g. 2026-11-25") from None


def _image(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="image/jpeg")
    response["Content-Disposition"] = content_disposition(name, "inline")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@clinic_view(Perm.CHART_READ)
def photo_image(request: HttpRequest, actor: Actor, photo_id: UUID) -> HttpResponse:
    photo, data = photo_services.read_photo_file(actor, photo_id)
    return _image(data, f"photo-{photo.taken_on.isoformat()}-{photo.view}.jpg")


@clinic_view(Perm.CHART_READ)
def photo_thumbnail(request: HttpRequest, actor: Actor, photo_id: UUID) -> HttpResponse:
    photo, data = photo_services.read_photo_file(actor, photo_id, thumbnail=True)
    return _image(data, f"thumbnail-{photo.taken_on.isoformat()}-{photo.view}.jpg")


@clinic_view(Perm.CHART_READ)
def photo_compare(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    """The same view at two dates: side by side, and as a ghost overlay with an opacity slider;
    every visit's photo of the view in a row; the sessions given in between."""
    day = present.clinic_today(actor.clinic.time_zone)
    indication = request.GET.get("indication", "")
    views = photo_services.photo_views(indication)
    view = request.GET.get("view", "") or (views[0][0] if views else "")
    patient = patients.read_patient(actor, patient_id)
    error = ""
    comparison = None
    try:
        comparison = photo_services.compare(
            actor,
            patient_id,
            indication=indication,
            view=view,
            first_id=_uuid(request.GET.get("a")),
            second_id=_uuid(request.GET.get("b")),
        )
    except ServiceError as service_error:
        if service_error.status in (403, 404):
            raise
        error = service_error.message
    between = []
    if comparison is not None:
        from bontrack.treatments.records import current_points, total_units

        for s in comparison.between:
            between.append(
                {
                    "session": s,
                    "product": present.brand(s.product),
                    "units": present.units(total_units(current_points(s))),
                    "injector": s.injector.display_name if s.injector else "",
                }
            )
    return render(
        request,
        "web/photo_compare.html",
        {
            "banner": present.patient_banner(patient, day, True),
            "patient": patient,
            "indication": indication,
            "indication_name": present.indication_name(indication),
            "views": views,
            "view": view,
            "view_name": photo_services.view_name(indication, view),
            "comparison": comparison,
            "series": [_photo_row(p) for p in comparison.series] if comparison else [],
            "others": [_photo_row(p) for p in comparison.others] if comparison else [],
            "earlier": _photo_row(comparison.earlier)
            if comparison and comparison.earlier
            else None,
            "later": _photo_row(comparison.later) if comparison and comparison.later else None,
            "between": between,
            "every": [_photo_row(p) for p in comparison.every] if comparison else [],
            "error": error,
            "nav": "patients",
        },
    )


def _uuid(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return str(UUID(raw))
    except ValueError:
        raise ServiceError("photo", "not a photo id") from None

"""Everyday charting around the treatment: the appointment book, the opening hours and the next
visit, reminders (the list and a preview of the e-mails; sending stays on the page), clinical
photos, signed consent forms, saved plans and repeat last.

Each route calls the service its page calls (bontrack/charting/services/), with the permission
the page declares; the services hold the rules, open rows through the access funnels and write
the audit entries, so a file is never served without its read entry.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from ninja import Query, Router, Status
from pydantic import TypeAdapter, ValidationError

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.charting_schemas import (
    AppointmentBookOut,
    AppointmentIn,
    AppointmentOut,
    AppointmentStatusIn,
    ConsentFormOut,
    NextVisitOut,
    OpeningHoursIn,
    OpeningHoursOut,
    PhotoOut,
    PlanFromSavedIn,
    ReminderListOut,
    ReminderPreviewOut,
    RepeatLastIn,
    SavedPlanOut,
)
from bontrack.api.followup import due_out
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut, SessionOut, units_text
from bontrack.api.sessions import session_out
from bontrack.audit.services import Actor
from bontrack.charting import hours
from bontrack.charting.models import TIMEPOINTS, Appointment, Photo, SavedPlan, SignedConsentForm
from bontrack.charting.services import appointments as book
from bontrack.charting.services import consent_forms, photos, plans, reminders
from bontrack.core.csvfiles import content_disposition
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import related_row
from bontrack.outcomes.reads import due_date
from bontrack.outcomes.services import clinic_today
from bontrack.plan_input import IsoDate
from bontrack.treatments import services as sessions

router = Router(tags=["charting"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
# The appointment book is read a week at a time on its page; a month is the most one call lists.
MAX_BOOK_DAYS = 31


def _file_documented(content_type: str, description: str) -> dict[str, Any]:
    text = content_type.startswith("text/")
    schema = {"type": "string"} if text else {"type": "string", "format": "binary"}
    return {
        "responses": {
            200: {"description": description, "content": {content_type: {"schema": schema}}}
        }
    }


def _file_response(data: bytes | str, content_type: str, disposition: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Appointments ------------------------------------------------------------------------------


def appointment_out(a: Appointment, time_zone: str) -> dict[str, Any]:
    patient = related_row(a, "patient")
    return {
        "id": a.id,
        "patient_id": a.patient_id,
        "record_number": patient.record_number,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "indication": a.indication,
        "starts_at": a.starts_at.astimezone(zoneinfo.ZoneInfo(time_zone)),
        "minutes": a.minutes,
        "status": a.status,
        "injector_id": a.injector_id,
        "injector": a.injector.display_name if a.injector else None,
        "notes": a.notes,
        "proposed_by_session_id": a.proposed_by_session_id,
        "booked_by": a.booked_by_id,
    }


@router.get(
    "/appointments",
    response={200: AppointmentBookOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_READ),
)
def appointment_book(
    request: HttpRequest, start: IsoDate | None = None, end: IsoDate | None = None
) -> Any:
    """The clinic's appointments from `start` to `end` (the clinic's dates, both included; by
    default the week from today), by time; at most 31 days. One read entry per patient shown."""
    actor = actor_of(request)
    first = start or clinic_today(actor)
    last = end or first + timedelta(days=6)
    if last < first:
        raise ServiceError("end", "is before start")
    days = (last - first).days + 1
    if days > MAX_BOOK_DAYS:
        raise ServiceError("end", f"at most {MAX_BOOK_DAYS} days from start (asked for {days})")
    rows = book.appointments_between(actor, first, days)
    tz = actor.clinic.time_zone
    return {
        "time_zone": tz,
        "start": first,
        "end": last,
        "appointments": [appointment_out(a, tz) for a in rows],
    }


@router.get(
    "/patients/{patient_id}/appointments",
    response={200: list[AppointmentOut], **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_READ),
)
def patient_appointments(request: HttpRequest, patient_id: UUID) -> Any:
    """The patient's appointments, latest first."""
    actor = actor_of(request)
    rows = book.patient_appointments(actor, patient_id)
    return [appointment_out(a, actor.clinic.time_zone) for a in rows]


@router.post(
    "/patients/{patient_id}/appointments",
    response={201: AppointmentOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_WRITE),
)
def book_appointment(request: HttpRequest, patient_id: UUID, body: AppointmentIn) -> Any:
    """Book a visit: indication, `starts_at` with its UTC offset, 5 to 480 minutes, optionally
    the injector (a prescriber or nurse injector of the clinic) and the signed session whose
    next-visit proposal it takes up. When the patient or the injector is already booked at an
    overlapping time, or the time is outside the opening hours, nothing is booked: 409 names
    each problem, and the same request with `confirm: true` books it anyway."""
    actor = actor_of(request)
    appointment = book.book_appointment(
        actor,
        patient_id,
        indication=body.indication,
        starts_at=body.starts_at,
        minutes=body.minutes,
        injector_id=body.injector_id,
        notes=body.notes,
        proposed_by_session_id=body.proposed_by_session_id,
        confirm=body.confirm,
    )
    return Status(201, appointment_out(appointment, actor.clinic.time_zone))


def opening_hours_out(actor: Actor) -> dict[str, Any]:
    clinic = actor.clinic
    sender = reminders.sender_of(clinic)
    return {
        "time_zone": clinic.time_zone,
        "opening_hours": {day: clinic.opening_hours.get(day, []) for day in hours.DAYS},
        "contact_email": clinic.contact_email,
        "contact_phone": clinic.contact_phone,
        "reminder_from": sender.from_email if sender else None,
        "reminder_reply_to": sender.reply_to if sender else None,
    }


@router.get(
    "/clinic/opening-hours",
    response={200: OpeningHoursOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_READ),
)
def get_opening_hours(request: HttpRequest) -> Any:
    """The clinic's opening hours (local times, one or two intervals a day; an empty day is
    closed), which appointments and the proposed next visit keep to, and where patients reach
    the clinic (the reminders' sender)."""
    return opening_hours_out(actor_of(request))


@router.put(
    "/clinic/opening-hours",
    response={200: OpeningHoursOut, **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def put_opening_hours(request: HttpRequest, body: OpeningHoursIn) -> Any:
    """Set the opening hours, the e-mail address and the telephone number for patients; a field
    left out stays as it is. The clinic administrator's."""
    actor = actor_of(request)
    book.set_opening_hours(
        actor,
        opening_hours=body.opening_hours,
        contact_email=body.contact_email,
        contact_phone=body.contact_phone,
    )
    return opening_hours_out(actor)


@router.post(
    "/appointments/{appointment_id}/status",
    response={200: AppointmentOut, **ERRORS},
    openapi_extra=needs(Perm.DEMOGRAPHICS_WRITE),
)
def appointment_status(
    request: HttpRequest, appointment_id: UUID, body: AppointmentStatusIn
) -> Any:
    """Change the status (booked, arrived, completed, cancelled, no-show); a completed or
    cancelled appointment keeps its status (409)."""
    actor = actor_of(request)
    appointment = book.set_status(actor, appointment_id, body.status)
    return appointment_out(appointment, actor.clinic.time_zone)


@router.get(
    "/sessions/{session_id}/next-visit",
    response={200: NextVisitOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def next_visit(request: HttpRequest, session_id: UUID) -> Any:
    """For a signed session, the next visit of its indication from the due rules (the label's
    interval and the patient's wear-off history) and what is already booked; a plan has none
    yet (409)."""
    actor = actor_of(request)
    session = sessions.read_session(actor, session_id)
    proposal = book.propose_next_visit(session, timezone.now())
    if proposal is None:
        raise ConflictError(None, "a plan has no next visit yet: it is proposed once signed")
    tz = actor.clinic.time_zone
    return {
        "session_id": session.id,
        "patient_id": session.patient_id,
        "indication": session.indication,
        "product": session.product,
        "administered_at": session.administered_at,
        "due": due_out(due_date(proposal.due)) if proposal.due is not None else None,
        "suggested_at": proposal.suggested_at,
        "booked": appointment_out(proposal.booked, tz) if proposal.booked is not None else None,
        "held_because": proposal.held_because,
    }


# --- Reminders ---------------------------------------------------------------------------------


@router.get(
    "/reminders",
    response={200: ReminderListOut, **ERRORS},
    openapi_extra={
        **_file_documented("text/csv", "The list, as JSON or (format=csv) as a CSV file"),
        **needs(Perm.CHART_READ),
    },
)
def reminder_list(
    request: HttpRequest,
    days: int = 30,
    indication: str | None = None,
    injector_id: UUID | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Patients due for retreatment within `days` (1 to 365; or overdue) with no appointment or
    plan booked, by indication and the last session's injector. JSON writes one read entry per
    patient listed; `format=csv` (the Reminders page's export) one disclosure entry per patient.
    Sending the e-mails stays on the Reminders page."""
    actor = actor_of(request)
    today = clinic_today(actor)
    if format == "csv":
        text = reminders.export_csv(
            actor, days=days, indication=indication, injector_id=injector_id, today=today
        )
        return _file_response(
            text,
            "text/csv; charset=utf-8",
            content_disposition(f"due-reminders-{today.isoformat()}.csv"),
        )
    found = reminders.reminder_list(
        actor, days=days, indication=indication, injector_id=injector_id, today=today
    )
    return {
        "today": today,
        "days": days,
        "rows": [
            {
                "patient_id": c.row.patient_id,
                "record_number": c.row.record_number,
                "given_name": c.row.given_name,
                "family_name": c.row.family_name,
                "indication": c.row.due.indication,
                "indication_name": c.indication_name,
                "product": c.row.due.product,
                "last_session_date": c.row.due.last_session,
                "due": c.row.due.due,
                "status": c.row.status,
                "injector_id": c.row.injector_id,
                "injector": c.row.injector,
                "contact_method": c.row.contact_method,
                "phone": c.row.phone,
                "email": c.row.email,
                "contactable": c.contactable,
                "why_not": c.why_not,
                "last_reminded": c.last_reminded,
            }
            for c in found
        ],
    }


@router.get(
    "/reminders/preview",
    response={200: ReminderPreviewOut, **ERRORS},
    openapi_extra=needs(Perm.CHART_READ, Perm.DEMOGRAPHICS_WRITE),
)
def reminder_preview(
    request: HttpRequest,
    days: int = 30,
    indication: str | None = None,
    injector_id: UUID | None = None,
    patient_id: list[UUID] | None = Query(None),  # noqa: B008
) -> Any:
    """Every reminder e-mail a send would make now (recipient, subject, text), the sender and
    the Reply-To, and who would not be e-mailed and why; nothing is sent. One read entry per
    patient shown. `patient_id` (repeatable) narrows it to those patients."""
    actor = actor_of(request)
    preview = reminders.preview_reminders(
        actor,
        days=days,
        indication=indication,
        injector_id=injector_id,
        patient_ids=set(patient_id) if patient_id else None,
    )
    return {
        "sender": preview.sender.from_email if preview.sender else None,
        "reply_to": preview.sender.reply_to if preview.sender else None,
        "messages": [
            {
                "patient_id": d.candidate.row.patient_id,
                "record_number": d.candidate.row.record_number,
                "indication": d.candidate.row.due.indication,
                "due": d.candidate.row.due.due,
                "to": d.to,
                "subject": d.subject,
                "body": d.body,
            }
            for d in preview.drafts
        ],
        "skipped": [{"patient_id": c.row.patient_id, "reason": why} for c, why in preview.skipped],
        "digest": preview.digest,
    }


# --- Photos ------------------------------------------------------------------------------------


def photo_out(p: Photo) -> dict[str, Any]:
    return {
        "id": p.id,
        "patient_id": p.patient_id,
        "indication": p.indication,
        "view": p.view,
        "view_name": photos.view_name(p.indication, p.view),
        "timepoint": p.timepoint,
        "session_id": p.session_id,
        "taken_on": p.taken_on,
        "recorded_at": p.created_at,
        "width": p.width,
        "height": p.height,
        "size_bytes": p.size_bytes,
        "original_format": p.original_format,
        "sha256": p.sha256,
        "uploaded_by": p.uploaded_by_id,
    }


@router.get(
    "/patients/{patient_id}/photos",
    response={200: list[PhotoOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_photos(request: HttpRequest, patient_id: UUID, indication: str | None = None) -> Any:
    """The patient's photos (metadata), oldest first; one read entry."""
    return [photo_out(p) for p in photos.list_photos(actor_of(request), patient_id, indication)]


# The multipart body is read by hand so that every refusal names the form's own field (the
# service's 400s); this is the contract it keeps.
PHOTO_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "title": "PhotoUpload",
                "type": "object",
                "properties": {
                    "photo": {
                        "type": "string",
                        "format": "binary",
                        "description": "a JPEG, PNG or WebP photo of at most 20 MB",
                    },
                    "indication": {"type": "string", "description": "an indication code"},
                    "view": {
                        "type": "string",
                        "description": "one of the indication's photo views (catalog)",
                    },
                    "timepoint": {"type": "string", "enum": list(TIMEPOINTS)},
                    "taken_on": {
                        "type": "string",
                        "format": "date",
                        "description": "the clinic's today when left out; never in the future",
                    },
                    "session_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "a session of this patient and indication",
                    },
                },
                "required": ["photo", "indication", "view", "timepoint"],
            }
        }
    },
}
_ISO_DATE = TypeAdapter(IsoDate)


def _taken_on(raw: str, today: date) -> date:
    if not raw:
        return today
    try:
        return _ISO_DATE.validate_python(raw)
    except ValidationError as error:
        raise ServiceError("taken_on", error.errors()[0]["msg"]) from None


def _session_id(raw: str) -> UUID | None:
    if not raw:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise ServiceError("session_id", "must be a session's id (a UUID)") from None


def _required(form: Any, name: str) -> str:
    value = str(form.get(name, "")).strip()
    if not value:
        raise ServiceError(name, "is required: nothing was stored")
    return value


@router.post(
    "/patients/{patient_id}/photos",
    response={201: PhotoOut, **ERRORS},
    openapi_extra={"requestBody": PHOTO_UPLOAD_BODY, **needs(Perm.PLAN_WRITE)},
)
def upload_photo(request: HttpRequest, patient_id: UUID) -> Any:
    """Upload one photo (multipart/form-data): checked as on the Photos page (not an image, a
    decompression bomb, over 20 MB, an unknown format: refused with the field named, nothing
    stored), re-encoded from its pixels (no EXIF, no GPS) and thumbnailed."""
    actor = actor_of(request)
    try:
        form, files = request.POST, request.FILES
    except MultiPartParserError as error:
        raise ServiceError(
            "photo", f"the body is not readable multipart/form-data: {error}"
        ) from None
    upload = files.get("photo")
    if upload is None:
        raise ServiceError("photo", "choose a photo to upload: nothing was stored")
    today = clinic_today(actor)
    photo = photos.upload_photo(
        actor,
        patient_id,
        upload=upload,
        size=upload.size,
        indication=_required(form, "indication"),
        view=_required(form, "view"),
        timepoint=_required(form, "timepoint"),
        taken_on=_taken_on(form.get("taken_on", ""), today),
        today=today,
        session_id=_session_id(form.get("session_id", "")),
    )
    return Status(201, photo_out(photo))


def _photo_file(request: HttpRequest, photo_id: UUID, *, thumbnail: bool) -> HttpResponse:
    photo, data = photos.read_photo_file(actor_of(request), photo_id, thumbnail=thumbnail)
    kind = "thumbnail" if thumbnail else "photo"
    response = _file_response(
        data,
        "image/jpeg",
        content_disposition(f"{kind}-{photo.taken_on.isoformat()}-{photo.view}.jpg", "inline"),
    )
    if not thumbnail:
        response["X-Content-SHA256"] = photo.sha256
    return response


@router.get(
    "/photos/{photo_id}/image",
    response={**ERRORS},
    openapi_extra={
        **_file_documented("image/jpeg", "The stored photo (a JPEG without metadata)"),
        **needs(Perm.CHART_READ),
    },
)
def photo_image(request: HttpRequest, photo_id: UUID) -> Any:
    """The photo as stored (its SHA-256 in `X-Content-SHA256`); one read entry."""
    return _photo_file(request, photo_id, thumbnail=False)


@router.get(
    "/photos/{photo_id}/thumbnail",
    response={**ERRORS},
    openapi_extra={
        **_file_documented("image/jpeg", "The photo's thumbnail (a JPEG, at most 360 px)"),
        **needs(Perm.CHART_READ),
    },
)
def photo_thumbnail(request: HttpRequest, photo_id: UUID) -> Any:
    """The photo's thumbnail; one read entry."""
    return _photo_file(request, photo_id, thumbnail=True)


# --- Consent forms -----------------------------------------------------------------------------


def consent_form_out(f: SignedConsentForm) -> dict[str, Any]:
    return {
        "id": f.id,
        "patient_id": f.patient_id,
        "consent_id": f.consent_id,
        "indication": f.template.indication,
        "product": f.product,
        "template_id": f.template_id,
        "template_version": f.template.version,
        "title": f.template.title,
        "signer_name": f.signer_name,
        "signer_role": f.signer_role,
        "witness_name": f.witness_name,
        "signed_at": f.signed_at,
        "expires_on": f.consent.expires_on,
        "withdrawn_on": f.consent.withdrawn_on,
        "risks": f.risks,
        "catalog_version": f.catalog_version,
        "pdf_sha256": f.pdf_sha256,
        "recorded_by": f.recorded_by_id,
    }


@router.get(
    "/patients/{patient_id}/consent-forms",
    response={200: list[ConsentFormOut], **ERRORS},
    openapi_extra=needs(Perm.CHART_READ),
)
def list_consent_forms(request: HttpRequest, patient_id: UUID) -> Any:
    """The patient's signed consent forms (metadata), latest first; one read entry."""
    found = consent_forms.patient_consent_forms(actor_of(request), patient_id)
    return [consent_form_out(f) for f in found]


@router.get(
    "/consent-forms/{form_id}/pdf",
    response={**ERRORS},
    openapi_extra={
        **_file_documented("application/pdf", "The signed form as stored"),
        **needs(Perm.CHART_READ),
    },
)
def consent_form_pdf(request: HttpRequest, form_id: UUID) -> Any:
    """The signed PDF as stored; `X-Content-SHA256` is the hash recorded at signing and
    `X-Content-Intact` says whether the file still has it. One read entry."""
    stored = consent_forms.read_consent_pdf(actor_of(request), form_id)
    name = f"consent-{stored.form.signed_at:%Y-%m-%d}-{str(stored.form.id)[:8]}.pdf"
    response = _file_response(stored.data, "application/pdf", content_disposition(name, "inline"))
    response["X-Content-SHA256"] = stored.form.pdf_sha256
    response["X-Content-Intact"] = "yes" if stored.intact else "NO: the stored file was altered"
    return response


# --- Saved plans and repeat last ---------------------------------------------------------------


def saved_plan_out(s: SavedPlan) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "product": s.product,
        "indication": s.indication,
        "protocol": s.protocol,
        "points": [
            {"site": p.site, "side": p.side, "units": units_text(p.units), "route": p.route or ""}
            for p in plans.saved_points(s)
        ],
        "total_units": units_text(plans.saved_total(s)),
        "shared": s.owner_id is None,
        "owner_id": s.owner_id,
        "created_at": s.created_at,
    }


@router.get(
    "/saved-plans",
    response={200: list[SavedPlanOut], **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def list_saved_plans(
    request: HttpRequest, indication: str | None = None, product: str | None = None
) -> Any:
    """The clinic's saved plans and the caller's own (not other injectors')."""
    found = plans.list_saved_plans(actor_of(request), indication=indication, product=product)
    return [saved_plan_out(s) for s in found]


def _plan_date(actor: Actor, chosen: date | None) -> date:
    return chosen or clinic_today(actor)


@router.post(
    "/saved-plans/{saved_plan_id}/sessions",
    response={201: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def plan_from_saved(request: HttpRequest, saved_plan_id: UUID, body: PlanFromSavedIn) -> Any:
    """A new plan for the patient with the saved plan's product, indication and points, checked
    like any other plan."""
    actor = actor_of(request)
    session = plans.plan_from_saved(
        actor, body.patient_id, saved_plan_id, plan_date=_plan_date(actor, body.plan_date)
    )
    return Status(201, session_out(session))


@router.post(
    "/patients/{patient_id}/repeat-last",
    response={201: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def repeat_last(request: HttpRequest, patient_id: UUID, body: RepeatLastIn) -> Any:
    """A new plan with the points of the patient's last signed session of the indication with
    the same product; another product's session is never repeated (400, field `product`)."""
    actor = actor_of(request)
    session = plans.repeat_last(
        actor,
        patient_id,
        indication=body.indication,
        product=body.product,
        plan_date=_plan_date(actor, body.plan_date),
    )
    return Status(201, session_out(session))

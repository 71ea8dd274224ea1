"""The appointment book, booking (from the patient page or from the next-visit proposal after a
signing), status changes, and reminders: who is due with nothing booked, e-mails, the CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.charting import hours
from bontrack.charting.models import APPOINTMENT_STATUSES
from bontrack.charting.services import appointments as book
from bontrack.charting.services import reminders
from bontrack.core.csvfiles import MEDIA_TYPE, content_disposition
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.patients import services as patients
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.charting import injectors, wall
from bontrack.web.forms import parse_local
from bontrack.web.views.consent_forms import local_path


def _day(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


def _week_slots(
    week: hours.Hours, day: date, rows: list[dict[str, Any]], patient: str
) -> list[dict[str, Any]]:
    """The day's opening hours as half-hour slots, each with the open appointments it overlaps."""
    found = []
    for at in hours.slots(week, day):
        start = datetime.combine(day, at)
        end = start + timedelta(minutes=hours.SLOT_MINUTES)
        busy = [
            r
            for r in rows
            if r["a"].status in book.OPEN
            and r["naive"] < end
            and r["naive"] + timedelta(minutes=r["a"].minutes) > start
        ]
        query = {"at": start.strftime("%Y-%m-%dT%H:%M")}
        if patient:
            query["patient"] = patient
        found.append({"time": at, "busy": busy, "href": "/appointments/new?" + urlencode(query)})
    return found


@clinic_view(Perm.DEMOGRAPHICS_READ)
def appointment_book(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The week's appointments by day, and the opening hours as half-hour slots to book from."""
    today = present.clinic_today(actor.clinic.time_zone)
    day = _day(request.GET.get("day", ""), today)
    patient = _uuid_text(request.GET.get("patient", ""))
    rows = book.appointments_between(actor, day, 7)
    tz = actor.clinic.time_zone
    week = book.clinic_hours(actor.clinic)
    days: dict[date, list[dict[str, Any]]] = {day + timedelta(days=n): [] for n in range(7)}
    for a in rows:
        local = wall(a.starts_at, tz)
        assert local is not None
        days.setdefault(local.date(), []).append(
            {
                "a": a,
                "time": local,
                "naive": local.replace(tzinfo=None),
                "indication": present.indication_short(a.indication),
                "injector": a.injector.display_name if a.injector else "",
            }
        )
    can_write = actor.membership.can(Perm.DEMOGRAPHICS_WRITE)
    described = dict(hours.describe(week))
    week_rows = [
        {
            "day": d,
            "rows": items,
            "slots": _week_slots(week, d, items, patient) if can_write else [],
            "hours": described[f"{d:%A}"],
        }
        for d, items in days.items()
    ]
    return render(
        request,
        "web/appointments.html",
        {
            "day": day,
            "today": today,
            "previous": day - timedelta(days=7),
            "following": day + timedelta(days=7),
            "week": week_rows,
            "statuses": APPOINTMENT_STATUSES,
            "can_write": can_write,
            "patient": patient,
            "opening_hours": hours.describe(week),
            "hours_form": _hours_form(actor.clinic.opening_hours or {}),
            "clinic": actor.clinic,
            "can_manage": actor.membership.can(Perm.USERS_MANAGE),
            "nav": "appointments",
        },
    )


def _uuid_text(raw: str) -> str:
    try:
        return str(UUID(raw)) if raw else ""
    except ValueError:
        return ""


def _hours_form(stored: dict[str, Any]) -> list[dict[str, Any]]:
    """Each day with two intervals to fill (a morning and an afternoon, or one of them)."""
    form = []
    for code in hours.DAYS:
        intervals = list(stored.get(code, []))[:2]
        intervals += [["", ""]] * (2 - len(intervals))
        form.append({"code": code, "name": hours.DAY_NAMES[code], "intervals": intervals})
    return form


@clinic_view(Perm.USERS_MANAGE, methods=("POST",))
def opening_hours(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The clinic administrator sets the opening hours and the address and number patients
    reach the clinic at."""
    data = request.POST
    week: dict[str, list[list[str]]] = {}
    for code in hours.DAYS:
        week[code] = []
        for n in (1, 2):
            opens = data.get(f"{code}_{n}_opens", "").strip()
            closes = data.get(f"{code}_{n}_closes", "").strip()
            if opens or closes:
                week[code].append([opens, closes])
    try:
        book.set_opening_hours(
            actor,
            opening_hours=week,
            contact_email=data.get("contact_email", ""),
            contact_phone=data.get("contact_phone", ""),
        )
        messages.success(request, "Opening hours and contact saved.")
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        field = (error.field or "").removeprefix("opening_hours.")
        messages.error(request, f"Not saved: {_field_words(field)}{error.message}.")
    return HttpResponseRedirect("/appointments/#opening-hours")


def _field_words(field: str) -> str:
    code, _, rest = field.partition("[")
    if code in hours.DAY_NAMES:
        which = " (second interval)" if rest.startswith("1") else ""
        return f"{hours.DAY_NAMES[code]}{which}: "
    return {"contact_email": "e-mail address: ", "contact_phone": "telephone: "}.get(field, "")


BOOKING_FIELDS = (
    "starts_at",
    "indication",
    "minutes",
    "injector_id",
    "notes",
    "proposed_by_session_id",
    "next",
    "patient_id",
)


def _book(request: HttpRequest, actor: Actor, patient_id: UUID | str, back: str) -> HttpResponse:
    """Book from a form; an overlap or a time outside the opening hours shows the warnings
    with the choice to book anyway or go back."""
    data = request.POST
    try:
        starts = parse_local(data.get("starts_at", ""), actor.clinic.time_zone)
        minutes = int(data.get("minutes") or 30)
    except (ValidationError, ValueError):
        messages.error(request, "Not booked: give a date and time, and the minutes as a number.")
        return HttpResponseRedirect(back)
    try:
        appointment = book.book_appointment(
            actor,
            patient_id,
            indication=data.get("indication", ""),
            starts_at=starts,
            minutes=minutes,
            injector_id=data.get("injector_id") or None,
            notes=data.get("notes", ""),
            proposed_by_session_id=data.get("proposed_by_session_id") or None,
            confirm=data.get("confirm") == "1",
        )
    except book.BookingNeedsConfirmError as warning:
        return render(
            request,
            "web/appointment_confirm.html",
            {
                "patient": patients.read_patient(actor, patient_id),
                "warnings": warning.warnings,
                "values": [(n, data.get(n, "")) for n in BOOKING_FIELDS if data.get(n)],
                "action": request.path,
                "back": back,
                "when": starts,
                "minutes": minutes,
                "indication": present.indication_short(data.get("indication", "")),
                "nav": "appointments",
            },
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"Not booked: {error.message}")
        return HttpResponseRedirect(back)
    local = present.local(appointment.starts_at, actor.clinic.time_zone)
    messages.success(request, f"Booked for {local:%A %-d %B %Y at %H:%M}.")
    return HttpResponseRedirect(back)


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("POST",))
def book_appointment(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    back = local_path(request.POST.get("next", ""), f"/patients/{patient_id}/#appointments")
    return _book(request, actor, patient_id, back)


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("GET", "POST"))
def new_appointment(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Book from a slot of the week view: the time is the slot's; find the patient by name or
    record number, then the treatment, injector and length."""
    tz = actor.clinic.time_zone
    # A name or record number travels in the body, never in the address (DESIGN 3.4).
    searching = request.method == "POST" and "q" in request.POST
    if request.method == "POST" and not searching:
        patient_id = _uuid_text(request.POST.get("patient_id", ""))
        starts_raw = request.POST.get("starts_at", "")
        if not patient_id:
            messages.error(request, "Not booked: find and choose the patient first.")
            return HttpResponseRedirect("/appointments/new?" + urlencode({"at": starts_raw}))
        try:
            day = parse_local(starts_raw, tz).date()
        except ValidationError:
            day = present.clinic_today(tz)
        return _book(request, actor, patient_id, f"/appointments/?day={day.isoformat()}")
    raw_at = (request.POST if searching else request.GET).get("at", "")
    try:
        at = parse_local(raw_at, tz) if raw_at else None
    except ValidationError:
        at = None
    query = request.POST.get("q", "").strip()[:100] if searching else ""
    chosen = _uuid_text(request.GET.get("patient", ""))
    found = patients.list_patients(actor, query)[:20] if query else []
    patient = patients.read_patient(actor, chosen) if chosen else None
    return render(
        request,
        "web/appointment_new.html",
        {
            "at": at,
            "at_input": at.strftime("%Y-%m-%dT%H:%M") if at else "",
            "query": query,
            "found": found,
            "patient": patient,
            "indications": [(i.code, i.name) for i in catalog().indications.values()],
            "injectors": injectors(actor),
            "week_of": at.date().isoformat() if at else "",
            "nav": "appointments",
        },
    )


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("POST",))
def appointment_status(request: HttpRequest, actor: Actor, appointment_id: UUID) -> HttpResponse:
    try:
        book.set_status(actor, appointment_id, request.POST.get("status", ""))
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error.message)
    return HttpResponseRedirect(local_path(request.POST.get("next", ""), "/appointments/"))


def _filters(request: HttpRequest, actor: Actor) -> dict[str, Any]:
    data = request.POST if request.method == "POST" else request.GET
    try:
        days = int(data.get("days") or 30)
    except ValueError:
        days = 30
    injector = data.get("injector", "")
    try:
        injector_id = UUID(injector) if injector else None
    except ValueError:
        injector_id = None
    return {"days": days, "indication": data.get("indication") or None, "injector_id": injector_id}


def _filter_query(filters: dict[str, Any]) -> str:
    query = {"days": filters["days"]}
    if filters["indication"]:
        query["indication"] = filters["indication"]
    if filters["injector_id"]:
        query["injector"] = str(filters["injector_id"])
    return urlencode(query)


@clinic_view(Perm.CHART_READ, methods=("GET", "POST"))
def reminder_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    """GET: who is due within N days with nothing booked. POST ``action=preview``: every e-mail
    as it would go, nothing sent; POST ``action=send`` (from the preview): send them, refused if
    they changed since."""
    filters = _filters(request, actor)
    error = ""
    if request.method == "POST":
        if not actor.membership.can(Perm.DEMOGRAPHICS_WRITE):
            raise PermissionDenied("sending reminders needs the right to contact patients")
        back = f"/reminders/?{_filter_query(filters)}"
        chosen = request.POST.getlist("patient")
        try:
            ids = {UUID(p) for p in chosen}
        except ValueError:
            messages.error(request, "No reminder sent: the selection was not understood.")
            return HttpResponseRedirect(back)
        if not ids:
            messages.error(request, "No reminder sent: tick the patients to remind first.")
            return HttpResponseRedirect(back)
        try:
            if request.POST.get("action") != "send":
                return _preview(request, actor, filters, ids)
            report = reminders.send_reminders(
                actor, patient_ids=ids, previewed=request.POST.get("previewed", ""), **filters
            )
            messages.success(
                request,
                f"{len(report.sent)} reminder{'s' if len(report.sent) != 1 else ''} sent"
                + (f", {len(report.failed)} refused by the mail server" if report.failed else "")
                + (f"; {len(report.skipped)} not e-mailed" if report.skipped else "")
                + ".",
            )
        except ServiceError as service_error:
            if service_error.status in (403, 404):
                raise
            messages.error(request, f"No reminder sent: {service_error.message}.")
        return HttpResponseRedirect(back)
    rows = []
    try:
        found = reminders.reminder_list(actor, **filters)
    except ServiceError as service_error:
        if service_error.status in (403, 404):
            raise
        error, found = service_error.message, []
    for c in found:
        rows.append(
            {
                "c": c,
                "r": c.row,
                "indication": present.indication_short(c.row.due.indication),
                "product": present.brand(c.row.due.product),
            }
        )
    cat = catalog()
    indication = filters["indication"] or ""
    subject, body = reminders.template_for(actor.clinic, indication or "glabellar-lines")
    return render(
        request,
        "web/reminders.html",
        {
            "rows": rows,
            "days": filters["days"],
            "indication": indication,
            "injector": str(filters["injector_id"] or ""),
            "indications": [(i.code, i.name) for i in cat.indications.values()],
            "injectors": injectors(actor),
            "query": request.GET.urlencode(),
            "can_send": actor.membership.can(Perm.DEMOGRAPHICS_WRITE),
            "sender": reminders.sender_of(actor.clinic),
            "no_sender": reminders.NO_SENDER,
            "can_manage": actor.membership.can(Perm.USERS_MANAGE),
            "subject": subject,
            "body": body,
            "template_indication": indication or "glabellar-lines",
            "template_indication_name": present.indication_short(indication or "glabellar-lines"),
            "placeholders": reminders.PLACEHOLDERS,
            "error": error,
            "nav": "reminders",
        },
    )


def _preview(
    request: HttpRequest, actor: Actor, filters: dict[str, Any], ids: set[UUID]
) -> HttpResponse:
    preview = reminders.preview_reminders(actor, patient_ids=ids, **filters)
    return render(
        request,
        "web/reminder_preview.html",
        {
            "preview": preview,
            "drafts": [
                {
                    "d": d,
                    "r": d.candidate.row,
                    "indication": present.indication_short(d.candidate.row.due.indication),
                }
                for d in preview.drafts
            ],
            "skipped": [(c.row, why) for c, why in preview.skipped],
            "days": filters["days"],
            "indication": filters["indication"] or "",
            "injector": str(filters["injector_id"] or ""),
            "back": f"/reminders/?{_filter_query(filters)}",
            "no_sender": reminders.NO_SENDER,
            "nav": "reminders",
        },
    )


@clinic_view(Perm.CHART_READ)
def reminder_csv(request: HttpRequest, actor: Actor) -> HttpResponse:
    text = reminders.export_csv(actor, **_filters(request, actor))
    response = HttpResponse(text, content_type=MEDIA_TYPE)
    today = present.clinic_today(actor.clinic.time_zone)
    response["Content-Disposition"] = content_disposition(f"due-reminders-{today}.csv")
    return response


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("POST",))
def reminder_template(request: HttpRequest, actor: Actor) -> HttpResponse:
    indication = request.POST.get("indication", "")
    try:
        reminders.save_template(
            actor,
            indication=indication,
            subject=request.POST.get("subject", ""),
            body=request.POST.get("body", ""),
        )
        messages.success(
            request, f"Reminder for {present.indication_short(indication).lower()} saved."
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"Not saved: {error.message}")
    return HttpResponseRedirect(f"/reminders/?indication={indication}#template")

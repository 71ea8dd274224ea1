"""The appointment book, booking (from the patient page or from the next-visit proposal after a
signing), status changes, and reminders: who is due with nothing booked, e-mails, the CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.charting.models import APPOINTMENT_STATUSES
from bontrack.charting.services import appointments as book
from bontrack.charting.services import reminders
from bontrack.core.csvfiles import MEDIA_TYPE, content_disposition
from bontrack.domain.catalog import catalog
from bontrack.treatments.errors import ServiceError
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.charting import wall
from bontrack.web.forms import parse_local
from bontrack.web.views.consent_forms import local_path


def injectors(actor: Actor) -> list[Membership]:
    return list(
        Membership.objects.select_related("user")
        .filter(
            clinic_id=actor.membership.clinic_id,
            active=True,
            role__in=("prescriber", "nurse-injector"),
        )
        .order_by("user__last_name", "user__username")
    )


def _day(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


@clinic_view(Perm.DEMOGRAPHICS_READ)
def appointment_book(request: HttpRequest, actor: Actor) -> HttpResponse:
    today = present.clinic_today(actor.clinic.time_zone)
    day = _day(request.GET.get("day", ""), today)
    rows = book.appointments_between(actor, day, 7)
    tz = actor.clinic.time_zone
    days: dict[date, list[dict[str, Any]]] = {day + timedelta(days=n): [] for n in range(7)}
    for a in rows:
        local = wall(a.starts_at, tz)
        assert local is not None
        days.setdefault(local.date(), []).append(
            {
                "a": a,
                "time": local,
                "indication": present.indication_short(a.indication),
                "injector": a.injector.display_name if a.injector else "",
            }
        )
    return render(
        request,
        "web/appointments.html",
        {
            "day": day,
            "today": today,
            "previous": day - timedelta(days=7),
            "following": day + timedelta(days=7),
            "days": list(days.items()),
            "statuses": APPOINTMENT_STATUSES,
            "can_write": actor.membership.can(Perm.DEMOGRAPHICS_WRITE),
            "nav": "appointments",
        },
    )


@clinic_view(Perm.DEMOGRAPHICS_WRITE, methods=("POST",))
def book_appointment(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    data = request.POST
    back = local_path(data.get("next", ""), f"/patients/{patient_id}/#appointments")
    try:
        starts = parse_local(data.get("starts_at", ""), actor.clinic.time_zone)
        appointment = book.book_appointment(
            actor,
            patient_id,
            indication=data.get("indication", ""),
            starts_at=starts,
            minutes=int(data.get("minutes") or 30),
            injector_id=data.get("injector_id") or None,
            notes=data.get("notes", ""),
            proposed_by_session_id=data.get("proposed_by_session_id") or None,
        )
        local = present.local(appointment.starts_at, actor.clinic.time_zone)
        messages.success(request, f"Booked for {local:%A %-d %B %Y at %H:%M}.")
    except (ValidationError, ValueError):
        messages.error(request, "Not booked: give a date and time.")
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"Not booked: {error.message}")
    return HttpResponseRedirect(back)


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


@clinic_view(Perm.CHART_READ, methods=("GET", "POST"))
def reminder_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    """GET: who is due within N days with nothing booked. POST: send the e-mails."""
    filters = _filters(request, actor)
    error = ""
    if request.method == "POST":
        chosen = request.POST.getlist("patient")
        try:
            ids = {UUID(p) for p in chosen} if chosen else None
            report = reminders.send_reminders(actor, patient_ids=ids, **filters)
            messages.success(
                request,
                f"{len(report.sent)} reminder{'s' if len(report.sent) != 1 else ''} sent"
                + (f", {len(report.failed)} refused by the mail server" if report.failed else "")
                + (f"; {len(report.skipped)} not e-mailed" if report.skipped else "")
                + ".",
            )
        except ValueError:
            messages.error(request, "No reminder sent: the selection was not understood.")
        except ServiceError as service_error:
            if service_error.status in (403, 404):
                raise
            messages.error(request, f"No reminder sent: {service_error.message}")
        query = f"?days={filters['days']}"
        if filters["indication"]:
            query += f"&indication={filters['indication']}"
        if filters["injector_id"]:
            query += f"&injector={filters['injector_id']}"
        return HttpResponseRedirect(f"/reminders/{query}")
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
    subject, body = reminders.template_for(
        actor.membership.clinic_id, indication or "glabellar-lines"
    )
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
            "subject": subject,
            "body": body,
            "template_indication": indication or "glabellar-lines",
            "template_indication_name": present.indication_short(indication or "glabellar-lines"),
            "placeholders": reminders.PLACEHOLDERS,
            "error": error,
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

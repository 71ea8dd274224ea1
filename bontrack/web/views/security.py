"""The pages of issue 8: your account (sessions, API tokens, second factor), break-glass, the
audit report with its CSV, a patient's accounting of disclosures, and requests to amend.

Every view declares what it needs: ``clinic_view(Perm.X)`` (web/access.py) or ``signed_in_view``
(a signed-in user, whatever their clinic: one's own account). The break-glass form itself is
``web/break_glass.py``, which every page shows for a restricted chart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from bontrack.access import AMENDMENT_REQUEST, access
from bontrack.accounts.models import ApiToken
from bontrack.accounts.permissions import Perm
from bontrack.audit.models import ACTIONS
from bontrack.audit.services import Actor, record_security_event
from bontrack.core.addresses import client_ip
from bontrack.core.csvfiles import csv_response
from bontrack.core.errors import ServiceError
from bontrack.patients.services import read_patient
from bontrack.security import services
from bontrack.security.policy import has_second_factor, mfa_required
from bontrack.security.routes import PUBLIC, SIGNED_IN, declare
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession
from bontrack.web import present
from bontrack.web.access import clinic_time, clinic_view, current_membership
from bontrack.web.break_glass import break_glass_form
from bontrack.web.forms import parse_local

View = TypeVar("View", bound=Callable[..., HttpResponse])


def signed_in_view(methods: tuple[str, ...] = ("GET",)) -> Callable[[View], View]:
    """A page about the signed-in user themself (their sessions and tokens): no clinic role."""

    def decorate(view: View) -> View:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = current_membership(request)
            if membership is not None:  # the navigation of the clinic the user is acting in
                request.actor = Actor(membership, client_ip(request))  # type: ignore[attr-defined]
            with clinic_time(membership):
                return view(request, *args, **kwargs)

        inner.permission = SIGNED_IN  # type: ignore[attr-defined]
        return require_http_methods(list(methods))(inner)  # type: ignore[return-value]

    return decorate


# --- Your account ------------------------------------------------------------------------------


@signed_in_view()
def account(request: HttpRequest) -> HttpResponse:
    sessions = [
        {"session": s, "current": s.session_key == request.session.session_key}
        for s in UserSession.objects.purge_and_list(request.user)
    ]
    sessions.sort(key=lambda row: row["session"].created_at, reverse=True)
    tokens = (
        ApiToken.objects.filter(membership__user=request.user)
        .select_related("membership__clinic")
        .order_by("-created_at")
    )
    now = timezone.now()
    return render(
        request,
        "security/account.html",
        {
            "sessions": sessions,
            "tokens": [
                {
                    "token": t,
                    "state": "revoked"
                    if t.revoked_at
                    else ("expired" if t.expires_at <= now else "active"),
                }
                for t in tokens
            ],
            "second_factor": has_second_factor(request.user),
            "mfa_required": mfa_required(request.user),
            "nav": "account",
        },
    )


@signed_in_view(methods=("POST",))
def end_session(request: HttpRequest, session_id: int) -> HttpResponse:
    found = UserSession.objects.filter(user=request.user, pk=session_id).first()
    if found is None:
        raise Http404("no session of yours with that id")
    if found is not None:
        current = found.session_key == request.session.session_key
        record_security_event(
            "session-ended",
            username=request.user.get_username(),
            user_id=request.user.pk,
            address=client_ip(request),
            session=found.pk,
            ip=found.ip,
        )
        found.end()
        if current:
            return HttpResponseRedirect("/login/")
        messages.success(request, "That session has ended.")
    return HttpResponseRedirect("/account/")


@signed_in_view(methods=("POST",))
def revoke_token(request: HttpRequest, token_id: UUID) -> HttpResponse:
    found = ApiToken.objects.filter(membership__user=request.user, id=token_id).first()
    if found is None:
        raise Http404("no token of yours with that id")
    if found.revoked_at is None:
        ApiToken.objects.filter(pk=found.pk).update(revoked_at=timezone.now())
        record_security_event(
            "token-revoked",
            username=request.user.get_username(),
            user_id=request.user.pk,
            clinic_id=found.membership.clinic_id,
            address=client_ip(request),
            token=found.prefix,
        )
        messages.success(request, f"The token {found.name} is revoked.")
    return HttpResponseRedirect("/account/")


# --- Break-glass -------------------------------------------------------------------------------


@clinic_view(Perm.CHART_READ, methods=("GET", "POST"))
def break_glass(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    if request.method == "POST":
        try:
            services.break_glass(actor, patient_id, request.POST.get("reason", ""))
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            return break_glass_form(request, actor, patient_id, error.message, status=400)
        messages.warning(
            request,
            "You opened a restricted chart (break-glass). Your reason is in the audit trail and "
            "your clinic's administrator sees it.",
        )
        return HttpResponseRedirect(f"/patients/{patient_id}/")
    return break_glass_form(request, actor, patient_id)


# --- The audit report --------------------------------------------------------------------------

PAGE_SIZE = 100


def _moment(data: Any, name: str, tz: str, problems: list[str]) -> datetime | None:
    """A filter's date and time, read in the clinic's time zone; a bad one joins ``problems``."""
    text = data.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_local(text, tz)
    except ValidationError:
        problems.append(f"{name}: give a date and time, e.g. 2026-11-25T09:30")
        return None


def _audit_query(request: HttpRequest, actor: Actor) -> tuple[services.AuditQuery, list[str]]:
    data, problems, tz = request.GET, [], actor.clinic.time_zone
    patient_id = None
    if data.get("patient", "").strip():
        try:
            patient_id = UUID(data["patient"].strip())
        except ValueError:
            problems.append("patient: give the patient's id (from their page's address)")
    query = services.AuditQuery(
        since=_moment(data, "since", tz, problems),
        until=_moment(data, "until", tz, problems),
        user=data.get("user", "").strip()[:150],
        patient_id=patient_id,
        action=data.get("action", "").strip(),
        data=data.get("data", "").strip()[:64],
        address=data.get("address", "").strip()[:64],
        sort=data.get("sort", "-time").strip() or "-time",
    )
    problems.extend(f"{field}: {message}" for field, message in query.problems())
    return query, problems


@clinic_view(Perm.AUDIT_READ)
def audit_report(request: HttpRequest, actor: Actor) -> HttpResponse:
    query, problems = _audit_query(request, actor)
    entries: list[Any] = []
    total = 0
    page = (
        max(1, int(request.GET.get("page", "1") or 1))
        if request.GET.get("page", "1").isdigit()
        else 1
    )
    if not problems:
        found = services.audit_entries(actor, query)
        total = found.count()
        entries = list(found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    params = {k: v for k, v in request.GET.items() if k not in ("sort", "page") and v}
    columns = []
    for key, label in (
        ("time", "Time"),
        ("user", "User"),
        ("role", "Role"),
        ("patient", "Patient"),
        ("action", "Action"),
        ("data", "Data"),
        ("object", "Object"),
        ("address", "Address"),
    ):
        current = query.sort.lstrip("-") == key
        descending = query.sort.startswith("-")
        next_sort = ("" if current and descending else "-") + key
        columns.append(
            {
                "label": label,
                "href": "?" + urlencode({**params, "sort": next_sort}),
                "current": current,
                "arrow": ("↓" if descending else "↑") if current else "",
            }
        )
    return render(
        request,
        "security/audit.html",
        {
            "entries": entries,
            "total": total,
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "prev_href": "?" + urlencode({**params, "sort": query.sort, "page": page - 1}),
            "next_href": "?" + urlencode({**params, "sort": query.sort, "page": page + 1}),
            "csv_href": "/audit/export.csv?" + urlencode({**params, "sort": query.sort}),
            "columns": columns,
            "problems": problems,
            "values": request.GET,
            "actions": ACTIONS,
            "break_glass": services.break_glass_accesses(actor, limit=50),
            "tz": actor.clinic.time_zone,
            "nav": "audit",
        },
    )


@clinic_view(Perm.AUDIT_READ)
def audit_export(request: HttpRequest, actor: Actor) -> HttpResponse:
    query, problems = _audit_query(request, actor)
    if problems:
        messages.error(request, "The export was not made: " + "; ".join(problems))
        return HttpResponseRedirect("/audit/?" + request.GET.urlencode())
    rows = services.audit_rows(services.audit_entries(actor, query))
    services.record_audit_export(actor, query, len(rows))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_response(f"audit-{stamp}.csv", services.AUDIT_COLUMNS, rows)


# --- The accounting of disclosures -------------------------------------------------------------

DISCLOSURE_COLUMNS = ("seq", "time", "user", "role", "how", "what", "data", "object", "address")


@clinic_view(Perm.AUDIT_READ)
def disclosures(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    patient, found = services.disclosures(actor, patient_id)
    day = present.clinic_today(actor.clinic.time_zone)
    return render(
        request,
        "security/disclosures.html",
        {
            "banner": present.patient_banner(patient, day, False),
            "patient": patient,
            "rows": [services.disclosure_row(e) for e in found],
            "nav": "patients",
        },
    )


@clinic_view(Perm.AUDIT_READ)
def disclosures_csv(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    patient, found = services.disclosures(actor, patient_id)
    rows = []
    for e in found:
        row = services.disclosure_row(e)
        rows.append(
            [
                row["seq"],
                row["at"].isoformat(),
                row["user"],
                row["role"],
                row["how"],
                row["what"],
                row["data"],
                row["object_id"],
                row["address"],
            ]
        )
    return csv_response(f"disclosures-{patient.record_number}.csv", DISCLOSURE_COLUMNS, rows)


# --- Requests to amend -------------------------------------------------------------------------


@clinic_view(Perm.CHART_READ, methods=("GET", "POST"))
def amendments(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            session_id = request.POST.get("session_id", "").strip() or None
            received = request.POST.get("received_on", "").strip()
            services.record_amendment_request(
                actor,
                patient_id,
                request=request.POST.get("request", ""),
                received_on=datetime.strptime(received, "%Y-%m-%d").date()  # noqa: DTZ007
                if received
                else present.clinic_today(actor.clinic.time_zone),
                session_id=UUID(session_id) if session_id else None,
            )
            messages.success(request, "The request is recorded.")
            return HttpResponseRedirect(f"/patients/{patient_id}/amendments")
        except ValueError:
            error = "Give the date as YYYY-MM-DD and pick the session from the list."
        except ServiceError as service_error:
            if service_error.status in (403, 404):
                raise
            error = service_error.message
    found = services.amendment_requests(actor, patient_id)
    patient = read_patient(actor, patient_id)
    day = present.clinic_today(actor.clinic.time_zone)
    return render(
        request,
        "security/amendments.html",
        {
            "banner": present.patient_banner(patient, day, True),
            "patient": patient,
            "requests": found,
            "error": error,
            "today": day,
            "sessions": TreatmentSession.objects.filter(
                clinic_id=patient.clinic_id, patient=patient, signed_at__isnull=False
            ).order_by("-plan_date"),
            "amendments": SessionEvent.objects.filter(
                clinic_id=patient.clinic_id,
                session__clinic_id=patient.clinic_id,
                session__patient=patient,
                kind=SessionEventKind.AMENDED,
            ).order_by("-at"),
            "can_record": actor.membership.can(Perm.DEMOGRAPHICS_WRITE),
            "can_decide": actor.membership.can(Perm.CORRECT),
            "nav": "patients",
        },
        status=400 if error else 200,
    )


@clinic_view(Perm.CORRECT, methods=("POST",))
def decide_amendment(request: HttpRequest, actor: Actor, request_id: UUID) -> HttpResponse:
    found = access(actor, AMENDMENT_REQUEST, request_id, Perm.CORRECT)
    amendment = request.POST.get("amendment_id", "").strip() or None
    try:
        services.decide_amendment_request(
            actor,
            request_id,
            decision=request.POST.get("decision", ""),
            reason=request.POST.get("reason", ""),
            amendment_id=UUID(amendment) if amendment else None,
        )
        messages.success(request, "The decision is recorded beside the request.")
    except ValueError:
        messages.error(request, "Pick the amendment from the list.")
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, f"Not recorded: {error.message}")
    return HttpResponseRedirect(f"/patients/{found.patient_id}/amendments")


@declare(PUBLIC)
def password_reset_by_admin(request: HttpRequest) -> HttpResponse:
    """No password reset by e-mail: members sign in by user name and their clinic's admin sets
    a new password (a reset link would be a way around the second factor)."""
    return render(request, "security/password_reset.html")


# --- The security log of the clinic's accounts -------------------------------------------------

FLAGGED_EVENTS = frozenset(
    {
        "sign-in-failed",
        "locked-out",
        "mfa-failed",
        "reauthentication-failed",
        "refused-access",
        "break-glass",
        "sign-in-refused",
        "system-token-refused",
    }
)


def _security_query(request: HttpRequest, actor: Actor) -> tuple[services.SecurityQuery, list[str]]:
    data, problems, tz = request.GET, [], actor.clinic.time_zone

    query = services.SecurityQuery(
        since=_moment(data, "since", tz, problems),
        until=_moment(data, "until", tz, problems),
        user=data.get("user", "").strip()[:150],
        kind=data.get("event", "").strip()[:32],
    )
    problems.extend(f"{field}: {message}" for field, message in query.problems())
    return query, problems


@clinic_view(Perm.AUDIT_READ)
def security_log(request: HttpRequest, actor: Actor) -> HttpResponse:
    query, problems = _security_query(request, actor)
    events: list[Any] = []
    total = 0
    page = int(request.GET["page"]) if request.GET.get("page", "").isdigit() else 1
    page = max(1, page)
    if not problems:
        found = services.security_events(actor, query)
        total = found.count()
        events = list(found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
        services.record_security_log_read(actor, "read", query, len(events))
    params = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(
        request,
        "security/security_log.html",
        {
            "events": [{"e": e, "flagged": e.kind in FLAGGED_EVENTS} for e in events],
            "total": total,
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "prev_href": "?" + urlencode({**params, "page": page - 1}),
            "next_href": "?" + urlencode({**params, "page": page + 1}),
            "csv_href": "/audit/security.csv?" + urlencode(params),
            "problems": problems,
            "values": request.GET,
            "kinds": services.security_kinds(),
            "tz": actor.clinic.time_zone,
            "nav": "audit",
        },
    )


@clinic_view(Perm.AUDIT_READ)
def security_log_export(request: HttpRequest, actor: Actor) -> HttpResponse:
    query, problems = _security_query(request, actor)
    if problems:
        messages.error(request, "The export was not made: " + "; ".join(problems))
        return HttpResponseRedirect("/audit/security/?" + request.GET.urlencode())
    rows = services.security_rows(services.security_events(actor, query))
    services.record_security_log_read(actor, "export", query, len(rows))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_response(f"security-log-{stamp}.csv", services.SECURITY_COLUMNS, rows)

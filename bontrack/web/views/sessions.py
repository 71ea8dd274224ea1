"""A session's page (the plan editor while it is a plan), the signed record, the printable
procedure note and its PDF, co-signature and adverse events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from bontrack.accounts.access import access_session
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.csvfiles import content_disposition
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.planning import reconstitute, use_by, vial_concentration
from bontrack.domain.quantities import Volume
from bontrack.domain.treatment import Injection
from bontrack.domain.units import Units
from bontrack.outcomes.services import record_adverse_event
from bontrack.security.reauth import ReauthenticationError, confirm_identity
from bontrack.treatments import aftercare, corrections, services
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.treatments.records import (
    Point,
    addenda,
    current_notes,
    current_points,
    latest_amendment,
    status_of,
    total_units,
)
from bontrack.treatments.supply import session_draws
from bontrack.web import bodymap, present
from bontrack.web.access import clinic_view
from bontrack.web.charting import session_charting
from bontrack.web.forms import AdverseEventForm, first_error
from bontrack.web.views.corrections import CORRECTABLE
from bontrack.web.views.followup import wear_off_context
from bontrack.web.views.plans import render_editor


@clinic_view(Perm.CHART_READ)
def session_page(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    session = services.read_session(actor, session_id)
    if (
        not session.is_signed
        and status_of(session) == "plan"
        and actor.membership.can(Perm.PLAN_WRITE)
    ):
        return render_editor(request, actor, session)
    return render(
        request,
        "web/session.html",
        {
            **record_context(actor, session.id),
            **wear_off_context(actor, session),
            **session_charting(actor, session, timezone.now()),  # issue 9: next visit, photos
        },
    )


def _names(clinic_id: Any, ids: set[Any]) -> dict[str, str]:
    members = Membership.objects.select_related("user").filter(clinic_id=clinic_id, id__in=ids)
    return {str(m.id): m.display_name for m in members}


def _volumes(session: TreatmentSession, points: list[Point]) -> dict[int, str]:
    opened = [
        u.vial
        for u in session.session_vials.all()
        if u.vial.diluent_ml is not None and u.vial.lot.product == session.product
    ]
    if not opened or not points:
        return {}
    product = catalog().products[session.product]
    vial = opened[0]
    done = reconstitute(
        product,
        Units(product.code, vial.lot.vial_size_units),
        Volume(vial.diluent_ml),
        tuple(Injection(p.site, p.side, Units(session.product, p.units), p.route) for p in points),
    )
    return {n: str(pv.volume) for n, pv in enumerate(done.points)}


def _grouped(points: list[Point], volumes: dict[int, str]) -> list[dict[str, Any]]:
    """Points of one site, side, dose and route on one line (PREEMPT's 4 temporalis points)."""
    groups: dict[tuple[str, str, Any, str], dict[str, Any]] = {}
    for n, p in enumerate(points):
        key = (p.site, p.side, p.units, p.route)
        row = groups.setdefault(
            key,
            {
                "label": bodymap.site_label(p.site, p.side),
                "route": p.route,
                "each": present.units(p.units),
                "volume": volumes.get(n, ""),
                "count": 0,
                "units": p.units * 0,
            },
        )
        row["count"] += 1
        row["units"] += p.units
    return [{**row, "units": present.units(row["units"])} for row in groups.values()]


def record_context(actor: Actor, session_id: UUID | str) -> dict[str, Any]:
    """Everything the signed-session page and the procedure note show."""
    session = (
        TreatmentSession.objects.select_related(
            "patient", "clinic", "injector__user", "signed_by__user", "planned_by__user"
        )
        .prefetch_related("injections", "events__by__user", "session_vials__vial__lot")
        .get(pk=session_id)
    )
    tz = session.clinic.time_zone
    cat = catalog()
    product = cat.products.get(session.product)
    events = list(session.events.all())
    status = status_of(session, events)
    points = current_points(session, events)
    volumes = _volumes(session, points)
    findings = session.check_result.get("findings", [])
    deciders = {(f.get("decision") or {}).get("by") for f in findings} - {None}
    names = _names(session.clinic_id, deciders)
    vials = []
    uses = list(session.session_vials.all())
    # What each vial gave this session as it now stands (an amendment's draws, none once the
    # session is entered in error with the toxin not given): B.30.
    draws = session_draws(uses, events) if session.is_signed else {}
    for use in uses:
        vial, lot = use.vial, use.vial.lot
        concentration = ""
        if vial.diluent_ml is not None and product is not None:
            concentration = str(
                vial_concentration(
                    product, Units(product.code, lot.vial_size_units), Volume(vial.diluent_ml)
                )
            )
        vials.append(
            {
                "lot": lot,
                "size": present.units(lot.vial_size_units),
                "diluent": present.units(vial.diluent_ml) if vial.diluent_ml is not None else "",
                "reconstituted_at": present.local(vial.reconstituted_at, tz),
                "use_by": present.local(use_by(product, vial.reconstituted_at), tz)
                if product is not None and vial.reconstituted_at is not None
                else None,
                "concentration": concentration,
                "recalled": lot.recalled_at is not None,
                "drawn": present.units(draws[str(vial.id)]) if str(vial.id) in draws else "",
            }
        )
    co_signed = [e for e in events if e.kind == "co-signed"]
    day = present.clinic_today(tz)
    total = total_units(points)
    amended = [e for e in events if e.kind == "amended"]
    return {
        "session": session,
        "status": status,
        "status_words": present.STATUS_WORDS.get(status, status),
        "banner": present.patient_banner(session.patient, day, True),
        "patient": session.patient,
        "indication_name": present.indication_name(session.indication),
        "product_name": present.product_name(session.product),
        "protocol_name": present.protocol_name(session.protocol) if session.protocol else "",
        "points": points,
        "point_groups": _grouped(points, volumes),
        "total": present.units(total),
        "guidance_words": present.GUIDANCE_WORDS.get(session.guidance, session.guidance),
        "weight": _weight_of_record(session, total),
        "views": [
            v for v in bodymap.views([(p.site, p.side, p.units) for p in points]) if v.markers
        ],
        "vials": vials,
        "findings": [
            {
                **f,
                "severity_words": present.SEVERITY_WORDS.get(f["severity"], f["severity"]),
                "decided_by": names.get((f.get("decision") or {}).get("by", ""), ""),
                "site_names": [bodymap.site_label(s["site"], s["side"]) for s in f["sites"]],
            }
            for f in findings
        ],
        "verdict": session.check_result.get("verdict", ""),
        "verdict_words": present.VERDICT_WORDS.get(session.check_result.get("verdict", ""), ""),
        "administered_at": present.local(session.administered_at, tz),
        "signed_at": present.local(session.signed_at, tz),
        "injector": session.injector.display_name if session.injector else "",
        "injector_role": session.injector.role if session.injector else "",
        "signer": session.signed_by.display_name if session.signed_by else "",
        "co_signer": co_signed[-1].by.display_name if co_signed else "",
        "co_signed_at": present.local(co_signed[-1].at, tz) if co_signed else None,
        "events": [
            {"event": e, "by": e.by.display_name, "at": present.local(e.at, tz)} for e in events
        ],
        "amended": bool(amended),
        "intact": services.verify_digest(session) if session.is_signed else None,
        "adverse_events": [
            {"event": e, "term": cat.adverse_event_terms[e.term].name}
            for e in session.adverse_events.order_by("-onset_date")
        ],
        **_correction_context(actor, session, status, events),
        "can_report": session.is_signed and actor.membership.can(Perm.PLAN_WRITE),
        "notes": current_notes(session, events),
        "clinic": session.clinic,
        "nav": "patients",
        "printed_at": present.local(timezone.now(), tz),
    }


def _weight_of_record(session: TreatmentSession, total: Any) -> dict[str, str] | None:
    """The weight a weight-based rule read at signing, and the record's units per kg as it now
    stands (an amendment's total)."""
    if session.weight_kg is None:
        return None
    return {
        "kg": present.units(session.weight_kg),
        "measured_on": session.weight_measured_on.strftime("%-d %b %Y")
        if session.weight_measured_on
        else "",
        "per_kg": present.units(services.units_per_kg(total, session.weight_kg)),
    }


def _correction_context(
    actor: Actor, session: TreatmentSession, status: str, events: list[SessionEvent]
) -> dict[str, Any]:
    """Who may correct, co-sign or add to this record (B.33, DESIGN 3.4), its addenda, its
    correction requests and the check of its latest amendment (kept for information)."""
    tz = session.clinic.time_zone
    member = actor.membership
    co_signing = services.co_signers(session) if status == "awaiting-co-signature" else None
    latest = latest_amendment(events)
    amendment_check = (latest.data.get("check") or {}) if latest is not None else {}
    return {
        "can_co_sign": co_signing is not None
        and member.can(Perm.OVERRIDE)
        and co_signing.includes(member),
        "co_signers": ", ".join(m.display_name for m in co_signing.members) if co_signing else "",
        "co_sign_why": co_signing.why if co_signing else "",
        "can_correct": status in CORRECTABLE and member.can(Perm.CORRECT),
        "can_request_correction": status in CORRECTABLE
        and member.can(Perm.SIGN)
        and not member.can(Perm.CORRECT),
        "can_add_addendum": session.is_signed and session.injector_id == member.id,
        "addenda": [
            {"text": e.data.get("text", ""), "by": e.by.display_name, "at": present.local(e.at, tz)}
            for e in addenda(events)
        ],
        "correction_requests": [
            {
                "request": r,
                "status": corrections.status_of_request(r),
                "by": r.by.display_name,
                "at": present.local(r.at, tz),
            }
            for r in corrections.requests_of_session(session)
        ]
        if session.is_signed and member.can(Perm.CHART_READ)
        else [],
        "amendment_check": amendment_check,
    }


@clinic_view(Perm.CHART_READ)
def note(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    session = services.read_session(actor, session_id, action="print")
    return render(request, "web/note.html", {**record_context(actor, session.id), "pdf": False})


@clinic_view(Perm.CHART_READ)
def aftercare_sheet(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """The page the patient takes home: what was done today, what to watch for, whom to call
    (data/aftercare.toml, each item with its source)."""
    session = services.read_session(actor, session_id, action="print")
    context = record_context(actor, session.id)
    return render(
        request,
        "web/aftercare.html",
        {
            **context,
            "sheet": aftercare.sheet(session.indication),
            "brand": present.brand(session.product),
        },
    )


def _stylesheet() -> str:
    found = finders.find("web/app.css")
    if not found:
        return ""
    with open(found, encoding="utf-8") as handle:
        return handle.read()


@clinic_view(Perm.CHART_READ)
def note_pdf(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    from weasyprint import HTML  # a heavy import, only where a PDF is made

    session = services.read_session(actor, session_id, action="print")
    html = render_to_string(
        "web/note.html",
        {**record_context(actor, session.id), "pdf": True, "stylesheet": _stylesheet()},
        request=request,
    )
    pdf = HTML(string=html, base_url=None).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"procedure-note-{session.plan_date.isoformat()}-{str(session.id)[:8]}.pdf"
    response["Content-Disposition"] = content_disposition(name, "inline")
    return response


@clinic_view(Perm.OVERRIDE, methods=("POST",))
def co_sign(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    access_session(actor, session_id, Perm.OVERRIDE)  # another clinic's id: 404, nothing asked
    try:
        confirm_identity(request, "co-sign this session")
    except ReauthenticationError as failed:
        if failed.ended:
            return HttpResponseRedirect("/login/")
        messages.error(request, f"Not co-signed: {failed.message}")
        return HttpResponseRedirect(f"/sessions/{session_id}/")
    try:
        services.co_sign(actor, session_id)
        messages.success(request, "Co-signed.")
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error.message)
    return HttpResponseRedirect(f"/sessions/{session_id}/")


@clinic_view(Perm.PLAN_WRITE, methods=("GET", "POST"))
def adverse_event(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
    day = present.clinic_today(session.clinic.time_zone)
    error = ""
    if request.method == "POST":
        form = AdverseEventForm(request.POST)
        if form.is_valid():
            try:
                record_adverse_event(actor, session_id, **form.cleaned_data)
                messages.success(request, "Adverse event recorded.")
                return HttpResponseRedirect(f"/sessions/{session_id}/#adverse-events")
            except ServiceError as service_error:
                if service_error.status in (403, 404):
                    raise
                error = service_error.message
        else:
            error = first_error(form)
    else:
        form = AdverseEventForm(
            initial={"onset_date": day, "relatedness": "possible", "outcome": "recovering"}
        )
    return render(
        request,
        "web/adverse_event.html",
        {
            "session": session,
            "banner": present.patient_banner(session.patient, day, True),
            "indication_name": present.indication_name(session.indication),
            "product_name": present.product_name(session.product),
            "form": form,
            "error": error,
            "nav": "patients",
        },
    )

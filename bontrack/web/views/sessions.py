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

from bontrack.access import SESSION, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.csvfiles import content_disposition
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes.services import record_adverse_event
from bontrack.security.reauth import ReauthenticationError, confirm_identity
from bontrack.treatments import aftercare, corrections, reads, services
from bontrack.treatments.records import COUNTING_STATUSES, SessionStatus, status_of
from bontrack.web import bodymap, present
from bontrack.web.access import clinic_view
from bontrack.web.charting import session_charting
from bontrack.web.forms import AdverseEventForm, first_error
from bontrack.web.views.followup import wear_off_context
from bontrack.web.views.plans import render_editor


@clinic_view(Perm.CHART_READ)
def session_page(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    session = services.read_session(actor, session_id)
    if (
        not session.is_signed
        and status_of(session) == SessionStatus.PLAN
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


def _grouped(record: reads.SessionRecord) -> list[dict[str, Any]]:
    """Points of one site, side, dose and route on one line (PREEMPT's 4 temporalis points)."""
    groups: dict[tuple[str, str, Any, str], dict[str, Any]] = {}
    for n, p in enumerate(record.points):
        key = (p.site, p.side, p.units, p.route)
        volume = record.vials.volume_of_point(n)
        row = groups.setdefault(
            key,
            {
                "site": p.site,
                "side": p.side,
                "label": bodymap.site_label(p.site, p.side),
                "route": p.route,
                "each": present.units(p.units),
                "volume": str(volume) if volume is not None else "",
                "count": 0,
                "units": p.units * 0,
            },
        )
        row["count"] += 1
        row["units"] += p.units
    return [{**row, "units": present.units(row["units"])} for row in groups.values()]


def _vial_row(figures: reads.VialFigures, tz: str) -> dict[str, Any]:
    vial, lot = figures.vial, figures.vial.lot
    return {
        "vial": vial,
        "lot": lot,
        "size": present.units(lot.vial_size_units),
        "diluent": present.units(vial.diluent_ml) if vial.diluent_ml is not None else "",
        "reconstituted_at": present.local(vial.reconstituted_at, tz),
        "use_by": present.local(figures.use_by, tz),
        "concentration": str(figures.concentration) if figures.concentration is not None else "",
        "recalled": lot.recalled_at is not None,
        # What the vial gives this session as it now stands (B.30).
        "drawn": present.units(figures.drawn) if figures.drawn is not None else "",
    }


def record_context(actor: Actor, session_id: UUID | str) -> dict[str, Any]:
    """Everything the signed-session page and the procedure note show: the record as
    ``treatments.reads`` reads it for the API too, worded for the page."""
    record = reads.session_record(session_id, actor.membership.clinic_id)
    session = record.session
    tz = session.clinic.time_zone
    points = list(record.points)
    co_signature = record.co_signature
    return {
        "session": session,
        "status": record.status,
        "status_words": present.STATUS_WORDS.get(record.status, record.status),
        "banner": present.patient_banner(session.patient, present.clinic_today(tz), True),
        "patient": session.patient,
        "indication_name": present.indication_name(session.indication),
        "product_name": present.product_name(session.product),
        "protocol_name": present.protocol_name(session.protocol) if session.protocol else "",
        "points": points,
        "point_groups": _grouped(record),
        "total": present.units(record.total),
        "guidance_words": present.GUIDANCE_WORDS.get(session.guidance, session.guidance),
        "weight": _weight_words(record.weight),
        "views": [
            v for v in bodymap.views([(p.site, p.side, p.units) for p in points]) if v.markers
        ],
        "vials": [_vial_row(v, tz) for v in record.vials.vials],
        "findings": record.findings,
        "verdict": record.verdict,
        "verdict_words": present.VERDICT_WORDS.get(record.verdict, ""),
        "administered_at": present.local(session.administered_at, tz),
        "signed_at": present.local(session.signed_at, tz),
        "injector": session.injector.display_name if session.injector else "",
        "injector_role": session.injector.role if session.injector else "",
        "signer": session.signed_by.display_name if session.signed_by else "",
        "co_signer": co_signature.by.display_name if co_signature else "",
        "co_signed_at": present.local(co_signature.at, tz) if co_signature else None,
        "events": [
            {"event": e, "by": e.by.display_name, "at": present.local(e.at, tz)}
            for e in record.events
        ],
        "amended": record.amended,
        "intact": services.verify_digest(session) if session.is_signed else None,
        "adverse_events": [
            {"event": e, "term": catalog().adverse_event_terms[e.term].name}
            for e in reads.adverse_events_of(session)
        ],
        **_correction_context(actor, record),
        "can_report": session.is_signed and actor.membership.can(Perm.PLAN_WRITE),
        "notes": record.notes,
        "clinic": session.clinic,
        "nav": "patients",
        "printed_at": present.local(timezone.now(), tz),
    }


def _weight_words(weight: reads.WeightUsed | None) -> dict[str, str] | None:
    """The weight a weight-based rule read at signing, and the record's units per kg as it now
    stands (an amendment's total)."""
    if weight is None:
        return None
    return {
        "kg": present.units(weight.kg),
        "measured_on": weight.measured_on.strftime("%-d %b %Y") if weight.measured_on else "",
        "per_kg": present.units(weight.units_per_kg),
    }


def _correction_context(actor: Actor, record: reads.SessionRecord) -> dict[str, Any]:
    """Who may correct, co-sign or add to this record (B.33, DESIGN 3.4), its addenda, its
    correction requests and the check of its latest amendment (kept for information)."""
    session, status = record.session, record.status
    tz = session.clinic.time_zone
    member = actor.membership
    co_signing = (
        services.co_signers(session) if status == SessionStatus.AWAITING_CO_SIGNATURE else None
    )
    return {
        "can_co_sign": co_signing is not None
        and member.can(Perm.OVERRIDE)
        and co_signing.includes(member),
        "co_signers": ", ".join(m.display_name for m in co_signing.members) if co_signing else "",
        "co_sign_why": co_signing.why if co_signing else "",
        "can_correct": status in COUNTING_STATUSES and member.can(Perm.CORRECT),
        "can_request_correction": status in COUNTING_STATUSES
        and member.can(Perm.SIGN)
        and not member.can(Perm.CORRECT),
        "can_add_addendum": session.is_signed and session.injector_id == member.id,
        "addenda": [
            {"text": e.data.get("text", ""), "by": e.by.display_name, "at": present.local(e.at, tz)}
            for e in record.addenda
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
        "amendment_findings": record.amendment_findings,
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


def note_stylesheet() -> str:
    """The pages' stylesheet, inlined into the procedure note's PDF (no request fetches it)."""
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
        {**record_context(actor, session.id), "pdf": True, "stylesheet": note_stylesheet()},
        request=request,
    )
    pdf = HTML(string=html, base_url=None).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"procedure-note-{session.plan_date.isoformat()}-{str(session.id)[:8]}.pdf"
    response["Content-Disposition"] = content_disposition(name, "inline")
    return response


@clinic_view(Perm.OVERRIDE, methods=("POST",))
def co_sign(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    access(actor, SESSION, session_id, Perm.OVERRIDE)  # another clinic's id: 404, nothing asked
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

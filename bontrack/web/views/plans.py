"""The plan editor: a planned session's points on the body map, totals and volumes, the findings
panel (the same check as the API, at the injection time), decisions, the vial, and signing.

What it shows is the plan workspace (``treatments.workspace``), read once and put into words
here. Every change calls a service (update_plan, load_protocol, decide, reconstitute_vial,
sign_session) and re-renders the workspace partial; without JavaScript the same forms post and
the page reloads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from bontrack.access import SESSION, access
from bontrack.accounts.permissions import INJECTOR_ROLES, Perm
from bontrack.audit.services import Actor
from bontrack.charting.services.consent_forms import current_template
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.inventory import services as inventory
from bontrack.security.reauth import ReauthenticationError, confirm_identity
from bontrack.treatments import aftercare, services, supply
from bontrack.treatments.models import GUIDANCE, TreatmentSession
from bontrack.treatments.reads import WeightUsed
from bontrack.treatments.records import current_points
from bontrack.treatments.workspace import (
    CheckedFinding,
    PlanWorkspace,
    StockChoice,
    VialCount,
    plan_workspace,
    planned_session,
    protocols_for,
)
from bontrack.web import bodymap, present
from bontrack.web.access import clinic_view
from bontrack.web.charting import plan_changes
from bontrack.web.forms import (
    AddPointForm,
    ClinicalForm,
    DecisionForm,
    PointForm,
    ReconstituteForm,
    first_error,
    local_input,
    parse_local,
)


def administered_at(request: HttpRequest, actor: Actor) -> tuple[datetime, str]:
    """The injection time the page is working with (the sign form's field), else now. A time
    more than 5 minutes ahead of the server's clock is refused (B.34): the preview then runs at
    now and says so."""
    raw = request.POST.get("administered_at") or request.GET.get("administered_at") or ""
    now = timezone.now().replace(second=0, microsecond=0)
    if not raw:
        return now, ""
    try:
        at = parse_local(raw, actor.clinic.time_zone)
    except ValidationError as error:
        return now, f"Injection time: {error.messages[0]}"
    try:
        services.refuse_future_injection(at)
    except ServiceError as error:
        return now, f"Injection time: {error.message}"
    return at, ""


def _draws_posted(request: HttpRequest, session_id: UUID) -> list[supply.DrawInput] | None:
    """The sign form's draw per vial (``draw-<vial id>``); none given: None (signing fills them
    in the order the vials were opened)."""
    session = planned_session(session_id)
    items, given = [], False
    for use in session.session_vials.all():
        raw = request.POST.get(f"draw-{use.vial_id}", "").strip()
        units = None
        if raw:
            given = True
            try:
                units = Decimal(raw)
            except ArithmeticError:
                raise ServiceError(
                    f"draw-{use.vial_id}", f"the units drawn must be a number, not {raw!r}"
                ) from None
        items.append(supply.DrawInput(vial_id=use.vial_id, drawn_units=units))
    return items if given else None


def _vial_counts(vials: tuple[VialCount, ...]) -> str:
    """[(100 U, 1), (50 U, 2)] as "1 × 100 U + 2 × 50 U"."""
    return " + ".join(f"{v.count} × {present.units(v.size)} U" for v in vials)


def _choice_words(choice: StockChoice) -> dict[str, str]:
    return {"vials": _vial_counts(choice.vials), "leftover": present.units(choice.leftover)}


def _math(found: PlanWorkspace) -> dict[str, Any]:
    """Totals, concentration, mL and vials in the page's words."""
    math: dict[str, Any] = {"total": present.units(found.total), "points": len(found.points)}
    done, needed, stock = found.reconstituted, found.needed, found.from_stock
    if done is not None:
        math.update(
            concentration=str(done.concentration),
            total_volume=str(done.total_volume),
            vials=done.vials,
            size=present.units(done.size),
            leftover=present.units(done.leftover),
        )
    elif needed is not None:
        math.update(vials=needed.vials, size=present.units(needed.size))
    math.update(
        recommended=_choice_words(stock.recommended) if stock.recommended else None,
        alternatives=[_choice_words(c) for c in stock.alternatives],
        in_stock=present.units(stock.in_stock),
        short_of_stock=stock.short_of_stock,
        stock_sizes=_vial_counts(stock.sizes).replace(" + ", ", "),
    )
    return math


def _finding_shown(checked: CheckedFinding) -> dict[str, Any]:
    f = checked.finding
    return {
        "rule": f.rule,
        "severity": f.severity,
        "severity_words": present.SEVERITY_WORDS.get(f.severity, f.severity),
        "overridable": f.overridable,
        "message": f.message,
        "source": f.source,
        "fingerprint": f.fingerprint,
        "decision": checked.decision,
        "refusal": checked.refusal,
        "site_names": [bodymap.site_label(s.site, s.side) for s in f.sites],
    }


def _weight_shown(weight: WeightUsed | None) -> dict[str, str] | None:
    """A child treated by weight: the weight the check reads and the plan's units per kg."""
    if weight is None:
        return None
    return {
        "kg": present.units(weight.kg),
        "measured_on": weight.measured_on.strftime("%-d %b %Y") if weight.measured_on else "",
        "per_kg": present.units(weight.units_per_kg),
    }


def workspace_context(
    actor: Actor,
    session_id: UUID | str,
    at: datetime,
    *,
    error: str = "",
    sign_error: str = "",
    editing: int | None = None,
    edit_form: PointForm | None = None,
    add_form: AddPointForm | None = None,
) -> dict[str, Any]:
    found = plan_workspace(actor, session_id, at)
    session = found.session
    tz = session.clinic.time_zone
    point_rows = [
        {
            "n": p.n,
            "site": p.site,
            "side": p.side,
            "label": bodymap.site_label(p.site, p.side),
            "units": present.units(p.units),
            "volume": str(p.volume) if p.volume is not None else "",
            "flagged": p.flagged,
        }
        for p in found.points
    ]
    verdict = found.verdict
    return {
        **_consent_links(actor, found),
        "weight": _weight_shown(found.weight),
        "draws": [
            {"vial": d.vial, "units": present.units(d.units), "holds": present.units(d.holds)}
            for d in found.draws
        ],
        "draw_error": found.draw_error,
        "session": session,
        "status": found.status,
        "tz": tz,
        "at": at,
        "at_input": local_input(at, tz),
        "max_input": local_input(timezone.now() + timedelta(minutes=5), tz),
        "verdict": verdict,
        # Decided findings no longer make the banner say "Blocked" (they stay listed below it).
        "verdict_class": f"{verdict} decided" if found.decided else verdict,
        "verdict_words": present.DECIDED_VERDICT_WORDS[verdict]
        if found.decided
        else present.VERDICT_WORDS.get(verdict, verdict),
        "findings": [_finding_shown(f) for f in found.findings],
        "check_error": found.check_error,
        "ready": found.ready,
        "catalog_version": found.catalog_version,
        "math": _math(found),
        "points": point_rows,
        "views": bodymap.views(
            [(p.site, p.side, p.units) for p in found.points],
            found.flagged,
            ghost_sites=found.indication_sites,
            for_touch=True,
        ),
        "opened_vials": [
            {
                "vial": v.vial,
                "chosen": v.chosen,
                "use_by": present.local(v.use_by, tz),
                "use_by_iso": v.use_by.isoformat(),
                "past": v.past,
                "concentration": str(v.concentration) if v.concentration is not None else "",
            }
            for v in found.opened
        ],
        "unopened_lots": [
            {
                "lot": row.lot,
                "count": row.count,
                "dilutions": [present.units(ml) for ml in row.dilutions],
                "suggested_ml": present.units(row.suggested_ml),
            }
            for row in found.unopened
        ],
        "chosen_other": list(found.chosen_other),
        "product_name": present.product_name(session.product),
        "can_override": actor.membership.can(Perm.OVERRIDE),
        "can_sign": actor.membership.can(Perm.SIGN) and actor.membership.role in INJECTOR_ROLES,
        "error": error,
        "sign_error": sign_error,
        "editing": editing,
        "editing_point": point_rows[editing]
        if editing is not None and editing < len(point_rows)
        else None,
        "edit_form": edit_form,
        "add_form": add_form or AddPointForm(),
        "site_groups": _site_groups(list(found.indication_sites)),
        "last_site": point_rows[-1]["site"] if point_rows else "",
    }


def _consent_links(actor: Actor, found: PlanWorkspace) -> dict[str, Any]:
    """Where the consent block leads (B.22): the indication's form to sign on screen, or the
    patient's consents to record a paper one; a clinic with no form for the indication is told
    who publishes one."""
    if not found.consent_needed:
        return {"consent_needed": False}
    session = found.session
    here = f"/sessions/{session.id}/"
    return {
        "consent_needed": True,
        "consent_form_url": (
            f"/patients/{session.patient_id}/consent-form?indication={session.indication}"
            f"&product={session.product}&next={here}"
        ),
        "consent_form_ready": current_template(session.clinic_id, session.indication) is not None,
        "can_publish_forms": actor.membership.can(Perm.FORMS_MANAGE),
        "paper_consent_url": f"/patients/{session.patient_id}/#consents",
    }


def _site_groups(first: list[str]) -> list[tuple[str, list[tuple[str, str, tuple[str, ...]]]]]:
    cat = catalog()
    mine = [(c, cat.sites[c].name, cat.sites[c].sides) for c in first if c in cat.sites]
    rest = [(s.code, s.name, s.sides) for s in cat.sites.values() if s.code not in first]
    groups = []
    if mine:
        groups.append(("Sites for this indication", mine))
    groups.append(("All other sites" if mine else "Sites", rest))
    return groups


def _page_context(actor: Actor, session: TreatmentSession, at: datetime) -> dict[str, Any]:
    day = present.clinic_today(session.clinic.time_zone)
    protocols = [
        (p.id, f"{p.name} ({present.units(p.total)} U, {len(p.points)} points)")
        for p in protocols_for(session.product, session.indication)
    ]
    return {
        **workspace_context(actor, session.id, at),
        "banner": present.patient_banner(session.patient, day, True),
        "indication_name": present.indication_name(session.indication),
        "protocol_name": present.protocol_name(session.protocol) if session.protocol else "",
        "protocols": protocols,
        "nav": "patients",
        **note_context(session),
        **plan_changes(session),  # issue 9: repeat last shows what changed since, first
    }


def render_editor(request: HttpRequest, actor: Actor, session: TreatmentSession) -> HttpResponse:
    at, error = administered_at(request, actor)
    context = _page_context(actor, session, at)
    context["error"] = error
    return render(request, "web/plan.html", context)


def _answer(
    request: HttpRequest, actor: Actor, session_id: UUID, at: datetime, **extra: Any
) -> HttpResponse:
    """htmx: the re-rendered workspace; a plain form post: back to the page."""
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request,
            "web/partials/workspace.html",
            workspace_context(actor, session_id, at, **extra),
        )
    return HttpResponseRedirect(f"/sessions/{session_id}/")


def _reauth_failed(
    request: HttpRequest,
    actor: Actor,
    session_id: UUID,
    at: datetime,
    failed: ReauthenticationError,
    *,
    sign: bool,
) -> HttpResponse:
    """The password or code asked before signing or overriding was wrong: nothing was done.
    Too many times, and the session has ended: to the sign-in page."""
    if failed.ended:
        if request.htmx:  # type: ignore[attr-defined]
            response = HttpResponse(status=204)
            response["HX-Redirect"] = "/login/"
            return response
        return HttpResponseRedirect("/login/")
    if sign:
        return _answer(request, actor, session_id, at, sign_error=failed.message)
    return _answer(request, actor, session_id, at, error=failed.message)


def _refused(error: ServiceError) -> str:
    if error.status in (403, 404):
        raise error
    return error.message


def _points_of(actor: Actor, session_id: UUID) -> list[services.PointInput]:
    session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
    return [services.PointInput(p.site, p.side, p.units, p.route) for p in current_points(session)]


@clinic_view(Perm.PLAN_WRITE)
def workspace(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    at, error = administered_at(request, actor)
    services.read_session(actor, session_id, Perm.PLAN_WRITE)
    return _answer(request, actor, session_id, at, error=error)


@clinic_view(Perm.PLAN_WRITE)
def point_form(request: HttpRequest, actor: Actor, session_id: UUID, n: int) -> HttpResponse:
    at, _ = administered_at(request, actor)
    points = _points_of(actor, session_id)
    if n >= len(points):
        return _answer(request, actor, session_id, at, error="That point is no longer in the plan.")
    form = PointForm(initial={"units": points[n].units})
    return _answer(request, actor, session_id, at, editing=n, edit_form=form)


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def point_change(request: HttpRequest, actor: Actor, session_id: UUID, n: int) -> HttpResponse:
    at, _ = administered_at(request, actor)
    points = _points_of(actor, session_id)
    if n >= len(points):
        return _answer(request, actor, session_id, at, error="That point is no longer in the plan.")
    action = request.POST.get("action")
    if action == "remove":
        if len(points) == 1:
            return _answer(request, actor, session_id, at, error="A plan keeps at least one point.")
        del points[n]
    else:
        form = PointForm(request.POST)
        if not form.is_valid():
            return _answer(
                request, actor, session_id, at, editing=n, edit_form=form, error=first_error(form)
            )
        old = points[n]
        points[n] = services.PointInput(old.site, old.side, form.cleaned_data["units"], old.route)
        if action == "mirror":
            mirrored = _mirrored(points, n)
            if isinstance(mirrored, str):
                return _answer(
                    request, actor, session_id, at, editing=n, edit_form=form, error=mirrored
                )
            points = mirrored
    try:
        services.update_plan(actor, session_id, injections=points)
    except ServiceError as error:
        return _answer(request, actor, session_id, at, error=_refused(error))
    return _answer(request, actor, session_id, at)


OTHER_SIDE = {"left": "right", "right": "left"}


def _mirrored(points: list[services.PointInput], n: int) -> list[services.PointInput] | str:
    """ "Same on the other side": the other side of point ``n``'s muscle gets the same points
    (count, units, route) as this side has, replacing what it had; a second click changes
    nothing. A refusal (a midline point, a muscle with one side) comes back as its message."""
    this = points[n]
    other = OTHER_SIDE.get(this.side)
    site = catalog().sites.get(this.site)
    if other is None:
        return "A midline point has no other side: add another point instead."
    if site is None or other not in site.sides:
        return f"{bodymap.site_label(this.site, this.side)} has no {other} side in the catalog."
    copies = [
        services.PointInput(p.site, other, p.units, p.route)
        for p in points
        if p.site == this.site and p.side == this.side
    ]
    kept = [p for p in points if not (p.site == this.site and p.side == other)]
    return kept + copies


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def point_add(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    at, _ = administered_at(request, actor)
    form = AddPointForm(request.POST)
    if not form.is_valid():
        return _answer(request, actor, session_id, at, add_form=form, error=first_error(form))
    points = _points_of(actor, session_id)
    chosen = form.cleaned_data["side"]
    # "Both sides" adds the same units on the left and on the right in one step.
    for side in ("left", "right") if chosen == "both" else (chosen,):
        points.append(
            services.PointInput(form.cleaned_data["site"], side, form.cleaned_data["units"])
        )
    try:
        services.update_plan(actor, session_id, injections=points)
    except ServiceError as error:
        return _answer(request, actor, session_id, at, add_form=form, error=_refused(error))
    return _answer(request, actor, session_id, at)


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def protocol_load(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    at, _ = administered_at(request, actor)
    try:
        services.load_protocol(actor, session_id, protocol=request.POST.get("protocol", ""))
    except ServiceError as error:
        message = _refused(error)
        if request.htmx:  # type: ignore[attr-defined]
            return _answer(request, actor, session_id, at, error=message)
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"  # the header names the protocol: reload the whole page
        return response
    return HttpResponseRedirect(f"/sessions/{session_id}/")


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def set_time(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """The injection time changed: the plan date follows it (signing does the same)."""
    at, error = administered_at(request, actor)
    if error:
        return _answer(request, actor, session_id, at, error=error)
    session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
    day = services.local_date(session.clinic.time_zone, at)
    if day != session.plan_date:
        try:
            services.update_plan(actor, session_id, plan_date=day)
        except ServiceError as service_error:
            return _answer(request, actor, session_id, at, error=_refused(service_error))
    return _answer(request, actor, session_id, at)


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def vial_choice(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    at, _ = administered_at(request, actor)
    session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
    chosen = [str(u.vial_id) for u in session.session_vials.all()]
    vial_id = request.POST.get("vial_id", "")
    if request.POST.get("action") == "remove":
        chosen = [v for v in chosen if v != vial_id]
    elif vial_id and vial_id not in chosen:
        chosen.append(vial_id)
    try:
        services.update_plan(actor, session_id, vial_ids=chosen)
    except ServiceError as error:
        return _answer(request, actor, session_id, at, error=_refused(error))
    return _answer(request, actor, session_id, at)


@clinic_view(Perm.INVENTORY_WRITE, methods=("POST",))
def vial_open(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """Reconstitute one unopened vial of a lot now, and use it for this plan."""
    at, _ = administered_at(request, actor)
    session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
    form = ReconstituteForm(request.POST)
    if not form.is_valid():
        return _answer(request, actor, session_id, at, error=first_error(form))
    lot_id = request.POST.get("lot_id", "")
    today = present.clinic_today(session.clinic.time_zone)
    candidates = [
        v
        for v in inventory.usable_vials(
            actor,
            product=session.product,
            patient_id=session.patient_id,
            today=today,
            now=timezone.now(),
        )
        if str(v.lot_id) == lot_id and v.reconstituted_at is None
    ]
    if not candidates:
        return _answer(
            request, actor, session_id, at, error="No unopened vial of that lot is left."
        )
    try:
        vial = inventory.reconstitute_vial(
            actor,
            candidates[0].id,
            diluent_ml=form.cleaned_data["diluent_ml"],
            reconstituted_at=timezone.now(),
        )
        chosen = [str(u.vial_id) for u in session.session_vials.all()]
        services.update_plan(actor, session_id, vial_ids=[*chosen, str(vial.id)])
    except ServiceError as error:
        return _answer(request, actor, session_id, at, error=_refused(error))
    return _answer(request, actor, session_id, at)


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def decide(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    at, _ = administered_at(request, actor)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _answer(request, actor, session_id, at, error=first_error(form))
    if form.cleaned_data["kind"] == "override" and actor.membership.can(Perm.OVERRIDE):
        access(actor, SESSION, session_id, Perm.PLAN_WRITE)  # another clinic's id: 404 first
        try:
            confirm_identity(request, "override this block")
        except ReauthenticationError as failed:
            return _reauth_failed(request, actor, session_id, at, failed, sign=False)
    try:
        services.decide(
            actor,
            session_id,
            fingerprint_=form.cleaned_data["fingerprint"],
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
        )
    except ServiceError as error:
        if error.status == 403 and error.field == "kind":
            return _answer(request, actor, session_id, at, error=error.message)
        return _answer(request, actor, session_id, at, error=_refused(error))
    return _answer(request, actor, session_id, at)


@clinic_view(Perm.SIGN, methods=("POST",))
def sign(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    at, error = administered_at(request, actor)
    if error:
        return _answer(request, actor, session_id, at, sign_error=error)
    access(actor, SESSION, session_id, Perm.SIGN)  # another clinic's id: 404, nothing asked
    try:
        confirm_identity(request, "sign this session")
    except ReauthenticationError as failed:
        return _reauth_failed(request, actor, session_id, at, failed, sign=True)
    if "notes" in request.POST:
        # The note as typed in the note section, saved before the signature covers it.
        note_error = _save_note(request, actor, session_id)
        if note_error:
            return _answer(request, actor, session_id, at, sign_error=note_error)
    try:
        services.sign_session(
            actor,
            session_id,
            administered_at=at,
            vials=_draws_posted(request, session_id),
        )
    except ServiceError as service_error:
        if service_error.status == 403 and service_error.field is None:
            return _answer(request, actor, session_id, at, sign_error=service_error.message)
        return _answer(request, actor, session_id, at, sign_error=_refused(service_error))
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Redirect"] = f"/sessions/{session_id}/"
        return response
    return HttpResponseRedirect(f"/sessions/{session_id}/")


class NoteForm(ClinicalForm):
    notes = forms.CharField(required=False, max_length=services.MAX_NOTES, strip=False)
    guidance = forms.ChoiceField(
        required=False, choices=[("", "not recorded yet")] + [(g, g) for g in GUIDANCE]
    )
    needle = forms.CharField(required=False, max_length=services.MAX_NEEDLE)


def note_context(
    session: TreatmentSession, *, form: NoteForm | None = None, error: str = "", saved: str = ""
) -> dict[str, Any]:
    """The plan's note section: the clinical note and the structured technique (DESIGN 3.4)."""
    return {
        "session": session,
        "note_form": form,
        "note_text": form["notes"].value() if form is not None else session.notes,
        "note_guidance": form["guidance"].value() if form is not None else session.guidance,
        "note_needle": form["needle"].value() if form is not None else session.needle,
        "guidance_choices": list(present.GUIDANCE_WORDS.items()),
        "note_error": error,
        "note_saved": saved,
        "note_template": aftercare.note_template(session.indication),
    }


def _save_note(request: HttpRequest, actor: Actor, session_id: UUID) -> str:
    """Save the posted note and technique on the plan; the refusal's words, or ""."""
    form = NoteForm(request.POST)
    if not form.is_valid():
        return first_error(form)
    try:
        services.update_plan(
            actor,
            session_id,
            notes=form.cleaned_data["notes"],
            technique=services.Technique(
                form.cleaned_data["guidance"], form.cleaned_data["needle"]
            ),
        )
    except ServiceError as error:
        return _refused(error)
    return ""


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def plan_note(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """Save the plan's note and technique; ``action=template`` starts an empty note from the
    indication's headings."""
    session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
    form, error, saved = None, "", ""
    if request.POST.get("action") == "template":
        if not session.notes.strip():
            try:
                services.update_plan(
                    actor, session_id, notes=aftercare.note_template(session.indication)
                )
                saved = "The note starts from this indication's headings: fill them in."
            except ServiceError as service_error:
                error = _refused(service_error)
    else:
        error = _save_note(request, actor, session_id)
        if error:
            form = NoteForm(request.POST)
        else:
            saved = "Note saved with the plan."
    if request.htmx:  # type: ignore[attr-defined]
        fresh = TreatmentSession.objects.get(pk=session_id)
        return render(
            request,
            "web/partials/plan_note.html",
            note_context(fresh, form=form, error=error, saved=saved),
        )
    if error:
        messages.error(request, f"The note was not saved: {error}")
    return HttpResponseRedirect(f"/sessions/{session_id}/#note")


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def cancel(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """Cancel a plan made by mistake or no longer wanted: an appended record (DESIGN 3.4); the
    plan leaves Today and stays readable on the patient's page."""
    reason = " ".join(request.POST.get("reason", "").split())[:500]
    try:
        session = services.read_session(actor, session_id, Perm.PLAN_WRITE)
        services.cancel_plan(actor, session_id, reason=reason)
    except ServiceError as error:
        messages.error(request, f"Not cancelled: {_refused(error)}")
        return HttpResponseRedirect(f"/sessions/{session_id}/")
    messages.success(
        request,
        f"The plan for {session.plan_date:%-d %B %Y} was cancelled: it no longer appears on "
        "Today, and stays readable on this page.",
    )
    return HttpResponseRedirect(f"/patients/{session.patient_id}/")

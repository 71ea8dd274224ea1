"""The plan editor: a planned session's points on the body map, totals and volumes, the findings
panel (the same check as the API, at the injection time), decisions, the vial, and signing.

Every change calls a service (update_plan, load_protocol, decide, reconstitute_vial,
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

from bontrack.accounts.access import access_session
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.charting.services.consent_forms import current_template
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.planning import (
    VialCombination,
    listed_dilutions,
    reconstitute,
    use_by,
    vial_combinations,
    vial_concentration,
    vials_needed,
)
from bontrack.domain.quantities import Volume
from bontrack.domain.treatment import Injection
from bontrack.domain.units import Units
from bontrack.inventory import services as inventory
from bontrack.security.reauth import ReauthenticationError, confirm_identity
from bontrack.treatments import aftercare, services, supply
from bontrack.treatments.models import GUIDANCE, TreatmentSession
from bontrack.treatments.records import Point, current_points, status_of, total_units
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


def _fresh(session_id: UUID | str) -> TreatmentSession:
    """Re-read a session the funnel already let through, with what the editor shows."""
    return (
        TreatmentSession.objects.select_related("patient", "clinic", "injector__user")
        .prefetch_related("injections", "events", "session_vials__vial__lot")
        .get(pk=session_id)
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
    session = _fresh(session_id)
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


def _draw_preview(session: TreatmentSession, points: list[Point], at: datetime) -> dict[str, Any]:
    """What signing at ``at`` would draw from each chosen vial (B.30), shown and editable before
    signing; or why a chosen vial cannot be drawn."""
    uses = [u.vial for u in session.session_vials.all()]
    if not uses:
        return {"draws": [], "draw_error": ""}
    try:
        settled = supply.settle_draws(
            session, uses, {}, total=total_units(points), at=at, field="vials"
        )
    except ServiceError as error:
        return {"draws": [], "draw_error": error.message}
    rows = []
    for (vial, units), value in zip(settled.draws, settled.values, strict=True):
        before = value.drawn_before.amount if value.drawn_before is not None else Decimal(0)
        rows.append(
            {
                "vial": vial,
                "units": present.units(units),
                "holds": present.units(Decimal(vial.lot.vial_size_units) - before),
            }
        )
    return {"draws": rows, "draw_error": ""}


def _vial_math(session: TreatmentSession, points: list[Point]) -> dict[str, Any]:
    """Concentration, mL per point and vials needed, from the domain's arithmetic."""
    cat = catalog()
    product = cat.products[session.product]
    total = Units(session.product, total_units(points))
    injections = tuple(
        Injection(p.site, p.side, Units(session.product, p.units), p.route) for p in points
    )
    uses = [u.vial for u in session.session_vials.all()]
    opened = [v for v in uses if v.diluent_ml is not None and v.lot.product == session.product]
    math: dict[str, Any] = {
        "total": present.units(total.amount),
        "points": len(points),
        "volumes": {},
    }
    if opened:
        vial = opened[0]
        size = Units(product.code, vial.lot.vial_size_units)
        done = reconstitute(
            product, size, Volume(vial.diluent_ml), injections, vial.reconstituted_at
        )
        math.update(
            concentration=str(done.concentration),
            total_volume=str(done.total_volume),
            vials=done.vials,
            size=present.units(size.amount),
            leftover=present.units(done.leftover.amount),
            volumes={n: str(pv.volume) for n, pv in enumerate(done.points)},
        )
    elif uses:
        vial = uses[0]
        if vial.lot.product == session.product:
            size = Units(product.code, vial.lot.vial_size_units)
            math.update(vials=vials_needed(total, size), size=present.units(size.amount))
    return math


def _vial_counts(vials: Any) -> str:
    """[(100 U, 1), (50 U, 2)] as "1 × 100 U + 2 × 50 U"."""
    return " + ".join(f"{n} × {present.units(size.amount)} U" for size, n in vials)


def _combination_words(combination: VialCombination) -> dict[str, str]:
    return {
        "vials": _vial_counts(combination.vials),
        "leftover": present.units(combination.leftover.amount),
    }


def _from_stock(product: Any, total: Decimal, lots: Any) -> dict[str, Any]:
    """Which unopened vials in stock to reconstitute for the plan: one combination recommended
    (the least discarded, then the fewest vials), the others offered as alternatives. Only sizes
    the clinic holds, unexpired and not recalled; what it does not hold is said, not listed."""
    stock: dict[Units, int] = {}
    for row in lots:
        size = Units(product.code, Decimal(row["lot"].vial_size_units))
        stock[size] = stock.get(size, 0) + row["count"]
    combinations = vial_combinations(Units(product.code, total), stock)
    held = sum((size.amount * n for size, n in stock.items()), Decimal(0))
    return {
        "recommended": _combination_words(combinations[0]) if combinations else None,
        "alternatives": [_combination_words(c) for c in combinations[1:4]],
        "in_stock": present.units(held),
        "short_of_stock": total > 0 and not combinations,
        "stock_sizes": _vial_counts(sorted(stock.items(), reverse=True)).replace(" + ", ", "),
    }


def _findings(session: TreatmentSession, at: datetime) -> tuple[dict[str, Any], str]:
    """The check at the injection time (what signing will re-run), with the consent rule."""
    try:
        result = services.stored_result_at(session, at)
    except ServiceError as error:
        return {"verdict": "block", "findings": [], "total_units": ""}, error.message
    day = services.local_date(session.clinic.time_zone, at)
    consent = services.consent_finding(session, day)
    if consent is not None:
        result["findings"].insert(0, consent)
        result["verdict"] = "block"
    return result, ""


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
    session = _fresh(session_id)
    cat = catalog()
    tz = session.clinic.time_zone
    points = current_points(session)
    result, check_error = _findings(session, at)
    decisions: dict[str, Any] = {}
    for d in session.decisions.select_related("by__user").order_by("at", "id"):
        decisions[d.fingerprint] = d
    refusals = services.unresolved_findings(session, result["findings"])
    findings = []
    flagged: set[tuple[str, str]] = set()
    for f in result["findings"]:
        decision = decisions.get(f["fingerprint"])
        findings.append(
            {
                **f,
                "severity_words": present.SEVERITY_WORDS.get(f["severity"], f["severity"]),
                "decision": decision,
                "refusal": refusals.get(f["fingerprint"], ""),
                "site_names": [bodymap.site_label(s["site"], s["side"]) for s in f["sites"]],
            }
        )
        flagged.update((s["site"], s["side"]) for s in f["sites"])
    math = _vial_math(session, points)
    indication = cat.indications.get(session.indication)
    today = present.clinic_today(tz)
    chosen = {str(u.vial_id) for u in session.session_vials.all()}
    usable = inventory.usable_vials(
        actor,
        product=session.product,
        patient_id=session.patient_id,
        today=today,
        now=timezone.now(),
    )
    product = cat.products[session.product]
    opened, unopened_lots = [], {}
    for v in usable:
        if v.reconstituted_at is not None:
            until = use_by(product, v.reconstituted_at)
            opened.append(
                {
                    "vial": v,
                    "chosen": str(v.id) in chosen,
                    "use_by": present.local(until, tz),
                    "use_by_iso": until.isoformat(),
                    "past": until <= timezone.now(),
                    "concentration": str(
                        vial_concentration(
                            product,
                            Units(product.code, v.lot.vial_size_units),
                            Volume(v.diluent_ml),
                        )
                    )
                    if v.diluent_ml is not None
                    else "",
                }
            )
        else:
            row = unopened_lots.setdefault(v.lot_id, {"lot": v.lot, "count": 0, "vial": v})
            row["count"] += 1
    for row in unopened_lots.values():
        size = Decimal(row["lot"].vial_size_units)
        listed = listed_dilutions(product, Units(product.code, size))
        row["dilutions"] = [present.units(ml) for ml in listed]
        row["suggested_ml"] = present.units(_suggest_saline(product, size, listed, points))
    math.update(_from_stock(product, total_units(points), unopened_lots.values()))
    chosen_other = [
        u.vial
        for u in session.session_vials.all()
        if str(u.vial_id) not in {str(o["vial"].id) for o in opened}
    ]
    site_codes = list(indication.sites) if indication is not None else []
    point_rows = [
        {
            "n": n,
            "site": p.site,
            "side": p.side,
            "label": bodymap.site_label(p.site, p.side),
            "units": present.units(p.units),
            "volume": math["volumes"].get(n, ""),
            "flagged": (p.site, p.side) in flagged,
        }
        for n, p in enumerate(points)
    ]
    preview = _draw_preview(session, points, at)
    all_unresolved = bool(refusals) or bool(check_error) or bool(preview["draw_error"])
    verdict = result["verdict"]
    # Decided findings no longer make the banner say "Blocked" (they stay listed below it).
    decided = verdict in present.DECIDED_VERDICT_WORDS and not refusals and not check_error
    return {
        **_consent_links(actor, session, result["findings"]),
        "weight": _weight_shown(session, points),
        **preview,
        "session": session,
        "status": status_of(session),
        "tz": tz,
        "at": at,
        "at_input": local_input(at, tz),
        "max_input": local_input(timezone.now() + timedelta(minutes=5), tz),
        "verdict": verdict,
        "verdict_class": f"{verdict} decided" if decided else verdict,
        "verdict_words": present.DECIDED_VERDICT_WORDS[verdict]
        if decided
        else present.VERDICT_WORDS.get(verdict, verdict),
        "findings": findings,
        "check_error": check_error,
        "ready": not all_unresolved and bool(points) and bool(preview["draws"]),
        "catalog_version": result.get("catalog_version", session.catalog_version),
        "math": math,
        "points": point_rows,
        "views": bodymap.views(
            [(p.site, p.side, p.units) for p in points],
            flagged,
            ghost_sites=site_codes,
            for_touch=True,
        ),
        "opened_vials": opened,
        "unopened_lots": list(unopened_lots.values()),
        "chosen_other": chosen_other,
        "product": product,
        "product_name": present.product_name(session.product),
        "can_override": actor.membership.can(Perm.OVERRIDE),
        "can_sign": actor.membership.can(Perm.SIGN)
        and actor.membership.role in ("prescriber", "nurse-injector"),
        "error": error,
        "sign_error": sign_error,
        "editing": editing,
        "editing_point": point_rows[editing]
        if editing is not None and editing < len(point_rows)
        else None,
        "edit_form": edit_form,
        "add_form": add_form or AddPointForm(),
        "site_groups": _site_groups(site_codes),
        "last_site": point_rows[-1]["site"] if point_rows else "",
    }


def _consent_links(
    actor: Actor, session: TreatmentSession, findings: list[dict[str, Any]]
) -> dict[str, Any]:
    """Where the consent block leads (B.22): the indication's form to sign on screen, or the
    patient's consents to record a paper one; a clinic with no form for the indication is told
    who publishes one."""
    if not any(f["rule"] == "consent" for f in findings):
        return {"consent_needed": False}
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


def _weight_shown(session: TreatmentSession, points: list[Point]) -> dict[str, str] | None:
    """A child treated by weight: the weight the check reads and the plan's units per kg."""
    try:
        found = services.weight_used(session)
    except ServiceError:
        return None
    if found is None:
        return None
    kg, measured_on = found
    return {
        "kg": present.units(kg),
        "measured_on": measured_on.strftime("%-d %b %Y") if measured_on else "",
        "per_kg": present.units(services.units_per_kg(total_units(points), kg)),
    }


def _suggest_saline(
    product: Any, size: Decimal, listed: list[Decimal], points: list[Point]
) -> Decimal:
    """A starting value for the saline field: the label's dilution that puts the plan's most
    common dose in 0.1 mL, else the middle one of the label's list (the clinician may change it)."""
    if not listed:
        return Decimal(0) if product.form == "solution" else Decimal(2)
    doses = [p.units for p in points]
    if doses:
        common = max(set(doses), key=doses.count)
        for ml in listed:
            per_tenth = vial_concentration(product, Units(product.code, size), Volume(ml))
            if per_tenth.per_tenth_ml.amount == common:
                return ml
    return listed[len(listed) // 2]


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
    cat = catalog()
    protocols = [
        (p.id, f"{p.name} ({present.units(p.total)} U, {len(p.points)} points)")
        for p in cat.protocols.values()
        if p.product == session.product and session.indication in p.indications
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
        access_session(actor, session_id, Perm.PLAN_WRITE)  # another clinic's id: 404 first
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
    access_session(actor, session_id, Perm.SIGN)  # another clinic's id: 404, nothing asked
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

"""Saved plans and repeat last: both create an ordinary plan through ``plan_session``, which the
checker checks like any other.

- A **saved plan** is a named pattern in one product's units ("my glabellar 24 U"): the clinic's
  (shared) or one injector's own.
- **Repeat last** pre-fills a plan from the patient's last signed session of the same indication
  with the same product (its amended points where it was amended); never across products.
- **What changed since** that session comes first on the new plan: weight, risk factors changed
  since (read from the audit trail, which records every update of the patient), adverse events
  reported, other treatments given, and the check's findings that the last session did not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from bontrack.access import PATIENT, SAVED_PLAN, SESSION, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.models import AuditEntry
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.charting.models import PlanOrigin, SavedPlan
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.patients.services import CLINICAL_FIELDS
from bontrack.treatments import services as sessions
from bontrack.treatments.models import Injection, SessionEvent, TreatmentSession
from bontrack.treatments.records import counts_toward_limits, current_points, status_of, total_units


def _points_json(points: list[sessions.PointInput]) -> list[dict[str, str]]:
    return [
        {
            "site": p.site,
            "side": p.side,
            "units": format(p.units.normalize(), "f"),
            "route": p.route or "",
        }
        for p in points
    ]


def saved_points(saved: SavedPlan) -> list[sessions.PointInput]:
    return [
        sessions.PointInput(p["site"], p["side"], Decimal(p["units"]), p.get("route") or None)
        for p in saved.points
    ]


def saved_total(saved: SavedPlan) -> Decimal:
    return sum((Decimal(p["units"]) for p in saved.points), Decimal(0))


def save_plan(
    actor: Actor,
    *,
    name: str,
    session_id: UUID | str,
    shared: bool = False,
) -> SavedPlan:
    """Save a session's points (as they are now, amended values included) as a named pattern:
    the injector's own, or the clinic's when ``shared``."""
    require(actor, Perm.PLAN_WRITE)
    name = name.strip()
    if not name:
        raise ServiceError("name", "name the pattern, e.g. my glabellar 24 U")
    if len(name) > 100:
        raise ServiceError("name", "at most 100 characters")
    with clinical_transaction(actor) as trail:
        session = access(actor, SESSION, session_id, Perm.PLAN_WRITE)
        points = [
            sessions.PointInput(p.site, p.side, p.units, p.route) for p in current_points(session)
        ]
        if not points:
            raise ServiceError("session_id", "this session has no points to save")
        saved = SavedPlan.objects.create(
            clinic_id=actor.membership.clinic_id,
            owner=None if shared else actor.membership,
            name=name,
            product=session.product,
            indication=session.indication,
            protocol=session.protocol,
            points=_points_json(points),
            created_by=actor.membership,
        )
        trail.record("create", "saved-plan", saved.id, session.patient_id, source=str(session.id))
    return saved


def list_saved_plans(
    actor: Actor, *, indication: str | None = None, product: str | None = None
) -> list[SavedPlan]:
    """The clinic's saved plans and the member's own (not other injectors')."""
    require(actor, Perm.PLAN_WRITE)
    rows = SavedPlan.objects.filter(
        clinic_id=actor.membership.clinic_id, retired_at__isnull=True
    ).filter(Q(owner__isnull=True) | Q(owner=actor.membership))
    if indication:
        rows = rows.filter(indication=indication)
    if product:
        rows = rows.filter(product=product)
    return list(rows.order_by("indication", "product", "name"))


def retire_saved_plan(actor: Actor, saved_id: UUID | str) -> SavedPlan:
    with clinical_transaction(actor) as trail:
        saved = access(actor, SAVED_PLAN, saved_id, Perm.PLAN_WRITE)
        saved.retired_at = timezone.now()
        saved.save(update_fields=["retired_at"])
        trail.record("update", "saved-plan", saved.id, retired=True)
    return saved


def plan_from_saved(
    actor: Actor, patient_id: UUID | str, saved_id: UUID | str, *, plan_date: date
) -> TreatmentSession:
    """A normal plan with the saved points, product and indication."""
    with clinical_transaction(actor) as trail:
        saved = access(actor, SAVED_PLAN, saved_id, Perm.PLAN_WRITE)
        session = sessions.plan_session(
            actor,
            patient_id,
            product=saved.product,
            indication=saved.indication,
            plan_date=plan_date,
            protocol=saved.protocol or None,
            injections=saved_points(saved),
        )
        PlanOrigin.objects.create(
            clinic_id=session.clinic_id, session=session, kind="saved-plan", saved_plan=saved
        )
        trail.record(
            "create", "plan-origin", session.id, session.patient_id, saved_plan=str(saved.id)
        )
    return session


def last_signed(
    patient_id: UUID, indication: str, product: str, clinic_id: UUID
) -> TreatmentSession | None:
    """The patient's last signed session that still counts, of the indication with the product."""
    candidates = (
        TreatmentSession.objects.filter(
            clinic_id=clinic_id,
            patient_id=patient_id,
            indication=indication,
            product=product,
            signed_at__isnull=False,
            external=False,
        )
        .select_related("signed_by")
        .prefetch_related(
            prefetch_in_clinic("events", SessionEvent, clinic_id),
            prefetch_in_clinic("injections", Injection, clinic_id),
        )
        .order_by("-plan_date", "-administered_at")
    )
    return next((s for s in candidates if counts_toward_limits(status_of(s))), None)


def repeat_last(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    product: str,
    plan_date: date,
) -> TreatmentSession:
    """A new plan with the points of the last signed session of this indication with this
    product. Another product's session is never repeated: units do not convert."""
    cat = catalog()
    if indication not in cat.indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if product not in cat.products:
        raise ServiceError("product", f"unknown product code {product!r}")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        last = last_signed(patient.id, indication, product, patient.clinic_id)
        if last is None:
            other = (
                TreatmentSession.objects.filter(
                    patient=patient, indication=indication, signed_at__isnull=False
                )
                .exclude(product=product)
                .order_by("-plan_date")
                .first()
            )
            why = f"no signed session of {indication} with {product} to repeat"
            if other is not None:
                why += (
                    f" (the last one, on {other.plan_date.isoformat()}, was with {other.product}:"
                    " a plan is never repeated across products, their units differ)"
                )
            raise ServiceError("product", why)
        points = [
            sessions.PointInput(p.site, p.side, p.units, p.route) for p in current_points(last)
        ]
        session = sessions.plan_session(
            actor,
            patient.id,
            product=product,
            indication=indication,
            plan_date=plan_date,
            protocol=last.protocol or None,
            injections=points,
        )
        PlanOrigin.objects.create(
            clinic_id=session.clinic_id, session=session, kind="repeat-last", source_session=last
        )
        trail.record("create", "plan-origin", session.id, patient.id, repeats=str(last.id))
    return session


@dataclass
class Changes:
    """What changed since the session a plan repeats; ``items`` lead the plan editor."""

    source: TreatmentSession
    source_units: str
    items: list[dict[str, str]] = field(default_factory=list)


FIELD_WORDS = {
    "weight_kg": "weight",
    "weight_measured_on": "weight",
    "pregnant": "pregnancy",
    "breastfeeding": "breastfeeding",
    "conditions": "conditions",
    "medications": "medicines",
    "allergies": "allergies",
    "infected_sites": "infected sites",
}


def changes_since(session: TreatmentSession) -> Changes | None:
    """For a plan made by repeat last: what changed since the repeated session. The caller has
    opened the plan through the funnel (and audited the read)."""
    origin = PlanOrigin.objects.filter(session=session, kind="repeat-last").first()
    if origin is None or origin.source_session_id is None:
        return None
    source = (
        TreatmentSession.objects.select_related("patient")
        .prefetch_related("injections", "events")
        .get(pk=origin.source_session_id)
    )
    patient = session.patient
    since = source.signed_at or timezone.now()
    changes = Changes(source, format(total_units(current_points(source)).normalize(), "f"))
    items = changes.items
    if patient.weight_measured_on is not None and patient.weight_measured_on > source.plan_date:
        items.append(
            {
                "kind": "weight",
                "text": f"Weight {format(Decimal(patient.weight_kg).normalize(), 'f')} kg, "
                f"measured {patient.weight_measured_on.isoformat()} (after the last session)",
            }
        )
    updates = AuditEntry.objects.filter(
        clinic_id=session.clinic_id,
        patient_id=patient.id,
        action="update",
        object_type="patient",
        at__gt=since,
    ).order_by("at")
    changed: dict[str, Any] = {}
    for entry in updates:
        for name in entry.detail.get("fields", []):
            if name in CLINICAL_FIELDS and name not in ("weight_kg", "weight_measured_on"):
                changed[name] = entry
    cat = catalog()
    for name, entry in changed.items():
        value = getattr(patient, name)
        if isinstance(value, list):
            shown = ", ".join(_factor_name(cat, name, v) for v in value) or "none"
        else:
            shown = "yes" if value else "no"
        items.append(
            {
                "kind": "risk",
                "text": f"{FIELD_WORDS.get(name, name).capitalize()} changed on "
                f"{entry.at.date().isoformat()} by {entry.username}: now {shown}",
            }
        )
    for event in patient.adverse_events.filter(
        Q(session=source) | Q(onset_date__gt=source.plan_date)
    ).order_by("onset_date"):
        term = cat.adverse_event_terms.get(event.term)
        items.append(
            {
                "kind": "adverse-event",
                "text": f"Adverse event: {term.name if term else event.term}, {event.severity}, "
                f"onset {event.onset_date.isoformat()}",
            }
        )
    others = (
        TreatmentSession.objects.filter(
            patient=patient, signed_at__isnull=False, plan_date__gt=source.plan_date
        )
        .exclude(pk=session.pk)
        .prefetch_related("injections", "events")
        .order_by("plan_date")
    )
    for other in others:
        if not counts_toward_limits(status_of(other)):
            continue
        units = format(total_units(current_points(other)).normalize(), "f")
        items.append(
            {
                "kind": "treatment",
                "text": f"Treated since: {other.indication} with {other.product}, {units} U on "
                f"{other.plan_date.isoformat()}",
            }
        )
    before = {f["rule"] for f in source.check_result.get("findings", [])}
    for finding in session.check_result.get("findings", []):
        if finding["rule"] not in before:
            items.append(
                {
                    "kind": "finding",
                    "text": f"New finding ({finding['severity']}, {finding['rule']}): "
                    f"{finding['message']}",
                }
            )
    return changes


def _factor_name(cat: Any, field_name: str, value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("site", "")) + (f" ({value['side']})" if value.get("side") else "")
    kind = {"conditions": "condition", "medications": "drug", "allergies": "allergy"}.get(
        field_name
    )
    found = cat.factor(kind, value) if kind else None
    return found.name if found is not None else str(value)

"""Adverse events: recorded against the session that may have caused them."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.utils import timezone

from bontrack.accounts.access import access_session
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.domain.catalog import catalog
from bontrack.outcomes.models import OUTCOMES, RELATEDNESS, SEVERITIES, AdverseEvent
from bontrack.treatments.errors import ConflictError, ServiceError


def record_adverse_event(
    actor: Actor,
    session_id: UUID | str,
    *,
    term: str,
    onset_date: date,
    severity: str,
    serious: bool,
    relatedness: str,
    outcome: str,
    notes: str = "",
) -> AdverseEvent:
    if term not in catalog().adverse_event_terms:
        raise ServiceError(
            "term", f"unknown adverse event term {term!r} (`bontrack catalog` lists them)"
        )
    for field, value, allowed in (
        ("severity", severity, SEVERITIES),
        ("relatedness", relatedness, RELATEDNESS),
        ("outcome", outcome, OUTCOMES),
    ):
        if value not in allowed:
            raise ServiceError(field, f"must be one of {', '.join(allowed)}")
    if term == "other" and not notes.strip():
        raise ServiceError("notes", "describe an 'other' adverse event")
    with clinical_transaction(actor) as trail:
        session = access_session(actor, session_id, Perm.PLAN_WRITE)
        if not session.is_signed:
            raise ConflictError(None, "adverse events follow a signed session")
        if onset_date < session.plan_date:
            raise ServiceError("onset_date", "is before the session")
        event = AdverseEvent.objects.create(
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            session=session,
            term=term,
            onset_date=onset_date,
            severity=severity,
            serious=serious,
            relatedness=relatedness,
            outcome=outcome,
            notes=notes,
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
        )
        trail.record("create", "adverse-event", event.id, session.patient_id, term=term)
    return event

"""What the patient page shows: demographics, and for clinicians the risks, the cumulative-dose
chart, outcomes and due dates, the timeline of sessions, consents and adverse events. The page
view renders it, and a refused result form renders it again with the form kept open."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.domain.catalog import catalog
from bontrack.patients import services as patients
from bontrack.treatments.checking import patient_values
from bontrack.treatments.cumulative import cumulative_series
from bontrack.treatments.reads import TimelineEntry, patient_history
from bontrack.web import present
from bontrack.web.chart import chart_of
from bontrack.web.charting import patient_charting, patient_consents
from bontrack.web.forms import TIMEPOINT_WORDS, ConsentForm
from bontrack.web.outcomes import outcome_sections


def timeline_rows(entries: tuple[TimelineEntry, ...]) -> list[dict[str, Any]]:
    """The timeline as the page words it: the indication's short name, the brand, the total."""
    return [
        {
            "entry": e,
            "session": e.session,
            "status": e.status,
            "status_words": present.STATUS_WORDS.get(e.status, e.status),
            "indication": present.indication_short(e.session.indication),
            "product": present.brand(e.session.product),
            "units": present.units(e.total),
            "injector": e.injector or "",
            "overridden": e.overridden,
        }
        for e in entries
    ]


def patient_page_context(actor: Actor, patient_id: UUID) -> dict[str, Any]:
    """Opens the patient through ``read_patient`` (one read entry) and reads the rest without
    another entry."""
    patient = patients.read_patient(actor, patient_id)
    day = present.clinic_today(actor.clinic.time_zone)
    clinical = actor.membership.can(Perm.CHART_READ)
    context: dict[str, Any] = {
        "banner": present.patient_banner(patient, day, clinical),
        "patient": patient,
        "clinical": clinical,
        "can_plan": actor.membership.can(Perm.PLAN_WRITE),
        "nav": "patients",
        "today": day,
    }
    if not clinical:
        context.update(patient_charting(actor, patient, day))  # appointments (issue 9)
        return context
    # The history is read once, here, and every section below is given the same rows.
    history = patient_history(patient, actor.clinic.time_zone)
    patient_consent_rows = patient_consents(patient)
    context.update(patient_charting(actor, patient, day, history, patient_consent_rows))
    consents = [
        {
            "consent": c,
            "indication": present.indication_name(c.indication),
            "valid": c.valid_on(day),
        }
        for c in patient_consent_rows
    ]
    events = [
        {"event": e, "term": catalog().adverse_event_terms[e.term].name}
        for e in history.adverse_events
    ]
    context.update(
        timeline=timeline_rows(history.timeline()),
        consents=consents,
        adverse_events=events,
        charts=[
            chart_of(s)
            for s in cumulative_series(
                history.dose_history(),
                day,
                catalog(),
                child=patient_values(patient).is_child_on(day),
                weight=patient.weight_kg,
            )
        ],
        outcomes=outcome_sections(history, day),
        can_continue_despite=actor.membership.can(Perm.OVERRIDE),  # B.32: prescribers
        timepoints=list(TIMEPOINT_WORDS.items()),
        weight=present.units(patient.weight_kg) if patient.weight_kg is not None else "",
        consent_form=ConsentForm(initial={"signed_on": day}),
    )
    return context

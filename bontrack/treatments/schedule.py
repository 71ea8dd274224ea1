"""The day's schedule for the Today page: the plans dated a day. Who is due for their next session
is the follow-up's due list (``bontrack.outcomes.due``), not this module."""

from __future__ import annotations

from datetime import date

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.treatments.records import SessionStatus, status_of


def day_plans(actor: Actor, day: date) -> list[TreatmentSession]:
    """The clinic's plans dated ``day`` that are still plans (not signed, not cancelled), in the
    order they were made; one read entry per patient shown. The schedule is open to the front
    desk (DESIGN 3.4: demographics and schedule)."""
    require(actor, Perm.DEMOGRAPHICS_READ)
    plans = [
        s
        for s in in_clinic(TreatmentSession.objects.all(), actor.membership.clinic_id, "patient")
        .filter(plan_date=day, signed_at__isnull=True)
        .select_related("injector__user")
        .prefetch_related(prefetch_in_clinic("events", SessionEvent, actor.membership.clinic_id))
        .order_by("created_at")
        if status_of(s) == SessionStatus.PLAN
    ]
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(s.patient_id for s in plans):
            trail.record("read", "today-list", patient_id, patient_id)
    return plans

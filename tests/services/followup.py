"""Follow-up test data, built through the services: migraine patients with PREEMPT cycles and
their headache-day results, wear-off reports and adverse events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from bontrack.inventory.models import Lot
from bontrack.outcomes import services as followup
from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from tests import builders
from tests.builders import sessions

NECK = [sessions.PointInput("sternocleidomastoid", "left", Decimal(20))]


def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def signed(s: builders.Staff, p: Patient, lot: Lot, day: date, **plan: object) -> TreatmentSession:
    vial = builders.open_vial(s, lot, at=at(day, 9))
    return builders.signed_session(s, p, at(day), vial, **plan)


@dataclass
class Migraine:
    patient: Patient
    cycles: list[TreatmentSession]


def migraine_patient(
    s: builders.Staff,
    lot: Lot,
    record: str,
    *,
    weeks_ago: tuple[int, ...] = (36, 24, 12),
    days: tuple[int, ...] = (),
    today: date | None = None,
) -> Migraine:
    """PREEMPT cycles ``weeks_ago`` and headache days per 28 days: ``days[0]`` the baseline (the
    28 days before the first cycle), ``days[k]`` the 28 days before cycle k+1 (after cycle k), or
    before today for the last one when there are as many values as cycles + 1."""
    today = today or timezone.localdate()
    p = builders.patient(s, record, weight_kg=64)
    first = today - timedelta(weeks=weeks_ago[0])
    builders.consent(s, p, "chronic-migraine", first - timedelta(days=10))
    cycles = [
        signed(s, p, lot, today - timedelta(weeks=w), indication="chronic-migraine")
        for w in weeks_ago
    ]
    ends = [c.plan_date for c in cycles] + [today + timedelta(days=1)]
    for n, value in enumerate(days):
        before = ends[n]
        followup.record_assessment(
            s.actor("physician"),
            p.id,
            indication="chronic-migraine",
            scale="headache-days-28d",
            value=Decimal(value),
            timepoint="baseline" if n == 0 else "before-reinjection",
            period=(before - timedelta(days=28), before - timedelta(days=1)),
            session_id=None if n == 0 else cycles[n - 1].id,
        )
    return Migraine(p, cycles)

"""Who is due for their next session, and what is planned for a day (the Today page).

``due_from`` is pure: from each patient's last counting session per indication and product, and
the catalog's retreatment intervals, it says when the next session falls due. ``today_overview``
loads the rows through the clinic boundary and writes one read entry per patient it shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from bontrack.accounts.access import require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.domain.catalog.model import Interval
from bontrack.domain.rules.intervals import _applies as interval_applies
from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of

DUE_WITHIN_DAYS = 14  # the Today page lists patients due within two weeks, and overdue ones
LOOK_BACK_DAYS = 365  # sessions older than a year are not followed up from the Today page


@dataclass(frozen=True)
class LastSession:
    patient_id: UUID
    product: str
    indication: str
    day: date


@dataclass(frozen=True)
class Due:
    patient_id: UUID
    product: str
    indication: str
    last_day: date
    due_on: date
    interval_days: int
    words: str

    def days_overdue(self, today: date) -> int:
        return (today - self.due_on).days


def label_interval(intervals: Iterable[Interval], product: str, indication: str) -> Interval | None:
    """The longest retreatment interval the catalog gives for this product and indication (the
    retreatment-interval rule's selection). Intervals for every product ("*", such as the 21-day
    booster caution) are minimum gaps, not a schedule: they never make a patient due."""
    found = [
        i for i in intervals if i.product == product and interval_applies(i, product, indication)
    ]
    return max(found, key=lambda i: i.days, default=None)


def due_from(
    last_sessions: Iterable[LastSession],
    intervals: Iterable[Interval],
    today: date,
    within_days: int = DUE_WITHIN_DAYS,
) -> list[Due]:
    """Each (patient, product, indication)'s latest session plus the label's interval, when that
    date is no later than ``today + within_days``; overdue first. Without an interval in the
    catalog there is nothing to say."""
    intervals = tuple(intervals)
    latest: dict[tuple[UUID, str, str], date] = {}
    for s in last_sessions:
        key = (s.patient_id, s.product, s.indication)
        if key not in latest or s.day > latest[key]:
            latest[key] = s.day
    horizon = today + timedelta(days=within_days)
    due = []
    for (patient_id, product, indication), day in latest.items():
        interval = label_interval(intervals, product, indication)
        if interval is None:
            continue
        due_on = day + timedelta(days=interval.days)
        if due_on <= horizon:
            due.append(
                Due(patient_id, product, indication, day, due_on, interval.days, interval.words)
            )
    return sorted(due, key=lambda d: (d.due_on, str(d.patient_id)))


@dataclass(frozen=True)
class TodayOverview:
    plans: list[TreatmentSession]
    due: list[tuple[Due, Patient]]


def today_overview(actor: Actor, today: date, intervals: Iterable[Interval]) -> TodayOverview:
    """The plans dated ``today`` and the patients due; one read entry per patient shown."""
    require(actor, Perm.DEMOGRAPHICS_READ)
    clinic_id = actor.membership.clinic_id
    plans = [
        s
        for s in TreatmentSession.objects.filter(
            clinic_id=clinic_id, plan_date=today, signed_at__isnull=True
        )
        .select_related("patient", "injector__user")
        .prefetch_related("events")
        .order_by("created_at")
        if status_of(s) == "plan"
    ]
    signed = (
        TreatmentSession.objects.filter(
            clinic_id=clinic_id,
            signed_at__isnull=False,
            plan_date__gte=today - timedelta(days=LOOK_BACK_DAYS),
        )
        .select_related("signed_by")
        .prefetch_related("events")
    )
    last = [
        LastSession(s.patient_id, s.product, s.indication, s.plan_date)
        for s in signed
        if counts_toward_limits(status_of(s))
    ]
    due = due_from(last, intervals, today)
    patients = Patient.objects.in_bulk([d.patient_id for d in due])
    rows = [(d, patients[d.patient_id]) for d in due if d.patient_id in patients]
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(
            [s.patient_id for s in plans] + [d.patient_id for d, _ in rows]
        ):
            trail.record("read", "today-list", patient_id, patient_id)
    return TodayOverview(plans, rows)

"""The patient page and the plan editor's re-check cost a constant number of SQL statements,
whatever the patient's history: the page reads the history once and hands the same rows to the
timeline, the outcome charts, the due dates, the cumulative-dose chart and the charting card; the
re-check reads what the check needs in a few statements, however many sessions came before.

The history is built through the services: signed PREEMPT sessions 12 weeks apart going back from
today, each with its own reconstituted vial, a headache-day result linked to it and a wear-off
report, after a baseline result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.inventory.models import Lot
from bontrack.outcomes import services as followup
from bontrack.patients.models import Patient
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from tests import builders

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]

# The patient page as a prescriber sees it (every clinical section shown): the signed-in user,
# the patient opened with its read entry, the history (sessions, events, injections, results,
# wear-off reports, decisions, adverse events), the consents with their withdrawals and forms,
# the charting card's appointments, injectors, photos and saved plans. 28 on PostgreSQL.
PATIENT_PAGE_STATEMENTS = 30
# A re-check after one point changed: the plan opened with its read entry, the plan's update
# with its stored check and audit entry (treatments/services.py), and the workspace read with
# the check at the injection time; the consent's withdrawals are read inside the clinic in a
# statement of their own. 57 on PostgreSQL, 54 on SQLite.
RECHECK_STATEMENTS = 57

CYCLE = timedelta(weeks=12)


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


@dataclass
class History:
    staff: builders.Staff
    patient: Patient
    lot: Lot
    signed: list[TreatmentSession]

    def add(self, count: int) -> None:
        """``count`` more signed sessions, each one cycle before the earliest so far."""
        doctor = self.staff.actor("physician")
        today = timezone.localdate()
        for _ in range(count):
            day = today - CYCLE * (len(self.signed) + 1)
            builders.consent(self.staff, self.patient, "chronic-migraine", day - timedelta(days=1))
            vial = builders.open_vial(self.staff, self.lot, at=_at(day, 9))
            session = builders.signed_session(
                self.staff, self.patient, _at(day, 10), vial, indication="chronic-migraine"
            )
            followup.record_assessment(
                doctor,
                self.patient.id,
                indication="chronic-migraine",
                scale="headache-days-28d",
                value=Decimal(12),
                timepoint="before-reinjection",
                period=(day + timedelta(days=40), day + timedelta(days=67)),
                session_id=session.id,
            )
            followup.record_wear_off(doctor, session.id, wore_off_on=day + timedelta(days=70))
            self.signed.append(session)


def history_world(vials: int = 40) -> History:
    """A prescriber's clinic with a migraine patient (a baseline result long ago) and a lot for the
    sessions, beside a second clinic with its own patient."""
    s = builders.staff()
    other = builders.staff("Clinic B", "b")
    builders.patient(other, record="Q-1")
    p = builders.patient(s, record="P-1", weight_kg=Decimal(70))
    long_ago = timezone.localdate() - timedelta(days=365 * 30)
    followup.record_assessment(
        s.actor("physician"),
        p.id,
        indication="chronic-migraine",
        scale="headache-days-28d",
        value=Decimal(20),
        timepoint="baseline",
        period=(long_ago, long_ago + timedelta(days=27)),
    )
    stock = builders.lot(s, number="L-HIST", vials=vials)
    return History(s, p, stock, [])


def signed_in(history: History) -> Client:
    client = Client()
    client.force_login(history.staff.physician.user)
    return client


def page_statements(client: Client, patient: Patient) -> int:
    client.get(f"/patients/{patient.id}/")  # warm: the catalog and the session row
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/patients/{patient.id}/")
    assert response.status_code == 200
    return len(captured.captured_queries)


def recheck_statements(client: Client, plan: TreatmentSession, units: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            f"/sessions/{plan.id}/points/0/change",
            {"units": str(units), "action": "save"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert f"{units} U" in response.content.decode() or str(units) in response.content.decode()
    return len(captured.captured_queries)


def test_the_patient_page_costs_the_same_statements_whatever_the_history() -> None:
    history = history_world()
    client = signed_in(history)
    counts = {}
    for wanted in (0, 1, 30):
        history.add(wanted - len(history.signed))
        counts[wanted] = page_statements(client, history.patient)
    assert counts[0] == counts[1] == counts[30], counts
    assert counts[30] <= PATIENT_PAGE_STATEMENTS, counts


def test_the_recheck_costs_the_same_statements_whatever_came_before() -> None:
    history = history_world()
    client = signed_in(history)
    plan = sessions.plan_session(
        history.staff.actor("physician"),
        history.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    counts = {}
    for wanted, units in ((1, 6), (30, 7)):
        history.add(wanted - len(history.signed))
        recheck_statements(client, plan, units - 1)  # warm
        counts[wanted] = recheck_statements(client, plan, units)
    assert counts[1] == counts[30], counts
    assert counts[30] <= RECHECK_STATEMENTS, counts

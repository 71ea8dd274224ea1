"""SQL queries do not grow with a patient's history: the timeline and signing issue the same
number of queries for a patient with 5 and with 50 earlier signed sessions (bench/api.py prints
the same counts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.api.auth import issue_token
from bontrack.inventory.models import Lot
from bontrack.patients.models import Patient
from tests import builders
from tests.builders import sessions

pytestmark = pytest.mark.django_db

NECK = [sessions.PointInput("sternocleidomastoid", "left", Decimal(30))]


@dataclass
class Histories:
    staff: builders.Staff
    lot: Lot
    short: Patient  # 5 earlier signed sessions
    long: Patient  # 50


def with_history(s: builders.Staff, lot: Lot, record: str, count: int) -> Patient:
    """A patient with ``count`` signed sessions 12 weeks apart (one small cervical dystonia
    injection each, to keep the set-up quick) and a consent to chronic migraine today."""
    p = builders.patient(s, record)
    now = timezone.now().replace(microsecond=0)
    consented = None
    for n in range(count, 0, -1):
        at = now - timedelta(weeks=12 * n)
        if consented is None or (at - consented).days > 300:
            builders.consent(s, p, "cervical-dystonia", (at - timedelta(days=1)).date())
            consented = at
        vial = builders.open_vial(s, lot, at=at - timedelta(hours=1))
        builders.signed_session(s, p, at, vial, indication="cervical-dystonia", injections=NECK)
    builders.consent(s, p, "chronic-migraine")
    return p


@pytest.fixture
def histories() -> Histories:
    s = builders.staff()
    lot = builders.lot(s, vials=60)
    return Histories(s, lot, with_history(s, lot, "P-5", 5), with_history(s, lot, "P-50", 50))


def queries(ctx: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"][:140] for q in ctx.captured_queries)


def test_the_timeline_costs_the_same_queries_for_5_and_for_50_sessions(
    histories: Histories,
) -> None:
    _, token = issue_token(histories.staff.physician, "queries", 1)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    counts = {}
    for p in (histories.short, histories.long):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v1/patients/{p.id}/timeline")
        assert response.status_code == 200, response.content
        assert len(response.json()) == p.sessions.count()
        counts[p.record_number] = (len(ctx.captured_queries), queries(ctx))
    assert counts["P-5"][0] == counts["P-50"][0], counts["P-50"][1]


def test_signing_costs_the_same_queries_for_5_and_for_50_earlier_sessions(
    histories: Histories,
) -> None:
    s = histories.staff
    counts = {}
    for p in (histories.short, histories.long):
        vial = builders.open_vial(s, histories.lot)
        plan = sessions.plan_session(
            s.actor("physician"),
            p.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
            vial_ids=[vial.id],
        )
        at = timezone.now()
        for f in sessions.stored_result_at(plan, at)["findings"]:
            sessions.decide(
                s.actor("physician"),
                plan.id,
                fingerprint_=f["fingerprint"],
                kind="acknowledge" if f["severity"] == "warn" else "override",
                reason="Agreed with the patient after review.",
            )
        with CaptureQueriesContext(connection) as ctx:
            signed = sessions.sign_session(s.actor("physician"), plan.id, administered_at=at)
        assert signed.is_signed
        counts[p.record_number] = (len(ctx.captured_queries), queries(ctx))
    # Equal today; a small constant more would still be fine, a count that follows the history
    # is not.
    assert counts["P-50"][0] - counts["P-5"][0] <= 0, counts["P-50"][1]

"""Two sessions signed at once cannot together exceed a cumulative limit (DESIGN 3.4, Signing and
Locking): the re-check runs inside the transaction that writes the signature, holding the
patient's lock, so the second signing sees the first.

The patient had 300 U of onabotulinumtoxinA six weeks ago. Two prescribers each plan 60 U: each
plan alone stays within 400 U in 84 days, together they make 420 U. Each plan was checked while
the other was not signed, so neither has a block to override, and nobody overrode one. Both sign
at the same moment, from two threads with a database connection each: exactly one signing
succeeds; the other is refused with the cumulative-dose block.

- PostgreSQL (`postgres` marker, the second pass of `make test`): the patient's row lock
  (`select_for_update(no_key=True)`) serialises them. Both threads first meet inside their
  transactions, just before taking the lock, so the two transactions really overlap.
- SQLite (the first pass only): IMMEDIATE transactions serialise writers at BEGIN, and the 20 s
  busy timeout makes the second wait instead of failing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.db import connection, connections
from django.utils import timezone

from bontrack.accounts.models import Membership
from bontrack.audit.services import Actor, verify_clinic_chain
from bontrack.core.errors import ConflictError
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from tests import builders

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 30  # seconds: a thread stuck longer than this fails the test instead of hanging it


@dataclass
class Race:
    clinic_id: UUID
    prescribers: list[int]  # membership ids: each thread loads its own
    plans: list[UUID]
    administered_at: datetime


def two_plans_that_only_fit_one_at_a_time() -> Race:
    s = builders.staff()
    second = builders.another_prescriber(s, full_name="Sam Second", indications=builders.ALL)
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=60))
    builders.consent(s, p, "cervical-dystonia")
    stock = builders.lot(s, number="C7421A")
    six_weeks_ago = timezone.now() - timedelta(weeks=6)
    earlier = builders.signed_session(
        s,
        p,
        six_weeks_ago,
        builders.open_vial(s, stock, at=six_weeks_ago - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[sessions.PointInput("biceps-brachii", "left", Decimal(50))] * 6,
    )
    assert earlier.check_result["total_units"] == "300"

    administered_at = timezone.now().replace(microsecond=0)
    actors = [s.actor("physician"), Actor(second, "127.0.0.1")]
    plans = [
        sessions.plan_session(
            actor,
            p.id,
            product="onabotulinumtoxinA",
            indication="cervical-dystonia",
            plan_date=administered_at.date(),
            vial_ids=[builders.open_vial(s, stock).id],
            injections=[
                sessions.PointInput("sternocleidomastoid", "left", Decimal(30)),
                sessions.PointInput("sternocleidomastoid", "right", Decimal(30)),
            ],
        )
        for actor in actors
    ]
    for actor, plan in zip(actors, plans, strict=True):
        # What the signing re-check sees while the other plan is not signed: 360 U, no block.
        seen = sessions.stored_result_at(plan, administered_at)
        assert seen["total_units"] == "60"
        assert [f["rule"] for f in seen["findings"] if f["severity"] == "block"] == []
        for f in seen["findings"]:
            sessions.decide(actor, plan.id, fingerprint_=f["fingerprint"], kind="acknowledge")
    return Race(
        s.clinic.id, [a.membership.id for a in actors], [p.id for p in plans], administered_at
    )


def sign_both_at_once(race: Race, before_lock: threading.Barrier | None = None) -> list[Any]:
    """Sign both plans from two threads released together by a barrier; return, per thread, the
    signed session or the exception. With ``before_lock``, each thread also waits there inside
    its transaction, just before it asks for the patient's lock."""
    start = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def sign(n: int) -> None:
        try:
            membership = Membership.objects.select_related("clinic", "user").get(
                pk=race.prescribers[n]
            )
            start.wait(WAIT)
            outcomes[n] = sessions.sign_session(
                Actor(membership, "127.0.0.1"),
                race.plans[n],
                administered_at=race.administered_at,
            )
        except BaseException as exc:
            outcomes[n] = exc
        finally:
            connections.close_all()  # this thread's own connection

    original = sessions.lock_patient

    def meet_then_lock(patient_id: UUID) -> None:
        assert before_lock is not None
        assert connection.in_atomic_block
        before_lock.wait(WAIT)
        original(patient_id)

    patch: Callable[..., None] = meet_then_lock if before_lock else original
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sessions, "lock_patient", patch)
        threads = [threading.Thread(target=sign, args=(n,), name=f"signer-{n}") for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * WAIT)
    assert not any(thread.is_alive() for thread in threads), "a signing thread is stuck"
    return outcomes


def assert_exactly_one_signed(race: Race, outcomes: list[Any]) -> None:
    signed = [o for o in outcomes if isinstance(o, TreatmentSession)]
    refused = [o for o in outcomes if not isinstance(o, TreatmentSession)]
    assert len(signed) == 1, outcomes
    assert len(refused) == 1, outcomes
    error = refused[0]
    assert isinstance(error, ConflictError), repr(error)
    assert error.field == "findings"
    assert "cumulative-dose" in error.message
    assert "420 U" in error.message
    assert "400 U" in error.message

    # The database agrees: one signed, one still a plan, and nothing half-written.
    rows = {s.id: s for s in TreatmentSession.objects.filter(id__in=race.plans)}
    loser = race.plans[outcomes.index(error)]
    winner = race.plans[1 - outcomes.index(error)]
    assert rows[winner].is_signed
    assert sessions.verify_digest(rows[winner])
    assert not rows[loser].is_signed
    assert rows[loser].digest == ""
    assert verify_clinic_chain(race.clinic_id).intact


@pytest.mark.postgres
def test_postgresql_two_prescribers_signing_at_once_cannot_exceed_the_cumulative_limit():
    assert connection.vendor == "postgresql"
    race = two_plans_that_only_fit_one_at_a_time()
    outcomes = sign_both_at_once(race, before_lock=threading.Barrier(2))
    assert_exactly_one_signed(race, outcomes)


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the SQLite variant: IMMEDIATE transactions serialise writers (SQLite pass only)",
)
def test_sqlite_two_prescribers_signing_at_once_cannot_exceed_the_cumulative_limit():
    # No meeting inside the transactions here: the second BEGIN IMMEDIATE waits for the first
    # transaction to end, which is exactly the serialisation under test.
    race = two_plans_that_only_fit_one_at_a_time()
    outcomes = sign_both_at_once(race)
    assert_exactly_one_signed(race, outcomes)

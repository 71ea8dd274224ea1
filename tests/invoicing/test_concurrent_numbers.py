"""Two invoices issued at the same moment take the next two numbers, never the same one and
never with a gap: the clinic's numbers are taken under a lock held until the transaction ends.

- PostgreSQL (`postgres` marker): the two transactions really overlap (both threads meet inside
  them, just before the patient's lock, and each patient is its own, so that lock does not
  serialise them); the advisory lock on the clinic's invoice numbers does.
- SQLite (the first pass only): IMMEDIATE transactions serialise writers at BEGIN.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
from django.db import connection, connections

from bontrack.accounts.models import Membership
from bontrack.audit.services import Actor, verify_clinic_chain
from bontrack.invoicing import services as invoicing
from bontrack.invoicing.models import Invoice
from tests import builders
from tests.invoicing.support import priced_session

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 30  # seconds: a thread stuck longer than this fails the test instead of hanging it


def issue_both_at_once(s: builders.Staff, meet_inside: bool) -> list[Any]:
    sessions = [priced_session(s, "C-1").id, priced_session(s, "C-2").id]
    desk_id = s.front_desk.id
    start = threading.Barrier(2)
    inside = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def issue(n: int) -> None:
        try:
            member = Membership.objects.select_related("clinic", "user").get(pk=desk_id)
            start.wait(WAIT)
            outcomes[n] = invoicing.issue_invoice(Actor(member, "127.0.0.1"), sessions[n])
        except BaseException as exc:
            outcomes[n] = exc
        finally:
            connections.close_all()  # this thread's own connection

    original = invoicing.lock_patient

    def meet_then_lock(clinic_id: UUID, patient_id: UUID) -> None:
        assert connection.in_atomic_block
        inside.wait(WAIT)
        original(clinic_id, patient_id)

    with pytest.MonkeyPatch.context() as patch:
        if meet_inside:
            patch.setattr(invoicing, "lock_patient", meet_then_lock)
        threads = [threading.Thread(target=issue, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * WAIT)
    assert not any(thread.is_alive() for thread in threads), "an issuing thread is stuck"
    return outcomes


def assert_numbered_one_and_two(s: builders.Staff, outcomes: list[Any]) -> None:
    assert all(isinstance(o, Invoice) for o in outcomes), outcomes
    assert sorted(o.number for o in outcomes) == [1, 2]
    assert sorted(Invoice.objects.filter(clinic=s.clinic).values_list("number", flat=True)) == [
        1,
        2,
    ]
    assert verify_clinic_chain(s.clinic.id).intact


@pytest.mark.postgres
def test_postgresql_two_invoices_issued_at_once_take_the_next_two_numbers():
    assert connection.vendor == "postgresql"
    s = builders.staff()
    assert_numbered_one_and_two(s, issue_both_at_once(s, meet_inside=True))


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the SQLite variant: IMMEDIATE transactions serialise writers (SQLite pass only)",
)
def test_sqlite_two_invoices_issued_at_once_take_the_next_two_numbers():
    s = builders.staff()
    assert_numbered_one_and_two(s, issue_both_at_once(s, meet_inside=False))

"""Billing's rows are appended, never rewritten (DESIGN 3.4, billing.md 7.1): the database refuses
an UPDATE or a DELETE of a coverage version, a charge set or a confirmation, on both engines
(tests/services/test_immutability.py tries raw SQL, and TRUNCATE on PostgreSQL, on every
protected table)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from bontrack.audit.triggers import MESSAGE
from bontrack.billing import services as billing
from bontrack.billing.models import ChargeSet, ClaimConfirmation, Coverage
from bontrack.treatments import services as sessions
from tests.billing.support import billing_clinic, charge_sets

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]


def test_coverage_charge_sets_and_confirmations_refuse_update_and_delete():
    clinic = billing_clinic()
    clinic.cover()
    clinic.diagnose()
    # 60 U from a 200 U vial where a 100 U one would do: a claim item to confirm.
    session = clinic.sign_preempt(
        injections=[sessions.PointInput("frontalis", "left", Decimal(60))],
    )
    billing.confirm_claim_item(
        clinic.staff.actor("front_desk"), session.id, item_code="smallest-vial"
    )
    [captured] = charge_sets(session)
    for rows, change in (
        (Coverage.objects.filter(patient=clinic.patient), {"member_id": "X"}),
        (ChargeSet.objects.filter(pk=captured.pk), {"why": "rewritten"}),
        (ClaimConfirmation.objects.filter(charge_set=captured), {"note": "rewritten"}),
    ):
        assert rows.exists()
        with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
            rows.update(**change)
        # Behind the ORM's own refusal (protected foreign keys), the database's.
        with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
            rows._raw_delete(rows.db)
    captured.refresh_from_db()
    assert captured.why == ""

"""Issued invoices, the payments and refunds against them and every price version are written
once: the ORM refuses to save them again or delete them, and the database's triggers refuse the
statements that do not come through the ORM (every table is also tried, raw, by
tests/services/test_immutability.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from bontrack.audit.triggers import MESSAGE
from bontrack.core.errors import SignedRecordError
from bontrack.invoicing.models import Invoice, Payment, PriceEntry, Refund
from tests import builders
from tests.invoicing.support import paid_and_refunded

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]


@pytest.mark.parametrize("model", [PriceEntry, Invoice, Payment, Refund])
def test_the_orm_neither_saves_again_nor_deletes(model: type[PriceEntry]):
    s = builders.staff()
    paid_and_refunded(s)
    row = model.objects.get(clinic=s.clinic)
    with pytest.raises(SignedRecordError, match="never changed"):
        row.save()
    with pytest.raises(SignedRecordError, match="never deleted"):
        row.delete()


def test_the_database_refuses_what_bypasses_the_orm():
    s = builders.staff()
    invoice = paid_and_refunded(s)
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00"))
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        Payment.objects.filter(invoice=invoice).update(amount=Decimal("264.00"))
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        Refund.objects.filter(invoice=invoice).delete()
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        PriceEntry.objects.filter(clinic=s.clinic).update(amount=Decimal("0.01"))
    invoice.refresh_from_db()
    assert invoice.total == Decimal("264.00")
    assert Payment.objects.get(invoice=invoice).amount == Decimal("100.00")
    assert Refund.objects.filter(invoice=invoice).count() == 1

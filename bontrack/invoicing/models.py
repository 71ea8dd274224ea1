"""The clinic's price list, the invoices of self-pay sessions, and the payments and refunds made
against them (docs/billing.md, "Cosmetic invoices").

Every row here is appended and never changed: a new price is a new version naming the one it
replaces, an invoice is written once when it is issued, and money that comes back is a refund of
its own. Database triggers (``bontrack/audit/triggers.py``) and ``save``/``delete`` below refuse
an update or a delete. Amounts are decimals with two places in the price's currency.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from bontrack.core.errors import SignedRecordError
from bontrack.invoicing.pricing import PriceKind


class PaymentMethod(models.TextChoices):
    CASH = "cash", "cash"
    CARD = "card", "card"
    BANK_TRANSFER = "bank-transfer", "bank transfer"
    CHEQUE = "cheque", "cheque"
    OTHER = "other", "other"


class AppendOnly(models.Model):
    """A row written once: the ORM refuses to save it again or to delete it (the database's
    triggers refuse the same statements when they do not come through the ORM)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise SignedRecordError(f"a {self._meta.verbose_name} is never changed: append")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise SignedRecordError(f"a {self._meta.verbose_name} is never deleted")


class PriceEntry(AppendOnly):
    """One version of one price. The price list is, per (product, kind, area, indication), the
    latest version whose ``valid_from`` has come."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    product = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=[(k.value, k.value) for k in PriceKind])
    # A protocol code of the catalog for a per-area price ("glabellar-20"), blank otherwise.
    area = models.CharField(max_length=64, blank=True)
    # Blank: the price of every indication; else it wins over the blank one for its indication.
    indication = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)  # ISO 4217: "USD", "EUR"
    # Percent added to the amount: 0, 7.5, 20; three places for rates such as 8.875.
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3)
    valid_from = models.DateField()
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = "price"
        indexes = [
            models.Index(fields=["clinic", "product", "kind", "area", "indication"]),
            models.Index(fields=["clinic", "recorded_by"]),
            models.Index(fields=["clinic", "replaces"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="price_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0, tax_rate__lte=100),
                name="price_tax_rate_is_a_percentage",
            ),
        ]


class Invoice(AppendOnly):
    """The invoice of one signed session, numbered per clinic without gaps. Its lines were
    derived from the signed record and the prices valid on the day of treatment, never typed:
    ``lines`` holds them as issued, each amount a decimal string."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.OneToOneField(
        "treatments.TreatmentSession", on_delete=models.PROTECT, related_name="invoice"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    number = models.PositiveIntegerField()
    # A medical session the patient pays for (billing.md 7.7), rather than a cosmetic one.
    self_pay = models.BooleanField(default=False)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # [{"description", "detail", "quantity", "unit", "unit_price", "tax_rate", "amount", "tax",
    #   "price_id"}]
    lines = models.JSONField()
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    tax = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # The ids of the price versions the lines used.
    price_versions = models.JSONField(default=list)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "issued_by"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "number"], name="invoice_number_per_clinic")
        ]


class Payment(AppendOnly):
    """Money received against an invoice: how, with what reference (a card slip's number, a
    transfer's reference), and when. No card is processed here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    method = models.CharField(max_length=16, choices=PaymentMethod)
    reference = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "received_at"]),
            models.Index(fields=["clinic", "invoice"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive")
        ]


class Refund(AppendOnly):
    """Money paid back on an invoice, with why; the payments it answers stay as they were."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.TextField()
    method = models.CharField(max_length=16, choices=PaymentMethod)
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "at"]),
            models.Index(fields=["clinic", "invoice"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")
        ]

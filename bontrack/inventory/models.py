"""Lots and vials of toxin: what is in stock, reconstituted, used, wasted or recalled."""

from __future__ import annotations

import uuid

from django.db import models


class Lot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="lots")
    product = models.CharField(max_length=64)
    lot_number = models.CharField(max_length=64)
    vial_size_units = models.DecimalField(max_digits=10, decimal_places=3)
    expires_on = models.DateField()
    received_vials = models.PositiveIntegerField()
    received_on = models.DateField()
    recalled_at = models.DateTimeField(null=True, blank=True)
    recall_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "product", "lot_number"], name="lot_unique_per_clinic_and_product"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} lot {self.lot_number}"


class Vial(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="vials")
    reconstituted_at = models.DateTimeField(null=True, blank=True)
    diluent_ml = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    reconstituted_by = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="vials"
    )
    units_wasted = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    # Units given from this vial, recorded when the session that used it is signed.
    units_used = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    discarded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

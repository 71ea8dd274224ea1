"""Lots and vials of toxin: what is in stock, reconstituted, drawn, closed or recalled.

A vial's used, wasted and remaining units are never stored: they follow from the draws of the
signed sessions (``SessionVial.drawn_units``, as corrected) and from its closing (B.30), which is
an appended row when a clinician closes it and is derived from time otherwise
(``bontrack.treatments.supply``)."""

from __future__ import annotations

import uuid

from django.db import models

from bontrack.core.scoping import SavedInItsClinic


class Lot(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="lots", db_index=False
    )
    product = models.CharField(max_length=64)
    lot_number = models.CharField(max_length=64)
    vial_size_units = models.DecimalField(max_digits=10, decimal_places=3)
    expires_on = models.DateField()
    received_vials = models.PositiveIntegerField()
    received_on = models.DateField()
    recalled_at = models.DateTimeField(null=True, blank=True)
    recall_reason = models.TextField(blank=True)
    # The lot's NDC in the 11-digit 5-4-2 form (billing.md 7.5): chosen from the billing catalog
    # for the product and vial size, or typed from the carton and then marked to confirm.
    ndc = models.CharField(max_length=13, blank=True)
    ndc_to_confirm = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "product", "lot_number"], name="lot_unique_per_clinic_and_product"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} lot {self.lot_number}"


class Vial(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="vials", db_index=False)
    reconstituted_at = models.DateTimeField(null=True, blank=True)
    diluent_ml = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    reconstituted_by = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vials",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A vial not from stock (lot, size and expiry typed at signing, e.g. a pharmacy-prepared
    # syringe, B.30): it counts as a vial, and its lot row was created by that signing.
    from_stock = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "lot"]),
            models.Index(fields=["clinic", "reconstituted_by"]),
            models.Index(fields=["clinic", "patient"]),
        ]


class VialClosing(SavedInItsClinic):
    """A vial closed by a clinician (B.30): appended once, never changed. Closing at the end of
    the vial's clinic-local day or at its use-by time needs no row: it is derived from time.

    ``wasted_by_hand`` marks waste recorded for a vial no session drew; either way the waste is
    the vial's size less its current draws."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    vial = models.OneToOneField(Vial, on_delete=models.PROTECT, related_name="closing")
    at = models.DateTimeField()
    by = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    wasted_by_hand = models.BooleanField(default=False)
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "by"])]

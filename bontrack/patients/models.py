"""Patients: demographics, contact preferences, the risk factors the checker reads, diagnoses and
consents. Exposed by UUID only; every row carries its clinic."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.db import models

from bontrack.core.scoping import SavedInItsClinic

SEXES = ("female", "male", "other", "unknown")
CONTACT_METHODS = ("none", "phone", "email", "post")


class Patient(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="patients", db_index=False
    )
    record_number = models.CharField(max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=[(s, s) for s in SEXES], default="unknown")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    contact_agreed = models.BooleanField(default=False)
    contact_method = models.CharField(
        max_length=10, choices=[(m, m) for m in CONTACT_METHODS], default="none"
    )
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    weight_measured_on = models.DateField(null=True, blank=True)
    pregnant = models.BooleanField(default=False)
    breastfeeding = models.BooleanField(default=False)
    conditions = models.JSONField(default=list, blank=True)
    medications = models.JSONField(default=list, blank=True)
    allergies = models.JSONField(default=list, blank=True)
    # [{"site": "masseter"}, {"site": "axilla", "side": "left"}]
    infected_sites = models.JSONField(default=list, blank=True)
    restricted = models.BooleanField(default=False)
    restricted_by = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "record_number"], name="record_number_unique_per_clinic"
            )
        ]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            models.Index(fields=["clinic", "restricted_by"]),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.record_number})"


class Diagnosis(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="diagnoses", db_index=False
    )
    indication = models.CharField(max_length=64)
    icd10 = models.CharField(max_length=16)
    noted_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "patient"])]


class Consent(SavedInItsClinic):
    """A patient's (or guardian's) consent to treatment of one indication (B.22, B.29)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="consents", db_index=False
    )
    indication = models.CharField(max_length=64)
    signed_on = models.DateField()
    signed_by = models.CharField(max_length=200)  # the patient, or the guardian of a child
    expires_on = models.DateField()
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]

    @property
    def withdrawal_record(self) -> ConsentWithdrawal | None:
        """Its withdrawal, an appended row of its own (DESIGN 3.4), if it was withdrawn."""
        if "withdrawal" in self._state.fields_cache:
            return self._state.fields_cache["withdrawal"]  # type: ignore[no-any-return]
        found = ConsentWithdrawal.objects.filter(
            clinic_id=self.clinic_id, consent_id=self.pk
        ).first()
        self._state.fields_cache["withdrawal"] = found
        return found

    @property
    def withdrawn_on(self) -> date | None:
        found = self.withdrawal_record
        return None if found is None else found.on

    @property
    def withdrawn_reason(self) -> str:
        found = self.withdrawal_record
        return "" if found is None else found.reason

    def valid_on(self, day: date) -> bool:
        """B.29: signed on or before the day, the day before both expiry and 365 days after
        signing, and not withdrawn (by that day)."""
        if self.withdrawn_on is not None and self.withdrawn_on <= day:
            return False
        return self.signed_on <= day < min(self.expires_on, self.signed_on + timedelta(days=365))


class ConsentWithdrawal(SavedInItsClinic):
    """A consent withdrawn from a day on, with the reason: appended, never rewritten; the consent
    itself is left as it was signed and reads "withdrawn" from this row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    consent = models.OneToOneField(Consent, on_delete=models.PROTECT, related_name="withdrawal")
    on = models.DateField()
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["clinic", "recorded_by"])]


def with_withdrawals(consents: list[Consent]) -> list[Consent]:
    """The consents with their withdrawals read in one statement inside their clinic (a
    ``select_related`` would join the withdrawals by consent alone)."""
    if not consents:
        return consents
    clinic_id = consents[0].clinic_id
    withdrawals = {
        w.consent_id: w
        for w in ConsentWithdrawal.objects.filter(
            clinic_id=clinic_id, consent_id__in=[c.pk for c in consents]
        )
    }
    for consent in consents:
        consent._state.fields_cache["withdrawal"] = withdrawals.get(consent.pk)
    return consents

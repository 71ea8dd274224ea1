"""Treatment sessions: a plan until signed; then written once, never changed.

Cancellation (of a plan), co-signature, amendments and entered-in-error are appended records that
point at the session; its current status and values are derived from them. Triggers in the
database and ``save``/``delete`` here refuse changes to a signed session and its injections.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from bontrack.core.errors import SignedRecordError
from bontrack.core.scoping import SavedInItsClinic

# How the injector localised the muscles: none (anatomical landmarks), EMG, electrical
# stimulation, ultrasound.
GUIDANCE = ("none", "emg", "electrical-stimulation", "ultrasound")


class TreatmentSession(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="sessions", db_index=False
    )
    product = models.CharField(max_length=64)
    indication = models.CharField(max_length=64)
    protocol = models.CharField(max_length=64, blank=True)
    plan_date = models.DateField()
    notes = models.TextField(blank=True)
    # Technique, structured so that the note prints it and billing reads it (DESIGN 3.4): how the
    # muscles were localised ("" while not yet recorded) and the needle (gauge and length, as
    # written on the box: "30 G 13 mm").
    guidance = models.CharField(max_length=24, blank=True, choices=[(g, g) for g in GUIDANCE])
    needle = models.CharField(max_length=40, blank=True)
    # The weight a weight-based dose rule read at signing, and when it was measured: the note of
    # a child treated by weight shows it with the units per kg (null when no such rule applied).
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    weight_measured_on = models.DateField(null=True, blank=True)
    planned_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    injector = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # The latest check: {"verdict", "total_units", "findings": [...], "catalog_version"}.
    check_result = models.JSONField(default=dict)
    catalog_version = models.CharField(max_length=16)
    administered_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    digest = models.CharField(max_length=64, blank=True)
    # The version of the canonical form the digest was computed under (DESIGN 3.4): verification
    # rebuilds that version, so that records signed before a new field still verify.
    canon = models.PositiveSmallIntegerField(default=1)
    external = models.BooleanField(default=False)  # a dose given elsewhere, recorded here
    # A dose given elsewhere (external): where it was given and the document it was read from;
    # ``external_key`` identifies an imported dose, so that importing it again adds nothing.
    source_place = models.CharField(max_length=200, blank=True)
    source_document = models.CharField(max_length=300, blank=True)
    external_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "plan_date"]),
            models.Index(fields=["clinic", "signed_at"]),
            models.Index(fields=["clinic", "planned_by"]),
            models.Index(fields=["clinic", "injector"]),
            models.Index(fields=["clinic", "signed_by"]),
            models.Index(fields=["clinic", "external_key"]),
        ]

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            stored = (
                type(self)
                .objects.filter(clinic_id=self.clinic_id, pk=self.pk)
                .values_list("signed_at", flat=True)
                .first()
            )
            if stored is not None:
                raise SignedRecordError("a signed session is never changed: append an amendment")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_signed:
            raise SignedRecordError("a signed session is never deleted: mark it entered-in-error")
        return super().delete(*args, **kwargs)


class Injection(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="injections", db_index=False
    )
    position = models.PositiveIntegerField()
    site = models.CharField(max_length=64)
    side = models.CharField(max_length=8)
    units = models.DecimalField(max_digits=10, decimal_places=3)
    route = models.CharField(max_length=16)
    vial = models.ForeignKey(
        "inventory.Vial",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="injections",
        db_index=False,
    )
    # A dose given elsewhere, imported: the administration's identifier in the source system
    # ("system|value"), so that each imported administration stays itself.
    source_identifier = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "vial"]),
        ]
        ordering = ["position"]

    def _session_signed(self) -> bool:
        return TreatmentSession.objects.filter(
            clinic_id=self.clinic_id, pk=self.session_id, signed_at__isnull=False
        ).exists()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._session_signed():
            raise SignedRecordError("the injections of a signed session are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self._session_signed():
            raise SignedRecordError("the injections of a signed session are never deleted")
        return super().delete(*args, **kwargs)


class SessionVial(SavedInItsClinic):
    """A vial used for a session (its lot, reconstitution and age are checked)."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="session_vials", db_index=False
    )
    vial = models.ForeignKey(
        "inventory.Vial", on_delete=models.PROTECT, related_name="session_uses", db_index=False
    )
    # B.30: the units this session drew from the vial, stored once at signing (null on a plan).
    drawn_units = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "vial"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "session", "vial"], name="vial_once_per_session"
            )
        ]


class FindingDecision(SavedInItsClinic):
    """A clinician's answer to one finding of the current plan: acknowledged (a warning) or
    overridden with a written reason (an overridable block, prescribers only). Bound to the
    finding's fingerprint, so that a changed plan asks again."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="decisions", db_index=False
    )
    fingerprint = models.CharField(max_length=64)
    rule = models.CharField(max_length=32)
    kind = models.CharField(
        max_length=16, choices=[("acknowledge", "acknowledge"), ("override", "override")]
    )
    reason = models.TextField(blank=True)
    by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "by"]),
        ]


class SessionEventKind(models.TextChoices):
    CANCELLED = "cancelled", "cancelled"
    CO_SIGNED = "co-signed", "co-signed"
    AMENDED = "amended", "amended"
    ENTERED_IN_ERROR = "entered-in-error", "entered-in-error"
    ADDENDUM = "addendum", "addendum"


class SessionEvent(SavedInItsClinic):
    """Appended to a session: cancelled (a plan), co-signed, amended, entered-in-error, or a note
    addendum of its injector (text only, B.33)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=SessionEventKind)
    reason = models.TextField(blank=True)
    by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    # For an amendment: the corrected injections and notes, in full.
    data = models.JSONField(default=dict)
    digest = models.CharField(max_length=64, blank=True)
    amends_digest = models.CharField(max_length=64, blank=True)
    canon = models.PositiveSmallIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "by"]),
        ]
        ordering = ["at", "id"]


class CorrectionKind(models.TextChoices):
    AMEND = "amend", "amend"
    ENTERED_IN_ERROR = "entered-in-error", "entered-in-error"


class CorrectionRequest(SavedInItsClinic):
    """A nurse injector's proposed correction of a signed session (B.33): a full amendment or an
    entered-in-error, naming the digest it corrects. Appended; its outcome is a decision row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.ForeignKey(
        TreatmentSession,
        on_delete=models.PROTECT,
        related_name="correction_requests",
        db_index=False,
    )
    kind = models.CharField(max_length=20, choices=CorrectionKind)
    corrects_digest = models.CharField(max_length=64)
    reason = models.TextField()
    # The proposal in full: {"injections": [...], "notes": ..., "vials": [...]} for an amendment,
    # {"toxin_given": bool} for an entered-in-error.
    proposed = models.JSONField(default=dict)
    by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["clinic", "at"]),
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "by"]),
        ]


class CorrectionOutcome(models.TextChoices):
    ACCEPTED = "accepted", "accepted"
    DECLINED = "declined", "declined"
    WITHDRAWN = "withdrawn", "withdrawn"


class CorrectionDecision(SavedInItsClinic):
    """What became of a correction request: accepted or declined by a prescriber, or withdrawn by
    the nurse who filed it. One per request, appended."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    request = models.OneToOneField(
        CorrectionRequest, on_delete=models.PROTECT, related_name="decision"
    )
    outcome = models.CharField(max_length=10, choices=CorrectionOutcome)
    reason = models.TextField(blank=True)
    by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    # The amendment or entered-in-error an acceptance appended.
    event = models.ForeignKey(
        SessionEvent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = [models.Index(fields=["clinic", "by"]), models.Index(fields=["clinic", "event"])]

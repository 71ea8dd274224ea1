"""Break-glass access to a restricted chart, and patients' requests to amend their record.

All three tables are append-only (database triggers, ``audit/triggers.py``): a request's decision
is a row of its own that points at the request, never an update of it (ONC 170.315(d)(4)).
"""

from __future__ import annotations

import uuid

from django.db import models

from bontrack.core.scoping import SavedInItsClinic


class AmendmentOutcome(models.TextChoices):
    ACCEPTED = "accepted", "accepted"
    DECLINED = "declined", "declined"
    # "declined" is the word for a refusal everywhere (B.33); "denied" is how decisions recorded
    # before it were stored: append-only rows are never rewritten, and readers show them declined.
    DENIED = "denied", "declined"


class BreakGlassAccess(SavedInItsClinic):
    """A member opened a restricted chart outside their care team, giving a reason; the chart
    stays open to them until ``expires_at``. Shown to the clinic admin (ONC 170.315(d)(6))."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reason = models.TextField()
    at = models.DateTimeField()
    expires_at = models.DateTimeField()
    address = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "membership"]),
        ]
        ordering = ["-at"]


class AmendmentRequest(SavedInItsClinic):
    """A patient asked for their record to be amended: what they asked, and which record."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="amendment_requests",
        db_index=False,
    )
    # The record the request concerns (a treatment session), or none for the chart in general.
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    received_on = models.DateField()
    request = models.TextField()
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]
        ordering = ["-recorded_at"]


class AmendmentDecision(SavedInItsClinic):
    """The acceptance or denial of a request, appended beside it. An accepted request names the
    session amendment that carries the change (appended too), when there is one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    request = models.OneToOneField(
        AmendmentRequest, on_delete=models.PROTECT, related_name="decision"
    )
    decision = models.CharField(max_length=16, choices=AmendmentOutcome)
    reason = models.TextField()
    amendment = models.ForeignKey(
        "treatments.SessionEvent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "amendment"]),
            models.Index(fields=["clinic", "by"]),
        ]

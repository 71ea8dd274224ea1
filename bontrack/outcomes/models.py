"""Adverse events, linked to the session that may have caused them."""

from __future__ import annotations

import uuid

from django.db import models

SEVERITIES = ("mild", "moderate", "severe", "life-threatening")
RELATEDNESS = ("unrelated", "unlikely", "possible", "probable", "certain")
OUTCOMES = (
    "recovered",
    "recovering",
    "not-recovered",
    "recovered-with-sequelae",
    "fatal",
    "unknown",
)


class AdverseEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="adverse_events"
    )
    session = models.ForeignKey(
        "treatments.TreatmentSession", on_delete=models.PROTECT, related_name="adverse_events"
    )
    term = models.CharField(max_length=64)
    onset_date = models.DateField()
    severity = models.CharField(max_length=20, choices=[(s, s) for s in SEVERITIES])
    serious = models.BooleanField(default=False)
    relatedness = models.CharField(max_length=20, choices=[(r, r) for r in RELATEDNESS])
    outcome = models.CharField(max_length=30, choices=[(o, o) for o in OUTCOMES])
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

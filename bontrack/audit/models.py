"""Append-only, hash-chained audit entries (per clinic) and the security log (no clinic).

Fields follow ASTM E2147 as ONC 170.315(d)(2) asks: when, who, which patient, what action, which
data, from which address. ``hash = HMAC-SHA-256(key, canonical entry + previous hash)`` under a
key held outside the database (``keys.py``; entries of earlier releases: SHA-256 without a key);
database triggers refuse UPDATE and DELETE (``triggers.py``); signed checkpoints of the chains'
heads are kept outside the table (``anchor.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

ACTIONS = (
    "create",
    "read",
    "update",
    "delete",
    "print",
    "export",
    "sign",
    "override",
    "amend",
    "disclose",
    "break-glass",
)


class AuditEntry(models.Model):
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=32, blank=True)
    patient_id = models.UUIDField(null=True)
    action = models.CharField(max_length=16, choices=[(a, a) for a in ACTIONS])
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict)
    address = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # The id of the HMAC key the hash was made with (audit/keys.py); blank: an unkeyed SHA-256
    # entry of an earlier release, verified as it was written.
    key_id = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "user"]),
            models.Index(fields=["clinic", "patient_id"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "seq"], name="one_audit_position_per_clinic")
        ]
        ordering = ["clinic", "seq"]


class SecurityEvent(models.Model):
    """Sign-in, failed sign-in, refused access and break-glass: one chain for the whole service."""

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    username = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32)
    clinic_id = models.UUIDField(null=True)
    detail = models.JSONField(default=dict)
    address = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # The id of the HMAC key the hash was made with (audit/keys.py); blank: an unkeyed SHA-256
    # entry of an earlier release, verified as it was written.
    key_id = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["seq"]

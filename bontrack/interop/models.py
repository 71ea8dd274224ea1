"""Interoperability rows: SMART backend-services clients and their tokens, and bulk exports.

A system client acts through a membership of its own (role ``system-client``: it reads charts,
never writes, never signs in), so that the audit trail names it like any other member.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from bontrack.core.scoping import SavedInItsClinic


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    COMPLETED = "completed", "completed"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"
    EXPIRED = "expired", "expired"


EXPORT_STATUSES = tuple(ExportStatus.values)
# An export still at work: one at a time per clinic.
UNDER_WAY = (ExportStatus.QUEUED, ExportStatus.RUNNING)
EXPORT_LEVELS = ("system", "patient", "group")


class SystemClient(models.Model):
    """A backend service registered by a clinic admin with its public keys (a JWKS)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # the client_id
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.PROTECT, related_name="system_client"
    )
    name = models.CharField(max_length=100)
    jwks = models.JSONField()  # {"keys": [public JWKs]}
    scopes = models.JSONField(default=list)  # what it may be granted, e.g. ["system/*.rs"]
    registered_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class SystemToken(models.Model):
    """A short-lived access token (stored hashed) with the scopes granted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(SystemClient, on_delete=models.PROTECT, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()


class UsedAssertion(models.Model):
    """A client assertion's ``jti``, kept until it expires: a replayed assertion is refused."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(SystemClient, on_delete=models.PROTECT, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "jti"], name="assertion_used_once")
        ]


class ExportJob(SavedInItsClinic):
    """One bulk $export: who asked, what, and where it stands. One export at a time per clinic
    (a partial unique index), so that a second kick-off is told to retry later (429)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    client = models.ForeignKey(
        SystemClient,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    level = models.CharField(max_length=8, choices=[(v, v) for v in EXPORT_LEVELS])
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    request_url = models.TextField()
    address = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=ExportStatus)
    progress = models.CharField(max_length=100, blank=True)
    transaction_time = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # [{"type", "file", "count"}] for the data; the same for the error file.
    output = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "membership"]),
            models.Index(fields=["clinic", "client"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(status__in=UNDER_WAY),
                name="one_running_export_per_clinic",
            )
        ]

"""Clinics, and the memberships through which users act in them (DESIGN.md 3.4)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from bontrack.accounts.permissions import Perm, Role, has_perm


class Clinic(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # Plan dates are the clinic's local dates (an injection at 23:30 belongs to that day).
    time_zone = models.CharField(max_length=64, default="UTC")
    # Everyone signs in with a second factor, not only prescribers and admins (docs/security.md).
    require_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one clinic, with credentials, privileged indications and, for a nurse
    injector, the prescribers who supervise her and co-sign her sessions (DESIGN 3.4)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=[(r.value, r.value) for r in Role])
    credentials = models.JSONField(default=list, blank=True)
    indications = models.JSONField(default=list, blank=True)
    # One or more prescribers of the clinic; the clinic admin edits the list.
    supervisors = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="supervisees"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic"], name="one_membership_per_user_and_clinic"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) at {self.clinic}"

    def can(self, perm: Perm) -> bool:
        # A request made with a scoped API token acts with that token's scopes only.
        scopes: frozenset[str] | None = getattr(self, "token_scopes", None)
        if scopes is not None and perm.value not in scopes:
            return False
        return self.active and has_perm(self.role, perm)

    @property
    def display_name(self) -> str:
        full = self.user.get_full_name()  # type: ignore[union-attr]
        return full or self.user.get_username()


class ApiToken(models.Model):
    """A bearer token for one membership, stored hashed (only its prefix is kept in clear)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The permissions (Perm values) the token carries, a subset of its role's; empty means all.
    scopes = models.JSONField(default=list, blank=True)

"""Clinics, and the memberships through which users act in them (DESIGN.md 3.4)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from bontrack.accounts.permissions import Perm, Role, has_perm


def default_opening_hours() -> dict[str, list[list[str]]]:
    """Monday to Friday, 08:00 to 18:00, until the clinic sets its own."""
    weekdays = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    return {**weekdays, "sat": [], "sun": []}


class Clinic(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # Plan dates are the clinic's local dates (an injection at 23:30 belongs to that day).
    time_zone = models.CharField(max_length=64, default="UTC")
    # Everyone signs in with a second factor, not only prescribers and admins (docs/security.md).
    require_mfa = models.BooleanField(default=False)
    # {"mon": [["08:00", "18:00"]], ..., "sun": []}: the clinic's local times, one or more
    # intervals a day (a lunch break splits a day). Appointments outside them need confirming and
    # the proposed next visit falls within them (bontrack/charting/hours.py).
    opening_hours = models.JSONField(default=default_opening_hours)
    # Where patients reach the clinic: reminders go out from (or with a Reply-To of) this address
    # and give this number, so that nothing invites a reply to an address nobody reads.
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
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
    # The prescriber's National Provider Identifier, rendering their claims (billing.md 7.9):
    # 10 digits with a Luhn check digit; blank until the clinic admin records it.
    npi = models.CharField(max_length=10, blank=True)
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

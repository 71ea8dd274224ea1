"""Writing and verifying the audit trail and the security log.

Entries are keyed (HMAC-SHA-256, ``keys.py``); the chains' heads are anchored outside the table
by signed checkpoints (``anchor.py``).

A clinical service opens ``clinical_transaction(actor)``, records what it read or wrote on the
trail it gets, and the trail's entries are appended as the last statements of the transaction:
the lock order is always patient, then audit chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from bontrack.accounts.models import Clinic, Membership
from bontrack.audit.chain import GENESIS, chain_hash, keyed_chain_hash
from bontrack.audit.keys import signing_key, verifying_keys
from bontrack.audit.models import AuditEntry, SecurityEvent

SECURITY_LOCK_KEY = 7_244_001  # advisory lock key of the security log's chain


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which clinic, from where."""

    membership: Membership
    address: str = ""

    @property
    def clinic(self) -> Clinic:
        return self.membership.clinic


@dataclass
class AuditTrail:
    actor: Actor
    pending: list[dict[str, Any]] = field(default_factory=list)
    # The chain's head (seq, hash) as a caller read it with rows of its own, where
    # ``head_readable_early`` allows: ``write`` then appends in one statement.
    head: tuple[int, str] | None = None

    @staticmethod
    def head_readable_early() -> bool:
        """Whether the head read anywhere in the transaction is still the head at its end:
        SQLite's IMMEDIATE transactions hold the write lock from their first statement. On
        PostgreSQL the head is read after the chain's lock, taken last (DESIGN 3.4)."""
        return connection.vendor != "postgresql"

    def record(
        self,
        action: str,
        object_type: str,
        object_id: object = "",
        patient_id: UUID | None = None,
        **detail: Any,
    ) -> None:
        self.pending.append(
            {
                "action": action,
                "object_type": object_type,
                "object_id": str(object_id),
                "patient_id": patient_id,
                "detail": detail,
            }
        )

    def write(self) -> None:
        if not self.pending:
            return
        membership = self.actor.membership
        _lock_chain(str(membership.clinic_id))
        if self.head is not None and self.head_readable_early():
            seq, prev = self.head
        else:
            head = (
                AuditEntry.objects.filter(clinic_id=membership.clinic_id).order_by("-seq").first()
            )
            seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
        now = timezone.now()
        key = signing_key()
        rows = []
        for item in self.pending:
            seq += 1
            entry = AuditEntry(
                clinic_id=membership.clinic_id,
                seq=seq,
                at=now,
                user_id=membership.user_id,
                username=membership.user.get_username(),
                role=membership.role,
                address=self.actor.address,
                prev_hash=prev,
                key_id=key.id,
                **item,
            )
            entry.hash = keyed_chain_hash(audit_canonical(entry), prev, key.secret)
            prev = entry.hash
            rows.append(entry)
        AuditEntry.objects.bulk_create(rows)
        self.head = (seq, prev)
        self.pending.clear()


def audit_canonical(entry: AuditEntry) -> dict[str, Any]:
    return {
        "clinic": entry.clinic_id,
        "seq": entry.seq,
        "at": entry.at,
        "user": entry.user_id,
        "username": entry.username,
        "role": entry.role,
        "patient": entry.patient_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "detail": entry.detail,
        "address": entry.address,
    }


def _lock_chain(key: str | int) -> None:
    """Serialise appends to one chain. SQLite's IMMEDIATE transactions already do."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [str(key)])


@contextmanager
def clinical_transaction(actor: Actor) -> Iterator[AuditTrail]:
    """One transaction for a clinical change and its audit entries, written last."""
    try:
        with transaction.atomic():
            trail = AuditTrail(actor)
            yield trail
            trail.write()
    except Exception as error:
        # The refused transaction has rolled back: its security entry can now be kept.
        refusal = getattr(error, "refusal", None)
        if refusal is not None:
            record_security_event(**refusal)
            error.refusal = None  # type: ignore[attr-defined]
        raise


def record_security_event(
    kind: str,
    username: str = "",
    user_id: int | None = None,
    clinic_id: UUID | None = None,
    address: str = "",
    **detail: Any,
) -> None:
    """Append to the security log in a transaction of its own (after a refused request's
    transaction has ended, so that its rollback keeps the entry)."""
    key = signing_key()
    with transaction.atomic():
        _lock_chain(SECURITY_LOCK_KEY)
        head = SecurityEvent.objects.order_by("-seq").first()
        seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
        event = SecurityEvent(
            seq=seq,
            at=timezone.now(),
            username=username,
            user_id=user_id,
            kind=kind,
            clinic_id=clinic_id,
            detail=detail,
            address=address,
            prev_hash=prev,
            key_id=key.id,
        )
        event.hash = keyed_chain_hash(security_canonical(event), prev, key.secret)
        event.save()


def security_canonical(event: SecurityEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "username": event.username,
        "user": event.user_id,
        "kind": event.kind,
        "clinic": event.clinic_id,
        "detail": event.detail,
        "address": event.address,
    }


@dataclass(frozen=True)
class ChainReport:
    name: str
    entries: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def _entry_problem(
    entry: AuditEntry | SecurityEvent,
    canonical: dict[str, Any],
    prev: str,
    keys: dict[str, bytes],
    keyed_before: bool,
) -> str:
    """What is wrong with one entry, or "". A keyed entry verifies only under its key; an unkeyed
    one (written by an earlier release) only before the chain's first keyed entry."""
    if entry.prev_hash != prev:
        return "its previous hash does not match"
    if entry.key_id:
        key = keys.get(entry.key_id)
        if key is None:
            return (
                f"it is keyed with key {entry.key_id}, which is not configured: set "
                "BONTRACK_AUDIT_KEY or BONTRACK_AUDIT_KEY_FALLBACKS to the key it was written with"
            )
        if keyed_chain_hash(canonical, prev, key) != entry.hash:
            return "its content does not match its hash"
        return ""
    if keyed_before:
        return "it is unkeyed, after keyed entries"
    if chain_hash(canonical, prev) != entry.hash:
        return "its content does not match its hash"
    return ""


def verify_clinic_chain(clinic_id: UUID) -> ChainReport:
    name = f"clinic {clinic_id}"
    keys = verifying_keys()
    prev = GENESIS
    count = 0
    keyed = False
    for entry in AuditEntry.objects.filter(clinic_id=clinic_id).order_by("seq").iterator():
        count += 1
        if entry.seq != count:
            return ChainReport(name, count, entry.seq, f"entry {count} is missing")
        problem = _entry_problem(entry, audit_canonical(entry), prev, keys, keyed)
        if problem:
            return ChainReport(name, count, entry.seq, problem)
        keyed = keyed or bool(entry.key_id)
        prev = entry.hash
    return ChainReport(name, count)


def verify_security_chain() -> ChainReport:
    name = "security log"
    keys = verifying_keys()
    prev = GENESIS
    count = 0
    keyed = False
    for event in SecurityEvent.objects.order_by("seq").iterator():
        count += 1
        if event.seq != count:
            return ChainReport(name, count, event.seq, f"entry {count} is missing")
        problem = _entry_problem(event, security_canonical(event), prev, keys, keyed)
        if problem:
            return ChainReport(name, count, event.seq, problem)
        keyed = keyed or bool(event.key_id)
        prev = event.hash
    return ChainReport(name, count)

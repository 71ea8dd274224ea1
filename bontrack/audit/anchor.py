"""Signed checkpoints of every chain's head, kept outside the database.

Each line of the checkpoint file (``BONTRACK_AUDIT_CHECKPOINTS``, by default
``var/audit_checkpoints.jsonl``) records, for every clinic's audit chain and the security log,
the last entry's position and hash, signed with HMAC-SHA-256 under the audit key and naming the
previous line's signature. Lines are only ever appended: by `bontrack audit checkpoint` (run on a
schedule) and by every `bontrack backup` (from the backup's own snapshot).

`bontrack audit verify` compares the chains with every checkpoint: a chain that ends before an
anchored entry (its last entries deleted, or an older copy of the database restored), an anchored
entry whose hash differs (the chain re-hashed) and an unkeyed entry written after a checkpoint are
each named. What a checkpoint cannot see: entries appended after the latest one and removed again
before the next; and a checkpoint file deleted or cut short as a whole (keep a copy off the host).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Max

from bontrack.audit.chain import GENESIS, sign
from bontrack.audit.keys import signing_key, verifying_keys
from bontrack.audit.models import AuditEntry, SecurityEvent

SECURITY = "security"
CLINIC = "clinic:"


def checkpoint_file() -> Path:
    return Path(settings.BONTRACK_AUDIT_CHECKPOINTS)


def current_heads() -> dict[str, dict[str, Any]]:
    """Every chain's head as the database holds it now."""
    heads: dict[str, dict[str, Any]] = {}
    tops = AuditEntry.objects.values("clinic_id").annotate(top=Max("seq")).order_by("clinic_id")
    for row in tops:
        digest = (
            AuditEntry.objects.filter(clinic_id=row["clinic_id"], seq=row["top"])
            .values_list("hash", flat=True)
            .get()
        )
        heads[f"{CLINIC}{row['clinic_id']}"] = {"seq": row["top"], "hash": digest}
    security = SecurityEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    if security is not None:
        heads[SECURITY] = {"seq": security[0], "hash": security[1]}
    return heads


def heads_from_snapshot(facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The heads a backup read from its own snapshot (ops/backup.py ``snapshot_facts``)."""
    heads = {
        f"{CLINIC}{UUID(clinic)}": {"seq": int(head["seq"]), "hash": head["hash"]}
        for clinic, head in facts["audit_heads"].items()
    }
    if facts.get("security_head"):
        heads[SECURITY] = dict(facts["security_head"])
    return heads


@dataclass
class Checkpoint:
    number: int
    at: str
    reason: str
    chains: dict[str, dict[str, Any]]


@dataclass
class CheckpointFile:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    last_mac: str = GENESIS


def read_checkpoints(path: Path | None = None) -> CheckpointFile:
    path = path or checkpoint_file()
    found = CheckpointFile()
    if not path.exists():
        return found
    keys = verifying_keys()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            body = {k: v for k, v in record.items() if k != "mac"}
            mac, key_id, at = record["mac"], record["key_id"], record["at"]
            chains = record["chains"]
        except (ValueError, KeyError, TypeError, AttributeError):
            found.problems.append(
                f"checkpoint {number}: not a checkpoint record (the file {path} is damaged)"
            )
            continue
        key = keys.get(key_id)
        if key is None:
            found.problems.append(
                f"checkpoint {number} ({at}): signed with key {key_id}, which is not configured: "
                "set BONTRACK_AUDIT_KEY or BONTRACK_AUDIT_KEY_FALLBACKS to the key it was "
                "signed with"
            )
            continue
        if sign(body, key) != mac:
            found.problems.append(
                f"checkpoint {number} ({at}): its signature does not verify: the checkpoint "
                f"file {path} was edited"
            )
            continue
        if body.get("prev") != found.last_mac:
            found.problems.append(
                f"checkpoint {number} ({at}): it does not follow the checkpoint before it: "
                f"lines of {path} were removed"
            )
        found.last_mac = mac
        found.checkpoints.append(Checkpoint(number, at, str(body.get("reason", "")), chains))
    return found


def write_checkpoint(
    heads: dict[str, dict[str, Any]] | None = None, reason: str = "scheduled"
) -> dict[str, Any]:
    """Append a signed checkpoint of ``heads`` (by default the database's heads now)."""
    path = checkpoint_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = signing_key()
    body = {
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "reason": reason,
        "key_id": key.id,
        "prev": read_checkpoints(path).last_mac,
        "chains": current_heads() if heads is None else heads,
    }
    line = json.dumps({**body, "mac": sign(body, key.secret)}, sort_keys=True) + "\n"
    # O_APPEND: a line is added after whatever is there, never over it.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(handle, line.encode("utf-8"))
        os.fsync(handle)
    finally:
        os.close(handle)
    return body


def _chain_name(chain: str) -> str:
    return "security log" if chain == SECURITY else f"clinic {chain.removeprefix(CLINIC)}"


def compare_with_checkpoints(found: CheckpointFile, clinic_id: UUID | None = None) -> list[str]:
    """What differs between the chains and their anchored heads: at most one problem per chain,
    from the newest checkpoint that shows one."""
    problems: dict[str, str] = {}
    for checkpoint in reversed(found.checkpoints):
        for chain, head in checkpoint.chains.items():
            if chain in problems:
                continue
            if clinic_id is not None and chain != f"{CLINIC}{clinic_id}":
                continue
            problem = _anchor_problem(chain, int(head["seq"]), str(head["hash"]), checkpoint)
            if problem:
                problems[chain] = problem
    return list(problems.values())


def _anchor_problem(chain: str, seq: int, digest: str, checkpoint: Checkpoint) -> str:
    name = _chain_name(chain)
    if chain == SECURITY:
        rows = SecurityEvent.objects.all()
        noun = "log"
    else:
        rows = AuditEntry.objects.filter(clinic_id=UUID(chain.removeprefix(CLINIC)))
        noun = "chain"
    when = f"checkpoint {checkpoint.number} ({checkpoint.at}, {checkpoint.reason})"
    last = rows.aggregate(last=Max("seq"))["last"] or 0
    if last < seq:
        return (
            f"{name}: the {noun} ends at entry {last}, but {when} anchored entry {seq}: entries "
            f"{last + 1} to {seq} were removed, or an older copy of the database was restored"
        )
    stored = rows.filter(seq=seq).values_list("hash", flat=True).first()
    if stored != digest:
        return (
            f"{name}: entry {seq} differs from {when}: the {noun} was rewritten and re-hashed "
            "after the checkpoint"
        )
    unkeyed = rows.filter(seq__gt=seq, key_id="").order_by("seq").values_list("seq", flat=True)
    if unkeyed:
        return f"{name}: entry {unkeyed[0]} is unkeyed, though written after {when}"
    return ""

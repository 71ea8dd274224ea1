"""Canonical JSON and the hash chain shared by audit entries, the security log and digests."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bontrack.domain.units import format_decimal

GENESIS = "0" * 64


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, uuid.UUID):
        return str(value).lower()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Keys sorted, no whitespace, UUIDs lowercase, Decimals normalised, datetimes UTC with Z."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(entry: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256((canonical_json(entry) + prev_hash).encode("utf-8")).hexdigest()


def keyed_chain_hash(entry: dict[str, Any], prev_hash: str, key: bytes) -> str:
    """HMAC-SHA-256 of the same bytes as ``chain_hash``, under a key held outside the database."""
    message = (canonical_json(entry) + prev_hash).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(document: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_json(document).encode("utf-8"), hashlib.sha256).hexdigest()


def digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()

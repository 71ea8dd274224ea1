"""Bodies and answers of the security routes (api/security.py, api/tokens.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from bontrack.api.schemas import In


class TokenInfo(Schema):
    id: UUID
    name: str
    prefix: str
    membership_id: UUID
    clinic_id: UUID
    role: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class BreakGlassIn(In):
    reason: str = Field(min_length=1, max_length=2000)


class BreakGlassOut(Schema):
    id: UUID
    patient_id: UUID
    membership_id: UUID
    username: str
    reason: str
    at: datetime
    expires_at: datetime
    address: str


class DisclosureOut(Schema):
    seq: int
    at: datetime
    user: str
    role: str
    action: str
    how: str
    data: str
    object_id: str
    what: str
    address: str


class AmendmentRequestIn(In):
    request: str = Field(min_length=1, max_length=10_000)
    received_on: date
    session_id: UUID | None = None


class AmendmentDecisionIn(In):
    decision: Literal["accepted", "declined"]
    reason: str = Field(min_length=1, max_length=10_000)
    amendment_id: UUID | None = None


class AmendmentDecisionOut(Schema):
    id: UUID
    decision: str
    reason: str
    amendment_id: UUID | None
    by: str
    at: datetime


class AmendmentRequestOut(Schema):
    id: UUID
    patient_id: UUID
    session_id: UUID | None
    received_on: date
    request: str
    recorded_by: str
    recorded_at: datetime
    status: Literal["requested", "accepted", "declined"]
    decision: AmendmentDecisionOut | None


class PatientSearchIn(In):
    """A name or record number to look for, in the body (never in the address)."""

    q: str = Field(min_length=1, max_length=100)

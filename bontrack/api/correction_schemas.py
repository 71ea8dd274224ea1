"""The API's shapes for correcting a signed session (B.33): amendments, entered-in-error, note
addenda and correction requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema

from bontrack.api.schemas import In, PointIn
from bontrack.plan_input import Number


class DrawIn(In):
    """A vial of the corrected record and the units drawn from it (omitted: filled in the order
    the vials were opened, B.30)."""

    vial_id: UUID
    drawn_units: Number | None = None


class AmendIn(In):
    reason: str
    injections: list[PointIn] | None = None
    notes: str | None = None
    vials: list[DrawIn] | None = None


class EnteredInErrorIn(In):
    reason: str
    # Given (charted on the wrong patient or session): its draws stay; not given: released.
    toxin_given: bool


class AddendumIn(In):
    text: str


class ProposedAmendment(In):
    injections: list[PointIn]
    notes: str | None = None
    vials: list[DrawIn] | None = None


class ProposedEnteredInError(In):
    toxin_given: bool


class CorrectionRequestIn(In):
    kind: Literal["amend", "entered-in-error"]
    corrects_digest: str
    reason: str
    proposed: ProposedAmendment | ProposedEnteredInError


class AcceptIn(In):
    """Accept as proposed (no ``proposed``) or edited (a full proposal of the same kind)."""

    reason: str = ""
    proposed: ProposedAmendment | ProposedEnteredInError | None = None


class DeclineIn(In):
    reason: str


class WithdrawIn(In):
    reason: str = ""


class CorrectionDecisionOut(Schema):
    outcome: str
    reason: str
    by: UUID
    at: datetime
    event_id: UUID | None
    event_digest: str | None


class CorrectionRequestOut(Schema):
    id: UUID
    session_id: UUID
    patient_id: UUID
    kind: str
    status: str
    corrects_digest: str
    # The session changed since the request named its digest: accepting it is refused.
    stale: bool
    reason: str
    proposed: dict[str, Any]
    by: UUID
    at: datetime
    decision: CorrectionDecisionOut | None


class SupervisorsIn(In):
    supervisor_ids: list[UUID]


class SupervisorsOut(Schema):
    member_id: UUID
    supervisor_ids: list[UUID]

"""The audit trail, for auditors and clinic admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router

from bontrack.accounts.access import require
from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.schemas import AuditOut, ChainOut, ErrorOut
from bontrack.audit.models import AuditEntry
from bontrack.audit.services import verify_clinic_chain

router = Router(tags=["audit"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


@router.get("", response={200: list[AuditOut], **ERRORS})
def list_entries(
    request: HttpRequest,
    patient_id: UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> Any:
    actor = actor_of(request)
    require(actor, Perm.AUDIT_READ)
    entries = AuditEntry.objects.filter(clinic_id=actor.membership.clinic_id)
    if patient_id is not None:
        entries = entries.filter(patient_id=patient_id)
    if action:
        entries = entries.filter(action=action)
    if since is not None:
        entries = entries.filter(at__gte=since)
    return list(entries.order_by("-seq")[: max(1, min(limit, 1000))])


@router.get("/verify", response={200: ChainOut, **ERRORS})
def verify(request: HttpRequest) -> Any:
    actor = actor_of(request)
    require(actor, Perm.AUDIT_READ)
    report = verify_clinic_chain(actor.membership.clinic_id)
    return {
        "name": report.name,
        "entries": report.entries,
        "intact": report.intact,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }

"""The audit trail, for auditors and clinic admins: filtered and sorted by every field (time,
user, role, patient, action, data, object, address), as JSON or CSV (ONC 170.315(d)(3)); the
chain's verification; break-glass accesses (ONC 170.315(d)(6))."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import AuditOut, ChainOut, ErrorOut
from bontrack.api.security_schemas import BreakGlassOut
from bontrack.audit.services import verify_clinic_chain
from bontrack.core.csvfiles import csv_response
from bontrack.security import services

router = Router(tags=["audit"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
MAX_OFFSET = 2**62  # beyond any trail; with a page's 1000 it still fits a signed 64-bit integer
Sort = Literal[
    "time",
    "-time",
    "user",
    "-user",
    "role",
    "-role",
    "patient",
    "-patient",
    "action",
    "-action",
    "data",
    "-data",
    "object",
    "-object",
    "address",
    "-address",
]


def _query(
    since: datetime | None,
    until: datetime | None,
    user: str | None,
    patient_id: UUID | None,
    action: str | None,
    data: str | None,
    address: str | None,
    sort: str,
) -> services.AuditQuery:
    return services.AuditQuery(
        since=since,
        until=until,
        user=user or "",
        patient_id=patient_id,
        action=action or "",
        data=data or "",
        address=address or "",
        sort=sort,
    )


@router.get("", response={200: list[AuditOut], **ERRORS}, openapi_extra=needs(Perm.AUDIT_READ))
def list_entries(
    request: HttpRequest,
    patient_id: UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user: str | None = None,
    data: str | None = None,
    address: str | None = None,
    sort: Sort = "-time",
    limit: int = 200,
    offset: int = 0,
) -> Any:
    """Entries of the caller's clinic. `user` is a user name, `data` the kind of record
    (`session`, `patient`, `fhir`, ...), `address` matches from its start; `sort` names a field,
    `-` first for descending (newest first by default). At most 1000 per call (`limit`,
    `offset`)."""
    actor = actor_of(request)
    query = _query(since, until, user, patient_id, action, data, address, sort)
    entries = services.audit_entries(actor, query)
    # Past the last entry a page is empty; SQL's 64-bit OFFSET would overflow (a 500) first.
    start = min(max(0, offset), MAX_OFFSET)
    return list(entries[start : start + max(1, min(limit, 1000))])


@router.get(
    "/export",
    response={**ERRORS},
    openapi_extra={
        **needs(Perm.AUDIT_READ),
        "responses": {
            200: {
                "description": "The matching entries as CSV (columns: "
                + ", ".join(services.AUDIT_COLUMNS)
                + ")",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    },
)
def export_entries(
    request: HttpRequest,
    patient_id: UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user: str | None = None,
    data: str | None = None,
    address: str | None = None,
    sort: Sort = "-time",
) -> Any:
    """Every matching entry as CSV, with its hash; the export is itself audited."""
    actor = actor_of(request)
    query = _query(since, until, user, patient_id, action, data, address, sort)
    rows = services.audit_rows(services.audit_entries(actor, query))
    services.record_audit_export(actor, query, len(rows))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_response(f"audit-{stamp}.csv", services.AUDIT_COLUMNS, rows)


@router.get(
    "/break-glass",
    response={200: list[BreakGlassOut], **ERRORS},
    openapi_extra=needs(Perm.AUDIT_READ),
)
def break_glass(request: HttpRequest) -> Any:
    """Restricted charts opened outside their care team, newest first, with the reason."""
    return [
        {
            "id": b.id,
            "patient_id": b.patient_id,
            "membership_id": b.membership_id,
            "username": b.membership.user.get_username(),
            "reason": b.reason,
            "at": b.at,
            "expires_at": b.expires_at,
            "address": b.address,
        }
        for b in services.break_glass_accesses(actor_of(request))
    ]


@router.get("/verify", response={200: ChainOut, **ERRORS}, openapi_extra=needs(Perm.AUDIT_READ))
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

"""The Bulk Data $export kick-off: the export is recorded as an ``ExportJob`` and the huey task
``tasks.run_export`` is enqueued once the transaction has committed.

It sits above both ``bulk`` (what an export reads and writes) and ``tasks`` (the huey tasks that
run ``bulk``'s work in the consumer), so that neither of them imports the other's caller.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from bontrack.access import CLINIC, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ForbiddenError
from bontrack.interop.bulk import (
    ALL_TYPES,
    BUSY_SECONDS,
    COMPARTMENT,
    DEFAULT_TYPES,
    ExportBusyError,
    ExportRequest,
    fail_stale_exports,
)
from bontrack.interop.fhir_reads import BILLING, perm_for
from bontrack.interop.models import ExportJob, ExportStatus, SystemClient
from bontrack.interop.smart import Grant
from bontrack.interop.tasks import run_export


def kick_off(
    actor: Actor,
    request: ExportRequest,
    *,
    level: str,
    request_url: str,
    group_id: str | None = None,
    grant: Grant | None = None,
    client: SystemClient | None = None,
) -> ExportJob:
    """Record the export and enqueue its task once the transaction has committed."""
    require(actor, Perm.CHART_READ)
    # A scope of its own: a token limited to reading charts does not copy the whole clinic.
    require(actor, Perm.BULK_EXPORT)
    if level == "group":
        access(actor, CLINIC, group_id or "")
    default = DEFAULT_TYPES if level == "system" else COMPARTMENT
    if request.types is None:
        types = [t for t in default if grant is None or grant.allows(t)]
    else:
        refused = [t for t in request.types if grant is not None and not grant.allows(t)]
        if refused:
            raise ForbiddenError("_type", f"the token's scopes do not cover {', '.join(refused)}")
        types = [t for t in ALL_TYPES if t in request.types]
        # Billing records are exported only when named, to a caller who reads them.
        for resource_type in (t for t in types if t in BILLING):
            require(actor, perm_for(resource_type))
    if not types:
        raise ForbiddenError("_type", "the token's scopes cover no resource type to export")
    now = timezone.now()
    fail_stale_exports(now, actor.membership.clinic_id)
    with clinical_transaction(actor) as trail:
        try:
            with transaction.atomic():
                job = ExportJob.objects.create(
                    clinic_id=actor.membership.clinic_id,
                    membership=actor.membership,
                    client=client,
                    level=level,
                    types=types,
                    since=request.since,
                    request_url=request_url,
                    address=actor.address,
                    status=ExportStatus.QUEUED,
                    progress="queued",
                    transaction_time=now,
                    heartbeat_at=now,
                )
        except IntegrityError:
            raise ExportBusyError(BUSY_SECONDS) from None
        trail.record(
            "export",
            "bulk-export",
            job.id,
            None,
            level=level,
            types=types,
            since=request.since.isoformat() if request.since else None,
            client=str(client.id) if client else None,
        )
        job_id = str(job.id)
        transaction.on_commit(lambda: run_export(job_id))
    return job

"""Background tasks (huey; discovered by ``manage.py run_huey``)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from bontrack.interop import bulk


@db_task(retries=0)
def run_export(job_id: str) -> None:
    """Write one bulk export's files (bulk.write_export)."""
    bulk.write_export(job_id)


@db_periodic_task(crontab(minute="17"))
def purge_exports() -> None:
    """Hourly: fail exports whose task stopped reporting, and delete the files of exports
    finished longer ago than the retention."""
    bulk.fail_stale_exports()
    bulk.purge_expired()

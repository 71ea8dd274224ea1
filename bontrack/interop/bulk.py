"""Bulk Data $export (HL7 FHIR Bulk Data Access IG 2.0): kick-off, status, cancel, files.

A kick-off (``kickoff.py``) records an ``ExportJob`` and enqueues ``tasks.run_export`` once its
transaction has committed; the task (in the huey consumer, never in the request) writes one
NDJSON file per resource type under ``EXPORT_DIR/<job id>/<Type>.ndjson``. It reads the clinic's
patients in batches (their ids streamed with ``.iterator(chunk_size)``), maps each batch with the
same functions as the read API (``fhir.py`` through ``fhir_reads.ClinicRecords``) and writes line
by line, so that memory does not grow with the clinic. One export runs at a time per clinic (a
partial unique index): a second kick-off gets 429 with Retry-After.

Only the member (a system client is one) that asked may poll, cancel or download; anyone else
gets 404, logged as a refused access. Every patient exported is disclosed on the clinic's audit
trail (one ``disclose`` entry per patient and export) and every file downloaded is recorded.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from bontrack.access import refuse_outside_clinic
from bontrack.accounts.models import Membership
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ServiceError
from bontrack.interop import fhir
from bontrack.interop.fhir_reads import (
    BILLING,
    EVERYTHING,
    UNOWNED,
    ClinicRecords,
    Entry,
    stamped,
    version_of,
)
from bontrack.interop.fhir_search import SearchError
from bontrack.interop.models import UNDER_WAY, ExportJob, ExportStatus
from bontrack.inventory.models import Lot
from bontrack.outcomes.models import Assessment
from bontrack.patients.models import Consent, ConsentWithdrawal, Patient
from bontrack.treatments.models import (
    Injection,
    SessionEvent,
    SessionEventKind,
    SessionVial,
    TreatmentSession,
)
from bontrack.treatments.records import Point, amended_points
from bontrack.treatments.services import local_date

logger = logging.getLogger(__name__)

# What a system-level export writes when ``_type`` does not say: the charts and who and what
# they name.
DEFAULT_TYPES: tuple[str, ...] = EVERYTHING
# Every type an export may write: the billing records too, when ``_type`` names them.
ALL_TYPES: tuple[str, ...] = EVERYTHING + BILLING
# The Patient compartment: what Patient/$export and Group/{id}/$export give by default.
COMPARTMENT = tuple(t for t in DEFAULT_TYPES if t not in UNOWNED)
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
NDJSON_TYPE = "application/fhir+ndjson"
BATCH = 250  # patients read, mapped and written at a time
POLL_SECONDS = 2  # Retry-After while an export runs
BUSY_SECONDS = 30  # Retry-After when another export of the clinic runs
ERROR_FILE = "OperationOutcome"
# Bulk Data's deleted resources: Bundles of type transaction, one DELETE entry per resource.
DELETED_DIR = "deleted"
DISCLOSURES_FILE = ".disclosures.ndjson"  # the task's own notes, never served


class ExportBusyError(ServiceError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(None, "an export of this clinic is already running: retry later")
        self.retry_after = retry_after


class ExportCancelledError(Exception):
    pass


def export_dir(job_id: UUID | str) -> Path:
    return Path(settings.EXPORT_DIR) / str(job_id)


# --- Kick-off ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    types: tuple[str, ...] | None
    since: datetime | None


def parse_kickoff(query: Iterable[tuple[str, list[str]]]) -> ExportRequest:
    """``_type`` (comma-separated, may repeat), ``_since`` (an instant with its offset) and
    ``_outputFormat`` (NDJSON); any other parameter is refused, never ignored."""
    types: list[str] = []
    since: datetime | None = None
    seen_type = False
    for name, texts in query:
        if name == "_outputFormat":
            for text in texts:
                if text not in OUTPUT_FORMATS:
                    raise SearchError(name, "only NDJSON (application/fhir+ndjson) is written")
        elif name == "_type":
            seen_type = True
            for text in texts:
                for item in (t.strip() for t in text.split(",")):
                    if item not in ALL_TYPES:
                        raise SearchError(name, f"{item!r} is not exported")
                    if item not in types:
                        types.append(item)
        elif name == "_since":
            if len(texts) != 1:
                raise SearchError(name, "give it once")
            try:
                since = datetime.fromisoformat(texts[0].replace("Z", "+00:00"))
            except ValueError:
                raise SearchError(name, "must be an instant, e.g. 2026-01-01T00:00:00Z") from None
            if timezone.is_naive(since):
                raise SearchError(name, "must include a UTC offset or Z")
        else:
            raise SearchError(name, "is not supported by $export (_type, _since, _outputFormat)")
    if seen_type and not types:
        raise SearchError("_type", "name at least one resource type")
    return ExportRequest(tuple(types) if seen_type else None, since)


def fail_stale_exports(now: datetime | None = None, clinic_id: UUID | None = None) -> int:
    """Fail every queued or running export whose task has not reported for
    ``EXPORT_TIMEOUT_MINUTES`` (a worker that is down): it frees the clinic's one export slot.
    Run at every kick-off and status poll and hourly, so no request waits on a dead worker."""
    now = now or timezone.now()
    stale = ExportJob.objects.filter(
        status__in=UNDER_WAY,
        heartbeat_at__lt=now - timedelta(minutes=settings.EXPORT_TIMEOUT_MINUTES),
    )
    if clinic_id is not None:
        stale = stale.filter(clinic_id=clinic_id)
    return stale.update(
        status=ExportStatus.FAILED,
        error_message="the export task stopped reporting (is the worker running?): kick off "
        "a new export",
        finished_at=now,
    )


def access_job(actor: Actor, job_id: UUID | str) -> ExportJob:
    """An export of the caller's clinic that the caller itself asked for; any other answers 404
    and is logged as a refused access (files are served only to the client that asked)."""
    fail_stale_exports(clinic_id=actor.membership.clinic_id)
    job = ExportJob.objects.filter(clinic_id=actor.membership.clinic_id, id=job_id).first()
    if job is None or job.membership_id != actor.membership.id:
        raise refuse_outside_clinic(actor, "export", job_id)
    return job


def cancel(actor: Actor, job_id: UUID | str) -> ExportJob:
    """DELETE on the status URL: a running export stops, a finished one's files are deleted."""
    with clinical_transaction(actor) as trail:
        job = access_job(actor, job_id)
        if job.status in (ExportStatus.CANCELLED, ExportStatus.EXPIRED):
            raise refuse_outside_clinic(actor, "export", job_id)
        job.status = ExportStatus.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        trail.record("delete", "bulk-export", job.id, None)
        directory = export_dir(job.id)
        transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))
    return job


def record_download(actor: Actor, job: ExportJob, name: str, count: int) -> None:
    with clinical_transaction(actor) as trail:
        trail.record("export", "bulk-export-file", job.id, None, file=f"{name}.ndjson", count=count)


def manifest(job: ExportJob, base: str) -> dict[str, Any]:
    """The completed export's manifest; ``base`` is the job's status URL."""

    def item(entry: dict[str, Any], folder: str = "") -> dict[str, Any]:
        return {
            "type": entry["type"],
            "url": f"{base}/{folder}{entry['type']}.ndjson",
            "count": entry["count"],
        }

    found = {
        "transactionTime": fhir.instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [item(e) for e in job.output if not e.get("deleted")],
        "error": [item(e) for e in job.errors],
    }
    deleted = [item(e, f"{DELETED_DIR}-") for e in job.output if e.get("deleted")]
    if deleted:
        found["deleted"] = deleted
    return found


def purge_expired(now: datetime | None = None) -> int:
    """Delete the files of exports finished longer ago than the retention; the job rows stay."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.EXPORT_RETENTION_HOURS)
    old = ExportJob.objects.filter(
        status__in=(ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED),
        finished_at__lt=cutoff,
    )
    count = 0
    for job in old.iterator(chunk_size=100):
        shutil.rmtree(export_dir(job.id), ignore_errors=True)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.EXPIRED)
        count += 1
    return count


# --- The task ----------------------------------------------------------------------------------


# One encoder for every line: json.dumps builds a new one per call when given options, and the
# resources are trees of fresh dicts, never cyclic, so the cycle check only costs time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


_string = json.encoder.encode_basestring


def _dumps(resource: fhir.Resource) -> str:
    return _ENCODER.encode(resource)


def stamped_line(resource: fhir.Resource, updated: datetime) -> str:
    """The line of ``fhir_reads.stamped(resource, updated)``, without building the stamped copy:
    the resource is encoded once and its ``meta`` written in after its id, where ``stamped`` puts
    it. A resource that has a ``meta`` of its own, or does not begin with its type and id, takes
    the general way."""
    kind, resource_id = resource["resourceType"], resource["id"]
    if "meta" not in resource and isinstance(kind, str) and isinstance(resource_id, str):
        text = _ENCODER.encode(resource)
        # The strings as the encoder writes them (its own string encoder, ensure_ascii off).
        head = f'{{"resourceType":{_string(kind)},"id":{_string(resource_id)}'
        if text.startswith(head) and text[len(head)] in ",}":
            version, moment = version_of(resource), fhir.instant(updated)
            meta = f'"meta":{{"versionId":{_string(version)},"lastUpdated":{_string(moment)}}}'
            return f"{head},{meta}{text[len(head) :]}"
    return _dumps(stamped(resource, updated))


class NdjsonFiles:
    """One NDJSON file per resource type, opened when its first line is written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.handles: dict[str, IO[str]] = {}
        self.counts: Counter[str] = Counter()

    def write(self, resource_type: str, resource: fhir.Resource) -> None:
        self.write_line(resource_type, _dumps(resource))

    def write_line(self, resource_type: str, line: str) -> None:
        handle = self.handles.get(resource_type)
        if handle is None:
            handle = (self.directory / f"{resource_type}.ndjson").open(
                "w", encoding="utf-8", buffering=1 << 16
            )
            self.handles[resource_type] = handle
        handle.write(line)
        handle.write("\n")
        self.counts[resource_type] += 1

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


class _VialOfUse(NamedTuple):
    lot_id: UUID
    lot: Lot


class _VialUse(NamedTuple):
    """What ``fhir.session_record`` reads of a session's vial use, without a model per row."""

    pk: int
    vial_id: UUID
    vial: _VialOfUse


class BatchRecords(ClinicRecords):
    """The rows of one batch of the clinic's patients, read as the read API reads them.

    Its ``entries`` are not stamped: the export stamps each resource as it encodes it
    (``stamped_line``), which writes the same line without a stamped copy of every resource."""

    def __init__(
        self,
        actor: Actor,
        today: date,
        patient_ids: Sequence[UUID],
        members: dict[UUID, Membership] | None = None,
        lots: dict[UUID, Lot] | None = None,
    ) -> None:
        super().__init__(actor, today, None)
        self.patient_ids = list(patient_ids)
        # The clinic's members (with their users), read once per export: the injectors, signers
        # and authors of appended records are looked up here rather than joined per row.
        self.members = members if members is not None else clinic_members(self.clinic.id)
        # The lots of the vials used so far, kept across batches (a clinic has few lots).
        self.lots = lots if lots is not None else {}

    def _rows(self, model: Any) -> Any:
        rows = model.objects.filter(clinic_id=self.clinic.id, patient_id__in=self.patient_ids)
        if model is Consent:
            # A consent reads its withdrawal (an appended row, usually none) for its status:
            # read with the batch's consents, not one query per consent.
            rows = rows.prefetch_related(
                Prefetch(
                    "withdrawal",
                    queryset=ConsentWithdrawal.objects.filter(clinic_id=self.clinic.id),
                )
            )
        return rows

    def _stamp(self, entry: Entry) -> Entry:
        return entry

    def line(self, entry: Entry) -> str:
        """The entry's resource, stamped as the read API stamps it, as one NDJSON line."""
        return stamped_line(entry.resource, entry.updated or self.now)

    @cached_property
    def patients(self) -> list[Patient]:
        return list(Patient.objects.filter(clinic_id=self.clinic.id, id__in=self.patient_ids))

    @cached_property
    def sessions(self) -> list[fhir.SessionRecord]:
        """As the read API's, but the points are read as plain values (no model per point), and
        the points, appended records and vials of the batch's sessions are read by session id (an
        index), with the members looked up rather than joined."""
        sessions = list(self._rows(TreatmentSession))
        for s in sessions:
            if s.injector_id is not None:
                s.injector = self.members[s.injector_id]
            if s.signed_by_id is not None:
                s.signed_by = self.members[s.signed_by_id]
        ids = [s.id for s in sessions]
        clinic_id = self.clinic.id
        points: dict[UUID, list[Point]] = {}
        rows = (
            Injection.objects.filter(clinic_id=clinic_id, session_id__in=ids)
            .order_by("session_id", "position")
            .values_list("session_id", "site", "side", "units", "route", "vial_id", "id")
        )
        for session_id, site, side, units, route, vial_id, pk in rows:
            points.setdefault(session_id, []).append(
                Point(site, side, units, route, str(vial_id) if vial_id else None, str(pk))
            )
        self.original = {s.id: points.get(s.id, []) for s in sessions}
        events: dict[UUID, list[SessionEvent]] = {}
        in_batch = SessionEvent.objects.filter(clinic_id=clinic_id, session_id__in=ids)
        for event in in_batch.order_by("at", "id"):
            event.by = self.members[event.by_id]
            events.setdefault(event.session_id, []).append(event)
        used = list(
            SessionVial.objects.filter(
                clinic_id=clinic_id, session_id__in=ids, vial__clinic_id=clinic_id
            ).values_list("session_id", "pk", "vial_id", "vial__lot_id")
        )
        unknown = {lot_id for *_, lot_id in used} - self.lots.keys()
        if unknown:
            self.lots.update(
                (lot.id, lot) for lot in Lot.objects.filter(clinic_id=clinic_id, id__in=unknown)
            )
        uses: dict[UUID, list[_VialUse]] = {}
        for session_id, pk, vial_id, lot_id in used:
            vial = _VialOfUse(lot_id, self.lots[lot_id])
            uses.setdefault(session_id, []).append(_VialUse(pk, vial_id, vial))
        return [
            fhir.session_record(s, points.get(s.id, []), events.get(s.id, []), uses.get(s.id, []))
            for s in sessions
        ]

    def _medication_administrations(self) -> Iterator[Entry]:
        """As the read API's, without the lots each dose names (only a search reads them), and
        with each session's part of the listing order written once, not once per dose."""
        for record in self.sessions:
            s = record.session
            resources = fhir.medication_administration_resources(record)
            if not resources:  # a plan, or a cancelled one: nothing was administered
                continue
            changed = self.session_time(record)
            day, created = s.plan_date.isoformat(), s.created_at.isoformat()
            for n, resource in enumerate(resources, 1):
                yield Entry(
                    resource,
                    s.patient_id,
                    s.plan_date,
                    s.plan_date,
                    order=(day, created, f"{n:06d}"),
                    updated=changed,
                )

    def _observations(self) -> Iterator[Entry]:
        """As the read API's, with the members who recorded the results looked up rather than
        joined (a membership and a user per result)."""
        for a in self._rows(Assessment):
            a.recorded_by = self.members[a.recorded_by_id]
            yield Entry(
                fhir.observation_resource(a),
                a.patient_id,
                a.start,
                a.end,
                order=(a.start.isoformat(), a.end.isoformat(), a.scale, a.muscle_group),
                updated=a.recorded_at,
            )
        for p in self.patients:
            weight = fhir.weight_observation_resource(p)
            if weight is not None and p.weight_measured_on is not None:
                day = p.weight_measured_on
                yield Entry(
                    weight,
                    p.id,
                    day,
                    day,
                    order=(day.isoformat(), day.isoformat(), ""),
                    updated=p.updated_at,
                )

    @cached_property
    def patients_by_id(self) -> dict[UUID, Patient]:
        return {p.id: p for p in self.patients}

    def removed_points(self, since: datetime) -> Iterator[tuple[UUID, str]]:
        """The administrations that existed at ``since`` or after and that an amendment since
        removed: ids never come back, so a consumer deletes them."""
        for record in self.sessions:
            amendments = sorted(
                (e for e in record.events if e.kind == SessionEventKind.AMENDED),
                key=lambda e: (e.at, str(e.id)),
            )
            if not amendments or amendments[-1].at <= since:
                continue
            states: list[tuple[datetime, list[Point]]] = [
                (
                    record.session.signed_at or record.session.updated_at,
                    self.original[record.session.id],
                )
            ]
            states += [(e.at, amended_points(e)) for e in amendments]
            # The state a consumer holds from before ``since``, and every state since.
            start = max((n for n, (at, _) in enumerate(states) if at <= since), default=0)
            seen = {p.id for _, points in states[start:] for p in points}
            current = {p.id for p in record.points}
            for point_id in sorted(seen - current):
                yield record.session.patient_id, point_id


def clinic_members(clinic_id: UUID) -> dict[UUID, Membership]:
    return {m.id: m for m in Membership.objects.filter(clinic_id=clinic_id).select_related("user")}


def _batches(ids: Iterator[UUID], size: int) -> Iterator[list[UUID]]:
    while True:
        batch = list(islice(ids, size))
        if not batch:
            return
        yield batch


def _beat(job: ExportJob, progress: str) -> None:
    """Report progress; stop when the export was cancelled meanwhile."""
    updated = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        progress=progress, heartbeat_at=timezone.now()
    )
    if not updated:
        raise ExportCancelledError()


def write_export(job_id: UUID | str) -> None:
    """The task's body: write the files, disclose every patient exported, complete the job."""
    claimed = ExportJob.objects.filter(id=job_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, heartbeat_at=timezone.now(), progress="starting"
    )
    if not claimed:
        return  # cancelled before it started, or already taken
    job = ExportJob.objects.select_related("membership__user", "membership__clinic").get(id=job_id)
    directory = export_dir(job.id)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write(job, directory)
    except ExportCancelledError:
        shutil.rmtree(directory, ignore_errors=True)
    except Exception as error:
        logger.exception("bulk export %s failed", job.id)
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED,
            error_message=f"the export failed: {type(error).__name__}",
            finished_at=timezone.now(),
        )
        shutil.rmtree(directory, ignore_errors=True)


def _write(job: ExportJob, directory: Path) -> None:
    actor = Actor(job.membership, job.address)
    clinic = job.membership.clinic
    today = local_date(clinic.time_zone, job.transaction_time)
    wanted = set(job.types)
    files = NdjsonFiles(directory)
    withheld = 0
    try:
        with (directory / DISCLOSURES_FILE).open("w", encoding="utf-8") as notes:
            # Who and what the records name: written once, not per patient.
            clinic_wide = ClinicRecords(actor, today)
            for resource_type in (t for t in ALL_TYPES if t in UNOWNED and t in wanted):
                for entry in clinic_wide.entries(resource_type):
                    files.write(resource_type, entry.resource)
            owned = [t for t in ALL_TYPES if t not in UNOWNED and t in wanted]
            members = clinic_members(clinic.id)
            lots: dict[UUID, Lot] = {}
            patients = Patient.objects.filter(clinic_id=clinic.id)
            total = patients.count()
            done = 0
            ids = patients.order_by("id").values_list("id", flat=True).iterator(chunk_size=BATCH)
            for batch_ids in _batches(ids, BATCH):
                _beat(job, f"{done} of {total} patients")
                batch = BatchRecords(actor, today, batch_ids, members, lots)
                shown: dict[UUID, Counter[str]] = {}
                for resource_type in owned:
                    for entry in batch.entries(resource_type):
                        patient_id = entry.patient_id
                        if patient_id in batch.hidden and resource_type != "Patient":
                            continue
                        if job.since is not None:
                            moment = entry.updated
                            if moment is not None and moment <= job.since:
                                continue
                        files.write_line(resource_type, batch.line(entry))
                        if patient_id is not None:
                            shown.setdefault(patient_id, Counter())[resource_type] += 1
                if job.since is not None and "MedicationAdministration" in owned:
                    removed = [
                        point_id
                        for patient_id, point_id in batch.removed_points(job.since)
                        if patient_id not in batch.hidden
                    ]
                    if removed:
                        files.write(f"{DELETED_DIR}-Bundle", _deletions(removed))
                withheld += len(batch.hidden)
                for patient_id, counts in shown.items():
                    notes.write(json.dumps({"patient": str(patient_id), "counts": counts}) + "\n")
                done += len(batch_ids)
    finally:
        files.close()
    _beat(job, f"{done} of {total} patients; recording the disclosures")
    errors = []
    if withheld:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "warning",
                    "code": "suppressed",
                    "diagnostics": f"The charts of {withheld} restricted patients are not "
                    "exported: only their care team opens them (their Patient resources are).",
                }
            ],
        }
        (directory / f"{ERROR_FILE}.ndjson").write_text(_dumps(outcome) + "\n", encoding="utf-8")
        errors.append({"type": ERROR_FILE, "count": 1})
    _disclose(actor, job, directory / DISCLOSURES_FILE)
    (directory / DISCLOSURES_FILE).unlink()
    output = [{"type": t, "count": files.counts[t]} for t in ALL_TYPES if files.counts[t]]
    if files.counts[f"{DELETED_DIR}-Bundle"]:
        output.append(
            {"type": "Bundle", "count": files.counts[f"{DELETED_DIR}-Bundle"], "deleted": True}
        )
    finished = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.COMPLETED,
        progress=f"{done} of {total} patients",
        output=output,
        errors=errors,
        finished_at=timezone.now(),
    )
    if not finished:
        raise ExportCancelledError()


def _deletions(point_ids: Sequence[str]) -> fhir.Resource:
    """One line of the deleted file: a transaction Bundle of DELETEs (Bulk Data 2.0)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "DELETE", "url": f"MedicationAdministration/{point_id}"}}
            for point_id in point_ids
        ],
    }


def _disclose(actor: Actor, job: ExportJob, notes: Path, chunk: int = 500) -> None:
    """One disclosure entry per patient exported, appended in chunks (constant memory)."""
    client = str(job.client_id) if job.client_id else None
    with notes.open(encoding="utf-8") as lines:
        while True:
            rows = [json.loads(line) for line in islice(lines, chunk)]
            if not rows:
                return
            with clinical_transaction(actor) as trail:
                for row in rows:
                    trail.record(
                        "disclose",
                        "bulk-export",
                        job.id,
                        UUID(row["patient"]),
                        client=client,
                        resources=sorted(row["counts"]),
                        count=sum(row["counts"].values()),
                    )

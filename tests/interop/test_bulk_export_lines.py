"""The bulk export writes, byte for byte, the resources the read API maps from the same rows.

The export reads its rows its own way (in batches of patients, as plain values where it can, for
speed and constant memory); the read API's ``ClinicRecords`` (model instances and prefetches) is
the reference. For every resource type, each file's lines must be exactly the reference's
resources encoded as the export encodes them, in the export's order: patient by patient in id
order (one batch after another), and within a batch in listing order.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.audit.services import Actor
from bontrack.interop import bulk
from bontrack.interop.fhir_reads import UNOWNED, ClinicRecords
from bontrack.interop.models import ExportJob
from bontrack.patients import services as patients
from bontrack.patients.models import Consent
from bontrack.treatments.services import local_date
from tests.interop.world import TODAY, World, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def now(world: World, settings: Any, tmp_path: Path) -> World:
    settings.EXPORT_DIR = tmp_path / "exports"
    world.clock.at(utc(TODAY))
    return world


def run_export(world: World, since: datetime | None = None) -> tuple[ExportJob, Path]:
    member = world.a.admin
    moment = timezone.now()
    job = ExportJob.objects.create(
        clinic_id=member.clinic_id,
        membership=member,
        level="system",
        types=list(bulk.ALL_TYPES),
        request_url="http://testserver/fhir/$export",
        status="queued",
        since=since,
        transaction_time=moment,
        heartbeat_at=moment,
    )
    bulk.write_export(job.id)
    job.refresh_from_db()
    assert job.status == "completed", job.error_message
    return job, bulk.export_dir(job.id)


def expected_lines(world: World, batch: int, since: datetime | None = None) -> dict[str, list[str]]:
    """Each type's lines, from the read API's mapping of the whole clinic at once, in the order
    the export writes them when it reads ``batch`` patients at a time."""
    member = world.a.admin
    today = local_date(member.clinic.time_zone, timezone.now())
    records = ClinicRecords(Actor(member, ""), today)
    hidden = records.hidden
    by_id = sorted(p.id for p in records.patients)
    batches = [set(by_id[n : n + batch]) for n in range(0, len(by_id), batch)]
    found: dict[str, list[str]] = {}
    for resource_type in bulk.ALL_TYPES:
        entries = records.entries(resource_type)
        if since is not None:
            entries = [e for e in entries if e.updated is None or e.updated > since]
        if resource_type in UNOWNED:
            chosen = entries
        else:
            shown = [e for e in entries if resource_type == "Patient" or e.patient_id not in hidden]
            chosen = [e for patients in batches for e in shown if e.patient_id in patients]
        if chosen:
            found[resource_type] = [bulk._dumps(e.resource) for e in chosen]
    return found


def written_lines(job: ExportJob, directory: Path) -> dict[str, list[str]]:
    found = {}
    for item in job.output:
        if item.get("deleted"):
            continue
        text = (directory / f"{item['type']}.ndjson").read_text(encoding="utf-8")
        found[item["type"]] = text.splitlines()
        assert text.endswith("\n")
        assert len(found[item["type"]]) == item["count"]
    return found


@pytest.mark.parametrize("batch", [1, bulk.BATCH], ids=["a-patient-a-batch", "one-batch"])
@pytest.mark.postgres(sqlite=True)
def test_every_file_is_the_read_apis_resources_line_for_line(
    now: World, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH", batch)
    job, directory = run_export(now)
    written = written_lines(job, directory)
    expected = expected_lines(now, batch)
    assert list(written) == list(expected)
    for resource_type, lines in expected.items():
        assert written[resource_type] == lines, resource_type
    # The world has what makes the mapping branch: an amendment, a co-signature, an adverse
    # event, several points, a restricted chart withheld.
    kinds = {json.loads(line)["resourceType"] for lines in written.values() for line in lines}
    assert {"Provenance", "AdverseEvent", "MedicationAdministration", "Observation"} <= kinds
    assert job.errors == [{"type": bulk.ERROR_FILE, "count": 1}]


@pytest.mark.postgres(sqlite=True)
def test_an_export_since_a_moment_writes_the_same_lines_as_the_read_api(
    now: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH", 1)
    since = utc("2026-06-29T14:00:00")
    job, directory = run_export(now, since)
    written = written_lines(job, directory)
    expected = expected_lines(now, 1, since)
    assert list(written) == list(expected)
    for resource_type, lines in expected.items():
        assert written[resource_type] == lines, resource_type
    assert "Procedure" in written


def _selects_of_an_export(world: World) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        run_export(world)
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().startswith("SELECT")]


@pytest.mark.postgres(sqlite=True)
def test_a_withdrawn_consent_and_more_patients_cost_no_query_of_their_own(now: World) -> None:
    """One batch reads each table once, whatever its patients hold: a consent's withdrawal is
    read with the batch's consents, not one query per consent."""
    before = _selects_of_an_export(now)
    doctor = now.a.actor("physician")
    today = timezone.localdate()
    consent = Consent.objects.filter(clinic_id=now.a.clinic.id, patient_id=now.maria.id).first()
    assert consent is not None
    patients.withdraw_consent(doctor, consent.id, on=today, reason="Moved away")
    for n in range(3):
        patient = patients.register_patient(
            doctor,
            today,
            record_number=f"BT-90{n}",
            given_name="Extra",
            family_name=f"Patient {n}",
            birth_date=date(1970, 1, 1 + n),
            sex="male",
        )
        patients.record_consent(
            doctor,
            patient.id,
            indication="chronic-migraine",
            signed_on=today,
            signed_by=f"Extra Patient {n}",
        )
    after = _selects_of_an_export(now)
    assert len(after) == len(before)
    # And the withdrawn consent is written as the read API maps it.
    job, directory = run_export(now)
    written = written_lines(job, directory)
    expected = expected_lines(now, bulk.BATCH)
    assert written["Consent"] == expected["Consent"]
    withdrawn = [json.loads(line) for line in written["Consent"]]
    assert [c["status"] for c in withdrawn if c["id"] == str(consent.id)] == ["inactive"]

"""Benchmark: bulk $export of a clinic of 10,000 patients with realistic histories.

Builds a temporary database (SQLite, or with ``--database postgres`` a PostgreSQL database of its
own, ``bontrack_bench_export``, dropped afterwards) with bulk inserts (benchmark only: the tests
build their data through the services): two clinics, of 1,000 and 10,000 patients, each patient
with a diagnosis, a consent, two outcome results and one to three signed sessions a quarter apart
(PREEMPT 31 x 5 U for chronic migraine, 8 points for spasticity, 5 for glabellar lines), each from
a vial of a lot, a co-signature or amendment now and then.

Then, in the same run, measures:

- the export task's body (``bulk.write_export``: the same code the huey consumer runs) for the
  10,000-patient clinic: resources written per second (best of two runs, alternated with the
  baseline's);
- plain ``json.dumps`` of the same rows (``.values()`` of every table the export reads, one JSON
  line per row, written to a file the same way), and the ratio of the two (target: at most 3);
- the peak memory of the export (tracemalloc) for 1,000 and for 10,000 patients: it must not grow
  with the clinic (the export reads, maps and writes the patients in batches).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (1_000, 10_000)
TARGET_RATIO = 3.0
RUNS = 2
MEMORY_GROWTH_LIMIT = 1.5  # peak at 10,000 patients over peak at 1,000: "does not grow"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# This process's CPU seconds per run: on a machine busy with other work they vary far less than
# the wall time (on PostgreSQL they leave out the server's share, so the wall ratio is the target).
CPU_SECONDS: dict[str, list[float]] = {}
POSTGRES_DB = "bontrack_bench_export"


def _drop_postgres_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}" WITH (FORCE)')


def configure(directory: Path, database: str) -> None:
    (directory / "static").mkdir()
    if database == "postgres":
        import psycopg

        _drop_postgres_database()  # a run that was stopped half-way leaves it behind
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
        url = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DB}"
    else:
        url = f"sqlite:///{directory / 'export.sqlite3'}"
    os.environ.update(
        {
            "BONTRACK_VAR_DIR": str(directory),
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "BONTRACK_DEBUG": "0",
            "BONTRACK_EXPORT_DIR": str(directory / "exports"),
            "DJANGO_SETTINGS_MODULE": "bontrack.settings",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(size: int, today: date, rng: random.Random) -> Any:
    """One clinic: staff and lots through the services, every clinical row in bulk."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from bontrack.accounts.services import add_member, create_clinic
    from bontrack.domain.catalog import catalog
    from bontrack.domain.planning import expand_protocol
    from bontrack.inventory.models import Lot, Vial
    from bontrack.outcomes.models import Assessment
    from bontrack.patients.models import Consent, Diagnosis, Patient
    from bontrack.treatments.models import Injection, SessionEvent, SessionVial, TreatmentSession

    cat = catalog()
    clinic = create_clinic(f"Export benchmark clinic of {size:,}", "UTC")
    password = secrets.token_urlsafe(16)
    doctor = add_member(
        clinic,
        username=f"bench-doctor-{size}",
        password=password,
        role="prescriber",
        full_name="Bench Doctor",
        credentials=["physician"],
        indications=list(cat.indications),
    )
    admin = add_member(
        clinic, username=f"bench-admin-{size}", password=password, role="clinic-admin"
    )
    preempt = [
        (i.site, i.side, i.units.amount)
        for i in expand_protocol(cat.protocols["preempt-155"], "onabotulinumtoxinA")
    ]
    spasticity = [("biceps-brachii", s, Decimal(50)) for s in ("left", "right")] * 2 + [
        ("flexor-carpi-radialis", "left", Decimal(25))
    ] * 4
    glabellar = [("procerus", "midline", Decimal(4))] + [
        ("corrugator", s, Decimal(4)) for s in ("left", "right") for _ in range(2)
    ]
    plans = (
        ("chronic-migraine", "G43.709", "preempt-155", preempt, 0.4),
        ("upper-limb-spasticity", None, "", spasticity, 0.3),
        ("glabellar-lines", None, "", glabellar, 0.3),
    )
    for _, _, _, points, _ in plans:
        for site, side, _ in points:
            assert site in cat.sites, site
            assert side in cat.sites[site].sides, (site, side)
    now = timezone.now()
    with transaction.atomic():
        lots = Lot.objects.bulk_create(
            Lot(
                clinic=clinic,
                product="onabotulinumtoxinA",
                lot_number=f"B{size}-{n}",
                vial_size_units=Decimal(200),
                expires_on=today + timedelta(days=400),
                received_vials=size,
                received_on=today - timedelta(days=700),
            )
            for n in range(8)
        )
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    clinic=clinic,
                    record_number=f"X-{n:06d}",
                    given_name="Bench",
                    family_name=f"Patient {n:06d}",
                    birth_date=date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
                    sex=("female", "male")[n % 2],
                    phone=f"+44 20 7946 {n % 10000:04d}",
                    email=f"p{n}@example.org",
                    contact_agreed=True,
                    contact_method="email",
                    weight_kg=Decimal(60 + n % 30),
                    weight_measured_on=today - timedelta(days=n % 300),
                )
                for n in range(size)
            ),
            batch_size=2000,
        )
        sessions, injections, vials, uses, diagnoses, consents, results, events = (
            [] for _ in range(8)
        )
        for p in patients:
            indication, icd10, protocol, points, _ = rng.choices(plans, [w[4] for w in plans])[0]
            if icd10:
                diagnoses.append(
                    Diagnosis(
                        clinic=clinic,
                        patient=p,
                        indication=indication,
                        icd10=icd10,
                        noted_on=today - timedelta(days=400),
                    )
                )
            consents.append(
                Consent(
                    clinic=clinic,
                    patient=p,
                    indication=indication,
                    signed_on=today - timedelta(days=300),
                    signed_by="Bench Patient",
                    expires_on=today + timedelta(days=300),
                    recorded_by=doctor,
                )
            )
            for k in range(rng.choice((1, 2, 3))):
                day = today - timedelta(days=30 + 84 * k)
                at = timezone.make_aware(datetime.combine(day, clock_time(10)))
                s = TreatmentSession(
                    clinic=clinic,
                    patient=p,
                    product="onabotulinumtoxinA",
                    indication=indication,
                    protocol=protocol,
                    plan_date=day,
                    planned_by=doctor,
                    injector=doctor,
                    catalog_version=cat.version,
                    administered_at=at,
                    signed_by=doctor,
                    digest="0" * 64,
                    check_result={"verdict": "ok", "findings": []},
                )
                sessions.append(s)
                vial = Vial(
                    clinic=clinic,
                    lot=rng.choice(lots),
                    reconstituted_at=at - timedelta(hours=1),
                    diluent_ml=Decimal(4),
                    reconstituted_by=doctor,
                    patient=p,
                )
                vials.append(vial)
                # One vial per session, drawn for the whole dose as signing records it (B.30).
                drawn = sum((units for _, _, units in points), Decimal(0))
                uses.append(SessionVial(clinic=clinic, session=s, vial=vial, drawn_units=drawn))
                injections.extend(
                    Injection(
                        clinic=clinic,
                        session=s,
                        position=n,
                        site=site,
                        side=side,
                        units=units,
                        route=cat.sites[site].default_route,
                    )
                    for n, (site, side, units) in enumerate(points)
                )
                if rng.random() < 0.05:
                    events.append(
                        SessionEvent(
                            clinic=clinic,
                            session=s,
                            kind="amended",
                            reason="Bench amendment",
                            by=doctor,
                            at=at + timedelta(hours=2),
                            data={
                                "injections": [
                                    {
                                        "site": a,
                                        "side": b,
                                        "units": str(c),
                                        "route": cat.sites[a].default_route,
                                    }
                                    for a, b, c in points
                                ],
                                "notes": "amended",
                            },
                            digest="1" * 64,
                            amends_digest="0" * 64,
                        )
                    )
            for timepoint, value in (("baseline", 7), ("follow-up", 4)):
                results.append(
                    Assessment(
                        clinic=clinic,
                        patient=p,
                        indication=indication,
                        scale="pain-nrs",
                        value_number=Decimal(value),
                        timepoint=timepoint,
                        assessed_on=today - timedelta(days=200 if timepoint == "baseline" else 10),
                        recorded_by=doctor,
                        recorded_at=now,
                        source="clinician",
                    )
                )
        for model, rows in (
            (Diagnosis, diagnoses),
            (Consent, consents),
            (TreatmentSession, sessions),
            (Vial, vials),
            (SessionVial, uses),
            (Injection, injections),
            (SessionEvent, events),
            (Assessment, results),
        ):
            model.objects.bulk_create(rows, batch_size=2000)
        # Signed once their points and draws are written: a signed session's rows are closed to
        # INSERT (DESIGN 3.4), as signing does it.
        TreatmentSession.objects.filter(clinic=clinic, signed_at__isnull=True).update(
            signed_at=F("administered_at")
        )
    print(
        f"set-up: clinic of {size:,} patients: {len(sessions):,} signed sessions, "
        f"{len(injections):,} injections, {len(results):,} results"
    )
    return admin


def export(admin: Any) -> tuple[float, int, Any]:
    """Run one export's task body; (seconds, resources written, the job)."""
    from django.utils import timezone

    from bontrack.interop import bulk
    from bontrack.interop.models import ExportJob

    system = admin  # the admin's membership stands in for the client: the same code path
    now = timezone.now()
    job = ExportJob.objects.create(
        clinic_id=system.clinic_id,
        membership=system,
        level="system",
        types=list(bulk.ALL_TYPES),
        request_url="bench",
        status="queued",
        transaction_time=now,
        heartbeat_at=now,
    )
    started, cpu = time.perf_counter(), time.process_time()
    bulk.write_export(job.id)
    seconds = time.perf_counter() - started
    CPU_SECONDS.setdefault("export", []).append(time.process_time() - cpu)
    job.refresh_from_db()
    assert job.status == "completed", (job.status, job.error_message)
    return seconds, sum(o["count"] for o in job.output), job


def plain_json(clinic_id: Any, directory: Path) -> tuple[float, int]:
    """The same rows the export reads, as they come from the database, one JSON line each."""
    from bontrack.accounts.models import Membership
    from bontrack.inventory.models import Lot, Vial
    from bontrack.outcomes.models import AdverseEvent, Assessment
    from bontrack.patients.models import Consent, Diagnosis, Patient
    from bontrack.treatments.models import Injection, SessionEvent, SessionVial, TreatmentSession

    directory.mkdir(parents=True, exist_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for model in (
        Membership,
        Lot,
        Patient,
        Diagnosis,
        Consent,
        TreatmentSession,
        Injection,
        SessionVial,
        Vial,
        SessionEvent,
        Assessment,
        AdverseEvent,
    ):
        with (directory / f"{model.__name__}.ndjson").open(
            "w", encoding="utf-8", buffering=1 << 16
        ) as out:
            for row in model.objects.filter(clinic_id=clinic_id).values().iterator(chunk_size=2000):
                out.write(json.dumps(row, default=str, separators=(",", ":")))
                out.write("\n")
                rows += 1
    CPU_SECONDS.setdefault("plain", []).append(time.process_time() - cpu)
    return time.perf_counter() - started, rows


def peak_memory(admin: Any) -> int:
    import gc

    gc.collect()
    tracemalloc.start()
    export(admin)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bontrack-bench-export-") as name:
        try:
            return measure(Path(name), args.database)
        finally:
            if args.database == "postgres":
                from django.db import connections

                connections.close_all()
                _drop_postgres_database()


def measure(directory: Path, database: str) -> int:
    configure(directory, database)
    from django.db import connection
    from django.utils import timezone

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    today = timezone.localdate()
    rng = random.Random(20261125)
    admins = {size: build(size, today, rng) for size in SIZES}
    big = admins[SIZES[-1]]
    # Best of RUNS for both, alternated, so that a busy machine weighs on both alike.
    runs = []
    for n in range(RUNS):
        runs.append(export(big))
        runs.append(plain_json(big.clinic_id, directory / f"plain-{n}"))  # type: ignore[arg-type]
    seconds, resources, job = min(runs[0::2], key=lambda r: r[0])  # type: ignore[index]
    baseline, rows = min(runs[1::2], key=lambda r: r[0])  # type: ignore[index]
    print(
        f"{database}: export of {SIZES[-1]:,} patients: {resources:,} resources in "
        f"{seconds:.1f} s: "
        f"{resources / seconds:,.0f} resources/s"
    )
    print("  files: " + ", ".join(f"{o['type']} {o['count']:,}" for o in job.output))
    ratio = seconds / baseline
    print(
        f"plain json of the same rows: {rows:,} rows in {baseline:.1f} s: "
        f"{rows / baseline:,.0f} rows/s"
    )
    print(
        f"{database}: ratio export / plain json: {ratio:.2f} (target <= {TARGET_RATIO:g}): "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}"
    )
    cpu_ratio = min(CPU_SECONDS["export"]) / min(CPU_SECONDS["plain"])
    print(f"{database}: the same in this process's CPU time (best of {RUNS}): {cpu_ratio:.2f}")
    peaks = {size: peak_memory(admin) for size, admin in admins.items()}
    for size, peak in peaks.items():
        print(f"peak memory of the export, {size:,} patients: {peak / 1e6:.1f} MB (tracemalloc)")
    growth = peaks[SIZES[-1]] / peaks[SIZES[0]]
    print(
        f"{database}: peak memory 10,000 / 1,000 patients: {growth:.2f} "
        f"(does not grow: <= {MEMORY_GROWTH_LIMIT:g}): "
        f"{'met' if growth <= MEMORY_GROWTH_LIMIT else 'NOT met'}"
    )
    ok = ratio <= TARGET_RATIO and growth <= MEMORY_GROWTH_LIMIT
    print(f"{database}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the clinic-wide due list of a clinic of 100,000 patients.

Builds a temporary SQLite database and fills it with bulk inserts (benchmark only: the tests
build their data through the services): 100,000 patients, about two signed sessions each over
two years (chronic migraine, cervical dystonia, glabellar lines, spasticity; onabotulinumtoxinA,
abobotulinumtoxinA, incobotulinumtoxinA), 2 % of them entered in error, and a wear-off report
for one patient in five.

Then, in the same run and on the same database, measures (best of several runs):

- the due-list service (``compute_due_list``: its SQL queries and the domain's ``due_for`` for
  every patient and indication) for the next 4 weeks;
- a raw SQL query reading the same rows (the latest counting session per patient and indication,
  with patient and injector, and the wear-off reports), fetched through the same connection;

and prints both times, their ratio (target: at most 2) and the service's SQL query count. For
scale it also times the audited calls: the list as shown (500 rows, one read entry each) and
the CSV export (one disclosure entry per patient listed).
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATIENTS = 100_000
RUNS = 3
TARGET_RATIO = 2.0
WEEKS = 4
PLANS = (
    ("onabotulinumtoxinA", "chronic-migraine"),
    ("onabotulinumtoxinA", "cervical-dystonia"),
    ("abobotulinumtoxinA", "cervical-dystonia"),
    ("incobotulinumtoxinA", "cervical-dystonia"),
    ("onabotulinumtoxinA", "glabellar-lines"),
    ("abobotulinumtoxinA", "glabellar-lines"),
    ("onabotulinumtoxinA", "upper-limb-spasticity"),
)


def configure(directory: Path) -> None:
    (directory / "static").mkdir()
    os.environ.update(
        {
            "BONTRACK_VAR_DIR": str(directory),
            "DATABASE_URL": f"sqlite:///{directory / 'due.sqlite3'}",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "BONTRACK_DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "bontrack.settings",
        }
    )
    import django

    django.setup()


def build(today: date) -> Any:
    """The clinic, its staff through the services, then every clinical row in bulk."""
    from django.db import transaction
    from django.utils import timezone

    from bontrack.accounts.services import add_member, create_clinic
    from bontrack.outcomes.models import WearOffReport
    from bontrack.patients.models import Patient
    from bontrack.treatments.models import SessionEvent, TreatmentSession

    clinic = create_clinic("Due-list benchmark clinic", "UTC")
    injectors = [
        add_member(
            clinic,
            username=f"bench-injector-{n}",
            password=secrets.token_urlsafe(16),
            role="prescriber",
            full_name=f"Injector {n}",
            credentials=["physician"],
            indications=[i for _, i in PLANS],
        )
        for n in range(4)
    ]
    rng = random.Random(20261125)
    now = timezone.now()
    with transaction.atomic():
        patients = [
            Patient(
                clinic=clinic,
                record_number=f"D-{n:06d}",
                given_name="Bench",
                family_name=f"Patient {n:06d}",
                birth_date=date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
                phone=f"+44 20 7946 {n % 10000:04d}",
                contact_agreed=n % 3 != 0,
                contact_method="phone",
            )
            for n in range(PATIENTS)
        ]
        Patient.objects.bulk_create(patients, batch_size=2000)
        sessions: list[Any] = []
        for p in patients:
            for _ in range(rng.choice((1, 2, 2, 3))):
                product, indication = rng.choice(PLANS)
                day = today - timedelta(days=rng.randrange(1, 730))
                injector = rng.choice(injectors)
                at = timezone.make_aware(datetime.combine(day, clock_time(10)))
                sessions.append(
                    TreatmentSession(
                        clinic=clinic,
                        patient=p,
                        product=product,
                        indication=indication,
                        protocol="",
                        plan_date=day,
                        planned_by=injector,
                        injector=injector,
                        catalog_version="bench",
                        administered_at=at,
                        signed_at=at,
                        signed_by=injector,
                        digest="0" * 64,
                    )
                )
        TreatmentSession.objects.bulk_create(sessions, batch_size=2000)
        events = [
            SessionEvent(
                clinic=clinic,
                session=s,
                kind="entered-in-error",
                reason="Benchmark",
                by=s.signed_by,
                at=now,
            )
            for s in rng.sample(sessions, len(sessions) // 50)
        ]
        SessionEvent.objects.bulk_create(events, batch_size=2000)
        wrong = {e.session_id for e in events}
        reports = []
        for s in sessions:
            if s.id in wrong or rng.random() >= 0.1:
                continue
            wore_off = s.plan_date + timedelta(days=rng.randrange(60, 160))
            if wore_off >= today:
                continue
            reports.append(
                WearOffReport(
                    clinic=clinic,
                    patient_id=s.patient_id,
                    session=s,
                    reported_on=wore_off,
                    wore_off_on=wore_off,
                    recorded_by=s.signed_by,
                    recorded_at=now,
                )
            )
        WearOffReport.objects.bulk_create(reports, batch_size=2000)
    print(
        f"set-up: {len(patients):,} patients, {len(sessions):,} signed sessions "
        f"({len(events):,} entered in error), {len(reports):,} wear-off reports"
    )
    return injectors[0]


RAW_LATEST = """
SELECT s.id, s.patient_id, s.indication, s.product, s.plan_date, s.injector_id,
       p.record_number, p.given_name, p.family_name, p.phone, p.email, p.contact_agreed,
       p.contact_method, u.username, u.first_name, u.last_name
FROM (
    SELECT s.*, ROW_NUMBER() OVER (
        PARTITION BY s.patient_id, s.indication
        ORDER BY s.plan_date DESC, s.administered_at DESC, s.id DESC) AS latest
    FROM treatments_treatmentsession s
    WHERE s.clinic_id = %s AND s.signed_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM treatments_sessionevent e
                      WHERE e.session_id = s.id AND e.kind = 'entered-in-error')
) s
JOIN patients_patient p ON p.id = s.patient_id
LEFT JOIN accounts_membership m ON m.id = s.injector_id
LEFT JOIN auth_user u ON u.id = m.user_id
WHERE s.latest = 1 AND s.plan_date <= %s
"""
RAW_WEAR_OFF = """
SELECT r.patient_id, s.indication, s.product, s.plan_date, r.wore_off_on
FROM outcomes_wearoffreport r
JOIN treatments_treatmentsession s ON s.id = r.session_id
WHERE r.clinic_id = %s AND s.signed_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM treatments_sessionevent e
                  WHERE e.session_id = s.id AND e.kind = 'entered-in-error')
"""


def best(run: Callable[[], Any]) -> tuple[float, Any]:
    found: Any = None
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        found = run()
        times.append(time.perf_counter() - started)
    return min(times), found


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bontrack-bench-due-") as directory:
        configure(Path(directory))
        from django.core.management import call_command
        from django.db import connection, connections
        from django.test.utils import CaptureQueriesContext

        from bontrack.audit.services import Actor
        from bontrack.outcomes.due import compute_due_list, due_list, export_due_list

        call_command("migrate", verbosity=0)
        today = date(2026, 11, 25)
        started = time.perf_counter()
        member = build(today)
        print(f"built in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        end = today + timedelta(weeks=WEEKS)
        clinic = member.clinic_id.hex  # Django stores UUIDs as 32 hex characters in SQLite

        def raw() -> int:
            with connection.cursor() as cursor:
                cursor.execute(RAW_LATEST, [clinic, end.isoformat()])
                latest = cursor.fetchall()
                cursor.execute(RAW_WEAR_OFF, [clinic])
                reports = cursor.fetchall()
            return len(latest) + len(reports)

        def service() -> Any:
            return compute_due_list(member, today=today, weeks=WEEKS)

        service()  # warm the catalog and the statement cache
        raw_time, raw_rows = best(raw)
        service_time, found = best(service)
        with CaptureQueriesContext(connection) as ctx:
            service()
        queries = len(ctx.captured_queries)
        ratio = service_time / raw_time
        print(
            f"due list, next {WEEKS} weeks: {len(found.rows):,} patients due "
            f"(from {raw_rows:,} rows read)"
        )
        print(f"  raw SQL, same rows:       {raw_time * 1000:8.1f} ms")
        print(f"  due-list service:         {service_time * 1000:8.1f} ms")
        print(
            f"  ratio service / raw SQL:  {ratio:8.2f}  (target <= {TARGET_RATIO:g}: "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})"
        )
        print(f"  SQL queries of the service: {queries} (constant: not one per patient)")

        actor = Actor(member, "127.0.0.1")
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            shown = due_list(actor, weeks=WEEKS, limit=500, today=today)
        print(
            f"  shown through the API's service (500 rows, 500 read entries): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms, {len(ctx.captured_queries)} queries "
            f"({shown.total:,} due)"
        )
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            exported = export_due_list(actor, weeks=WEEKS, today=today)
        print(
            f"  CSV export's service ({len(exported.rows):,} rows, one disclosure entry per "
            f"patient): {(time.perf_counter() - started) * 1000:.0f} ms, "
            f"{len(ctx.captured_queries)} queries (the audit inserts are batched by SQLite's "
            "999-parameter limit)"
        )
        connections.close_all()


if __name__ == "__main__":
    main()

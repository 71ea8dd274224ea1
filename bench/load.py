"""Load: N simulated clinicians plan and sign sessions against a running server, at once.

On SQLite (default) or PostgreSQL (`--database postgres`), each clinician is a thread with a
token of its own, planning, acknowledging and signing PREEMPT sessions through the HTTP API for
its own patients; then all of them sign at the same moment for one shared patient whose history
leaves room for only one more session under the 400 U limit. Bounded in count and time; loopback
only. Printed: failed requests (a 5xx, a dropped connection or "database is locked" counts;
a 409 refusal of the shared patient's extra sessions is the rule working), p50/p95 latency and
throughput, and the database afterwards: every successful signature is there once, none is lost
or doubled, and the shared patient's window stays within 400 U.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The signing client and the server's start and stop are bench/api.py's: load it as a module.
_spec = importlib.util.spec_from_file_location("bench_api", HERE / "api.py")
assert _spec is not None
assert _spec.loader is not None
bench_api = importlib.util.module_from_spec(_spec)
sys.modules["bench_api"] = bench_api
_spec.loader.exec_module(bench_api)

PER_CLINICIAN = 8
MAX_SECONDS = 60.0
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def configure(directory: Path, database: str) -> tuple[dict[str, str], str | None]:
    (directory / "static").mkdir()
    created = None
    if database == "postgres":
        import psycopg

        created = f"bontrack_load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        url = f"postgres://postgres@127.0.0.1:5432/{created}"
    else:
        url = f"sqlite:///{directory / 'load.sqlite3'}"
    env = {
        "BONTRACK_VAR_DIR": str(directory),
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BONTRACK_DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "bontrack.settings",
    }
    os.environ.update(env)
    import django

    django.setup()
    return {**os.environ, **env}, created


def shared_patient(bench: Any) -> tuple[str, list[str]]:
    """A patient with 340 U given six weeks ago: one 60 U session fits under 400 U, two do not."""
    from datetime import date, timedelta

    from django.utils import timezone

    from bontrack.inventory.services import reconstitute_vial
    from bontrack.ops.demo import sign_with_decisions
    from bontrack.patients.services import record_consent, register_patient
    from bontrack.treatments import services

    actor = bench.actor
    today = timezone.localdate()
    p = register_patient(
        actor,
        today,
        record_number="SHARED",
        given_name="Shared",
        family_name="Patient",
        birth_date=date(1975, 1, 1),
    )
    for indication in ("upper-limb-spasticity", "cervical-dystonia"):
        record_consent(
            actor,
            p.id,
            indication=indication,
            signed_on=today - timedelta(days=90),
            signed_by="Shared Patient",
        )
    vials = list(bench.lot.vials.filter(reconstituted_at__isnull=True).values_list("id", flat=True))
    earlier = timezone.now() - timedelta(weeks=6)
    # 340 U takes two 200 U vials (B.30: what is signed was in the vials).
    for vial in vials[:2]:
        reconstitute_vial(
            actor, vial, diluent_ml=Decimal(4), reconstituted_at=earlier - timedelta(hours=1)
        )
    points = [
        services.PointInput(site, "left", Decimal(34)) for site in ("splenius-capitis", "trapezius")
    ]
    session = services.plan_session(
        actor,
        p.id,
        product="onabotulinumtoxinA",
        indication="cervical-dystonia",
        plan_date=earlier.date(),
        injections=points * 5,
    )
    sign_with_decisions(actor, actor, session, earlier, [str(vials[0]), str(vials[1])])
    opened = []
    for vial in vials[2 : 2 + 16]:
        reconstitute_vial(
            actor,
            vial,
            diluent_ml=Decimal(2),
            reconstituted_at=timezone.now() - timedelta(minutes=20),
        )
        opened.append(str(vial))
    return str(p.id), opened


def clinician(
    port: int, token: str, work: list[tuple[str, str]], deadline: float, out: dict[str, Any]
) -> None:
    for patient_id, vial_id in work:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        try:
            bench_api.sign_once(port, token, patient_id, vial_id)
            out["latencies"].append(time.perf_counter() - started)
            out["signed"] += 1
        except (SystemExit, OSError, AssertionError, ValueError) as error:
            out["failures"].append(str(error)[:200])


def contend(
    port: int,
    token: str,
    patient_id: str,
    vial_id: str,
    barrier: threading.Barrier,
    out: dict[str, Any],
) -> None:
    from django.utils import timezone

    status, plan = bench_api.request(
        port,
        "POST",
        "/api/v1/sessions",
        {
            "patient_id": patient_id,
            "product": "onabotulinumtoxinA",
            "indication": "cervical-dystonia",
            "plan_date": timezone.localdate().isoformat(),
            "vial_ids": [vial_id],
            "injections": [
                {"site": "sternocleidomastoid", "side": "left", "units": 30},
                {"site": "splenius-capitis", "side": "left", "units": 30},
            ],
        },
        token,
    )
    if status != 201:
        out["failures"].append(f"planning for the shared patient answered {status}: {plan}")
        return
    for finding in plan["check"]["findings"]:
        if finding["severity"] == "warn":
            bench_api.request(
                port,
                "POST",
                f"/api/v1/sessions/{plan['id']}/decisions",
                {"fingerprint": finding["fingerprint"], "kind": "acknowledge"},
                token,
            )
    barrier.wait(timeout=60)
    try:
        status, answer = bench_api.request(
            port,
            "POST",
            f"/api/v1/sessions/{plan['id']}/sign",
            {"administered_at": timezone.now().isoformat()},
            token,
        )
    except OSError as error:
        out["failures"].append(f"signing dropped: {error}")
        return
    if status == 200:
        out["shared_signed"] += 1
    elif status == 409 and "cumulative-dose" in str(answer):
        out["shared_refused"] += 1
    else:
        out["failures"].append(f"shared signing answered {status}: {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinicians", type=int, default=4)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bontrack-load-") as directory:
        env, created = configure(Path(directory), args.database)
        try:
            run(env, args.clinicians, args.database)
        finally:
            from django.db import connections

            connections.close_all()
            if created:
                import psycopg

                with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def run(env: dict[str, str], clinicians: int, database: str) -> None:
    from django.core.management import call_command
    from django.db import connections

    from bontrack.accounts.services import add_member
    from bontrack.api.auth import issue_token

    call_command("migrate", verbosity=0)
    bench = bench_api.build(clinicians * PER_CLINICIAN)
    shared_id, shared_vials = shared_patient(bench)
    tokens = []
    for n in range(clinicians):
        member = add_member(
            bench.actor.membership.clinic,
            username=f"load-{n}",
            password=secrets.token_urlsafe(16),
            role="prescriber",
            credentials=["physician"],
            indications=["chronic-migraine", "cervical-dystonia", "upper-limb-spasticity"],
        )
        tokens.append(issue_token(member, "load", 1)[1])
    connections.close_all()
    port = bench_api.free_port()
    server = bench_api.start_server(env, port)
    out: dict[str, Any] = {
        "latencies": [],
        "signed": 0,
        "failures": [],
        "shared_signed": 0,
        "shared_refused": 0,
    }
    lock = threading.Lock()
    outs = [{"latencies": [], "signed": 0, "failures": []} for _ in range(clinicians)]
    try:
        deadline = time.monotonic() + MAX_SECONDS
        started = time.perf_counter()
        threads = [
            threading.Thread(
                target=clinician,
                args=(port, tokens[n], bench.signers[n::clinicians], deadline, outs[n]),
            )
            for n in range(clinicians)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        barrier = threading.Barrier(clinicians)
        contenders = [
            threading.Thread(
                target=contend, args=(port, tokens[n], shared_id, shared_vials[n], barrier, out)
            )
            for n in range(clinicians)
        ]
        for t in contenders:
            t.start()
        for t in contenders:
            t.join()
    finally:
        bench_api.stop_server(server)
    with lock:
        for o in outs:
            out["latencies"] += o["latencies"]
            out["signed"] += o["signed"]
            out["failures"] += o["failures"]
    report(out, elapsed, clinicians, database, bench, shared_id)


def report(
    out: dict[str, Any], elapsed: float, clinicians: int, database: str, bench: Any, shared_id: str
) -> None:
    from datetime import timedelta

    from django.db.models import Count
    from django.utils import timezone

    from bontrack.domain.units import format_decimal
    from bontrack.treatments.models import TreatmentSession
    from bontrack.treatments.records import current_points, total_units

    latencies = sorted(out["latencies"])
    signed_rows = TreatmentSession.objects.filter(
        signed_at__isnull=False, patient_id__in=[p for p, _ in bench.signers]
    )
    in_db = signed_rows.count()
    doubled = signed_rows.values("patient_id").annotate(n=Count("id")).filter(n__gt=1).count()
    window = TreatmentSession.objects.filter(
        patient_id=shared_id,
        signed_at__isnull=False,
        plan_date__gt=timezone.localdate() - timedelta(days=84),
    )
    shared_total = sum(total_units(current_points(s)) for s in window)
    print(f"database: {database}; {clinicians} clinicians at once, gunicorn (2 workers), loopback")
    rate = out["signed"] / elapsed
    print(f"signed: {out['signed']} sessions in {elapsed:.1f} s = {rate:.2f} sessions per second")
    if latencies:
        p50 = statistics.median(latencies)
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(f"plan + acknowledge + sign: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"failed requests: {len(out['failures'])}")
    for failure in out["failures"][:5]:
        print(f"  {failure}")
    print(
        f"in the database afterwards: {in_db} signed sessions for {out['signed']} signatures; "
        f"lost {max(0, out['signed'] - in_db)}, doubled {doubled}"
    )
    print(
        f"shared patient: {out['shared_signed']} signed, {out['shared_refused']} refused by the "
        f"cumulative-dose re-check; window total {format_decimal(shared_total)} U (limit 400 U)"
    )
    ok = not out["failures"] and in_db == out["signed"] and not doubled and shared_total <= 400
    print(
        "result: " + ("zero errors, zero lost or doubled sessions" if ok else "PROBLEMS, see above")
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()

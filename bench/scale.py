"""Latency budgets at scale: a generated 200,000-patient database, measured in process.

Creates a database of its own (PostgreSQL by default: ``bontrack_scale``, dropped and created;
``--database sqlite``: a file in a temporary directory), migrates it, fills it with the seeded
generator of ``bench/scale_data.py`` (COPY on PostgreSQL), runs ``ANALYZE``, then measures through
Django's test client in this process, warm (``--warmups`` discarded, ``--samples`` kept, p50 and
p95), in the large clinic (10 % of the patients) and the small one (N / 200) of the same run:

- the reference: ``GET /api/v1/auth/tokens`` with a bearer token (authenticated, one small read;
  the API has no empty authenticated route);
- the patient page with 100 sessions and with none: time and SQL statements;
- the plan editor's re-check after one point changed (``POST sessions/<id>/points/0/change`` on
  a PREEMPT plan of the 100-session patient, the units alternating 5 and 6);
- the due list (the page ``due/`` and ``GET /api/v1/due?limit=50``);
- the recall of one lot (``GET /api/v1/lots/<id>/exposures`` and the page ``inventory/lots/<id>/``),
  the clinic's lot with the most uses;
- signing through the API (``POST /api/v1/sessions/<id>/sign``, a PREEMPT plan with one warning
  acknowledged, a patient and a reconstituted vial of its own each time), beside the same rows
  written with raw SQL (the session's signature, the vial's draw and owner, the audit entry, the
  charge set) in one transaction; and a whole session (plan, acknowledge, sign) against the
  reference.

Every target of issue 20 is printed with its measured value, its reference, the ratio, the target
and MET or NOT MET. ``--quick`` is a small run for trying it; ``--keep`` keeps the database.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_NAME = "bontrack_scale"
HOST = "127.0.0.1"  # one of the default allowed hosts
SEED = 20261206

RECHECK_P95_MS = 50.0
PAGE_P95_MS = 150.0
SIZE_RATIO = 1.5
RECALL_MS = 40.0
SIGN_STATEMENTS = 12
SIGN_RATE = 0.2
SESSION_RATE = 0.08


def configure(directory: Path, database: str, name: str) -> None:
    (directory / "static").mkdir()
    if database == "postgres":
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{directory / 'scale.sqlite3'}"
    os.environ.update(
        {
            "BONTRACK_VAR_DIR": str(directory),
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "BONTRACK_AUDIT_KEY": secrets.token_urlsafe(32),
            "BONTRACK_DEBUG": "0",
            # It measures the requests, not sign-in: the staff sign in with a password alone.
            "BONTRACK_MFA_ENFORCED": "0",
            "DJANGO_SETTINGS_MODULE": "bontrack.settings",
        }
    )
    import django

    django.setup()


def drop(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Timing:
    p50: float  # milliseconds
    p95: float
    statements: int | None = None

    def __str__(self) -> str:
        queries = "" if self.statements is None else f", {self.statements} statements"
        return f"p50 {self.p50:7.2f} ms, p95 {self.p95:7.2f} ms{queries}"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(
    run: Callable[[int], Any], samples: int, warmups: int, count_statements: bool = True
) -> Timing:
    """``run(n)`` ``warmups`` times unmeasured, then ``samples`` times timed; its SQL
    statements counted on one more call, apart from the timed ones."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(warmups):
        run(n)
    times = []
    for n in range(warmups, warmups + samples):
        started = time.perf_counter()
        run(n)
        times.append((time.perf_counter() - started) * 1000)
    statements = None
    if count_statements:
        with CaptureQueriesContext(connection) as captured:
            run(warmups + samples)
        statements = len(captured.captured_queries)
    return Timing(statements=statements, p50=statistics.median(times), p95=percentile(times, 0.95))


def ok(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise SystemExit(
            f"bench/scale.py: {response.request['PATH_INFO']} answered {response.status_code}: "
            f"{response.content[:300]!r}"
        )
    return response


class Verdicts:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def target(
        self, name: str, measured: str, reference: str, ratio: float, target: str, met: bool
    ) -> None:
        self.lines.append(
            f"  {name}\n      measured {measured}; reference {reference}; ratio {ratio:.3g}; "
            f"target {target}: {'MET' if met else 'NOT MET'}"
        )


@dataclass
class ClinicClients:
    name: str
    page: Any
    api: Any
    token: str
    member: Any


def clients(clinic: Any) -> ClinicClients:
    from django.test import Client

    from bontrack.accounts.models import Membership
    from bontrack.api.auth import issue_token

    member = Membership.objects.select_related("user", "clinic").get(id=clinic.prescriber_ids[0])
    page = Client(HTTP_HOST=HOST)
    page.force_login(member.user)
    _, token = issue_token(member, "scale bench", 1)
    api = Client(HTTP_HOST=HOST, headers={"authorization": f"Bearer {token}"})
    return ClinicClients(clinic.name, page, api, token, member)


def draft_plan(member: Any, patient_id: Any) -> Any:
    from django.utils import timezone

    from bontrack.audit.services import Actor
    from bontrack.treatments import services

    return services.plan_session(
        Actor(member, "127.0.0.1"),
        patient_id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )


@dataclass
class Signer:
    patient_id: str
    vial_id: str


def signers(member: Any, count: int, tag: str) -> list[Signer]:
    """Patients of their own, each with a consent and a reconstituted vial: an aminoglycoside
    raises the warning that the whole session acknowledges before signing."""
    from django.utils import timezone

    from bontrack.audit.services import Actor
    from bontrack.inventory.services import receive_lot, reconstitute_vial
    from bontrack.patients.services import record_consent, register_patient

    actor = Actor(member, "127.0.0.1")
    today = timezone.localdate()
    lot = receive_lot(
        actor,
        product="onabotulinumtoxinA",
        lot_number=f"SIGN-{tag}",
        vial_size_units=Decimal(200),
        expires_on=today + timedelta(days=300),
        received_vials=count,
        received_on=today - timedelta(days=5),
    )
    opened = timezone.now() - timedelta(minutes=20)
    found = []
    for n, vial in enumerate(lot.vials.order_by("created_at", "id").values_list("id", flat=True)):
        patient = register_patient(
            actor,
            today,
            record_number=f"SIGN-{tag}-{n:05d}",
            given_name="Signing",
            family_name=f"Patient {n}",
            birth_date=today.replace(year=today.year - 45),
            medications=["aminoglycosides"],
        )
        record_consent(
            actor,
            patient.id,
            indication="chronic-migraine",
            signed_on=today - timedelta(days=3),
            signed_by="The patient",
        )
        reconstitute_vial(actor, vial, diluent_ml=Decimal(4), reconstituted_at=opened)
        found.append(Signer(str(patient.id), str(vial)))
    return found


def plan_and_acknowledge(api: Any, signer: Signer) -> str:
    from django.utils import timezone

    planned = ok(
        api.post(
            "/api/v1/sessions",
            {
                "patient_id": signer.patient_id,
                "product": "onabotulinumtoxinA",
                "indication": "chronic-migraine",
                "plan_date": timezone.localdate().isoformat(),
                "protocol": "preempt-155",
                "vial_ids": [signer.vial_id],
            },
            content_type="application/json",
        ),
        201,
    ).json()
    for finding in planned["check"]["findings"]:
        if finding["severity"] != "warn":
            raise SystemExit(f"bench/scale.py: the signing plan has a {finding['severity']}")
        ok(
            api.post(
                f"/api/v1/sessions/{planned['id']}/decisions",
                {"fingerprint": finding["fingerprint"], "kind": "acknowledge"},
                content_type="application/json",
            ),
            201,
        )
    return str(planned["id"])


def sign(api: Any, session_id: str, signer: Signer) -> None:
    from django.utils import timezone

    signed = ok(
        api.post(
            f"/api/v1/sessions/{session_id}/sign",
            {"administered_at": timezone.now().isoformat(), "vial_ids": [signer.vial_id]},
            content_type="application/json",
        )
    ).json()
    if signed["status"] != "signed":
        raise SystemExit(f"bench/scale.py: signing answered {signed['status']}")


def raw_signing(member: Any, count: int, template_session: str) -> Timing:
    """The rows a signature writes, written with raw SQL in one transaction each: the session's
    signature columns, the vial's draw and owner, the audit entry (its chain head read, its
    hash made) and the charge set (the charges of a session signed through the API)."""
    import json
    import uuid

    from django.db import connection, transaction
    from django.utils import timezone

    from bontrack.audit.chain import keyed_chain_hash
    from bontrack.audit.keys import signing_key
    from bontrack.billing.models import ChargeSet
    from bontrack.treatments.models import SessionVial, TreatmentSession

    template = ChargeSet.objects.filter(session_id=template_session).order_by("sequence").first()
    if template is None:
        raise SystemExit("bench/scale.py: signing through the API captured no charge set")
    plans = []
    for signer in signers(member, count, "raw"):
        session = draft_plan(member, signer.patient_id)
        SessionVial.objects.create(
            clinic_id=session.clinic_id, session=session, vial_id=signer.vial_id
        )
        plans.append((session, signer))
    key = signing_key()
    uuid_text = connection.vendor == "postgresql"

    def value(u: Any) -> Any:
        return str(u) if uuid_text else u.hex

    times = []
    for session, signer in plans:
        started = time.perf_counter()
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT seq, hash FROM audit_auditentry WHERE clinic_id = %s "
                "ORDER BY seq DESC LIMIT 1",
                [value(member.clinic_id)],
            )
            seq, prev = cursor.fetchone()
            entry = {"action": "sign", "object_id": str(session.id), "at": now.isoformat()}
            entry_hash = keyed_chain_hash(entry, prev, key.secret)
            cursor.execute(
                "UPDATE treatments_sessionvial SET drawn_units = %s "
                "WHERE clinic_id = %s AND session_id = %s",
                [Decimal(155), value(member.clinic_id), value(session.id)],
            )
            cursor.execute(
                "UPDATE inventory_vial SET patient_id = %s WHERE clinic_id = %s AND id = %s",
                [
                    value(session.patient_id),
                    value(member.clinic_id),
                    value(uuid.UUID(signer.vial_id)),
                ],
            )
            cursor.execute(
                "UPDATE treatments_treatmentsession SET signed_at = %s, signed_by_id = %s, "
                "injector_id = %s, administered_at = %s, digest = %s, canon = 4, "
                "check_result = %s, updated_at = %s WHERE clinic_id = %s AND id = %s",
                [
                    now,
                    value(member.id),
                    value(member.id),
                    now,
                    entry_hash,
                    json.dumps(session.check_result),
                    now,
                    value(member.clinic_id),
                    value(session.id),
                ],
            )
            cursor.execute(
                "INSERT INTO audit_auditentry (clinic_id, seq, at, user_id, username, role, "
                "patient_id, action, object_type, object_id, detail, address, prev_hash, hash, "
                "key_id) VALUES (%s, %s, %s, %s, %s, %s, %s, 'sign', 'session', %s, %s, '', %s, "
                "%s, %s)",
                [
                    value(member.clinic_id),
                    seq + 1,
                    now,
                    member.user_id,
                    member.user.get_username(),
                    member.role,
                    value(session.patient_id),
                    str(session.id),
                    json.dumps({"digest": entry_hash}),
                    prev,
                    entry_hash,
                    key.id,
                ],
            )
            cursor.execute(
                "INSERT INTO billing_chargeset (id, clinic_id, patient_id, session_id, sequence, "
                "reason, status, why, charges, date_of_service, rendering_provider_id, "
                "rendering_to_confirm, claim_items, diagnosis, created_at, created_by_id) "
                "VALUES (%s, %s, %s, %s, 1, 'signed', 'complete', '', %s, %s, %s, false, %s, "
                "'', %s, %s)",
                [
                    value(uuid.uuid4()),
                    value(member.clinic_id),
                    value(session.patient_id),
                    value(session.id),
                    json.dumps(template.charges),
                    now.date(),
                    value(member.id),
                    json.dumps(template.claim_items),
                    now,
                    value(member.id),
                ],
            )
        times.append((time.perf_counter() - started) * 1000)
    if not TreatmentSession.objects.filter(id=plans[-1][0].id, signed_at__isnull=False).exists():
        raise SystemExit("bench/scale.py: the raw signature was not written")
    return Timing(p50=statistics.median(times), p95=percentile(times, 0.95), statements=6)


def measure_clinic(clinic: Any, c: ClinicClients, n: int, w: int) -> dict[str, Timing]:
    """Every read measured in one clinic, printed as it goes."""
    print(f"\n{clinic.name}:")
    found: dict[str, Timing] = {}

    def report(name: str, timing: Timing, key: str = "") -> None:
        found[key or name] = timing
        print(f"  {name:<36} {timing}", flush=True)

    def get(client: Any, path: str) -> Callable[[int], Any]:
        return lambda _: ok(client.get(path))

    report("reference: GET /api/v1/auth/tokens", measure(get(c.api, "/api/v1/auth/tokens"), n, w))
    report(
        "patient page, 100 sessions",
        measure(get(c.page, f"/patients/{clinic.history_patient}/"), n, w),
    )
    report(
        "patient page, no session", measure(get(c.page, f"/patients/{clinic.empty_patient}/"), n, w)
    )
    plan = draft_plan(c.member, clinic.history_patient)

    def change(k: int) -> Any:
        return ok(
            c.page.post(
                f"/sessions/{plan.id}/points/0/change",
                {"units": "6" if k % 2 else "5"},
                headers={"HX-Request": "true"},
            )
        )

    report("re-check, one point changed", measure(change, n, w))
    due = ok(c.api.get("/api/v1/due?limit=50")).json()
    listed = f"{len(due['rows'])} of {due['total']} due"
    report(f"due list, page ({due['total']} due)", measure(get(c.page, "/due/"), n, w), "due page")
    report(
        f"due list, API ({listed})",
        measure(get(c.api, "/api/v1/due?limit=50"), n, w),
        "due api",
    )
    lot = clinic.busiest_lot
    uses = clinic.lot_uses[lot]
    report(
        f"recall, API exposures ({uses} uses)",
        measure(get(c.api, f"/api/v1/lots/{lot}/exposures"), n, w),
        "recall",
    )
    report(
        f"recall, lot page ({uses} uses)",
        measure(get(c.page, f"/inventory/lots/{lot}/"), n, w),
        "recall page",
    )
    return found


def work_mem() -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        return "(SQLite: no work_mem)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        return str(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmups", type=int, default=20)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--name", default=DATABASE_NAME, help="the PostgreSQL database's name")
    parser.add_argument("--quick", action="store_true", help="2,000 patients, 30 samples")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument(
        "--checked",
        action="store_true",
        help="load with the foreign-key and append-only triggers on (PostgreSQL; slower)",
    )
    args = parser.parse_args()
    if args.quick:
        args.patients, args.samples, args.warmups = 2000, 30, 5
        args.clinics = min(args.clinics, 5)
    with tempfile.TemporaryDirectory(prefix="bontrack-bench-scale-") as directory:
        configure(Path(directory), args.database, args.name)
        try:
            run(args)
        finally:
            from django.db import connections

            connections.close_all()
            if args.database == "postgres" and not args.keep:
                drop(args.name)


def run(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from bench import scale_data

    print(
        f"bench/scale.py: {args.database}, {args.patients:,} patients in {args.clinics} clinics, "
        f"seed {args.seed}, {args.warmups} warm-ups + {args.samples} samples each"
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s")
    data = scale_data.generate(
        patients=args.patients,
        clinics=args.clinics,
        seed=args.seed,
        today=timezone.localdate(),
        checked=args.checked,
        progress=lambda line: print(f"  {line}", flush=True),
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"generated in {data.seconds:.1f} s, analysed in {time.perf_counter() - started:.1f} s")
    counts = scale_data.table_counts(
        [
            "accounts_clinic",
            "patients_patient",
            "treatments_treatmentsession",
            "treatments_injection",
            "treatments_sessionvial",
            "inventory_lot",
            "inventory_vial",
            "outcomes_assessment",
            "patients_consent",
            "audit_auditentry",
        ]
    )
    print("dataset: " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    print(f"work_mem: {work_mem()}")
    n, w = args.samples, args.warmups
    sizes = {"large": data.large, "small": data.small}
    results: dict[str, dict[str, Timing]] = {}
    staff = {}
    for label, clinic in sizes.items():
        staff[label] = clients(clinic)
        results[label] = measure_clinic(clinic, staff[label], n, w)

    print(f"\nsigning in {data.large.name}:")
    c = staff["large"]
    count = n + w + 1
    people = signers(c.member, count, "api")
    sign_times: list[float] = []
    whole_times: list[float] = []
    statements = 0
    last_session = ""
    from django.test.utils import CaptureQueriesContext

    for k, signer in enumerate(people):
        began = time.perf_counter()
        session_id = plan_and_acknowledge(c.api, signer)
        if k == count - 1:
            with CaptureQueriesContext(connection) as captured:
                sign(c.api, session_id, signer)
            statements = len(captured.captured_queries)
            last_session = session_id
            continue
        started = time.perf_counter()
        sign(c.api, session_id, signer)
        ended = time.perf_counter()
        if k >= w:
            sign_times.append((ended - started) * 1000)
            whole_times.append((ended - began) * 1000)
    signing = Timing(statistics.median(sign_times), percentile(sign_times, 0.95), statements)
    whole = Timing(statistics.median(whole_times), percentile(whole_times, 0.95))
    raw = raw_signing(c.member, n, last_session)
    print(f"  {'sign (API)':<34} {signing}")
    print(f"  {'same rows, raw SQL':<34} {raw}")
    print(f"  {'plan + acknowledge + sign (API)':<34} {whole}")

    large, small = results["large"], results["small"]
    ref = large["reference: GET /api/v1/auth/tokens"]
    verdicts = Verdicts()
    for label, found in results.items():
        recheck = found["re-check, one point changed"]
        reference = found["reference: GET /api/v1/auth/tokens"]
        verdicts.target(
            f"re-check p95, {label} clinic",
            f"{recheck.p95:.1f} ms",
            f"{reference.p95:.1f} ms (reference p95)",
            recheck.p95 / reference.p95,
            f"<= {RECHECK_P95_MS:g} ms",
            recheck.p95 <= RECHECK_P95_MS,
        )
        page = found["patient page, 100 sessions"]
        verdicts.target(
            f"patient page (100 sessions) p95, {label} clinic",
            f"{page.p95:.1f} ms",
            f"{reference.p95:.1f} ms (reference p95)",
            page.p95 / reference.p95,
            f"<= {PAGE_P95_MS:g} ms",
            page.p95 <= PAGE_P95_MS,
        )
        empty = found["patient page, no session"]
        verdicts.target(
            f"patient page statements, 100 vs 0 sessions, {label} clinic",
            f"{page.statements} statements",
            f"{empty.statements} statements (no session)",
            (page.statements or 0) / max(1, empty.statements or 0),
            "the same count",
            page.statements == empty.statements,
        )
    for name in ("due page", "due api", "recall", "recall page"):
        ratio = large[name].p50 / small[name].p50
        verdicts.target(
            f"{name}: large / small clinic (p50)",
            f"{large[name].p50:.1f} ms",
            f"{small[name].p50:.1f} ms (small clinic)",
            ratio,
            f"<= {SIZE_RATIO:g}x",
            ratio <= SIZE_RATIO,
        )
    recall = large["recall"]
    verdicts.target(
        "recall (API exposures) p95, large clinic",
        f"{recall.p95:.1f} ms",
        f"{ref.p95:.1f} ms (reference p95)",
        recall.p95 / ref.p95,
        f"<= {RECALL_MS:g} ms",
        recall.p95 <= RECALL_MS,
    )
    verdicts.target(
        "signing statements",
        f"{signing.statements} statements",
        f"{raw.statements} statements (raw SQL, same rows)",
        (signing.statements or 0) / (raw.statements or 1),
        f"<= {SIGN_STATEMENTS}",
        (signing.statements or 0) <= SIGN_STATEMENTS,
    )
    verdicts.target(
        "signing time vs the same rows in raw SQL (p50)",
        f"{signing.p50:.2f} ms",
        f"{raw.p50:.2f} ms (raw SQL)",
        signing.p50 / raw.p50,
        "(reported)",
        True,
    )
    rate = ref.p50 / signing.p50
    verdicts.target(
        "sign rate / reference rate (p50)",
        f"{1000 / signing.p50:.1f}/s",
        f"{1000 / ref.p50:.1f}/s (reference)",
        rate,
        f">= {SIGN_RATE:g}x",
        rate >= SIGN_RATE,
    )
    rate = ref.p50 / whole.p50
    verdicts.target(
        "whole session rate / reference rate (p50)",
        f"{1000 / whole.p50:.1f}/s",
        f"{1000 / ref.p50:.1f}/s (reference)",
        rate,
        f">= {SESSION_RATE:g}x",
        rate >= SESSION_RATE,
    )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"\ntargets ({args.database}, {args.patients:,} patients, work_mem {work_mem()}, "
        f"{os.cpu_count()} cores, load average {load}):"
    )
    print("\n".join(verdicts.lines))


if __name__ == "__main__":
    main()

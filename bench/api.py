"""Benchmark: sign a 31-point PREEMPT session through the HTTP API of a running server.

Builds a fresh SQLite database in a temporary directory (through bontrack's services), starts
gunicorn on a free loopback port against it, and measures in the same run, with the same server
and the same client:

- the empty endpoint (GET /api/v1/health): requests per second;
- signing: sessions per second, each planned (POST /sessions, PREEMPT with a reconstituted vial),
  its warnings acknowledged and signed, for a patient of its own so that no cumulative limit
  blocks; the ratio of the whole session's rate to the empty endpoint's (target >= 0.08) and of
  the sign request's alone (target >= 0.2).

Then, in this process (not through the server), the SQL statements of the whole sign request
(POST /api/v1/sessions/{id}/sign: authentication and permission checks included) and of reading
the timeline, for a patient with 5 and with 50 earlier signed sessions (targets: the same count;
signing at most 12 statements).
The server is stopped and the directory removed at the end; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
EMPTY_SECONDS, EMPTY_MAX = 3.0, 5000  # the empty endpoint: at most this long, this many
SIGN_SECONDS, SIGN_MAX, SIGN_WARMUP = 20.0, 30, 2  # signing: the same, plus unmeasured warm-up
HISTORIES = (5, 50)
TARGET_SESSION_RATIO = 0.08  # plan, acknowledge, sign
TARGET_SIGN_RATIO = 0.2  # the sign request alone
TARGET_SIGN_STATEMENTS = 12


def configure(directory: Path) -> dict[str, str]:
    """The environment of this process and of the server: a database of our own, debug off."""
    (directory / "static").mkdir()
    env = {
        "BONTRACK_VAR_DIR": str(directory),
        "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BONTRACK_DEBUG": "0",
        # It measures signing, not sign-in: its prescriber gets a token with a password alone.
        "BONTRACK_MFA_ENFORCED": "0",
        "DJANGO_SETTINGS_MODULE": "bontrack.settings",
    }
    os.environ.update(env)
    import django

    django.setup()
    return {**os.environ, **env}


# --- Data, built through the services ----------------------------------------------------------


@dataclass
class Bench:
    username: str
    password: str
    signers: list[tuple[str, str]]  # (patient id, reconstituted vial id), one per iteration
    histories: dict[int, Any]  # earlier sessions -> patient
    actor: Any
    lot: Any


def build(iterations: int) -> Bench:
    from django.utils import timezone

    from bontrack.accounts.services import add_member, create_clinic
    from bontrack.audit.services import Actor
    from bontrack.inventory.services import receive_lot, reconstitute_vial
    from bontrack.patients.services import record_consent, register_patient

    clinic = create_clinic("Benchmark clinic", "UTC")
    password = secrets.token_urlsafe(16)
    physician = add_member(
        clinic,
        username="bench-physician",
        password=password,
        role="prescriber",
        full_name="Bench Physician",
        credentials=["physician"],
        indications=["chronic-migraine", "cervical-dystonia"],
    )
    actor = Actor(physician, HOST)
    today = timezone.localdate()
    lot = receive_lot(
        actor,
        product="onabotulinumtoxinA",
        lot_number="BENCH-1",
        vial_size_units=Decimal(200),
        expires_on=today + timedelta(days=300),
        received_vials=iterations + sum(HISTORIES) + 10,
        received_on=today - timedelta(days=10),
    )
    vials = iter(lot.vials.order_by("created_at").values_list("id", flat=True))
    opened_at = timezone.now() - timedelta(minutes=30)

    def patient(record: str, **clinical: Any) -> Any:
        return register_patient(
            actor,
            today,
            record_number=record,
            given_name="Bench",
            family_name=record,
            birth_date=date(1980, 5, 1),
            weight_kg=Decimal(70),
            weight_measured_on=today,
            **clinical,
        )

    def consent(p: Any, indication: str, signed_on: Any) -> None:
        record_consent(actor, p.id, indication=indication, signed_on=signed_on, signed_by="Bench")

    def open_vial(at: datetime) -> str:
        vial = next(vials)
        reconstitute_vial(actor, vial, diluent_ml=Decimal(4), reconstituted_at=at)
        return str(vial)

    signers = []
    for n in range(iterations):
        # An aminoglycoside raises a warning that the clinician acknowledges before signing.
        p = patient(f"S-{n:04d}", medications=["aminoglycosides"])
        consent(p, "chronic-migraine", today - timedelta(days=30))
        signers.append((str(p.id), open_vial(opened_at)))
    histories = {}
    for count in HISTORIES:
        p = patient(f"H-{count}")
        with_history(actor, p, count, open_vial, consent)
        consent(p, "chronic-migraine", today - timedelta(days=30))
        histories[count] = p
    return Bench("bench-physician", password, signers, histories, actor, lot)


def with_history(
    actor: Any, p: Any, count: int, open_vial: Callable[[datetime], str], consent: Any
) -> None:
    """``count`` signed sessions 12 weeks apart: one small cervical dystonia injection each
    (the counts do not depend on the points; this keeps the set-up quick)."""
    from django.utils import timezone

    from bontrack.ops.demo import sign_with_decisions
    from bontrack.treatments import services

    now = timezone.now().replace(microsecond=0)
    consented = None
    for n in range(count, 0, -1):
        at = now - timedelta(weeks=12 * n)
        if consented is None or (at - consented).days > 300:
            consent(p, "cervical-dystonia", (at - timedelta(days=1)).date())
            consented = at
        session = services.plan_session(
            actor,
            p.id,
            product="onabotulinumtoxinA",
            indication="cervical-dystonia",
            plan_date=at.date(),
            injections=[services.PointInput("sternocleidomastoid", "left", Decimal(30))],
        )
        sign_with_decisions(actor, actor, session, at, [open_vial(at - timedelta(hours=1))])


# --- Query counts, in this process --------------------------------------------------------------


def query_counts(bench: Bench) -> dict[str, dict[int, int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bontrack.api.auth import issue_token
    from bontrack.inventory.services import reconstitute_vial
    from bontrack.treatments import services

    _, token = issue_token(bench.actor.membership, "bench", 1)
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    counts: dict[str, dict[int, int]] = {"GET timeline": {}, "POST sign": {}}
    for count, p in bench.histories.items():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v1/patients/{p.id}/timeline")
        assert response.status_code == 200, response.content
        assert len(response.json()) == count
        counts["GET timeline"][count] = len(ctx.captured_queries)
    for count, p in bench.histories.items():
        vial = bench.lot.vials.filter(reconstituted_at__isnull=True).order_by("created_at")[0]
        at = timezone.now() - timedelta(minutes=1)
        reconstitute_vial(
            bench.actor, vial.id, diluent_ml=Decimal(4), reconstituted_at=at - timedelta(hours=1)
        )
        plan = services.plan_session(
            bench.actor,
            p.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
            vial_ids=[vial.id],
        )
        for f in services.stored_result_at(plan, at)["findings"]:
            services.decide(
                bench.actor,
                plan.id,
                fingerprint_=f["fingerprint"],
                kind="acknowledge" if f["severity"] == "warn" else "override",
                reason="Benchmark: reviewed with the patient.",
            )
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(
                f"/api/v1/sessions/{plan.id}/sign",
                {"administered_at": at.isoformat(), "vial_ids": [str(vial.id)]},
                content_type="application/json",
            )
        assert response.status_code == 200, response.content
        counts["POST sign"][count] = len(ctx.captured_queries)
    return counts


# --- The server and its client ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn as `make run` starts it (2 sync workers), on a loopback port of its own."""
    command = [sys.executable, "-m", "gunicorn", "bontrack.wsgi:application"]
    command += ["--bind", f"{HOST}:{port}", "--workers", "2", "--no-control-socket"]
    command += ["--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"bench/api.py: the server exited with status {server.returncode}")
        try:
            if request(port, "GET", "/api/v1/health")[0] == 200:
                return server
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    stop_server(server)
    raise SystemExit("bench/api.py: the server did not answer within 30 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def request(
    port: int, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One request on a new connection (gunicorn's sync workers close each one)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else None


def empty_rate(port: int) -> float:
    for _ in range(50):
        request(port, "GET", "/api/v1/health")
    count, start = 0, time.perf_counter()
    while count < EMPTY_MAX and time.perf_counter() - start < EMPTY_SECONDS:
        status, _ = request(port, "GET", "/api/v1/health")
        assert status == 200, status
        count += 1
    return count / (time.perf_counter() - start)


def sign_once(port: int, token: str, patient_id: str, vial_id: str) -> tuple[int, float]:
    """Plan, acknowledge the warnings, sign: the number of requests, and the sign's own time."""
    from django.utils import timezone

    status, session = request(
        port,
        "POST",
        "/api/v1/sessions",
        {
            "patient_id": patient_id,
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "plan_date": timezone.localdate().isoformat(),
            "protocol": "preempt-155",
            "vial_ids": [vial_id],
        },
        token,
    )
    if status != 201:
        raise SystemExit(f"bench/api.py: planning answered {status}: {session}")
    assert len(session["injections"]) == 31, session
    assert session["total_units"] == "155", session
    calls = 1
    for finding in session["check"]["findings"]:
        if finding["severity"] != "warn":
            raise SystemExit(f"bench/api.py: the plan has a {finding['severity']}: {finding}")
        status, answer = request(
            port,
            "POST",
            f"/api/v1/sessions/{session['id']}/decisions",
            {"fingerprint": finding["fingerprint"], "kind": "acknowledge"},
            token,
        )
        calls += 1
        if status != 201:
            raise SystemExit(f"bench/api.py: acknowledging answered {status}: {answer}")
    started = time.perf_counter()
    status, signed = request(
        port,
        "POST",
        f"/api/v1/sessions/{session['id']}/sign",
        {"administered_at": timezone.now().isoformat(), "vial_ids": [vial_id]},
        token,
    )
    sign_time = time.perf_counter() - started
    if status != 200 or signed["status"] != "signed":
        raise SystemExit(f"bench/api.py: signing answered {status}: {signed}")
    return calls + 1, sign_time


def sign_rate(port: int, bench: Bench) -> tuple[float, float, float, int]:
    """Sessions signed per second, signs per second counting the sign request alone, requests per
    session, and how many were signed."""
    status, answer = request(
        port,
        "POST",
        "/api/v1/auth/token",
        {"username": bench.username, "password": bench.password},
    )
    assert status == 201, answer
    token = answer["token"]
    for patient_id, vial_id in bench.signers[:SIGN_WARMUP]:
        sign_once(port, token, patient_id, vial_id)
    count = calls = 0
    sign_time = 0.0
    start = time.perf_counter()
    for patient_id, vial_id in bench.signers[SIGN_WARMUP:]:
        if time.perf_counter() - start >= SIGN_SECONDS:
            break
        made, took = sign_once(port, token, patient_id, vial_id)
        calls += made
        sign_time += took
        count += 1
    elapsed = time.perf_counter() - start
    return count / elapsed, count / sign_time, calls / count, count


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bontrack-bench-") as directory:
        env = configure(Path(directory))
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        bench = build(SIGN_WARMUP + SIGN_MAX)
        print(
            f"set-up: {len(bench.signers)} patients to sign for, histories of "
            f"{' and '.join(map(str, HISTORIES))} signed sessions "
            f"({time.perf_counter() - started:.1f} s, fresh SQLite database)"
        )
        counts = query_counts(bench)
        connections.close_all()

        port = free_port()
        server = start_server(env, port)
        try:
            empty = empty_rate(port)
            signed, sign_alone, per_session, count = sign_rate(port, bench)
        finally:
            stop_server(server)

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    session_ratio, sign_ratio = signed / empty, sign_alone / empty
    print(f"server: gunicorn, 2 sync workers, {HOST}:{port}; one client, one request at a time")
    print(f"empty endpoint (GET /api/v1/health): {empty:8.1f} requests per second")
    print(
        f"sign PREEMPT, 31 points:              {signed:8.2f} sessions per second "
        f"({count} sessions; plan, acknowledge, sign: {per_session:.1f} requests each)"
    )
    print(
        f"ratio whole session / empty:         {session_ratio:8.3f}  "
        f"(target >= {TARGET_SESSION_RATIO}, {met(session_ratio >= TARGET_SESSION_RATIO)})"
    )
    print(f"the sign request alone:              {sign_alone:8.1f} per second")
    print(
        f"ratio sign request / empty:          {sign_ratio:8.3f}  "
        f"(target >= {TARGET_SIGN_RATIO}, {met(sign_ratio >= TARGET_SIGN_RATIO)})"
    )
    print("SQL statements, in this process (CaptureQueriesContext):")
    for name, by_history in counts.items():
        same = len(set(by_history.values())) == 1
        shown = ", ".join(f"{n} earlier sessions: {q}" for n, q in by_history.items())
        target = f"the same, {met(same)}"
        if name == "POST sign":
            most = max(by_history.values())
            target += f"; at most {TARGET_SIGN_STATEMENTS}, {met(most <= TARGET_SIGN_STATEMENTS)}"
        print(f"  {name:<13} {shown}  (target: {target})")


if __name__ == "__main__":
    main()

"""A server killed (SIGKILL) in the middle of signing leaves no half-written session."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.processes import child_environment

ROOT = Path(__file__).resolve().parents[2]
SETUP = r"""
import json, sys
from datetime import timedelta
from decimal import Decimal
from django.utils import timezone
from bontrack.accounts.services import add_member, create_clinic
from bontrack.api.auth import issue_token
from bontrack.audit.services import Actor
from bontrack.inventory.services import receive_lot, reconstitute_vial
from bontrack.patients.services import record_consent, register_patient
from bontrack.treatments import services

clinic = create_clinic("Crash clinic", "UTC")
doctor = add_member(clinic, username="crash", password="a-long-password-1234", role="prescriber",
                    credentials=["physician"], indications=["chronic-migraine"])
actor = Actor(doctor, "127.0.0.1")
today = timezone.localdate()
lot = receive_lot(actor, product="onabotulinumtoxinA", lot_number="K1",
                  vial_size_units=Decimal(200), expires_on=today + timedelta(days=200),
                  received_vials=12, received_on=today)
plans = []
for n, vial in enumerate(lot.vials.all()[:10]):
    reconstitute_vial(actor, vial.id, diluent_ml=Decimal(4), reconstituted_at=timezone.now())
    p = register_patient(actor, today, record_number=f"K-{n}", given_name="K", family_name=str(n),
                         birth_date=today.replace(year=1970))
    record_consent(actor, p.id, indication="chronic-migraine", signed_on=today, signed_by="K")
    plan = services.plan_session(actor, p.id, product="onabotulinumtoxinA",
                                 indication="chronic-migraine", plan_date=today,
                                 protocol="preempt-155", vial_ids=[vial.id])
    assert not plan.check_result["findings"], plan.check_result
    plans.append(str(plan.id))
print(json.dumps({"token": issue_token(doctor, "crash", 1)[1], "plans": plans}))
"""
VERIFY = r"""
import json
from bontrack.audit.models import AuditEntry
from bontrack.audit.services import verify_clinic_chain
from bontrack.accounts.models import Clinic
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.services import verify_digest
out = {"signed": 0, "plans": 0, "problems": []}
for s in TreatmentSession.objects.all():
    signs = AuditEntry.objects.filter(object_id=str(s.id), action="sign").count()
    if s.signed_at is None:
        out["plans"] += 1
        if s.digest or signs:
            out["problems"].append(f"{s.id}: a plan with a digest or a sign entry")
    else:
        out["signed"] += 1
        if not verify_digest(s) or signs != 1:
            out["problems"].append(f"{s.id}: signed but digest={verify_digest(s)} entries={signs}")
for c in Clinic.objects.all():
    if not verify_clinic_chain(c.id).intact:
        out["problems"].append("audit chain broken")
print(json.dumps(out))
"""


def env_for(var_dir):
    return child_environment(
        BONTRACK_VAR_DIR=str(var_dir),
        DATABASE_URL="",
        SECRET_KEY="crash-test-" + "k" * 40,
        DJANGO_SETTINGS_MODULE="bontrack.settings",
    )


def django_script(code, env):
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def start(env, port):
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bontrack.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--no-control-socket",
            "--log-level",
            "error",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    import http.client

    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not start")


def sign_in_thread(port, token, plan):
    import http.client

    def go():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps(
                {"administered_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}
            )
            conn.request(
                "POST",
                f"/api/v1/sessions/{plan}/sign",
                body,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            conn.getresponse().read()
        except OSError:
            pass  # the server was killed under us: that is the point

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def test_sigkill_during_signing_leaves_every_session_whole(tmp_path):
    env = env_for(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    data = django_script(SETUP, env)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for n, plan in enumerate(data["plans"]):
        server = start(env, port)
        thread = sign_in_thread(port, data["token"], plan)
        time.sleep(0.012 * n)  # kill at a different moment of each signing: 0 to 110 ms
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        thread.join()
    result = django_script(VERIFY, env)
    assert result["problems"] == []
    assert result["signed"] + result["plans"] == len(data["plans"])

"""One export end to end with a real task consumer (`manage.py run_huey`, as `make run` starts it)
in its own process, reading the same SQLite queue and the same (file-based) test database; and
the queue's configuration: SQLite by default, Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from tests import builders
from tests.interop.bulk_support import download, get_token, register, rsa_key
from tests.interop.support import validate
from tests.processes import child_environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_a_real_consumer_runs_the_export(settings: Any, tmp_path: Path):
    if connection.vendor != "sqlite":
        pytest.skip("the consumer test runs in the SQLite pass (a file-based test database)")
    settings.EXPORT_DIR = tmp_path / "exports"
    HUEY.flush()
    staff = builders.staff()
    patient = builders.patient(staff, weight_kg=70)
    builders.consent(staff, patient, "chronic-migraine")
    lot = builders.lot(staff)
    builders.signed_session(
        staff, patient, timezone.now() - timedelta(hours=2), builders.open_vial(staff, lot)
    )
    key = rsa_key()
    client = register(staff.actor("admin"), key)
    http = Client()
    token = get_token(http, str(client.id), key)

    env = child_environment(
        DATABASE_URL=f"sqlite:///{connection.settings_dict['NAME']}",
        BONTRACK_TASK_QUEUE=str(django_settings.HUEY["filename"]),
        BONTRACK_EXPORT_DIR=str(settings.EXPORT_DIR),
        SECRET_KEY="consumer-test-key",
    )
    env.pop("REDIS_URL", None)
    log = (tmp_path / "consumer.log").open("w")
    consumer = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", "--delay", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        started = http.get(
            "/fhir/$export",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_PREFER="respond-async",
            HTTP_ACCEPT="application/fhir+json",
        )
        assert started.status_code == 202, started.content
        status_url = started["Content-Location"]
        deadline = time.monotonic() + 60
        while True:
            polled = http.get(status_url, HTTP_AUTHORIZATION=f"Bearer {token}")
            if polled.status_code != 202 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert polled.status_code == 200, (
            polled.status_code,
            (tmp_path / "consumer.log").read_text(),
        )
        manifest = polled.json()
        types = {o["type"] for o in manifest["output"]}
        assert {"Patient", "Procedure", "MedicationAdministration", "Provenance"} <= types
        token = get_token(http, str(client.id), key)  # a fresh token: the first may have expired
        for item in manifest["output"]:
            for resource in download(http, token, item["url"]):
                validate(resource)
    finally:
        consumer.send_signal(signal.SIGINT)
        try:
            consumer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait()
        log.close()
        HUEY.flush()


def _huey_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    import importlib

    for name in ("REDIS_URL", "BONTRACK_TASK_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import bontrack.settings as module

    fresh = importlib.reload(module)
    try:
        return dict(fresh.HUEY)
    finally:
        monkeypatch.undo()
        importlib.reload(module)


def test_the_queue_is_sqlite_by_default_and_redis_when_redis_url_is_set(monkeypatch):
    default = _huey_config(monkeypatch)
    assert default["huey_class"] == "huey.SqliteHuey"
    assert default["filename"].endswith(".sqlite3")
    assert default["immediate"] is False
    redis = _huey_config(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0")
    assert redis["huey_class"] == "huey.RedisHuey"
    assert redis["url"] == "redis://127.0.0.1:6379/0"
    assert redis["immediate"] is False


def test_a_task_round_trips_through_redis():
    """The Redis storage works here (Redis at 127.0.0.1:6379): enqueue, dequeue, run."""
    import redis
    from huey import RedisHuey

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"Redis at 127.0.0.1:6379 is unreachable: {error}")
        pytest.skip(f"Redis at 127.0.0.1:6379 is unreachable: {error} (under CI=true this fails)")
    huey = RedisHuey(f"bontrack-test-{os.getpid()}", url="redis://127.0.0.1:6379/0")
    huey.flush()

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    result = add(2, 3)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    assert result.get() == 5
    huey.flush()

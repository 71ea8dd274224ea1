"""`bontrack backup` and `bontrack restore`, end to end through real processes."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

BONTRACK = [sys.executable, "-m", "bontrack.cli"]
MANAGE = [sys.executable, str(Path(__file__).resolve().parents[2] / "manage.py")]


def run(args, var_dir, database_url="", check=True):
    env = {
        **os.environ,
        "BONTRACK_VAR_DIR": str(var_dir),
        "SECRET_KEY": "backup-test-key-" + "x" * 40,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bontrack.settings",
    }
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def loaded(var_dir, database_url=""):
    run([*MANAGE, "migrate", "--verbosity", "0"], var_dir, database_url)
    run([*BONTRACK, "demo"], var_dir, database_url)


@pytest.fixture
def sqlite_backup(tmp_path):
    loaded(tmp_path / "source")
    run([*BONTRACK, "backup", str(tmp_path / "backup")], tmp_path / "source")
    return tmp_path / "backup"


def test_a_sqlite_backup_restores_into_an_empty_database_and_verifies(sqlite_backup, tmp_path):
    manifest = json.loads((sqlite_backup / "manifest.json").read_text())
    assert manifest["row_counts"]["treatments_treatmentsession"] > 0
    assert len(manifest["audit_heads"]) == 1
    # The demo's photos and signed consent forms (the clinical storage) are in the backup.
    clinical = [name for name in manifest["files"] if name.startswith("files/clinical/")]
    assert len(clinical) >= 4, manifest["files"]
    done = run([*BONTRACK, "restore", str(sqlite_backup)], tmp_path / "target")
    assert "audit chains intact" in done.stdout
    assert "signed sessions whose digests verify" in done.stdout
    restored = tmp_path / "target" / "clinical-files"
    assert sorted(str(p.relative_to(restored)) for p in restored.rglob("*") if p.is_file()) == (
        sorted(name.removeprefix("files/clinical/") for name in clinical)
    )
    assert "photos and signed consent forms with their SHA-256" in done.stdout
    verified = run([*BONTRACK, "audit", "verify"], tmp_path / "target")
    assert "intact" in verified.stdout


def test_a_restore_without_a_photo_file_says_which_is_missing(sqlite_backup, tmp_path):
    photo = next(p for p in (sqlite_backup / "files" / "clinical").rglob("*.jpg"))
    photo.unlink()
    manifest_path = sqlite_backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"][str(photo.relative_to(sqlite_backup))]
    manifest_path.write_text(json.dumps(manifest))
    done = run([*BONTRACK, "restore", str(sqlite_backup)], tmp_path / "target", check=False)
    assert done.returncode == 1
    assert "its file" in done.stderr
    assert f"{photo.name} is missing" in done.stderr


def test_a_damaged_backup_is_refused_before_anything_is_written(sqlite_backup, tmp_path):
    database = sqlite_backup / "database.sqlite3"
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0xFF
    database.write_bytes(bytes(data))
    done = run([*BONTRACK, "restore", str(sqlite_backup)], tmp_path / "target", check=False)
    assert done.returncode == 2
    assert "SHA-256" in done.stderr
    assert not (tmp_path / "target" / "bontrack.sqlite3").exists() or (
        "clinic" not in run([*BONTRACK, "audit", "verify"], tmp_path / "target", check=False).stdout
    )


def test_restore_refuses_a_database_that_holds_clinics(sqlite_backup, tmp_path):
    loaded(tmp_path / "busy")
    done = run([*BONTRACK, "restore", str(sqlite_backup)], tmp_path / "busy", check=False)
    assert done.returncode == 2
    assert "empty database" in done.stderr


def test_a_manifest_that_disagrees_with_the_data_fails_the_restore(sqlite_backup, tmp_path):
    path = sqlite_backup / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["row_counts"]["treatments_treatmentsession"] += 1
    path.write_text(json.dumps(manifest))
    done = run([*BONTRACK, "restore", str(sqlite_backup)], tmp_path / "target", check=False)
    assert done.returncode == 1
    assert "treatments_treatmentsession" in done.stderr


def test_a_backup_taken_while_another_process_signs_restores_consistently(tmp_path):
    """DESIGN: SQLite's online backup API copies a consistent snapshot while writers go on."""
    source = tmp_path / "source"
    loaded(source)
    env = {
        **os.environ,
        "BONTRACK_VAR_DIR": str(source),
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": "",
    }
    writer = subprocess.Popen(
        ["bash", "-c", f"for i in 1 2 3 4; do {sys.executable} -m bontrack.cli demo; done"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        backups = []
        for n in range(3):
            time.sleep(1.5)
            folder = tmp_path / f"backup-{n}"
            run([*BONTRACK, "backup", str(folder)], source)
            backups.append(folder)
    finally:
        _, errors = writer.communicate(timeout=300)
    assert writer.returncode == 0, errors
    for n, folder in enumerate(backups):
        done = run([*BONTRACK, "restore", str(folder)], tmp_path / f"target-{n}")
        assert "digests verify" in done.stdout


@pytest.mark.postgres
def test_a_postgres_backup_restores_into_an_empty_database_and_verifies(tmp_path):
    import psycopg

    names = [f"bontrack_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        source, target = (f"postgres://postgres@127.0.0.1:5432/{n}" for n in names)
        loaded(tmp_path, source)
        run([*BONTRACK, "backup", str(tmp_path / "backup")], tmp_path, source)
        done = run([*BONTRACK, "restore", str(tmp_path / "backup")], tmp_path, target)
        assert "digests verify" in done.stdout
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp_path, ignore_errors=True)

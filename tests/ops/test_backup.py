"""`bontrack backup` and `bontrack restore`, end to end through real processes."""

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.processes import child_environment

BONTRACK = [sys.executable, "-m", "bontrack.cli"]
# The audit key is kept apart from the database and its backups: the restoring host has it too.
AUDIT_KEY = "backup-test-audit-key-" + "a" * 30
MANAGE = [sys.executable, str(Path(__file__).resolve().parents[2] / "manage.py")]
# One test worker runs them all, so that the demo source below is built once (make test's
# `--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("backup")


def run(args, var_dir, database_url="", check=True, extra=None):
    env = child_environment(
        **{
            "BONTRACK_VAR_DIR": str(var_dir),
            "SECRET_KEY": "backup-test-key-" + "x" * 40,
            "BONTRACK_AUDIT_KEY": AUDIT_KEY,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "bontrack.settings",
            **(extra or {}),
        }
    )
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def loaded(var_dir, database_url=""):
    run([*MANAGE, "migrate", "--verbosity", "0"], var_dir, database_url)
    run([*BONTRACK, "demo"], var_dir, database_url)


@pytest.fixture(scope="module")
def demo_source(tmp_path_factory):
    """One SQLite var directory, migrated and holding the demo clinic (about 15 s to build),
    copied for each test that needs a loaded source: no process has it open while it is copied."""
    folder = tmp_path_factory.mktemp("demo") / "source"
    loaded(folder)
    return folder


@pytest.fixture
def loaded_copy(demo_source):
    def copy(var_dir: Path) -> Path:
        shutil.copytree(demo_source, var_dir)
        return var_dir

    return copy


@pytest.fixture(scope="module")
def pristine_backup(tmp_path_factory, demo_source):
    """One backup of the demo source, copied for each test that reads or damages it."""
    base = tmp_path_factory.mktemp("pristine")
    run([*BONTRACK, "backup", str(base / "backup")], demo_source)
    return base / "backup"


@pytest.fixture
def sqlite_backup(pristine_backup, tmp_path):
    shutil.copytree(pristine_backup, tmp_path / "backup")
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


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _damage(kind: str, folder: Path) -> str:
    """Damage the backup in ``folder``; return what the refusal must name."""
    path = folder / "manifest.json"
    manifest = _manifest(folder)
    if kind == "no manifest":
        path.unlink()
        return "no manifest.json"
    if kind == "truncated manifest":
        path.write_text(path.read_text()[: len(path.read_text()) // 2])
        return "manifest.json is not complete JSON"
    if kind == "incomplete manifest":
        del manifest["row_counts"]
        path.write_text(json.dumps(manifest))
        return "row_counts"
    if kind == "no database hash":
        del manifest["files"][manifest["database"]]
        path.write_text(json.dumps(manifest))
        return "SHA-256 of the database"
    if kind == "altered database":
        # The database altered and the manifest's hashes of it removed with it.
        database = folder / manifest["database"]
        data = bytearray(database.read_bytes())
        data[len(data) // 2] ^= 0xFF
        database.write_bytes(bytes(data))
        del manifest["files"][manifest["database"]]
        path.write_text(json.dumps(manifest))
        return "SHA-256 of the database"
    if kind == "missing file":
        name = next(n for n in manifest["files"] if n.startswith("files/"))
        (folder / name).unlink()
        return f"{name}: missing from the backup"
    if kind == "not a table count":
        manifest["row_counts"] = ["treatments_treatmentsession"]
        path.write_text(json.dumps(manifest))
        return "row_counts"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "no manifest",
        "truncated manifest",
        "incomplete manifest",
        "no database hash",
        "altered database",
        "missing file",
        "not a table count",
    ],
)
def test_every_damaged_backup_is_refused_with_exit_2_naming_the_damage(
    pristine_backup, tmp_path, kind
):
    folder = tmp_path / "backup"
    shutil.copytree(pristine_backup, folder)
    named = _damage(kind, folder)
    done = run([*BONTRACK, "restore", str(folder)], tmp_path / "target", check=False)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "internal error" not in done.stderr
    assert named in done.stderr


def test_every_table_is_counted_and_hashed_in_the_manifest(pristine_backup, tmp_path):
    import sqlite3

    manifest = _manifest(pristine_backup)
    copy = tmp_path / "copy.sqlite3"  # opened apart, so that the backup's folder stays as written
    shutil.copyfile(pristine_backup / manifest["database"], copy)
    with sqlite3.connect(copy) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    assert set(manifest["row_counts"]) == tables
    assert set(manifest["table_hashes"]) == tables
    assert "charting_signedconsentform" in tables
    assert "security_breakglassaccess" in tables


def test_a_table_whose_content_differs_from_the_manifest_fails_the_restore(
    pristine_backup, tmp_path
):
    folder = tmp_path / "backup"
    shutil.copytree(pristine_backup, folder)
    manifest = _manifest(folder)
    manifest["table_hashes"]["charting_appointment"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    done = run([*BONTRACK, "restore", str(folder)], tmp_path / "target", check=False)
    assert done.returncode == 1
    assert "charting_appointment: its content differs from the backup's" in done.stderr


def test_a_backup_writes_a_signed_checkpoint_and_an_older_backup_restored_is_named(
    loaded_copy, tmp_path
):
    source = loaded_copy(tmp_path / "source")
    anchors = tmp_path / "anchors.jsonl"
    extra = {"BONTRACK_AUDIT_CHECKPOINTS": str(anchors)}
    run([*BONTRACK, "backup", str(tmp_path / "older")], source, extra=extra)
    run([*BONTRACK, "demo"], source)  # more entries in the clinic's chain and the security log
    run([*BONTRACK, "backup", str(tmp_path / "newer")], source, extra=extra)
    assert len(anchors.read_text().splitlines()) == 2
    run([*BONTRACK, "restore", str(tmp_path / "older")], tmp_path / "target", extra=extra)
    done = run([*BONTRACK, "audit", "verify"], tmp_path / "target", extra=extra, check=False)
    assert done.returncode == 1
    assert "an older copy of the database was restored" in done.stdout


def test_restore_refuses_a_database_that_holds_clinics(sqlite_backup, loaded_copy, tmp_path):
    loaded_copy(tmp_path / "busy")
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


def test_a_backup_taken_while_another_process_signs_restores_consistently(loaded_copy, tmp_path):
    """DESIGN: SQLite's online backup API copies a consistent snapshot while writers go on."""
    source = loaded_copy(tmp_path / "source")
    env = child_environment(
        BONTRACK_VAR_DIR=str(source),
        SECRET_KEY="k" * 50,
        BONTRACK_AUDIT_KEY=AUDIT_KEY,
        DATABASE_URL="",
    )
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

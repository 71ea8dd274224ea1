"""`bontrack restore`: load a backup into an empty database and prove it is whole.

Before anything is written, the manifest must be complete and hold the database's SHA-256, and
every file's SHA-256 is checked against it. After loading, every table's row count and content
hash, each clinic's audit chain (and its head) and every signed session's digest are verified,
and every second factor's secret must open with the configured credentials key (which is kept
apart from the backups); any difference is reported and the command fails. A damaged backup is
refused with exit 2 and what is wrong, never restored half-verified.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection

from bontrack.ops.backup import (
    FILES_DIR,
    MANIFEST,
    POSTGRES_FILE,
    SQLITE_FILE,
    BackupError,
    bontrack_tables,
    file_storages,
    media_root,
    postgres_url,
    sha256_of,
    snapshot_facts,
)


@dataclass
class RestoreReport:
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


# What a manifest must hold, and of which JSON type, before anything is restored.
REQUIRED = {
    "format": int,
    "engine": str,
    "database": str,
    "files": dict,
    "row_counts": dict,
    "audit_heads": dict,
}


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest, complete, with every file present and matching its SHA-256; else a
    ``BackupError`` naming what is wrong (nothing has been written yet)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"{folder}: no such folder")
    if not path.exists():
        raise BackupError(f"{folder}: no {MANIFEST}: not a bontrack backup")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise BackupError(f"{MANIFEST} is not text: the backup is damaged") from error
    except ValueError as error:
        raise BackupError(
            f"{MANIFEST} is not complete JSON ({error}): the backup is damaged or was cut short"
        ) from error
    if not isinstance(manifest, dict):
        raise BackupError(f"{MANIFEST} is not a backup manifest: the backup is damaged")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise BackupError(
            f"{MANIFEST} is incomplete: it lacks {', '.join(missing)}: the backup is damaged"
        )
    wrong = [key for key, kind in REQUIRED.items() if not isinstance(manifest[key], kind)]
    if "security_head" not in manifest:
        wrong.append("security_head")
    if manifest["format"] >= 3 and not isinstance(manifest.get("table_hashes"), dict):
        wrong.append("table_hashes")
    if wrong:
        raise BackupError(
            f"{MANIFEST}: {', '.join(wrong)} missing or not what a backup writes: the backup is "
            "damaged"
        )
    expected_database = {"sqlite": SQLITE_FILE, "postgresql": POSTGRES_FILE}.get(manifest["engine"])
    if expected_database is None or manifest["database"] != expected_database:
        raise BackupError(
            f"{MANIFEST}: engine {manifest['engine']!r} with database file "
            f"{manifest['database']!r} is not a backup bontrack writes"
        )
    if not isinstance(manifest["files"].get(manifest["database"]), str):
        raise BackupError(
            f"{MANIFEST} holds no SHA-256 of the database ({manifest['database']}): the database "
            "cannot be proven to be the one backed up, so it is not restored"
        )
    for name, expected in manifest["files"].items():
        file = (folder / name).resolve()
        if not file.is_relative_to(folder.resolve()):
            raise BackupError(f"{MANIFEST} names {name}, outside the backup's folder")
        if not file.is_file():
            raise BackupError(f"{name}: missing from the backup")
        if sha256_of(file) != expected:
            raise BackupError(
                f"{name}: its SHA-256 does not match the manifest: the backup is damaged"
            )
    return manifest


def _database_is_empty() -> bool:
    tables = connection.introspection.table_names()
    if "accounts_clinic" not in tables:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM accounts_clinic")
        row = cursor.fetchone()
    return row is None or row[0] == 0


def restore_backup(folder: Path) -> RestoreReport:
    manifest = read_manifest(folder)
    if manifest["engine"] != connection.vendor:
        raise BackupError(
            f"the backup is of {manifest['engine']}, this database is {connection.vendor}"
        )
    if not _database_is_empty():
        raise BackupError(
            "the target database already holds clinics: restore into an empty database"
        )
    if connection.vendor == "sqlite":
        target = Path(settings.DATABASES["default"]["NAME"])
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(folder / SQLITE_FILE, target)
    else:
        _restore_postgres(folder / POSTGRES_FILE)
    _restore_files(folder, manifest)
    return verify_restored(manifest)


def _restore_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Each storage's files back into that storage's folder here (a format 1 backup held the
    media folder alone)."""
    files = folder / FILES_DIR
    if not files.exists():
        return
    if manifest.get("format", 1) == 1:
        shutil.copytree(files, media_root(), dirs_exist_ok=True)
        return
    folders, _ = file_storages()
    for alias in manifest.get("storages", []):
        if not (files / alias).exists():
            continue
        if alias not in folders:
            raise BackupError(
                f"the backup holds files of the {alias!r} storage, which is not a file storage "
                "here: configure it (STORAGES) before restoring"
            )
        shutil.copytree(files / alias, folders[alias], dirs_exist_ok=True)


def _restore_postgres(dump: Path) -> None:
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    connection.close()
    done = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={postgres_url()}", str(dump)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def verify_restored(manifest: dict[str, Any]) -> RestoreReport:
    from bontrack.audit.services import verify_clinic_chain, verify_security_chain
    from bontrack.treatments.models import TreatmentSession
    from bontrack.treatments.services import verify_digest

    report = RestoreReport()
    tables = bontrack_tables(connection.introspection.table_names())

    def query(sql: str) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    facts = snapshot_facts(query, tables, connection.vendor)
    for table, count in manifest["row_counts"].items():
        if facts["row_counts"].get(table) != count:
            report.problems.append(
                f"{table}: {facts['row_counts'].get(table)} rows, the backup had {count}"
            )
    for table, digest in manifest.get("table_hashes", {}).items():
        if table not in facts["table_hashes"]:
            report.problems.append(f"{table}: missing from the restored database")
        elif facts["table_hashes"][table] != digest:
            report.problems.append(f"{table}: its content differs from the backup's")
    if "table_hashes" in manifest:
        for table in sorted(set(facts["table_hashes"]) - set(manifest["table_hashes"])):
            report.problems.append(f"{table}: in the restored database but not in the backup's")
    for clinic, head in manifest["audit_heads"].items():
        if facts["audit_heads"].get(clinic) != head:
            report.problems.append(
                f"clinic {clinic}: the audit chain's head differs from the backup's"
            )
        chain = verify_clinic_chain(UUID(clinic))
        if not chain.intact:
            report.problems.append(
                f"{chain.name}: broken at entry {chain.broken_at}: {chain.problem}"
            )
    if facts["security_head"] != manifest["security_head"]:
        report.problems.append("the security log's head differs from the backup's")
    security = verify_security_chain()
    if not security.intact:
        report.problems.append(
            f"security log: broken at entry {security.broken_at}: {security.problem}"
        )
    signed = 0
    for session in TreatmentSession.objects.filter(signed_at__isnull=False).iterator():
        signed += 1
        if not verify_digest(session):
            report.problems.append(f"session {session.id}: its digest does not verify")
    second_factors = _verify_second_factors(report)
    clinical_files = _verify_clinical_files(report)
    report.checked = {
        "tables": len(tables),
        "clinics": len(manifest["audit_heads"]),
        "signed_sessions": signed,
        "second_factors": second_factors,
        "clinical_files": clinical_files,
    }
    return report


def _verify_clinical_files(report: RestoreReport) -> int:
    """Every photo and signed consent form the database names is back, with the SHA-256 it was
    stored with. Returns how many files were checked."""
    import hashlib

    from django.core.files.storage import storages

    from bontrack.charting.models import Photo, SignedConsentForm

    clinical = storages["clinical"]
    expected: list[tuple[str, str, str]] = []
    for photo in Photo.objects.only("id", "file_name", "thumbnail_name", "sha256").iterator():
        expected.append((f"photo {photo.id}", photo.file_name, photo.sha256))
        expected.append((f"photo {photo.id}'s thumbnail", photo.thumbnail_name, ""))
    expected += [
        (f"signed consent form {f.id}", f.pdf_name, f.pdf_sha256)
        for f in SignedConsentForm.objects.only("id", "pdf_name", "pdf_sha256").iterator()
    ]
    for what, name, digest in expected:
        if not clinical.exists(name):
            report.problems.append(f"{what}: its file {name} is missing")
            continue
        if not digest:  # a thumbnail: made from the photo, no digest of its own
            continue
        with clinical.open(name, "rb") as stored:
            if hashlib.file_digest(stored, "sha256").hexdigest() != digest:
                report.problems.append(f"{what}: its file {name} does not match its SHA-256")
    return len(expected)


def _verify_second_factors(report: RestoreReport) -> int:
    """Every TOTP secret and recovery-code seed opens with the configured keys: the backup holds
    them encrypted, without the key. Returns how many authenticators were checked."""
    from allauth.mfa.models import Authenticator

    from bontrack.security.credentials import SECRET_FIELDS, unreadable

    rows = list(
        Authenticator.objects.filter(type__in=list(SECRET_FIELDS))
        .order_by("pk")
        .values_list("pk", "user_id", "type", "data")
    )
    bad = unreadable(rows)
    if bad:
        which = ", ".join(f"{b.authenticator_id} (user {b.user_id}, {b.kind})" for b in bad)
        reasons = "; ".join(dict.fromkeys(b.problem for b in bad))
        report.problems.append(
            f"{len(bad)} of {len(rows)} second factors do not open with the configured key, and "
            f"their users cannot sign in with them: authenticators {which}: {reasons}"
        )
    return len(rows)

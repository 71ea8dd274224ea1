"""`bontrack backup`: a consistent snapshot of the database and stored files, with a manifest.

The manifest records, from the snapshot itself, every table's row count and content hash, each
clinic's audit-chain head, the security log's head and the SHA-256 of every file in the backup
(the database's first), so that a restore can prove it brought back exactly what was saved. Each
backup also appends a signed checkpoint of the chains' heads to the checkpoint file
(audit/anchor.py). SQLite is copied with its online backup API (a consistent copy while other
processes keep writing); PostgreSQL is dumped with `pg_dump` inside an exported snapshot, and the
counts and hashes are read in that same snapshot.

No key is copied (``var/secret_key``, ``var/credentials_key``, ``var/audit_key``): the second
factors' secrets are in the database encrypted with the credentials key, and the audit chains are
keyed with the audit key; both are kept apart and needed to restore (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bontrack.audit.anchor import heads_from_snapshot, write_checkpoint
from bontrack.domain.catalog import catalog

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
FILES_DIR = "files"
# 2: files/<storage alias>/... for every file storage (1 held the media folder alone in files/).
# 3: every table of the database counted and hashed (``table_hashes``), not bontrack's alone.
FORMAT = 3


class BackupError(RuntimeError):
    """A backup or restore that cannot be made; the message says why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bontrack_tables(names: Iterable[str]) -> list[str]:
    """Every table of the database (the engine's own catalogue tables aside)."""
    return sorted(n for n in names if not n.startswith("sqlite_"))


def _table_hash(query: Callable[[str], list[tuple[Any, ...]]], vendor: str, table: str) -> str:
    """SHA-256 of a table's rows, each as the engine itself spells it in text, sorted: the same
    on the snapshot and on the restored copy whatever the driver makes of the column types."""
    if vendor == "sqlite":
        columns = [row[1] for row in query(f'PRAGMA table_info("{table}")')]
        text = " || ',' || ".join(f'quote("{c}")' for c in columns) or "''"
        sql = f'SELECT {text} AS r FROM "{table}" ORDER BY r'
    else:
        sql = (
            f'SELECT bontrack_row::text FROM "{table}" bontrack_row '
            'ORDER BY bontrack_row::text COLLATE "C"'
        )
    digest = hashlib.sha256()
    for (row,) in query(sql):
        digest.update(str(row).encode("utf-8") + b"\n")
    return digest.hexdigest()


def snapshot_facts(
    query: Callable[[str], list[tuple[Any, ...]]], tables: list[str], vendor: str
) -> dict[str, Any]:
    """Row counts, content hashes and chain heads, read through ``query`` in one snapshot."""
    counts = {t: int(query(f'SELECT COUNT(*) FROM "{t}"')[0][0]) for t in tables}
    hashes = {t: _table_hash(query, vendor, t) for t in tables}
    heads = {
        str(clinic).replace("-", ""): {"seq": int(seq), "hash": digest}
        for clinic, seq, digest in query(
            "SELECT a.clinic_id, a.seq, a.hash FROM audit_auditentry a WHERE a.seq = "
            "(SELECT MAX(b.seq) FROM audit_auditentry b WHERE b.clinic_id = a.clinic_id)"
        )
    }
    security = query("SELECT seq, hash FROM audit_securityevent ORDER BY seq DESC LIMIT 1")
    return {
        "row_counts": counts,
        "table_hashes": hashes,
        "audit_heads": heads,
        "security_head": {"seq": int(security[0][0]), "hash": security[0][1]} if security else None,
    }


def media_root() -> Path:
    """Where the clinical files are stored (``MEDIA_ROOT``, else ``var/media``): what a backup
    copies and a restore brings back."""
    return Path(getattr(settings, "MEDIA_ROOT", "") or settings.VAR_DIR / "media")


def file_storages() -> tuple[dict[str, Path], list[str]]:
    """The folders of the stored files to back up, by storage alias (clinical photos and signed
    forms are the ``clinical`` storage), and the aliases whose files are kept elsewhere (an
    object store backs itself up). Static files are built from the code, never backed up."""
    from django.core.files.storage import FileSystemStorage, storages

    folders, elsewhere = {}, []
    for alias in settings.STORAGES:
        if alias == "staticfiles":
            continue
        storage = storages[alias]
        if not isinstance(storage, FileSystemStorage):
            elsewhere.append(alias)
        elif alias == "default":
            folders[alias] = media_root()  # never the working directory of an unset MEDIA_ROOT
        else:
            folders[alias] = Path(storage.location)
    return folders, elsewhere


def make_backup(out: Path) -> dict[str, Any]:
    """Write a backup into the empty or new folder ``out``; returns its manifest."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        facts = _backup_sqlite(out / SQLITE_FILE)
        database = SQLITE_FILE
    elif connection.vendor == "postgresql":
        facts = _backup_postgres(out / POSTGRES_FILE)
        database = POSTGRES_FILE
    else:
        raise BackupError(f"no backup for the {connection.vendor} engine")
    folders, elsewhere = file_storages()
    for alias, folder in folders.items():
        if folder.exists():
            shutil.copytree(folder, out / FILES_DIR / alias)
    files = {str(p.relative_to(out)): sha256_of(p) for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "engine": connection.vendor,
        "database": database,
        "catalog_version": catalog().version,
        **facts,
        "files": files,
        "storages": sorted(folders),
        "storages_elsewhere": elsewhere,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    # The heads this backup holds, anchored outside the database: a later restore of an older
    # backup shows as a chain shorter than a checkpoint (`bontrack audit verify`).
    write_checkpoint(heads_from_snapshot(facts), reason=f"backup {out}")
    return manifest


def _backup_sqlite(target: Path) -> dict[str, Any]:
    source = connection.connection
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # a consistent copy, page by page, while writers continue
        tables = bontrack_tables(
            row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        )
        return snapshot_facts(lambda sql: copy.execute(sql).fetchall(), tables, "sqlite")
    finally:
        copy.close()


def postgres_url() -> str:
    """The PostgreSQL database of the settings as a connection URL, for ``pg_dump`` and
    ``pg_restore``."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{db['NAME']}"


def _backup_postgres(target: Path) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(postgres_url(), autocommit=False) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot is not None
        tables = bontrack_tables(
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        )
        facts = snapshot_facts(lambda sql: conn.execute(sql).fetchall(), tables, "postgresql")
        done = subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot[0]}",
                f"--file={target}",
                postgres_url(),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        conn.rollback()
    return facts

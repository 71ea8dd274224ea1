"""Test-only: lift the append-only triggers for a moment, then put them back.

Production code has no way to remove the triggers (DESIGN 3.4); this helper lives under tests/
on purpose. Two callers: conftest.py, around the flush that ends each transactional test, and
tests that tamper with a row to prove that the audit chain's verification notices.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from bontrack.audit.triggers import PROTECTED, install_triggers, installed_triggers, trigger_names


def drop_triggers(using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        for name, table, _ in PROTECTED:
            if connection.vendor == "sqlite":
                for event in ("insert", "update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS bontrack_{name}_no_{event}")
            else:
                for what in ("change", "truncate"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS bontrack_{name}_no_{what} ON {table}")


@contextmanager
def triggers_lifted(using: str = "default") -> Iterator[None]:
    """Drop the triggers for the body of the ``with`` only; re-create them even if it fails."""
    drop_triggers(using)
    try:
        yield
    finally:
        install_triggers(using)
        missing = trigger_names(connections[using].vendor) - installed_triggers(using)
        assert not missing, f"append-only triggers not restored: {sorted(missing)}"

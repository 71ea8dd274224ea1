"""Database triggers for DESIGN 3.4's closed and append-only tables, on both engines.

Closed once signed: a signed session's injections, draws and finding decisions refuse INSERT,
UPDATE and DELETE; append-only tables refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE).

They are (re)created idempotently after every migration, because a migration that rebuilds a
SQLite table drops its triggers. On SQLite ``migrate`` also drops them just before it runs: a
rebuild renames a table, and SQLite refuses that while another table's trigger names it (the
injections' trigger reads the sessions table). Nothing else removes them.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

MESSAGE = "bontrack: append-only record"

# A signed session's own rows: which session a row of it belongs to is ``{row}.session_id``.
# PostgreSQL reads it by the session table's key, ``(clinic_id, id)``, in the row's own clinic,
# so that on a sharded database the lookup stays on the row's shard (DESIGN 3.6); its composite
# foreign key refuses a row whose clinic is not its session's. SQLite keeps single-column
# foreign keys, so there the session is found by ``id`` alone, whatever clinic the row names.
_SESSION_OF_ROW = {
    "postgresql": "(s.clinic_id, s.id) = ({row}.clinic_id, {row}.session_id)",
    "sqlite": "s.id = {row}.session_id",
}
_OF_SIGNED_SESSION = (
    "EXISTS (SELECT 1 FROM treatments_treatmentsession s "
    "WHERE {session_of_row} AND s.signed_at IS NOT NULL)"
)

# (trigger name, table, SQL condition on the row ({row}: OLD, or NEW for an INSERT) for it to be
# protected, or None for every row). DESIGN 3.4 lists them: closed once signed, and append-only.
PROTECTED = (
    ("audit_entry", "audit_auditentry", None),
    ("security_event", "audit_securityevent", None),
    ("signed_session", "treatments_treatmentsession", "{row}.signed_at IS NOT NULL"),
    ("signed_injection", "treatments_injection", _OF_SIGNED_SESSION),
    ("session_event", "treatments_sessionevent", None),
    # A signed session's draws (B.30) are closed with it; vial closings are appended only.
    ("signed_session_vial", "treatments_sessionvial", _OF_SIGNED_SESSION),
    # The acknowledgements and overrides a session was signed with.
    ("signed_finding_decision", "treatments_findingdecision", _OF_SIGNED_SESSION),
    ("vial_closing", "inventory_vialclosing", None),
    # A consent form is stored when it is signed, and its PDF's SHA-256 with it.
    ("signed_consent_form", "charting_signedconsentform", None),
    # A consent's withdrawal is a row of its own; the consent is never rewritten to say so.
    ("consent_withdrawal", "patients_consentwithdrawal", None),
    ("adverse_event", "outcomes_adverseevent", None),
    # Break-glass accesses, and patients' requests to amend with their decisions (security app).
    ("break_glass", "security_breakglassaccess", None),
    ("amendment_request", "security_amendmentrequest", None),
    ("amendment_decision", "security_amendmentdecision", None),
    # A nurse's correction requests and what became of them (B.33), and a prescriber's "continue
    # despite this verdict" (B.32): appended, never rewritten.
    ("correction_request", "treatments_correctionrequest", None),
    ("correction_decision", "treatments_correctiondecision", None),
    ("continue_despite_verdict", "outcomes_continuedespiteverdict", None),
    # Self-pay money (docs/billing.md): the price list's versions, invoices once issued, and the
    # payments and refunds recorded against them.
    ("price_entry", "invoicing_priceentry", None),
    ("invoice", "invoicing_invoice", None),
    ("payment", "invoicing_payment", None),
    ("refund", "invoicing_refund", None),
    # Claims (billing.md 7.1, 7.7, 7.8): coverage versions, the charge sets captured from signed
    # records, the claim items confirmed, and the catalog items a clinic confirmed once; each
    # revised by a newer row, never rewritten.
    ("coverage", "billing_coverage", None),
    ("charge_set", "billing_chargeset", None),
    ("claim_confirmation", "billing_claimconfirmation", None),
    ("catalog_confirmation", "billing_catalogconfirmation", None),
)

# Closed once signed: no row may be added to a signed session's injections, draws or decisions
# either (a raw INSERT of another injection would change what was given behind the digest).
CLOSED = frozenset({"signed_injection", "signed_session_vial", "signed_finding_decision"})


def _events(name: str) -> tuple[str, ...]:
    return ("INSERT", "UPDATE", "DELETE") if name in CLOSED else ("UPDATE", "DELETE")


def _on(condition: str | None, event: str, vendor: str) -> str | None:
    if condition is None:
        return None
    row = "NEW" if event == "INSERT" else "OLD"
    return condition.format(row=row, session_of_row=_SESSION_OF_ROW[vendor].format(row=row))


def sqlite_statements() -> list[str]:
    statements = []
    for name, table, condition in PROTECTED:
        for event in _events(name):
            when = _on(condition, event, "sqlite")
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS bontrack_{name}_no_{event.lower()} "
                f"BEFORE {event} ON {table} FOR EACH ROW{f' WHEN {when}' if when else ''} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    return statements


def postgres_statements() -> list[str]:
    statements = [
        f"""CREATE OR REPLACE FUNCTION bontrack_refuse_change() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME; END;
        $$ LANGUAGE plpgsql"""
    ]
    for name, table, condition in PROTECTED:
        # PostgreSQL allows no subquery in a trigger's WHEN: the condition lives in the function.
        statements.append(
            f"""CREATE OR REPLACE FUNCTION bontrack_guard_{name}() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN
                IF {_on(condition, "INSERT", "postgresql") or "TRUE"} THEN
                  RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
                END IF;
                RETURN NEW;
              END IF;
              IF {_on(condition, "UPDATE", "postgresql") or "TRUE"} THEN
                RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
              END IF;
              IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
              RETURN NEW;
            END; $$ LANGUAGE plpgsql"""
        )
        statements.append(
            f"CREATE OR REPLACE TRIGGER bontrack_{name}_no_change BEFORE "
            f"{' OR '.join(_events(name))} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION bontrack_guard_{name}()"
        )
        statements.append(
            f"CREATE OR REPLACE TRIGGER bontrack_{name}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bontrack_refuse_change()"
        )
    return statements


def trigger_names(vendor: str) -> set[str]:
    if vendor == "sqlite":
        return {
            f"bontrack_{name}_no_{event.lower()}"
            for name, _, _ in PROTECTED
            for event in _events(name)
        }
    return {
        f"bontrack_{name}_no_{what}" for name, _, _ in PROTECTED for what in ("change", "truncate")
    }


def install_triggers(using: str = "default", **_: Any) -> None:
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if not {table for _, table, _ in PROTECTED} <= tables:
        return  # not every app is migrated yet: the last post_migrate installs them
    statements = sqlite_statements() if connection.vendor == "sqlite" else postgres_statements()
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def lift_for_migrations(using: str = "default", **_: Any) -> None:
    """``pre_migrate`` on SQLite: drop the triggers so that table rebuilds can rename tables;
    ``post_migrate`` (``install_triggers``) puts every one of them back."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return  # PostgreSQL alters tables in place: its triggers stay through a migration
    with connection.cursor() as cursor:
        for name in sorted(trigger_names("sqlite")):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def installed_triggers(using: str = "default") -> set[str]:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT DISTINCT tgname FROM pg_trigger WHERE NOT tgisinternal")
        return {row[0] for row in cursor.fetchall()}

"""The shape Citus needs (DESIGN 3.6), read from PostgreSQL's catalog.

Every table with ``clinic_id`` is a tenant table (``bontrack.core.tenancy``) unless it is listed
as a reference or coordinator table. A tenant table's primary key and unique keys include
``clinic_id``, its foreign keys to other tenant tables are ``(clinic_id, x) -> (clinic_id, id)``,
and each of its indexes leads with ``clinic_id``. A migration that adds a tenant table without
ending with ``ApplyTenantShape()`` leaves it keyed by ``id`` alone: the first test names it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date, timedelta

import pytest
from django.db import (
    DatabaseError,
    IntegrityError,
    ProgrammingError,
    connection,
    migrations,
    models,
    transaction,
)
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from bontrack.core.tenancy import COORDINATOR_TABLES, REFERENCE_TABLES, tenant_tables
from bontrack.core.tenant_shape import ApplyTenantShape, apply_shape, restore_django_keys
from bontrack.treatments import services as sessions
from bontrack.treatments.models import Injection, TreatmentSession
from tests import builders

CLINIC = "clinic_id"

_TABLES_WITH_CLINIC = """
SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = 'clinic_id'
"""

# Every index (primary keys and unique constraints have theirs) with its key columns in order;
# an expression's place reads as NULL.
_INDEXES = """
SELECT t.relname, i.relname, x.indisprimary, x.indisunique,
       ARRAY(SELECT a.attname FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY
             AS k(num, pos)
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num
             ORDER BY k.pos)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = current_schema()::regnamespace
"""

_FOREIGN_KEYS = """
SELECT t.relname, c.conname,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
             ORDER BY k.pos),
       rt.relname,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num
             ORDER BY k.pos)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_class rt ON rt.oid = c.confrelid
WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace
"""


def shape_violations(
    tenant: Collection[str],
    reference: Collection[str] = tuple(REFERENCE_TABLES),
    coordinator: Collection[str] = tuple(COORDINATOR_TABLES),
) -> list[str]:
    """What keeps the schema from being distributed by clinic, one line per broken rule."""
    tenant, reference = set(tenant), set(reference)
    found: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(_TABLES_WITH_CLINIC)
        with_clinic = {row[0] for row in cursor.fetchall()}
        cursor.execute(_INDEXES)
        indexes = cursor.fetchall()
        cursor.execute(_FOREIGN_KEYS)
        foreign_keys = cursor.fetchall()

    for table in sorted(with_clinic - tenant - reference - set(coordinator)):
        found.append(f"{table}: has clinic_id but is neither a tenant, reference nor coordinator")
    keyed = {table for table, _, primary, *_ in indexes if primary}
    for table in sorted(tenant - keyed):
        found.append(f"{table}: no primary key")
    for table, name, primary, unique, columns in sorted(indexes):
        if table not in tenant:
            continue
        shown = ", ".join(column or "<expression>" for column in columns)
        if primary and list(columns) != [CLINIC, "id"]:
            found.append(f"{table}: primary key {name} is ({shown}), not (clinic_id, id)")
        elif unique and not primary and CLINIC not in columns:
            found.append(f"{table}: unique {name} on ({shown}) lacks clinic_id")
        if columns[0] != CLINIC:
            found.append(f"{table}: index {name} on ({shown}) does not lead with clinic_id")
    for table, name, columns, to_table, to_columns in sorted(foreign_keys):
        shown = f"({', '.join(columns)}) -> {to_table} ({', '.join(to_columns)})"
        if table in tenant and to_table in tenant:
            if len(columns) != 2 or columns[0] != CLINIC or list(to_columns) != [CLINIC, "id"]:
                found.append(f"{table}: foreign key {name} {shown} is not by (clinic_id, id)")
        elif table in tenant and to_table not in reference:
            found.append(f"{table}: foreign key {name} {shown} to a table not replicated")
        elif table in reference and to_table in tenant:
            found.append(f"{table}: reference table's foreign key {name} {shown} to a tenant table")
    return found


pytestmark = [pytest.mark.django_db]


@pytest.mark.postgres
def test_every_tenant_table_has_the_shape_citus_needs():
    tenant = tenant_tables()
    assert {"patients_patient", "treatments_injection", "audit_auditentry"} <= tenant
    assert not tenant & (set(REFERENCE_TABLES) | set(COORDINATOR_TABLES))
    assert shape_violations(tenant) == []


@pytest.mark.postgres
def test_the_checker_names_each_broken_rule():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE shape_probe_parent (clinic_id uuid NOT NULL, id uuid PRIMARY KEY)"
        )
        cursor.execute(
            "CREATE TABLE shape_probe_child ("
            " clinic_id uuid NOT NULL, id uuid NOT NULL, code text UNIQUE,"
            " parent_id uuid REFERENCES shape_probe_parent (id),"
            " event_id bigint REFERENCES audit_securityevent (id),"
            " PRIMARY KEY (clinic_id, id))"
        )
        cursor.execute("CREATE INDEX shape_probe_child_parent ON shape_probe_child (parent_id)")
        cursor.execute("CREATE TABLE shape_probe_unlisted (clinic_id uuid)")

    found = shape_violations(tenant_tables() | {"shape_probe_parent", "shape_probe_child"})

    expected = [
        "shape_probe_unlisted: has clinic_id but is neither",
        "shape_probe_parent: primary key shape_probe_parent_pkey is (id)",
        "shape_probe_child: unique shape_probe_child_code_key on (code) lacks clinic_id",
        "shape_probe_child: index shape_probe_child_code_key on (code) does not lead",
        "shape_probe_child: index shape_probe_child_parent on (parent_id) does not lead",
        (
            "shape_probe_child: foreign key shape_probe_child_parent_id_fkey (parent_id) -> "
            "shape_probe_parent (id) is not by (clinic_id, id)"
        ),
        (
            "shape_probe_child: foreign key shape_probe_child_event_id_fkey (event_id) -> "
            "audit_securityevent (id) to a table not replicated"
        ),
        "shape_probe_parent: index shape_probe_parent_pkey on (id) does not lead",
    ]
    for start in expected:
        assert [line for line in found if line.startswith(start)], (start, found)
    assert len(found) == len(expected), found


def _current_state():
    return MigrationLoader(connection).project_state()


@pytest.mark.postgres
def test_the_operation_turns_djangos_keys_into_the_shape_and_back():
    state = _current_state()
    with connection.schema_editor(atomic=False) as editor:
        restore_django_keys(editor, state)
    restored = shape_violations(tenant_tables())
    assert "treatments_injection: primary key treatments_injection_pkey is (id)" in " ".join(
        restored
    )
    assert any("foreign key" in line and "treatments_injection" in line for line in restored)

    with connection.schema_editor(atomic=False) as editor:
        apply_shape(editor, state)
    assert shape_violations(tenant_tables()) == []


@pytest.mark.postgres
def test_the_operation_run_again_finds_nothing_to_do():
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        apply_shape(editor, _current_state())
    assert editor.collected_sql == []


def _run(operation, app_label: str = "patients") -> None:
    """Run one migration operation from the current state, as ``migrate`` would."""
    before = _current_state()
    after = before.clone()
    operation.state_forwards(app_label, after)
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards(app_label, editor, before, after)


def _session_key(**options):
    return models.ForeignKey(
        "treatments.TreatmentSession",
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        **options,
    )


@pytest.mark.postgres
def test_a_foreign_key_to_a_tenant_table_is_added_inside_the_operation():
    add = migrations.AddField("diagnosis", "probe_session", _session_key())

    # Alone, Django's single-column key finds no unique (id) to point at any more.
    with pytest.raises(ProgrammingError), transaction.atomic():
        _run(add)

    _run(ApplyTenantShape(add))
    assert shape_violations(tenant_tables() | {"patients_diagnosis"}) == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'patients_diagnosis'::regclass AND contype = 'f' "
            "AND pg_get_constraintdef(oid) LIKE '%%probe_session_id%%'"
        )
        found = [row[0] for row in cursor.fetchall()]
    composite = (
        "FOREIGN KEY (clinic_id, probe_session_id) REFERENCES "
        "treatments_treatmentsession(clinic_id, id) DEFERRABLE INITIALLY DEFERRED"
    )
    assert found == [composite]


@pytest.mark.postgres
def test_a_new_tenant_table_takes_the_shape_from_the_operation_after_it():
    create = migrations.CreateModel(
        "ShapeProbe",
        [
            ("id", models.UUIDField(primary_key=True, default=uuid.uuid4)),
            (
                "clinic",
                models.ForeignKey(
                    "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
                ),
            ),
            ("session", _session_key()),
            ("twin", models.OneToOneField("patients.Patient", on_delete=models.PROTECT)),
        ],
        options={"indexes": [models.Index(fields=["clinic", "session"], name="probe_session")]},
    )
    before = _current_state()
    after = before.clone()
    create.state_forwards("patients", after)
    with connection.schema_editor(atomic=False) as editor:
        create.database_forwards("patients", editor, before, after)
        ApplyTenantShape().database_forwards("patients", editor, after, after)

    assert "patients_shapeprobe" in {m._meta.db_table for m in after.apps.get_models()}
    assert shape_violations(tenant_tables() | {"patients_shapeprobe"}) == []


def _plan_in(s: builders.Staff) -> TreatmentSession:
    patient = builders.patient(s)
    return sessions.plan_session(
        s.actor("physician"),
        patient.id,
        plan_date=date(2026, 11, 2),
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        protocol="preempt-155",
    )


def _injection(clinic_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Add an injection and check the table's foreign keys now (they are deferred to commit)."""
    with transaction.atomic():
        Injection.objects.create(
            clinic_id=clinic_id,
            session_id=session_id,
            position=99,
            site="frontalis",
            side="left",
            units="5",
            route="im",
        )
        connection.check_constraints(table_names=["treatments_injection"])


@pytest.mark.postgres
def test_a_row_cannot_point_at_a_parent_of_another_clinic():
    a = builders.staff("Clinic A", "a")
    b = builders.staff("Clinic B", "b")
    plan_of_b = _plan_in(b)

    # The session exists, in clinic B: a single-column key would take this injection of A.
    with pytest.raises(IntegrityError):
        _injection(a.clinic.id, plan_of_b.id)

    _injection(b.clinic.id, plan_of_b.id)


@pytest.mark.postgres(sqlite=True)
def test_a_reference_to_a_missing_row_is_refused_on_both_engines():
    s = builders.staff()
    plan = _plan_in(s)

    with pytest.raises(IntegrityError):
        _injection(s.clinic.id, uuid.uuid4())

    _injection(s.clinic.id, plan.id)


@pytest.mark.postgres(sqlite=True)
def test_a_row_naming_a_signed_session_under_another_clinic_is_refused_on_both_engines():
    """PostgreSQL's closed-once-signed trigger reads the session in the row's own clinic, where
    the composite key refuses the row; SQLite's reads it by id alone and refuses it itself."""
    a = builders.staff("Clinic A", "a")
    b = builders.staff("Clinic B", "b")
    patient = builders.patient(a)
    builders.consent(a, patient, "chronic-migraine")
    when = timezone.now() - timedelta(days=1)
    vial = builders.open_vial(a, builders.lot(a), at=when - timedelta(hours=1))
    signed = builders.signed_session(a, patient, when, vial)

    with pytest.raises(DatabaseError):
        _raw_injection(b.clinic.id, signed.id)


def _raw_injection(clinic_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Add an injection past the ORM, as a tampering hand would, and check the foreign keys."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO treatments_injection (id, clinic_id, session_id, position, site,"
            " side, units, route, source_identifier) VALUES (%s, %s, %s, 99, 'frontalis',"
            " 'left', 5, 'im', '')",
            [uuid.uuid4().hex, clinic_id.hex, session_id.hex],
        )
        connection.check_constraints(table_names=["treatments_injection"])


@pytest.mark.postgres(sqlite=True)
@pytest.mark.django_db
def test_on_sqlite_too_every_index_of_a_tenant_table_leads_with_the_clinic():
    """The foreign keys' own single-column indexes were dropped by ``DropFieldIndexes`` (without
    a table rebuild) on both engines; what indexes a tenant table keeps starts with its clinic."""
    stray = []
    with connection.cursor() as cursor:
        for table in sorted(tenant_tables()):
            for name, info in connection.introspection.get_constraints(cursor, table).items():
                plain = info["index"] and not info["primary_key"] and not info["unique"]
                if plain and info["columns"] and info["columns"][0] != "clinic_id":
                    stray.append(f"{table}.{name} {info['columns']}")
    assert stray == []

"""The shape Citus needs (DESIGN 3.6), given to the tenant tables by one migration operation.

Every tenant table (``bontrack.core.tenancy``) is distributed by ``clinic_id``, so on PostgreSQL
its primary key is ``(clinic_id, id)``, each of its single-column unique keys becomes
``(clinic_id, column)``, and each foreign key to another tenant table is
``(clinic_id, x_id) -> (clinic_id, id)``. Django's model state is left as it is: ``id`` stays
the model's primary key and a ForeignKey stays a ForeignKey, so the ORM and SQLite (which keeps
Django's own single-column foreign keys, enforcing the same references) see no difference.

``ApplyTenantShape()`` reads the model state at its place in the migration history and the
PostgreSQL catalog, replaces what Django made where it breaks the shape and creates what is
missing; run again, it finds nothing to do. Every migration that creates a tenant table ends
with it. An ``AddField`` or ``AlterField`` of a foreign key to a tenant table goes inside it,
``ApplyTenantShape(migrations.AddField(...))``: Django would create a single-column foreign key,
which PostgreSQL refuses once the target's primary key is ``(clinic_id, id)``; inside, that key
is made composite instead (docs/scaling.md, "Writing a migration").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.ddl_references import Statement
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models import Field, Model

from bontrack.core.tenancy import COORDINATOR_TABLES, REFERENCE_TABLES

CLINIC_COLUMN = "clinic_id"


def tenant_models_of(state: ProjectState) -> list[type[Model]]:
    """The tenant models of a migration state: concrete, with ``clinic_id``, not listed as
    reference or coordinator tables (the same rule as ``tenancy.tenant_models``)."""
    found = []
    for model in state.apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if meta.db_table in REFERENCE_TABLES or meta.db_table in COORDINATOR_TABLES:
            continue
        if any(getattr(f, "column", None) == CLINIC_COLUMN for f in meta.concrete_fields):
            if meta.pk is None or meta.pk.column != "id":
                raise ValueError(f"{meta.label}: a tenant table's key is (clinic_id, id)")
            found.append(model)
    return sorted(found, key=lambda model: model._meta.db_table)


@dataclass(frozen=True)
class CatalogKey:
    """A primary key, unique constraint, unique index or foreign key as the catalog has it."""

    name: str
    kind: str  # "p" primary key, "u" unique constraint, "i" unique index, "f" foreign key
    table: str
    columns: tuple[str, ...]
    to_table: str = ""
    to_columns: tuple[str, ...] = ()


_KEYS_SQL = """
SELECT c.conname, c.contype, t.relname,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
             ORDER BY k.pos),
       COALESCE(rt.relname, ''),
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num
             ORDER BY k.pos)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
LEFT JOIN pg_class rt ON rt.oid = c.confrelid
WHERE c.contype IN ('p', 'u', 'f') AND t.relnamespace = current_schema()::regnamespace
UNION ALL
SELECT i.relname, 'i', t.relname,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num
             ORDER BY k.pos),
       '', ARRAY[]::name[]
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
WHERE x.indisunique AND NOT x.indisprimary AND x.indpred IS NULL
  AND t.relnamespace = current_schema()::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
"""


def catalog_keys(schema_editor: BaseDatabaseSchemaEditor) -> list[CatalogKey]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_KEYS_SQL)
        return [
            CatalogKey(name, kind, table, tuple(columns), to_table, tuple(to_columns))
            for name, kind, table, columns, to_table, to_columns in cursor.fetchall()
        ]


def _foreign_keys_to_shape(model: type[Model], tenant: set[str]) -> list[Field[Any, Any]]:
    """The model's foreign keys (one-to-one included) to tenant tables that the database
    enforces; the clinic's own key points at a reference table and stays as it is."""
    fields = []
    for field in model._meta.concrete_fields:
        if not field.is_relation or not getattr(field, "db_constraint", False):
            continue
        target = field.related_model
        if target is None or isinstance(target, str) or target._meta.db_table not in tenant:
            continue
        if field.target_field.column != "id":  # type: ignore[attr-defined]
            raise ValueError(
                f"{model._meta.label}.{field.name} refers to a tenant table by "
                f"{field.target_field.column}: the shape needs (clinic_id, id)"  # type: ignore[attr-defined]
            )
        fields.append(field)
    return fields


def _single_unique_columns(model: type[Model]) -> list[str]:
    """Columns Django makes unique on their own (``unique=True``, one-to-one fields)."""
    return [
        field.column
        for field in model._meta.concrete_fields
        if field.unique and not field.primary_key and field.column != CLINIC_COLUMN
    ]


def _quote(schema_editor: BaseDatabaseSchemaEditor, name: str) -> str:
    return schema_editor.quote_name(name)


def _is_foreign_key_into(
    schema_editor: BaseDatabaseSchemaEditor, sql: Any, tenant: set[str]
) -> bool:
    if not isinstance(sql, Statement) or sql.template != schema_editor.sql_create_fk:
        return False
    table = getattr(sql.parts.get("table"), "table", None)
    to_table = getattr(sql.parts.get("to_table"), "table", None)
    return table in tenant and to_table in tenant


@contextmanager
def _composite_foreign_keys_only(
    schema_editor: BaseDatabaseSchemaEditor, tenant: set[str]
) -> Iterator[None]:
    """While Django's operations run: their single-column foreign keys between tenant tables
    are never created (``ApplyTenantShape`` creates the composite ones after them). A column's
    inline key is turned into a deferred statement, which ``_settle_deferred`` then leaves out."""
    run = schema_editor.execute

    def execute(sql: Any, params: Sequence[Any] | None = ()) -> None:
        if not _is_foreign_key_into(schema_editor, sql, tenant):
            run(sql, params)

    schema_editor.execute = execute  # type: ignore[method-assign]
    schema_editor.sql_create_column_inline_fk = None
    try:
        yield
    finally:
        del schema_editor.execute
        del schema_editor.sql_create_column_inline_fk


def _settle_deferred(schema_editor: BaseDatabaseSchemaEditor, tenant: set[str]) -> None:
    """Run the statements Django deferred to the end of the migration (a new table's indexes
    and foreign keys) now, except its single-column foreign keys between tenant tables."""
    pending = list(schema_editor.deferred_sql)
    schema_editor.deferred_sql.clear()
    for sql in pending:
        if not _is_foreign_key_into(schema_editor, sql, tenant):
            schema_editor.execute(sql)


def apply_shape(schema_editor: BaseDatabaseSchemaEditor, state: ProjectState) -> None:
    """Give every tenant table of ``state`` the shape; what already has it is left alone."""
    models = tenant_models_of(state)
    tenant = {model._meta.db_table for model in models}
    _settle_deferred(schema_editor, tenant)
    keys = catalog_keys(schema_editor)
    q = _quote

    wanted_fks = {
        (model._meta.db_table, field.column, field.related_model._meta.db_table): (model, field)  # type: ignore[union-attr]
        for model in models
        for field in _foreign_keys_to_shape(model, tenant)
    }
    composite = (CLINIC_COLUMN, "id")
    blocking = [
        key
        for key in keys
        if key.kind == "f"
        and key.to_table in tenant
        and key.table not in tenant
        and key.to_columns != composite
    ]
    if blocking:
        names = ", ".join(f"{key.table}.{key.name}" for key in blocking)
        raise ValueError(f"foreign keys from tables that are not tenant tables block: {names}")
    for key in keys:
        if key.kind != "f" or key.table not in tenant or key.to_table not in tenant:
            continue
        fits = (
            len(key.columns) == 2
            and key.columns[0] == CLINIC_COLUMN
            and key.to_columns == composite
            and (key.table, key.columns[1], key.to_table) in wanted_fks
        )
        if not fits:
            schema_editor.execute(
                f"ALTER TABLE {q(schema_editor, key.table)} "
                f"DROP CONSTRAINT {q(schema_editor, key.name)}"
            )

    primary = {key.table: key for key in keys if key.kind == "p"}
    for table in sorted(tenant):
        current = primary.get(table)
        if current is not None and current.columns == composite:
            continue
        if current is not None:
            schema_editor.execute(
                f"ALTER TABLE {q(schema_editor, table)} "
                f"DROP CONSTRAINT {q(schema_editor, current.name)}"
            )
        schema_editor.execute(
            f"ALTER TABLE {q(schema_editor, table)} ADD CONSTRAINT "
            f"{q(schema_editor, table + '_pkey')} PRIMARY KEY ({CLINIC_COLUMN}, id)"
        )

    unique = [key for key in keys if key.kind in ("u", "i")]
    for model in models:
        table = model._meta.db_table
        for column in _single_unique_columns(model):
            for key in unique:
                if key.table != table or key.columns != (column,):
                    continue
                if key.kind == "u":
                    schema_editor.execute(
                        f"ALTER TABLE {q(schema_editor, table)} "
                        f"DROP CONSTRAINT {q(schema_editor, key.name)}"
                    )
                else:
                    schema_editor.execute(f"DROP INDEX {q(schema_editor, key.name)}")
            if any(k.table == table and k.columns == (CLINIC_COLUMN, column) for k in unique):
                continue
            name = schema_editor._create_index_name(table, [CLINIC_COLUMN, column], "_uniq")
            schema_editor.execute(
                f"ALTER TABLE {q(schema_editor, table)} ADD CONSTRAINT {q(schema_editor, name)} "
                f"UNIQUE ({CLINIC_COLUMN}, {q(schema_editor, column)})"
            )

    present = {
        (key.table, key.columns[1], key.to_table)
        for key in keys
        if key.kind == "f"
        and len(key.columns) == 2
        and key.columns[0] == CLINIC_COLUMN
        and key.to_columns == composite
    }
    for (table, column, to_table), _ in sorted(wanted_fks.items()):
        if (table, column, to_table) in present:
            continue
        name = schema_editor._create_index_name(table, [CLINIC_COLUMN, column], "_fk")
        schema_editor.execute(
            f"ALTER TABLE {q(schema_editor, table)} ADD CONSTRAINT {q(schema_editor, name)} "
            f"FOREIGN KEY ({CLINIC_COLUMN}, {q(schema_editor, column)}) "
            f"REFERENCES {q(schema_editor, to_table)} ({CLINIC_COLUMN}, id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


def restore_django_keys(schema_editor: BaseDatabaseSchemaEditor, state: ProjectState) -> None:
    """The inverse: the single-column keys Django's own migrations made and expect."""
    models = tenant_models_of(state)
    tenant = {model._meta.db_table for model in models}
    keys = catalog_keys(schema_editor)
    q = _quote
    for key in keys:
        if key.kind == "f" and key.table in tenant and key.to_table in tenant:
            schema_editor.execute(
                f"ALTER TABLE {q(schema_editor, key.table)} "
                f"DROP CONSTRAINT {q(schema_editor, key.name)}"
            )
    primary = {key.table: key for key in keys if key.kind == "p"}
    for model in models:
        table = model._meta.db_table
        current = primary.get(table)
        if current is None or current.columns != ("id",):
            if current is not None:
                schema_editor.execute(
                    f"ALTER TABLE {q(schema_editor, table)} "
                    f"DROP CONSTRAINT {q(schema_editor, current.name)}"
                )
            schema_editor.execute(
                f"ALTER TABLE {q(schema_editor, table)} ADD CONSTRAINT "
                f"{q(schema_editor, table + '_pkey')} PRIMARY KEY (id)"
            )
        for column in _single_unique_columns(model):
            for key in keys:
                if (
                    key.table == table
                    and key.kind == "u"
                    and key.columns == (CLINIC_COLUMN, column)
                ):
                    schema_editor.execute(
                        f"ALTER TABLE {q(schema_editor, table)} "
                        f"DROP CONSTRAINT {q(schema_editor, key.name)}"
                    )
            if not any(k.table == table and k.columns == (column,) for k in keys):
                name = schema_editor._create_index_name(table, [column], "_uniq")
                schema_editor.execute(
                    f"ALTER TABLE {q(schema_editor, table)} ADD CONSTRAINT "
                    f"{q(schema_editor, name)} UNIQUE ({q(schema_editor, column)})"
                )
    for model in models:
        for field in _foreign_keys_to_shape(model, tenant):
            schema_editor.execute(
                schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")
            )


class ApplyTenantShape(Operation):
    """Gives every tenant table DESIGN 3.6's keys on PostgreSQL; nothing on other engines.

    With operations, ``ApplyTenantShape(migrations.AddField(...))``, it runs them first and keeps
    Django from creating single-column foreign keys between tenant tables while they run.
    Reversed, it restores Django's single-column keys, which earlier migrations expect, then
    reverses its operations."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, *operations: Operation) -> None:
        self.operations = list(operations)

    def deconstruct(self) -> tuple[str, list[Operation], dict[str, Any]]:
        return (self.__class__.__name__, self.operations, {})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        for operation in self.operations:
            operation.state_forwards(app_label, state)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        postgres = schema_editor.connection.vendor == "postgresql"
        tenant = {m._meta.db_table for m in tenant_models_of(to_state)} if postgres else set()
        with _composite_foreign_keys_only(schema_editor, tenant) if postgres else _nothing():
            for operation in self.operations:
                after = from_state.clone()
                operation.state_forwards(app_label, after)
                operation.database_forwards(app_label, schema_editor, from_state, after)
                from_state = after
        if postgres:
            apply_shape(schema_editor, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            restore_django_keys(schema_editor, from_state)
        states = [to_state]
        for operation in self.operations:
            after = states[-1].clone()
            operation.state_forwards(app_label, after)
            states.append(after)
        for index in reversed(range(len(self.operations))):
            self.operations[index].database_backwards(
                app_label, schema_editor, states[index + 1], states[index]
            )

    def describe(self) -> str:
        inner = "; ".join(operation.describe() for operation in self.operations)
        return "Tenant tables keyed by clinic" + (f" after: {inner}" if inner else "")

    @property
    def migration_name_fragment(self) -> str:
        return "tenant_shape"


@contextmanager
def _nothing() -> Iterator[None]:
    yield

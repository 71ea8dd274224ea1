"""Migration operations that change many indexes at once.

Making a foreign key ``db_index=False`` (its index now leads with ``clinic_id``, DESIGN 3.6) is
an ``AlterField`` per field. Django re-renders every related model for each of them and, on
SQLite, rebuilds the whole table to drop one index; for some hundred foreign keys that made a
new database's ``migrate`` several times slower. ``DropFieldIndexes`` applies the same field
changes to the migration state with one re-rendering, and on the database drops (or, reversed,
re-creates) only the index, with ``DROP INDEX``/``CREATE INDEX`` on either engine.
``AddIndexes`` does the same for the ``(clinic_id, x_id)`` indexes that replace them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import AddIndex, AlterField
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models import Index


class DropFieldIndexes(Operation):
    """``AlterField`` operations that only turn ``db_index`` off, applied together."""

    reversible = True

    def __init__(self, changes: Sequence[AlterField]) -> None:
        for change in changes:
            if change.field.db_index or not change.preserve_default:
                raise ValueError(f"{change.model_name}.{change.name}: only db_index=False here")
        self.changes = list(changes)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.changes], {})

    def describe(self) -> str:
        return f"Drop the single-column index of {len(self.changes)} fields"

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        touched = set()
        for change in self.changes:
            key = (app_label, change.model_name_lower)
            fields = state.models[key].fields
            old_field = fields[change.name]
            fields[change.name] = change.field
            if state._relations is not None:
                state.resolve_model_field_relations(key, change.name, old_field)
                state.resolve_model_field_relations(key, change.name, change.field)
            touched.add(key)
        state.reload_models(sorted(touched), delay=False)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        for change in self.changes:
            model = from_state.apps.get_model(app_label, change.model_name)
            if not self.allow_migrate_model(schema_editor.connection.alias, model):
                continue
            field = model._meta.get_field(change.name)
            if not field.db_index or field.unique:
                continue
            # Only the field's own index: never a unique one (a partial unique constraint on the
            # same column is an index too) nor one the model declares.
            declared = {index.name for index in model._meta.indexes} | {
                constraint.name for constraint in model._meta.constraints
            }
            for name in schema_editor._constraint_names(
                model,
                [field.column],
                index=True,
                unique=False,
                type_=Index.suffix,
                exclude=declared,
            ):
                schema_editor.execute(schema_editor._delete_index_sql(model, name))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        for change in self.changes:
            model = to_state.apps.get_model(app_label, change.model_name)
            if not self.allow_migrate_model(schema_editor.connection.alias, model):
                continue
            field = model._meta.get_field(change.name)
            if field.db_index and not field.unique:
                schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class AddIndexes(Operation):
    """``AddIndex`` operations applied together: the same indexes, one re-rendering of the
    migration state instead of one per index."""

    reversible = True

    def __init__(self, additions: Sequence[AddIndex]) -> None:
        self.additions = list(additions)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.additions], {})

    def describe(self) -> str:
        return f"Create {len(self.additions)} indexes"

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        touched = set()
        for addition in self.additions:
            key = (app_label, addition.model_name_lower)
            options = state.models[key].options
            options["indexes"] = [*options["indexes"], addition.index]
            touched.add(key)
        state.reload_models(sorted(touched), delay=True)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        for addition in self.additions:
            model = to_state.apps.get_model(app_label, addition.model_name)
            if self.allow_migrate_model(schema_editor.connection.alias, model):
                schema_editor.add_index(model, addition.index)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        for addition in self.additions:
            model = from_state.apps.get_model(app_label, addition.model_name)
            if self.allow_migrate_model(schema_editor.connection.alias, model):
                schema_editor.remove_index(model, addition.index)

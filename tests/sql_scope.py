"""Proves from the SQL text that a statement stays inside one clinic (DESIGN 3.6).

The rule: every occurrence of a tenant table in a statement is constrained by ``clinic_id`` to
the clinic, either directly (``t.clinic_id = <the clinic>`` or ``t.clinic_id IN (<the clinic>)``
as a conjunct at the top of the WHERE or of a join's ON, never under an OR or a NOT) or through
an equality ``a.clinic_id = b.clinic_id`` with an occurrence that is. An equality may reach an
occurrence of an enclosing query (a correlated subquery); it never reaches from a subquery out.
A LEFT JOIN's ON filters only the table it joins, so its conditions constrain that table alone.
An INSERT names ``clinic_id`` and gives the clinic in every row; an UPDATE or DELETE constrains
its target in its WHERE. Every literal compared with a ``clinic_id`` anywhere in the statement
must be the clinic. A statement the parser cannot read is a violation, never skipped, except the
transaction and session statements that touch no table (savepoints, BEGIN, COMMIT, PRAGMA, SET).
A server-side cursor's ``DECLARE ... FOR <query>`` is checked as its query.

``clinic_literals`` holds the clinic's id as the SQL spells it (32 hex digits on SQLite,
``'…'::uuid`` on PostgreSQL); spellings are compared without quotes, casts, dashes or case.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import traceback
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# sqlglot logs a warning when it falls back to a bare Command; that case is reported instead.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# A server-side cursor (``QuerySet.iterator()`` on PostgreSQL) wraps the query it reads.
_DECLARE_CURSOR = re.compile(
    r"^\s*DECLARE\s+\S+\s+(?:BINARY\s+)?(?:(?:NO\s+)?SCROLL\s+)?CURSOR\s+"
    r"(?:WITH(?:OUT)?\s+HOLD\s+)?FOR\s+",
    re.IGNORECASE,
)
_CONTROL_STATEMENT = re.compile(
    r"""^\s*(
        SAVEPOINT\b | RELEASE\s+SAVEPOINT\b | ROLLBACK\b | BEGIN\b | COMMIT\b | END\b
        | PRAGMA\b | SET\b | SHOW\b
        | SELECT\s+pg_(try_)?advisory_xact_lock\s*\(\s*-?\d+\s*(,\s*-?\d+\s*)?\)\s*;?\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Violation:
    sql: str
    reason: str
    table: str | None = None
    # Where the project ran the statement: its innermost frames in bontrack/, innermost first.
    origin: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f" [{self.table}]" if self.table else ""
        by = f" (from {' < '.join(self.origin)})" if self.origin else ""
        return f"{self.reason}{where}{by}: {self.sql}"


def clinic_literals(clinic_id: uuid.UUID | str) -> set[str]:
    """The clinic's id as SQLite and PostgreSQL print it in a statement."""
    value = uuid.UUID(str(clinic_id))
    return {value.hex, f"'{value}'::uuid"}


def dialect_of(vendor: str) -> str:
    """sqlglot's dialect name for a Django ``connection.vendor``."""
    return {"postgresql": "postgres", "sqlite": "sqlite"}[vendor]


def unscoped(
    sql: str, clinic_literals: set[str], tenant: frozenset[str], dialect: str
) -> list[Violation]:
    """The ways ``sql`` reaches outside the clinic; empty when it stays inside."""
    if _CONTROL_STATEMENT.match(sql):
        return []
    declared = _DECLARE_CURSOR.match(sql)
    query = sql[declared.end() :] if declared else sql
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except SqlglotError as error:
        return [Violation(sql, f"unparseable: {str(error).splitlines()[0]}")]
    if not statements:
        return [Violation(sql, "unparseable: no statement")]
    checker = _Checker(sql, {_normalized(v) for v in clinic_literals}, tenant)
    for statement in statements:
        checker.statement(statement)
    return checker.violations


def violations_in(
    queries: Iterable[dict[str, str]] | Iterable[str],
    clinic_literals: set[str],
    tenant: frozenset[str],
    dialect: str,
) -> list[Violation]:
    """Every violation in captured queries (``connection.queries`` entries or plain SQL)."""
    found: list[Violation] = []
    for query in queries:
        sql = query if isinstance(query, str) else query["sql"]
        found.extend(unscoped(sql, clinic_literals, tenant, dialect))
    return found


@contextmanager
def captured_violations(clinic_id: uuid.UUID | str) -> Iterator[list[Violation]]:
    """Captures the default connection's SQL; the yielded list is filled on exit, each
    violation with the project frames that ran its statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bontrack.core.tenancy import tenant_tables

    origins: list[tuple[str, ...]] = []

    def remember_origin(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        origins.append(_project_frames())
        return execute(sql, params, many, context)

    found: list[Violation] = []
    with CaptureQueriesContext(connection) as capture, connection.execute_wrapper(remember_origin):
        yield found
    queries = capture.captured_queries
    if len(origins) != len(queries):
        origins = [()] * len(queries)
    literals, tenant = clinic_literals(clinic_id), tenant_tables()
    dialect = dialect_of(connection.vendor)
    for query, origin in zip(queries, origins, strict=True):
        for violation in unscoped(query["sql"], literals, tenant, dialect):
            found.append(dataclasses.replace(violation, origin=origin))


def _project_frames(depth: int = 4) -> tuple[str, ...]:
    frames: list[str] = []
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace("\\", "/")
        if "/bontrack/" in path and "/site-packages/" not in path:
            relative = path[path.rindex("/bontrack/") + 1 :]
            frames.append(f"{relative}:{frame.lineno} {frame.name}")
            if len(frames) == depth:
                break
    return tuple(frames)


def _normalized(literal: str) -> str:
    text = literal.strip()
    text = re.sub(r"::\s*uuid$", "", text, flags=re.IGNORECASE).strip()
    text = text.strip("'")
    return text.replace("-", "").lower()


def _literal_value(node: exp.Expression | None) -> str | None:
    """The normalized value of a literal (through parentheses and casts), else None."""
    while isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
        node = node.this
    if isinstance(node, exp.Literal):
        return _normalized(str(node.this))
    return None


def _unnested_column(source: exp.Expression | None, index: int) -> list[str | None] | None:
    """The values of column ``index`` of ``SELECT * FROM UNNEST(<array>, ...)``, the form of
    Django's bulk INSERT on PostgreSQL; None when the source is of another form."""
    if not isinstance(source, exp.Select) or not isinstance(source.expressions[0], exp.Star):
        return None
    from_ = source.args.get("from_") or source.args.get("from")
    if from_ is None or not isinstance(from_.this, exp.Unnest) or source.args.get("joins"):
        return None
    arrays = from_.this.expressions
    if index >= len(arrays):
        return None
    array = arrays[index]
    while isinstance(array, exp.Paren | exp.Cast | exp.TryCast):
        array = array.this
    if not (isinstance(array, exp.Literal) and array.is_string):
        return None
    text = str(array.this).strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    return [_normalized(item.strip().strip('"')) for item in text[1:-1].split(",")]


def _conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    if condition is None:
        return []
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


@dataclass(eq=False)
class _Occurrence:
    table: str
    alias: str


@dataclass(eq=False)
class _Scope:
    """One query level: the tenant tables it reads, by alias, and what it may see outside."""

    parent: _Scope | None
    occurrences: dict[str, _Occurrence] = field(default_factory=dict)
    other_aliases: set[str] = field(default_factory=set)
    cte_names: set[str] = field(default_factory=set)

    def resolve(self, column: exp.Column) -> _Occurrence | None:
        qualifier = column.table
        scope: _Scope | None = self
        while scope is not None:
            if qualifier:
                if qualifier in scope.occurrences:
                    return scope.occurrences[qualifier]
                if qualifier in scope.other_aliases:
                    return None
            elif scope.occurrences or scope.other_aliases:
                # An unqualified column belongs to the innermost query that reads a table, and
                # is attributable only when that query reads one table.
                if len(scope.occurrences) == 1 and not scope.other_aliases:
                    return next(iter(scope.occurrences.values()))
                return None
            scope = scope.parent
        return None

    def visible_ctes(self) -> set[str]:
        names: set[str] = set()
        scope: _Scope | None = self
        while scope is not None:
            names |= scope.cte_names
            scope = scope.parent
        return names


def _is_clinic_column(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Column) and node.name.lower() == "clinic_id"


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


class _Checker:
    def __init__(self, sql: str, clinic: set[str], tenant: frozenset[str]) -> None:
        self.sql = sql
        self.clinic = clinic
        self.tenant = tenant
        self.violations: list[Violation] = []
        # Occurrences of every scope checked so far that are constrained to the clinic.
        self.constrained: set[int] = set()

    def report(self, reason: str, table: str | None = None) -> None:
        self.violations.append(Violation(self.sql, reason, table))

    # statements

    def statement(self, node: exp.Expression) -> None:
        self.foreign_clinic_literals(node)
        if isinstance(node, exp.Command):
            self.report(f"unparseable: {node.sql()[:60]}")
        elif isinstance(node, exp.Insert):
            self.insert(node)
        elif isinstance(node, exp.Update | exp.Delete):
            self.update_or_delete(node)
        elif isinstance(node, exp.Query):
            self.query(node, parent=None)
        elif isinstance(node, exp.Transaction | exp.Commit | exp.Rollback | exp.Pragma | exp.Set):
            return
        else:
            self.report(f"statement of unknown kind {type(node).__name__}")

    def foreign_clinic_literals(self, node: exp.Expression) -> None:
        for comparison in node.find_all(exp.EQ, exp.NEQ, exp.In):
            if isinstance(comparison, exp.In):
                if not _is_clinic_column(comparison.this):
                    continue
                values = [_literal_value(item) for item in comparison.expressions]
            else:
                left, right = comparison.left, comparison.right
                if _is_clinic_column(left):
                    values = [_literal_value(right)]
                elif _is_clinic_column(right):
                    values = [_literal_value(left)]
                else:
                    continue
            for value in values:
                if value is not None and value not in self.clinic:
                    self.report(f"clinic_id compared with another clinic's id {value}")

    def insert(self, node: exp.Insert) -> None:
        target = node.this
        columns: list[str] = []
        if isinstance(target, exp.Schema):
            columns = [_unparen(c).name.lower() for c in target.expressions]
            target = target.this
        if not isinstance(target, exp.Table):
            self.report("INSERT into something other than a table")
            return
        for nested in self.child_queries(node.expression) if node.expression else []:
            self.query(nested, parent=None)
        if target.name not in self.tenant:
            return
        if "clinic_id" not in columns:
            self.report("INSERT without clinic_id", target.name)
            return
        index = columns.index("clinic_id")
        source = node.expression
        if isinstance(source, exp.Values):
            clinics = [
                _literal_value(values[index]) if index < len(values) else None
                for values in (
                    row.expressions if isinstance(row, exp.Tuple) else [row]
                    for row in source.expressions
                )
            ]
        else:
            clinics = _unnested_column(source, index)
        if clinics is None:
            self.report("INSERT from a query: its clinic_id cannot be checked", target.name)
        elif not clinics or any(value not in self.clinic for value in clinics):
            self.report("INSERT of a row outside the clinic", target.name)

    def update_or_delete(self, node: exp.Update | exp.Delete) -> None:
        scope = _Scope(parent=None)
        target = node.this
        if isinstance(target, exp.Table):
            self.add_table(scope, target)
        for extra in node.args.get("from_"), node.args.get("using"):
            if isinstance(extra, exp.From):
                self.add_source(scope, extra.this, children=[])
            elif isinstance(extra, list):
                for item in extra:
                    self.add_source(scope, item, children=[])
        where = node.args.get("where")
        self.resolve_scope(
            scope, [(c, None) for c in _conjuncts(where.this if where else None)], []
        )
        for part in (where, *node.expressions) if isinstance(node, exp.Update) else (where,):
            for nested in self.child_queries(part):
                self.query(nested, parent=scope)

    # queries

    def query(self, node: exp.Expression, parent: _Scope | None) -> None:
        node = _unparen(node)
        if isinstance(node, exp.Subquery):
            self.query(node.this, parent)
            return
        if isinstance(node, exp.SetOperation):
            self.ctes(node, parent)
            self.query(node.left, parent)
            self.query(node.right, parent)
            return
        if isinstance(node, exp.Select):
            self.select(node, parent)
            return
        if isinstance(node, exp.Values):
            return
        self.report(f"query of unknown kind {type(node).__name__}")

    def ctes(self, node: exp.Expression, parent: _Scope | None) -> set[str]:
        with_ = node.args.get("with_") or node.args.get("with")
        names: set[str] = set()
        if with_ is None:
            return names
        for cte in with_.expressions:
            names.add(cte.alias_or_name)
            holder = _Scope(parent=parent, cte_names=set(names))
            self.query(cte.this, holder)
        return names

    def select(self, node: exp.Select, parent: _Scope | None) -> None:
        scope = _Scope(parent=parent)
        scope.cte_names = self.ctes(node, parent)
        derived: list[exp.Expression] = []
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is not None:
            self.add_source(scope, from_.this, derived)
        conditions: list[tuple[exp.Expression, _Occurrence | None]] = []
        for join in node.args.get("joins") or []:
            joined = self.add_source(scope, join.this, derived)
            side = (join.side or "").upper()
            on = join.args.get("on")
            if side in ("RIGHT", "FULL"):
                continue
            # A LEFT JOIN's ON filters the table it joins, never the rows it joins to.
            only = joined if side == "LEFT" else None
            if side == "LEFT" and joined is None:
                continue
            conditions.extend((c, only) for c in _conjuncts(on))
        where = node.args.get("where")
        conditions.extend((c, None) for c in _conjuncts(where.this if where else None))
        self.resolve_scope(scope, conditions, derived)
        for part in node.args.items():
            key, value = part
            if key in ("from_", "from", "joins", "with_", "with"):
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, exp.Expression):
                    for nested in self.child_queries(item):
                        self.query(nested, parent=scope)
        for join in node.args.get("joins") or []:
            for nested in self.child_queries(join.args.get("on")):
                self.query(nested, parent=scope)

    def add_source(
        self, scope: _Scope, source: exp.Expression, derived: list[exp.Expression]
    ) -> _Occurrence | None:
        source = _unparen(source)
        if isinstance(source, exp.Table):
            return self.add_table(scope, source)
        if isinstance(source, exp.Unnest):
            # Rows spelled out in the statement (PostgreSQL's bulk INSERT): no table is read.
            scope.other_aliases.add(source.alias_or_name)
            return None
        if isinstance(source, exp.Subquery):
            scope.other_aliases.add(source.alias_or_name)
            derived.append(source.this)
            # A derived table is its own query; it sees no column of its siblings.
            self.query(source.this, parent=_Scope(parent=None, cte_names=scope.visible_ctes()))
            return None
        self.report(f"FROM of unknown kind {type(source).__name__}")
        return None

    def add_table(self, scope: _Scope, table: exp.Table) -> _Occurrence | None:
        name = table.name
        alias = table.alias_or_name
        if name in scope.visible_ctes() and not table.db:
            scope.other_aliases.add(alias)
            return None
        if name not in self.tenant:
            scope.other_aliases.add(alias)
            return None
        occurrence = _Occurrence(name, alias)
        scope.occurrences[alias] = occurrence
        return occurrence

    def resolve_scope(
        self,
        scope: _Scope,
        conditions: list[tuple[exp.Expression, _Occurrence | None]],
        derived: list[exp.Expression],
    ) -> None:
        edges: list[tuple[_Occurrence, _Occurrence]] = []
        for condition, only in conditions:
            direct = self.direct_constraint(scope, condition)
            if direct is not None and (only is None or direct is only):
                self.constrained.add(id(direct))
                continue
            pair = self.clinic_equality(scope, condition)
            if pair is None:
                continue
            left, right = pair
            if only is None or right is only:
                edges.append((left, right))
            if only is None or left is only:
                edges.append((right, left))
        changed = True
        while changed:
            changed = False
            for source, target in edges:
                # A scope never constrains what an enclosing scope reads.
                if (
                    id(source) in self.constrained
                    and id(target) not in self.constrained
                    and target in scope.occurrences.values()
                ):
                    self.constrained.add(id(target))
                    changed = True
        for occurrence in scope.occurrences.values():
            if id(occurrence) not in self.constrained:
                self.report(
                    f"{occurrence.table} AS {occurrence.alias} not constrained to the clinic",
                    occurrence.table,
                )

    def direct_constraint(self, scope: _Scope, condition: exp.Expression) -> _Occurrence | None:
        condition = _unparen(condition)
        if isinstance(condition, exp.EQ):
            for column, value in (
                (condition.left, condition.right),
                (condition.right, condition.left),
            ):
                if _is_clinic_column(column) and _literal_value(value) in self.clinic:
                    return scope.resolve(_unparen(column))  # type: ignore[arg-type]
        if isinstance(condition, exp.In) and _is_clinic_column(condition.this):
            values = {_literal_value(v) for v in condition.expressions}
            if condition.args.get("query") is None and len(values) == 1:
                (value,) = values
                if value in self.clinic:
                    return scope.resolve(_unparen(condition.this))  # type: ignore[arg-type]
        return None

    def clinic_equality(
        self, scope: _Scope, condition: exp.Expression
    ) -> tuple[_Occurrence, _Occurrence] | None:
        condition = _unparen(condition)
        if not isinstance(condition, exp.EQ):
            return None
        if not (_is_clinic_column(condition.left) and _is_clinic_column(condition.right)):
            return None
        left = scope.resolve(_unparen(condition.left))  # type: ignore[arg-type]
        right = scope.resolve(_unparen(condition.right))  # type: ignore[arg-type]
        if left is None or right is None:
            return None
        return left, right

    @staticmethod
    def child_queries(node: exp.Expression | None) -> list[exp.Expression]:
        """The queries directly nested in ``node``, not those nested in them."""
        if node is None:
            return []
        found: list[exp.Expression] = []
        stack: list[exp.Expression] = [node]
        while stack:
            current = stack.pop()
            if current is not node and isinstance(current, exp.Query):
                found.append(current)
                continue
            if isinstance(current, exp.Query) and current is node:
                found.append(current)
                continue
            stack.extend(current.iter_expressions())
        return found

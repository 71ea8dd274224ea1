"""The rules of tests/sql_scope.py on hand-written SQL: each one passes a statement that keeps
inside the clinic and fails one that does not, on both engines' spelling of a clinic's id."""

from __future__ import annotations

import uuid

import pytest

from tests.sql_scope import clinic_literals, unscoped

CLINIC = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
OTHER = uuid.UUID("9f0c3a52-6d1e-4b7a-8c2d-3e4f5a6b7c8d")
TENANT = frozenset({"patients_patient", "treatments_session", "treatments_injection"})
LITERALS = clinic_literals(CLINIC)

# The clinic's id as each engine prints it in a statement Django ran.
SPELLING = {
    "sqlite": (f"'{CLINIC.hex}'", f"'{OTHER.hex}'"),
    "postgres": (f"'{CLINIC}'::uuid", f"'{OTHER}'::uuid"),
}


def reasons(sql: str, dialect: str) -> list[str]:
    here, other = SPELLING[dialect]
    text = sql.replace("{C}", here).replace("{O}", other)
    text = text.replace("{CX}", CLINIC.hex).replace("{OX}", OTHER.hex)
    return [v.reason for v in unscoped(text, LITERALS, TENANT, dialect)]


DIALECTS = pytest.mark.parametrize("dialect", ["sqlite", "postgres"])

INSIDE = {
    "direct equality": 'SELECT "p"."id" FROM "patients_patient" "p" WHERE "p"."clinic_id" = {C}',
    "literal on the left": "SELECT id FROM patients_patient WHERE {C} = clinic_id AND id = 'x'",
    "unqualified column, one table": "SELECT id FROM patients_patient WHERE (clinic_id = {C})",
    "IN with the clinic alone": "SELECT p.id FROM patients_patient p WHERE p.clinic_id IN ({C})",
    "a table that is not a tenant's": "SELECT id FROM accounts_clinic WHERE name = 'A'",
    "join through a clinic equality": (
        "SELECT i.id FROM treatments_injection i"
        " INNER JOIN treatments_session s ON (i.session_id = s.id AND s.clinic_id = i.clinic_id)"
        " WHERE i.clinic_id = {C}"
    ),
    "join with both filtered": (
        "SELECT i.id FROM treatments_injection i"
        " INNER JOIN treatments_session s ON (i.session_id = s.id)"
        " WHERE (i.clinic_id = {C} AND s.clinic_id = {C})"
    ),
    "equality chain": (
        "SELECT i.id FROM treatments_injection i JOIN treatments_session s ON i.session_id = s.id"
        " JOIN patients_patient p ON s.patient_id = p.id"
        " WHERE p.clinic_id = s.clinic_id AND s.clinic_id = i.clinic_id AND i.clinic_id = {C}"
    ),
    "left join filtered in its ON": (
        "SELECT s.id FROM treatments_session s LEFT OUTER JOIN patients_patient p"
        " ON (s.patient_id = p.id AND p.clinic_id = s.clinic_id) WHERE s.clinic_id = {C}"
    ),
    "correlated subquery": (
        'SELECT "s"."id" FROM "treatments_session" "s" WHERE "s"."clinic_id" = {C} AND EXISTS'
        ' (SELECT 1 AS "a" FROM "treatments_injection" U0'
        ' WHERE U0."session_id" = ("s"."id") AND U0."clinic_id" = ("s"."clinic_id") LIMIT 1)'
    ),
    "subquery filtered by itself": (
        "SELECT s.id FROM treatments_session s WHERE s.clinic_id = {C} AND s.patient_id IN"
        " (SELECT U0.id FROM patients_patient U0 WHERE U0.clinic_id = {C} AND U0.name = 'x')"
    ),
    "prefetch IN with the clinic": (
        'SELECT "i"."id" FROM "treatments_injection" "i" WHERE ("i"."clinic_id" = {C}'
        " AND \"i\".\"session_id\" IN ('a', 'b', 'c'))"
    ),
    "CTE": (
        "WITH recent AS (SELECT id FROM treatments_session WHERE clinic_id = {C})"
        " SELECT r.id FROM recent r"
    ),
    "derived table": (
        "SELECT COUNT(*) FROM (SELECT DISTINCT s.patient_id FROM treatments_session s"
        " WHERE s.clinic_id = {C}) sub"
    ),
    "union": (
        "SELECT id FROM patients_patient WHERE clinic_id = {C}"
        " UNION SELECT patient_id FROM treatments_session WHERE clinic_id = {C}"
    ),
    "scalar subquery in the select list": (
        "SELECT p.id, (SELECT COUNT(*) FROM treatments_session U0 WHERE U0.patient_id = p.id"
        " AND U0.clinic_id = p.clinic_id) AS n FROM patients_patient p WHERE p.clinic_id = {C}"
    ),
    "insert of the clinic's rows": (
        "INSERT INTO treatments_injection (id, clinic_id, session_id)"
        " VALUES ('i1', {C}, 's1'), ('i2', {C}, 's1')"
    ),
    "update": (
        "UPDATE treatments_session SET status = 'signed' WHERE (id = 's1' AND clinic_id = {C})"
    ),
    "update through a filtered subquery": (
        'UPDATE "treatments_session" SET "status" = \'void\' WHERE'
        ' ("treatments_session"."clinic_id" = {C} AND "treatments_session"."id" IN'
        ' (SELECT U0."id" FROM "treatments_session" U0'
        ' WHERE U0."clinic_id" = {C}))'
    ),
    "delete": "DELETE FROM treatments_injection WHERE clinic_id = {C} AND id IN ('a', 'b')",
    "server-side cursor": (
        'DECLARE "_django_curs_1_sync_4" NO SCROLL CURSOR WITH HOLD FOR'
        " SELECT id FROM patients_patient WHERE clinic_id = {C}"
    ),
    "savepoint": 'SAVEPOINT "s140234_x1"',
    "release": 'RELEASE SAVEPOINT "s140234_x1"',
    "advisory lock": "SELECT pg_advisory_xact_lock(42)",
}

OUTSIDE = {
    "no clinic at all": "SELECT id FROM patients_patient WHERE name = 'x'",
    "another clinic": "SELECT id FROM patients_patient WHERE clinic_id = {O}",
    "clinic under an OR": ("SELECT id FROM patients_patient WHERE clinic_id = {C} OR name = 'x'"),
    "clinic under a NOT": "SELECT id FROM patients_patient WHERE NOT (clinic_id = {C})",
    "IN with two clinics": "SELECT id FROM patients_patient WHERE clinic_id IN ({C}, {O})",
    "join constrained only by its key": (
        "SELECT i.id FROM treatments_injection i"
        " INNER JOIN treatments_session s ON (i.session_id = s.id) WHERE i.clinic_id = {C}"
    ),
    "left join filtered only in the WHERE of the other table": (
        "SELECT s.id FROM treatments_session s LEFT OUTER JOIN patients_patient p"
        " ON (s.patient_id = p.id AND s.clinic_id = {C}) WHERE p.clinic_id = p.clinic_id"
    ),
    "correlated subquery joined by its key alone": (
        "SELECT s.id FROM treatments_session s WHERE s.clinic_id = {C} AND EXISTS"
        " (SELECT 1 FROM treatments_injection U0 WHERE U0.session_id = s.id LIMIT 1)"
    ),
    "subquery of all clinics": (
        "SELECT s.id FROM treatments_session s WHERE s.clinic_id = {C} AND s.patient_id IN"
        " (SELECT U0.id FROM patients_patient U0 WHERE U0.name = 'x')"
    ),
    "a subquery's filter does not reach out": (
        "SELECT s.id FROM treatments_session s WHERE EXISTS (SELECT 1 FROM treatments_injection"
        " U0 WHERE U0.clinic_id = {C} AND U0.clinic_id = s.clinic_id)"
    ),
    "bare prefetch IN": (
        "SELECT i.id FROM treatments_injection i WHERE i.session_id IN ('a', 'b', 'c')"
    ),
    "CTE of all clinics": (
        "WITH recent AS (SELECT id FROM treatments_session) SELECT r.id FROM recent r"
    ),
    "derived table of all clinics": (
        "SELECT COUNT(*) FROM (SELECT DISTINCT s.patient_id FROM treatments_session s) sub"
    ),
    "one side of a union": (
        "SELECT id FROM patients_patient WHERE clinic_id = {C}"
        " UNION SELECT patient_id FROM treatments_session"
    ),
    "unqualified column, two tables": (
        "SELECT i.id FROM treatments_injection i, treatments_session s WHERE clinic_id = {C}"
    ),
    "insert without the clinic": "INSERT INTO treatments_injection (id) VALUES ('i1')",
    "insert of two clinics": (
        "INSERT INTO treatments_injection (id, clinic_id, session_id)"
        " VALUES ('i1', {C}, 's1'), ('i2', {O}, 's2')"
    ),
    "insert from a query": (
        "INSERT INTO treatments_injection (id, clinic_id) SELECT id, clinic_id FROM other"
    ),
    "update of all clinics": "UPDATE treatments_session SET status = 'signed' WHERE id = 's1'",
    "delete by ids alone": "DELETE FROM treatments_injection WHERE id IN ('a', 'b')",
    "another clinic's id in an OR": (
        "SELECT id FROM patients_patient WHERE clinic_id = {C} AND (clinic_id = {O} OR id = 'x')"
    ),
    "server-side cursor over all clinics": (
        'DECLARE "_django_curs_1_sync_4" NO SCROLL CURSOR FOR SELECT id FROM patients_patient'
    ),
    "unparseable": "SELECT FROM WHERE (((",
    "a command the parser does not know": "VACUUM ANALYZE treatments_session",
}


@DIALECTS
@pytest.mark.parametrize("name", list(INSIDE))
def test_a_statement_inside_its_clinic_passes(name: str, dialect: str):
    assert reasons(INSIDE[name], dialect) == []


@DIALECTS
@pytest.mark.parametrize("name", list(OUTSIDE))
def test_a_statement_outside_its_clinic_fails(name: str, dialect: str):
    assert reasons(OUTSIDE[name], dialect) != []


@DIALECTS
def test_the_violation_names_the_table_left_unconstrained(dialect: str):
    found = unscoped(
        OUTSIDE["join constrained only by its key"].replace("{C}", SPELLING[dialect][0]),
        LITERALS,
        TENANT,
        dialect,
    )
    assert [v.table for v in found] == ["treatments_session"]


def test_postgresql_spells_the_clinic_with_dashes_and_a_cast():
    sql = f"SELECT id FROM patients_patient WHERE clinic_id = '{CLINIC}'::uuid"
    assert unscoped(sql, {f"'{CLINIC}'::uuid"}, TENANT, "postgres") == []
    assert unscoped(sql, {f"'{OTHER}'::uuid"}, TENANT, "postgres") != []


def test_postgresql_bulk_insert_gives_the_clinic_in_every_row():
    """Django's bulk INSERT on PostgreSQL: one array per column, unnested into rows."""
    bulk = (
        "INSERT INTO treatments_injection (id, clinic_id) SELECT * FROM UNNEST("
        "('{i1,i2}')::varchar[], ('{%s,%s}'::uuid[])::uuid[])"
    )
    inside = bulk % (CLINIC.hex, CLINIC.hex)
    mixed = bulk % (CLINIC.hex, OTHER.hex)
    assert unscoped(inside, LITERALS, TENANT, "postgres") == []
    assert [v.reason for v in unscoped(mixed, LITERALS, TENANT, "postgres")] == [
        "INSERT of a row outside the clinic"
    ]

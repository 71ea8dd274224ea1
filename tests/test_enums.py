"""Statuses, kinds and roles are spelled by their enum members, never as bare strings.

A status compared with ``"signed"`` keeps working when the word changes in the enum and nowhere
else, until the day it silently does not. So no module under ``bontrack/`` compares something
named a status, state, kind or role with a string that is one of those enums' values, neither
in an expression (``status == "plan"``, ``role in ("prescriber", ...)``) nor in a query's
keyword (``.filter(status="running")``, ``.create(role="auditor")``).

The API's ``Literal[...]`` annotations stay: they document the OpenAPI contract and compare
nothing. Templates may compare words too: Django templates cannot import an enum.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from enum import Enum
from itertools import pairwise
from pathlib import Path

from bontrack.accounts.permissions import Role
from bontrack.charting.models import AppointmentStatus, ReminderStatus
from bontrack.interop.models import ExportStatus
from bontrack.outcomes.due import DueStatus
from bontrack.security.models import AmendmentOutcome
from bontrack.treatments.corrections import RequestStatus
from bontrack.treatments.models import CorrectionKind, CorrectionOutcome, SessionEventKind
from bontrack.treatments.records import SessionStatus
from bontrack.treatments.supply import VialStatus

SOURCES = Path(__file__).resolve().parents[1] / "bontrack"

ENUMS: tuple[type[Enum], ...] = (
    SessionStatus,
    SessionEventKind,
    CorrectionKind,
    CorrectionOutcome,
    RequestStatus,
    AppointmentStatus,
    ReminderStatus,
    ExportStatus,
    AmendmentOutcome,
    VialStatus,
    DueStatus,
    Role,
)
VALUES = frozenset(str(member.value) for enum in ENUMS for member in enum)

# A name holding one of those values says so: session.status, status_of(...), e.kind, member.role.
HOLDER_WORDS = ("status", "state", "kind", "role")


def _literals(node: ast.expr) -> list[str]:
    """The enum values a bare literal spells: a string, or a tuple, list or set of strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in VALUES else []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [word for element in node.elts for word in _literals(element)]
    return []


def _names_a_holder(node: ast.expr) -> bool:
    """Whether an expression's own names (not the strings inside it) speak of a status or role:
    ``resource.get("status")`` reads a FHIR resource's field, not one of ours."""
    names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)]
    return any(word in name.lower() for name in names for word in HOLDER_WORDS)


def _keyword_holds(arg: str) -> bool:
    """``status``, ``status__in``, ``session__status``, ``kind``, ``role__in``: a query's field
    that is a status or role."""
    return any(part in HOLDER_WORDS for part in arg.split("__"))


def literal_comparisons(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for left, right in pairwise(sides):
                for value, other in ((right, left), (left, right)):
                    for word in _literals(value):
                        if _names_a_holder(other):
                            yield node.lineno, f"{ast.unparse(node)}  ({word!r})"
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg is not None and _keyword_holds(keyword.arg):
                    for word in _literals(keyword.value):
                        yield keyword.value.lineno, f"{keyword.arg}={word!r}"


def test_no_status_or_role_is_spelled_as_a_string() -> None:
    found = []
    for path in sorted(SOURCES.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, what in literal_comparisons(tree):
            found.append(f"{path.relative_to(SOURCES.parent)}:{line}: {what}")
    assert not found, "use the enum member, not its word:\n" + "\n".join(found)


def test_the_check_sees_a_literal_and_passes_a_member() -> None:
    spelled = ast.parse(
        'status_of(s) == "plan"\n'
        'e.kind in ("cancelled", "entered-in-error")\n'
        'ExportJob.objects.filter(status__in=("queued", "running"))\n'
        'Membership.objects.get(role="clinic-admin")\n'
    )
    assert sorted({line for line, _ in literal_comparisons(spelled)}) == [1, 2, 3, 4]
    members = ast.parse(
        "status_of(s) == SessionStatus.PLAN\n"
        'resource.get("status") != "completed"\n'
        'audit(kind="signed-in")\n'
    )
    assert list(literal_comparisons(members)) == []

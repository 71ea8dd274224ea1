"""The access funnel's place and table: one table of the rows reached by id (bontrack/access.py),
above every app's models and below their services, so that accounts stays at the bottom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bontrack.access import BY_URL_PARAMETER, KINDS, PATIENT, SAVED_PLAN, RowKind, access
from bontrack.accounts.models import Clinic, Membership
from bontrack.audit.services import Actor
from bontrack.patients.models import Patient

SOURCES = Path(__file__).resolve().parents[1] / "bontrack"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_accounts_imports_no_other_apps_models():
    others = {f"bontrack.{p.parent.name}.models" for p in SOURCES.glob("*/models.py")}
    others.discard("bontrack.accounts.models")
    found = {
        path.name: sorted(imported_modules(path) & others)
        for path in (SOURCES / "accounts").glob("*.py")
    }
    assert {name: models for name, models in found.items() if models} == {}


def test_no_models_module_imports_the_funnel():
    reaching = [
        str(p.relative_to(SOURCES))
        for p in SOURCES.glob("*/models.py")
        if any(
            m == "bontrack.access" or m.startswith("bontrack.access.") for m in imported_modules(p)
        )
    ]
    assert reaching == []


def test_each_kind_is_named_once_by_its_word_and_its_page_parameter():
    words = [kind.word for kind in KINDS]
    assert len(words) == len(set(words))
    parameters = [kind.url_parameter for kind in KINDS if kind.url_parameter is not None]
    assert len(parameters) == len(set(parameters)) == len(BY_URL_PARAMETER)
    assert BY_URL_PARAMETER["patient_id"] is PATIENT


def test_a_guarded_kind_asked_without_a_permission_is_refused_before_any_read():
    actor = Actor(Membership(clinic=Clinic(name="A")))
    with pytest.raises(TypeError, match="reaching a patient needs a permission"):
        access(actor, PATIENT, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(TypeError, match="reaching a saved plan needs a permission"):
        access(actor, SAVED_PLAN, "00000000-0000-4000-8000-000000000000")


def test_a_row_of_a_chart_is_always_guarded():
    with pytest.raises(ValueError, match="is guarded"):
        RowKind(Patient, "unguarded chart", guarded=False, patient="id")

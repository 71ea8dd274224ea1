"""The kernel (bontrack/core) is the floor every layer stands on: it imports nothing of
bontrack's outside itself, so that no lower floor ever imports a higher one through it."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "bontrack" / "core"


def bontrack_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "bontrack"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "bontrack":
            found.append(str(node.module))
    return found


def outside_the_kernel(imports: list[str]) -> list[str]:
    return [name for name in imports if not name.startswith("bontrack.core")]


def test_the_kernel_imports_nothing_of_bontracks():
    modules = sorted(CORE.glob("*.py"))
    assert {m.stem for m in modules} >= {"errors", "addresses", "csvfiles", "fields"}
    assert {m.name: outside_the_kernel(bontrack_imports(m)) for m in modules} == {
        m.name: [] for m in modules
    }


def test_the_check_for_imports_sees_one(tmp_path: Path):
    probe = tmp_path / "probe.py"
    probe.write_text("from bontrack.treatments import services\nimport bontrack.web\n")
    assert bontrack_imports(probe) == ["bontrack.treatments", "bontrack.web"]


def test_an_import_within_the_kernel_is_allowed_and_one_above_it_is_not():
    assert outside_the_kernel(["bontrack.core.tenancy", "bontrack.web"]) == ["bontrack.web"]

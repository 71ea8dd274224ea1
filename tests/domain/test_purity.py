"""The domain core is pure: no Django, no I/O, no clock, no environment (DESIGN.md 1)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "bontrack" / "domain"
FORBIDDEN_MODULES = {"django", "ninja", "requests", "httpx", "sqlite3", "psycopg", "socket", "os"}
FORBIDDEN_CALLS = {("datetime", "now"), ("date", "today"), ("time", "time"), ("datetime", "utcnow")}

BLOCKER = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'django', 'ninja', 'pydantic', 'sqlite3', 'psycopg'}:
            raise ImportError('blocked in the domain purity test: ' + name)
        return None
sys.meta_path.insert(0, Block())
from datetime import date, datetime, timezone
from decimal import Decimal
from bontrack.domain.catalog import catalog
from bontrack.domain.check import evaluate
from bontrack.domain.planning import expand_protocol
from bontrack.domain.treatment import Patient, Plan
protocol = catalog().protocols['preempt-155']
plan = Plan(date(2026, 11, 25), 'onabotulinumtoxinA', 'chronic-migraine',
            expand_protocol(protocol, 'onabotulinumtoxinA'), protocol='preempt-155')
now = datetime(2026, 11, 25, tzinfo=timezone.utc)
result = evaluate(plan, Patient(date(1980, 1, 1)), [], None, now)
print(result.verdict, result.total)
"""


def test_the_domain_runs_a_check_with_django_and_pydantic_absent():
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok 155 U onabotulinumtoxinA"


def _domain_sources():
    return sorted(DOMAIN.rglob("*.py"))


def test_no_domain_module_imports_io_frameworks_or_reads_the_clock():
    problems = []
    for path in _domain_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                names = []
            problems += [f"{path.name}: imports {n}" for n in names if n in FORBIDDEN_MODULES]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                if (owner_name, node.func.attr) in FORBIDDEN_CALLS:
                    problems.append(f"{path.name}:{node.lineno}: reads the clock")
            opens = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if opens and node.func.id == "open":
                problems.append(f"{path.name}:{node.lineno}: opens a file")
    assert problems == []


def test_only_the_catalog_loader_reads_packaged_data():
    readers = [
        p.name
        for p in _domain_sources()
        if re.search(r"^(from|import) importlib|\.read_text\(", p.read_text(encoding="utf-8"), re.M)
    ]
    assert readers == ["load.py"]

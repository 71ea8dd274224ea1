"""Plans and helpers shared by the `bontrack` command-line contract tests (DESIGN.md 3.3)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bontrack.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "preempt-after-spasticity.json"
CODES_MD = (REPO / "tests" / "data" / "codes.md").read_text(encoding="utf-8")

RESULT_KEYS = {"verdict", "product", "total_units", "findings", "catalog_version"}
FINDING_KEYS = {"rule", "severity", "overridable", "message", "source", "sites"}
NOW = "2026-11-25T09:30:00+00:00"
PLAN_DATE = "2026-11-25"


@dataclass(frozen=True)
class Raw:
    """A JSON token written as is, e.g. ``NaN`` (which ``json.dumps`` would never emit here)."""

    text: str


def dumps(document: Any) -> str:
    """JSON text of ``document``; Decimals are written exactly as numbers, Raw tokens verbatim."""
    tokens: list[str] = []

    def default(value: Any) -> str:
        if isinstance(value, Decimal):
            tokens.append(str(value))
        elif isinstance(value, Raw):
            tokens.append(value.text)
        else:
            raise TypeError(f"cannot write {type(value).__name__}")
        return f"\x01{len(tokens) - 1}\x01"

    text = json.dumps(document, default=default, ensure_ascii=False)
    for n, token in enumerate(tokens):
        text = text.replace(f'"\\u0001{n}\\u0001"', token, 1)
    return text


def glabellar_plan() -> dict[str, Any]:
    """An adult onabotulinumtoxinA glabellar-20 plan with nothing to report (verdict ok)."""
    return {
        "now": NOW,
        "patient": {"birth_date": "1980-03-02", "sex": "female"},
        "plan": {
            "date": PLAN_DATE,
            "product": "onabotulinumtoxinA",
            "indication": "glabellar-lines",
            "protocol": "glabellar-20",
        },
    }


def example_plan() -> dict[str, Any]:
    """The worked example, read with exact decimals."""
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"), parse_float=Decimal)
    return loaded


def with_injections(document: dict[str, Any], injections: list[dict[str, Any]]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["plan"]["injections"] = injections
    return changed


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def data(self) -> Any:
        return json.loads(self.out)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.data["errors"]
        return errors

    @property
    def fields(self) -> list[str | None]:
        return [e["field"] for e in self.errors]


def run_main(argv: list[str], stdin: str | None = None) -> Run:
    """`bontrack.cli.main` in this process, with its standard streams captured."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = saved
    return Run(code, out.getvalue(), err.getvalue())


def check_text(text: str, *, as_json: bool = True) -> Run:
    """`bontrack check [--json] -` with ``text`` on standard input."""
    return run_main(["check", *(["--json"] if as_json else []), "-"], stdin=text)


def check(document: Any, *, as_json: bool = True) -> Run:
    return check_text(document if isinstance(document, str) else dumps(document), as_json=as_json)

"""Fixtures for the command-line tests: run `bontrack check` in this process on a plan file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bontrack.cli import main
from tests.cli.support import Run, dumps

Checker = Callable[..., Run]


@pytest.fixture
def check_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Checker:
    """Write a plan (a dict, or raw JSON text) to a file and run `bontrack check [--json] FILE`."""
    count = 0

    def run(document: Any, *, as_json: bool = True) -> Run:
        nonlocal count
        count += 1
        path = tmp_path / f"plan-{count}.json"
        path.write_text(document if isinstance(document, str) else dumps(document), "utf-8")
        capsys.readouterr()
        code = main(["check", *(["--json"] if as_json else []), str(path)])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run

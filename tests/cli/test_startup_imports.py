"""`bontrack check` imports only what a check needs: no Django, no API, no ORM models, no other
subcommand's input models (its start-up is paid once per plan checked; bench/startup.py times it).

Each case runs a fresh interpreter that runs the command in process and then lists the modules it
imported, so that a new top-level import anywhere on the check's path fails here, cheaply, long
before a timing would show it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.support import EXAMPLE

# Packages whose import is Django set-up, the web API, or another subcommand's input and rules
# (the outcome rules only when the plan carries verdicts; the example carries none).
NOT_FOR_A_CHECK = (
    "django",
    "ninja",
    "huey",
    "psycopg",
    "bontrack.api",
    "bontrack.outcome_input",
    "bontrack.domain.outcomes",
)
# The project's Django apps: their models modules are the ORM.
DJANGO_APPS = (
    "accounts",
    "audit",
    "billing",
    "charting",
    "core",
    "interop",
    "inventory",
    "invoicing",
    "ops",
    "outcomes",
    "patients",
    "security",
    "treatments",
    "web",
)

RUN_AND_LIST = """
import contextlib, io, json, sys
from bontrack.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        input="",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = json.loads(done.stdout)
    return found["code"], found["modules"]


def unwanted(modules: list[str]) -> list[str]:
    return [
        name
        for name in modules
        if any(name == p or name.startswith(p + ".") for p in NOT_FOR_A_CHECK)
        or (name.startswith("bontrack.") and name.split(".")[1] in DJANGO_APPS)
    ]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_check_imports_no_django_orm_api_or_outcome_input(as_json: bool) -> None:
    code, modules = modules_after("check", *(["--json"] if as_json else []), str(EXAMPLE))
    assert code in (0, 1)  # the check ran to its verdict
    assert "bontrack.domain.check" in modules
    assert unwanted(modules) == []


def test_an_invalid_plan_imports_no_more_than_a_check() -> None:
    code, modules = modules_after("check", "-")  # empty standard input: not valid JSON
    assert code == 2
    assert unwanted(modules) == []


def test_the_outcome_subcommand_still_finds_its_input_models() -> None:
    """The import moved into the subcommand: it must still happen when `outcome` runs."""
    code, modules = modules_after("outcome", "-")
    assert code == 2
    assert "bontrack.outcome_input" in modules

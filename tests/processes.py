"""The environment of a process a test starts (a server, a task consumer, a command).

The test runner sets BONTRACK_TESTING (pyproject.toml) and pytest-xdist its PYTEST_XDIST_*
variables; a child process is a deployment-like program, so it gets neither: it runs on the
database, task queue and directories the test passes to it, never on the worker's own files by
accident.
"""

from __future__ import annotations

import os

RUNNER_VARIABLES = ("BONTRACK_TESTING",)
RUNNER_PREFIXES = ("PYTEST_XDIST_",)


def child_environment(**values: str) -> dict[str, str]:
    """This process's environment without the test runner's variables, plus ``values``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in RUNNER_VARIABLES and not name.startswith(RUNNER_PREFIXES)
    }
    env.update(values)
    return env

"""The cost of Argon2id on this host: time cost, memory cost and parallelism.

Read by ``settings.py`` (so nothing Django is imported here) and written by
``manage.py calibrate_argon2``. Where they come from, first match wins:

1. ``BONTRACK_ARGON2_TIME_COST``, ``BONTRACK_ARGON2_MEMORY_KIB``, ``BONTRACK_ARGON2_PARALLELISM``
   (each one on its own overrides the value below it);
2. ``var/argon2.json``, written by the calibration on this host;
3. OWASP's floor below, which every source must meet: start-up refuses weaker parameters.

Django's own defaults (100 MiB, 8 lanes) cost a page 100 MiB and well over 100 ms per password
check on a 2-core host, for no more resistance to guessing than the floor per unit of work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "argon2.json"
ENVIRONMENT = {
    "time_cost": "BONTRACK_ARGON2_TIME_COST",
    "memory_cost": "BONTRACK_ARGON2_MEMORY_KIB",
    "parallelism": "BONTRACK_ARGON2_PARALLELISM",
}

# OWASP Password Storage Cheat Sheet, Argon2id: "m=47104 (46 MiB), t=1, p=1" or
# "m=19456 (19 MiB), t=2, p=1" (and equivalent trade-offs of less memory for more passes, which
# bontrack does not allow: memory is what makes guessing on GPUs expensive).
# https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
FLOOR_ONE_PASS_KIB = 46 * 1024
FLOOR_TWO_PASSES_KIB = 19 * 1024


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int  # passes over the memory
    memory_cost: int  # KiB, as argon2 counts it
    parallelism: int  # lanes, hashed on as many threads

    def problems(self) -> list[str]:
        """Why these parameters are weaker than OWASP's floor (empty when they are not)."""
        found = []
        if self.parallelism < 1:
            found.append("parallelism must be at least 1")
        if self.time_cost < 1:
            found.append("time cost must be at least 1")
        elif self.time_cost == 1 and self.memory_cost < FLOOR_ONE_PASS_KIB:
            found.append(
                f"with a time cost of 1 the memory cost must be at least {FLOOR_ONE_PASS_KIB} KiB "
                "(46 MiB, OWASP)"
            )
        elif self.memory_cost < FLOOR_TWO_PASSES_KIB:
            found.append(
                f"the memory cost must be at least {FLOOR_TWO_PASSES_KIB} KiB (19 MiB, OWASP)"
            )
        if self.memory_cost < 8 * self.parallelism:
            found.append("the memory cost must be at least 8 KiB per lane (Argon2)")
        return found


FLOOR = Argon2Parameters(time_cost=2, memory_cost=FLOOR_TWO_PASSES_KIB, parallelism=1)


class Argon2ParameterError(ValueError):
    pass


def parameters_file(var_dir: Path) -> Path:
    return var_dir / FILE_NAME


def load_parameters(var_dir: Path, environ: Mapping[str, str]) -> tuple[Argon2Parameters, str]:
    """The parameters to hash new passwords with, and where they came from ("floor", "file",
    "environment", or "file+environment"). Raises ``Argon2ParameterError`` on an unreadable
    file, a value that is not a whole number, or parameters under the floor."""
    values = asdict(FLOOR)
    sources = []
    path = parameters_file(var_dir)
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            values.update({name: int(stored[name]) for name in ENVIRONMENT})
        except (ValueError, KeyError, TypeError) as error:
            raise Argon2ParameterError(
                f"{path} is not a calibration file ({error}): run `manage.py calibrate_argon2` "
                "again or delete it"
            ) from error
        sources.append("file")
    overridden = False
    for name, variable in ENVIRONMENT.items():
        text = environ.get(variable, "").strip()
        if text:
            try:
                values[name] = int(text)
            except ValueError as error:
                raise Argon2ParameterError(f"{variable} must be a whole number") from error
            overridden = True
    if overridden:
        sources.append("environment")
    found = Argon2Parameters(**values)
    problems = found.problems()
    if problems:
        raise Argon2ParameterError(
            "Argon2 parameters under OWASP's floor (" + "; ".join(problems) + f"): {found}"
        )
    return found, "+".join(sources) or "floor"


def save_parameters(var_dir: Path, chosen: Argon2Parameters, details: Mapping[str, Any]) -> Path:
    """Write the calibration atomically (a reader never sees half a file)."""
    problems = chosen.problems()
    if problems:
        raise Argon2ParameterError("; ".join(problems))
    var_dir.mkdir(parents=True, exist_ok=True)
    path = parameters_file(var_dir)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({**asdict(chosen), **details}, indent=2) + "\n", "utf-8")
    os.replace(partial, path)
    return path

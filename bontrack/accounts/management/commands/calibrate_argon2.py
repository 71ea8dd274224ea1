"""`manage.py calibrate_argon2`: choose Argon2id's memory cost, time cost and parallelism for this
host and write them to ``var/argon2.json``, which settings read at start-up (the
``BONTRACK_ARGON2_*`` environment variables override it).

The largest memory cost up to ``--max-memory-mib`` that hashes a password within ``--target-ms``
on one lane per core, never under OWASP's floor (accounts/argon2_parameters.py). Run it once on
the server, on a quiet machine, and restart: new passwords, and every password at its owner's
next sign-in, are hashed with the chosen parameters; older hashes keep verifying meanwhile."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from bontrack.accounts.argon2_parameters import ENVIRONMENT, load_parameters, save_parameters
from bontrack.accounts.hashers import MAX_MEMORY_MIB, RUNS, TARGET_MS, calibrate, host_cores


class Command(BaseCommand):
    help = (
        "Choose Argon2id's parameters for this host (the largest memory cost that hashes within "
        "the target time, never under OWASP's floor) and write them to var/argon2.json"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--target-ms", type=float, default=TARGET_MS, help="per hash")
        parser.add_argument(
            "--max-memory-mib", type=int, default=MAX_MEMORY_MIB, help="memory cost cap"
        )
        parser.add_argument(
            "--parallelism", type=int, default=0, help="lanes (default: this host's cores)"
        )
        parser.add_argument("--runs", type=int, default=RUNS, help="hashes timed per candidate")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the choice, write nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["target_ms"] <= 0 or options["runs"] < 1 or options["parallelism"] < 0:
            raise CommandError("--target-ms and --runs must be positive, --parallelism >= 0")
        found = calibrate(
            target_ms=options["target_ms"],
            max_memory_mib=options["max_memory_mib"],
            parallelism=options["parallelism"] or None,
            runs=options["runs"],
        )
        chosen = found.parameters
        details = {
            "hash_ms": round(found.milliseconds, 1),
            "target_ms": options["target_ms"],
            "met_target": found.met_target,
            "cores": host_cores(),
            "host": platform.node(),
            "calibrated_at": timezone.now().isoformat(timespec="seconds"),
        }
        written = None
        if not options["dry_run"]:
            written = save_parameters(settings.VAR_DIR, chosen, details)
        overridden = [name for name in ENVIRONMENT.values() if name in os.environ]
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        **asdict(chosen),
                        **details,
                        "written": str(written) if written else None,
                        "overridden_by": overridden,
                    }
                )
            )
            return
        for candidate, spent in found.tried:
            self.stdout.write(
                f"  m={candidate.memory_cost // 1024} MiB t={candidate.time_cost} "
                f"p={candidate.parallelism}: {spent:.1f} ms"
            )
        self.stdout.write(
            f"chosen: memory {chosen.memory_cost} KiB ({chosen.memory_cost // 1024} MiB), "
            f"time cost {chosen.time_cost}, parallelism {chosen.parallelism}: "
            f"{found.milliseconds:.1f} ms a hash (target {options['target_ms']:g} ms)"
        )
        if not found.met_target:
            self.stderr.write(
                "even OWASP's floor takes longer than the target here: the floor is chosen "
                "(a busy host measures slow: calibrate again when it is quiet)"
            )
        if written:
            self.stdout.write(f"written to {written}: restart the server to use them")
        if overridden:
            current, _ = load_parameters(settings.VAR_DIR, os.environ)
            self.stderr.write(
                f"{', '.join(overridden)} set in the environment override the file: "
                f"in use {current}"
            )

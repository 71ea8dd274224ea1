"""Benchmark: the start-up of `bontrack check`, as a fresh process, against bare Python.

Runs `bontrack check examples/preempt-after-spasticity.json` (the check's whole cost: interpreter
start, imports, the catalog, the check, the output) and, alternated with it so that a busy machine
weighs on both alike, the reference `python -c pass` with the same interpreter: 3 warm-ups each,
then the median of RUNS runs each. Printed: both medians, their difference (what bontrack adds to
an empty interpreter), the ratio to bare Python, and whether the command's own wall time meets
the target (at most 150 ms).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "preempt-after-spasticity.json"
TARGET_MS = 150.0
WARM_UPS = 3
RUNS = 21


def _children_cpu_ms() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (used.ru_utime + used.ru_stime) * 1000


def timed_ms(command: list[str], expected_codes: tuple[int, ...]) -> tuple[float, float]:
    """The command's wall time and CPU time (user + system), in milliseconds."""
    cpu = _children_cpu_ms()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in expected_codes:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed, _children_cpu_ms() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs each (>= 20: {RUNS})")
    args = parser.parse_args()
    python = sys.executable
    # The installed entry point, as a clinician runs it; `python -m` would import runpy first.
    script = Path(python).parent / "bontrack"
    check = [str(script) if script.exists() else python, "check", str(EXAMPLE)]
    if not script.exists():
        check[1:1] = ["-m", "bontrack.cli"]
    bare = [python, "-c", "pass"]
    # 0: nothing blocks, 1: something blocks; both are a completed check.
    codes = (0, 1)
    for _ in range(WARM_UPS):
        timed_ms(check, codes)
        timed_ms(bare, (0,))
    checks, bares = [], []
    for _ in range(args.runs):
        checks.append(timed_ms(check, codes))
        bares.append(timed_ms(bare, (0,)))
    command_ms = statistics.median(wall for wall, _ in checks)
    python_ms = statistics.median(wall for wall, _ in bares)
    # On a machine busy with other work the CPU time varies less than the wall time.
    command_cpu = statistics.median(cpu for _, cpu in checks)
    python_cpu = statistics.median(cpu for _, cpu in bares)
    print(f"interpreter: {python} ({os.cpu_count()} cores)")
    print(
        f"bontrack check {EXAMPLE.relative_to(ROOT)}: {command_ms:.0f} ms "
        f"(median of {args.runs}; p90 {statistics.quantiles([w for w, _ in checks], n=10)[-1]:.0f} "
        f"ms); CPU {command_cpu:.0f} ms"
    )
    print(
        f"python -c pass: {python_ms:.0f} ms (median of {args.runs}, same run); "
        f"CPU {python_cpu:.0f} ms"
    )
    print(
        f"start-up cost of bontrack check: {command_ms - python_ms:.0f} ms; "
        f"ratio to bare python: {command_ms / python_ms:.1f} "
        f"(CPU: {command_cpu - python_cpu:.0f} ms, {command_cpu / python_cpu:.1f})"
    )
    ok = command_ms <= TARGET_MS
    print(
        f"bontrack check wall time {command_ms:.0f} ms (target <= {TARGET_MS:.0f} ms): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

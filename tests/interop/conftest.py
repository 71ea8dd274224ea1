"""Fixtures of the FHIR tests: the fixed clock, and the world built on it (world.py).

The world is built once per module (per test worker) inside a transaction that is rolled back
after the module's last test; each test runs in a savepoint of it (its ``db`` transaction), so
that what a test writes is gone before the next one starts. Each test gets the world on its own
clock, set where the build left it, a fresh HTTP client and no cached tokens (a token issued in
a rolled-back savepoint no longer exists).
"""

from collections.abc import Iterator
from datetime import datetime

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from tests.interop.world import Clock, World, build, clock, utc  # noqa: F401 (the clock fixture)


@pytest.fixture(scope="module")
def built_world(django_db_setup: None, django_db_blocker) -> Iterator[tuple[World, datetime]]:
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        building = Clock(utc("2026-01-05T09:00:00"))
        patch.setattr(timezone, "now", building)
        outer = transaction.atomic()
        outer.__enter__()
        try:
            world = build(building)
            yield world, building.now
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(built_world: tuple[World, datetime], db: None, clock: Clock) -> World:  # noqa: F811
    built, finished_at = built_world
    clock.at(finished_at)
    built.clock = clock
    built.client = Client()
    built.__post_init__()
    return built

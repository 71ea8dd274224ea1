"""Fixtures of the FHIR tests: the fixed clock, and the world built on it (world.py)."""

import pytest

from tests.interop.world import Clock, World, build, clock  # noqa: F401 (the clock fixture)


@pytest.fixture
def world(db: None, clock: Clock) -> World:  # noqa: F811 (the fixture above)
    return build(clock)

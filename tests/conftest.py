"""Shared test set-up.

- Hypothesis profiles: quick for `make test`, long for `make fuzz`.
- The `postgres` marker (DESIGN 3.7). `@pytest.mark.postgres` means the test needs PostgreSQL: it
  skips on SQLite, and `make test` runs it in its second pass, with DATABASE_URL pointing at
  PostgreSQL. `@pytest.mark.postgres(sqlite=True)` means the test runs on both engines: in the
  SQLite pass like any other test, and again in the PostgreSQL pass. When DATABASE_URL points at a
  PostgreSQL server that does not answer, a test marked `postgres` fails under CI=true and skips
  elsewhere, saying why.
- The append-only triggers (DESIGN 3.4) refuse the flush (DELETE on SQLite, TRUNCATE on
  PostgreSQL) with which Django ends every transactional test: that flush, and only it, runs with
  the triggers lifted, and they are re-created in `finally`. Every test body runs with them on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# --- The postgres marker ---------------------------------------------------------------------

UNREACHABLE = pytest.StashKey[str]()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _postgres_settings() -> dict[str, Any]:
    from django.conf import settings as django_settings

    return dict(django_settings.DATABASES["default"])


def _where(db: dict[str, Any]) -> str:
    user, host, port = db.get("USER") or "", db.get("HOST") or "localhost", db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db.get('NAME') or ''}"


def _postgres_unreachable(db: dict[str, Any]) -> str:
    """Why the PostgreSQL server in DATABASE_URL cannot be used, or "" when it answers. Django
    creates the test database from the server's maintenance database, as this probe connects."""
    import psycopg

    problems = []
    for dbname in dict.fromkeys(["postgres", db.get("NAME") or "postgres"]):
        try:
            psycopg.connect(
                dbname=dbname,
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                connect_timeout=5,
            ).close()
        except psycopg.Error as exc:
            problems.append(str(exc).strip().splitlines()[0])
        else:
            return ""
    return f"PostgreSQL at {_where(db)} is unreachable: {'; '.join(problems)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("postgres")]
    if not marked:
        return
    from django.db import connections

    if connections["default"].vendor != "postgresql":
        skip = pytest.mark.skip(
            reason=(
                "needs PostgreSQL, and this pass runs on "
                f"{connections['default'].vendor}: `make test` runs the tests marked postgres "
                "again with DATABASE_URL from BONTRACK_TEST_POSTGRES_URL"
            )
        )
        for item in marked:
            marker = item.get_closest_marker("postgres")
            assert marker is not None
            if not marker.kwargs.get("sqlite", False):
                item.add_marker(skip)
        return
    problem = _postgres_unreachable(_postgres_settings())
    if not problem:
        return
    for item in marked:
        if in_ci():
            item.stash[UNREACHABLE] = f"{problem} (CI=true: a test that needs PostgreSQL fails)"
        else:
            item.add_marker(pytest.mark.skip(reason=f"{problem} (under CI=true this fails)"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: pytest-django's database set-up would only add a connection traceback.
    problem = item.stash.get(UNREACHABLE, "")
    if problem:
        pytest.fail(problem, pytrace=False)


# --- Sign-in state between tests ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _sign_in_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with an empty cache (second-factor codes used once, rate limits), and
    the second factor required of prescribers and admins only in the tests marked ``mfa``: the
    personas of the other tests sign in with a password (bontrack/security/policy.py)."""
    from django.conf import settings as django_settings
    from django.core.cache import cache

    cache.clear()
    enforced = request.node.get_closest_marker("mfa") is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(django_settings, "BONTRACK_MFA_ENFORCED", enforced)
        yield
    cache.clear()


# --- The flush after a transactional test ------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _flush_with_triggers_lifted() -> Iterator[None]:
    """Wrap TransactionTestCase's teardown flush (pytest-django's transactional_db uses it):
    lift the append-only triggers for the flush only, re-create them in `finally`."""
    from django.test import TransactionTestCase

    from tests.db_triggers import triggers_lifted

    flush = TransactionTestCase._fixture_teardown

    def _fixture_teardown(self: TransactionTestCase) -> None:
        with ExitStack() as stack:
            for alias in self._databases_names(include_mirrors=False):
                stack.enter_context(triggers_lifted(alias))
            flush(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", _fixture_teardown)
        yield

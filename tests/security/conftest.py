"""The page tests' world (tests/web/conftest.py): clinic A's staff and records, and clinic B's."""

from tests.web.conftest import pages  # noqa: F401 (a fixture)

"""The permission matrix (DESIGN 4): every route of the API as every persona, against the table
of tests/api/test_permissions.py. A refused call writes nothing; clinic B is never shown clinic
A's ids, and each refused access of another clinic's row is in the security log.

All 600-odd cases share one fully built world per test worker (tests/api/conftest.py's
``module_world``): each case runs in a savepoint that is rolled back, so the world every case
meets is the same, and is built once instead of once per case.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from bontrack.audit.models import SecurityEvent
from tests.api.support import (
    ROLES,
    World,
    differences,
    error_shape_problems,
    temporary_clinical_storages,
)
from tests.api.test_permissions import CASES, Case


@pytest.fixture(scope="module", autouse=True)
def clinical_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One folder of photos and consent PDFs for the module: the shared world's files, written
    before the first case, are where every case reads them; a case's own files have new names."""
    folder = tmp_path_factory.mktemp("clinical-files")
    with override_settings(STORAGES=temporary_clinical_storages(folder)):
        yield


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_permission_matrix(module_world: World, db: None, case: Case, role: str):
    # One world for the whole matrix, fully built (so that a list answered for clinic B could
    # show clinic A's rows); each case's writes are rolled back (tests/api/conftest.py).
    world = module_world
    expected = case.expected(role)
    body = case.body(world, role) if case.body else None
    world.token(role)  # signing in writes to the security log: before the snapshots
    before = world.rows("a")
    seq = world.security_seq()

    response = world.call(role, case.method, case.path, body)

    if expected == 200:
        assert 200 <= response.status_code < 300, (expected, response.content)
    else:
        assert response.status_code == expected, response.content
        assert error_shape_problems(response) == []
        assert differences(before, world.rows("a")) == [], "a refused call wrote to clinic A"
    if role == "other_clinic":
        assert differences(before, world.rows("a")) == [], "clinic B changed clinic A"
        text = response.content.decode()
        leaked = sorted(i for i in world.clinic_a_ids() if i in text)
        assert leaked == [], "clinic B was shown clinic A's ids"
        if expected == 404:
            target = str(getattr(world, case.target).id)  # type: ignore[arg-type]
            refusals = [
                e
                for e in SecurityEvent.objects.filter(seq__gt=seq)
                if e.kind == "refused-access" and e.detail.get("object_id") == target
            ]
            assert len(refusals) == 1, "the refused access is not in the security log"
            assert refusals[0].clinic_id == world.b.clinic.id

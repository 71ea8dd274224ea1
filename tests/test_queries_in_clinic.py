"""Every query inside its clinic (DESIGN 3.6), proven by parsing the SQL.

One world of two clinics with data in both (tests/api/conftest.py's ``module_world``, built once
for the module; each test's writes are rolled back). The SQL of every API route of the
permission matrix (tests/api/test_permissions.py's ``CASES``, each called as a role it allows),
of every page that names a clinic A row (tests/web/test_routes.py), and of the plan editor's
re-check is captured and parsed (tests/sql_scope.py): every statement on a tenant table must be
constrained to clinic A. The services are reached through them: planning, re-checking,
signing, co-signing, amending and correcting, recording results and wear-off, importing a
diary and a CSV, the stock, invoices and charges.

A statement that leaves the clinic fails the test; the operations that leave a clinic on
purpose are named in ``CROSS_CLINIC``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from bontrack.security.routes import declared_permission

# The once-per-module world of the API tests, shared rather than rebuilt here.
from tests.api.conftest import module_world  # noqa: F401
from tests.api.support import World, temporary_clinical_storages
from tests.api.test_permissions import CASES, Case
from tests.sql_scope import Violation, captured_violations
from tests.web.test_routes import page_routes

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]

# The role each route is called as: the first of these the route allows.
ROLE_PREFERENCE = ("physician", "clinic_admin", "nurse_injector", "front_desk", "auditor")


@pytest.fixture(scope="module", autouse=True)
def clinical_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    folder = tmp_path_factory.mktemp("clinical-files")
    with override_settings(STORAGES=temporary_clinical_storages(folder)):
        yield


def unexplained(found: list[Violation]) -> list[str]:
    """The violations, in full (reason, table, frames, statement)."""
    return [str(v) for v in found]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_api_route_stays_inside_its_clinic(
    module_world: World,  # noqa: F811
    db: None,
    case: Case,
):
    world = module_world
    role = next(r for r in ROLE_PREFERENCE if r in case.allowed)
    body = case.body(world, role) if case.body else None
    world.token(role)
    with captured_violations(world.a.clinic.id) as found:
        response = world.call(role, case.method, case.path, body)
    assert 200 <= response.status_code < 300, response.content
    assert unexplained(found) == []


# Which of clinic A's objects fills each URL parameter of a page.
PAGE_OBJECTS = {
    "patient_id": "patient",
    "lot_id": "lot",
    "vial_id": "opened_vial",
    "photo_id": "photo",
    "form_id": "consent_form",
    "consent_id": "consent",
    "appointment_id": "appointment",
    "correction_id": "correction_request",
    "request_id": "amendment_request",
}
# A session page shows the signed session; the plan editor's pages, the plan; a bill, the
# cosmetic session.
PLAN_PAGES = ("workspace", "points", "protocol", "time", "vials", "decisions", "sign", "plan-note")
BILL_PAGES = ("invoice",)
PERSONA_OF_PERMISSION = {
    "audit.read": "clinic_admin",
    "users.manage": "clinic_admin",
    "signed-in": "physician",
}


def page_url(world: World, pattern: str) -> str | None:
    def value(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "int":
            return "0"
        if name == "session_id":
            tail = pattern[match.end() :]
            if any(tail.startswith(f"/{p}") for p in PLAN_PAGES):
                return str(world.plan.id)
            if any(tail.startswith(f"/{p}") for p in BILL_PAGES):
                return str(world.cosmetic_signed.id)
            return str(world.signed.id)
        return str(getattr(world, PAGE_OBJECTS[name]).id)

    if re.search(r"<uuid:(token_id)>|<int:session_id>", pattern):
        return None
    return "/" + re.sub(r"<(\w+):(\w+)>", value, pattern)


PAGES = [
    (pattern, declared_permission(view))
    for pattern, view in page_routes()
    if declared_permission(view) != "public"
]


@pytest.mark.parametrize(("pattern", "permission"), PAGES, ids=[p for p, _ in PAGES])
def test_every_page_stays_inside_its_clinic(
    module_world: World,  # noqa: F811
    db: None,
    pattern: str,
    permission: str,
):
    world = module_world
    url = page_url(world, pattern)
    if url is None:
        pytest.skip("names no clinic row")
    persona = PERSONA_OF_PERMISSION.get(permission, "physician")
    client = Client()
    client.force_login(world.member(persona).user)
    with captured_violations(world.a.clinic.id) as found:
        response = client.get(url)
    assert response.status_code in (200, 302, 405), (url, response.status_code)
    assert unexplained(found) == []


def test_the_plan_editors_recheck_stays_inside_its_clinic(
    module_world: World,  # noqa: F811
    db: None,
):
    """A point's units changed in the plan editor: the plan's update, its audit entry and the
    check's reads (history, vials, verdicts) of the workspace the page shows again."""
    world = module_world
    client = Client()
    client.force_login(world.member("physician").user)
    with captured_violations(world.a.clinic.id) as found:
        response = client.post(
            f"/sessions/{world.plan.id}/points/0/change",
            {"units": "6", "action": "save"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert unexplained(found) == []


def _rebuild_every_clinic() -> None:
    from bontrack.outcomes import due_state

    due_state.rebuild()


def _sweep_exports() -> None:
    from bontrack.interop import tasks

    tasks.purge_exports.call_local()


# The operations that leave one clinic on purpose, each with why (DESIGN 3.6: "a cross-clinic
# statement exists only in operations that say so"): name -> why.
CROSS_CLINIC = {
    "due state rebuilt for every clinic": (
        "an operator's repair after a catalog change (`manage.py rebuild_due`): one clinic "
        "after the other, each in its own transaction"
    ),
    "the export sweep of the task consumer": (
        "hourly, the consumer fails stale exports and deletes expired export files of every "
        "clinic (interop.tasks.purge_exports)"
    ),
    "bontrack audit verify / anchor": "checks and anchors every clinic's audit chain",
    "bontrack backup / restore": "copies or restores the whole database and stored files",
    "bontrack demo": "creates a demo clinic and its staff",
    "sign-in": (
        "finds the user, memberships and tokens before a clinic is chosen: reference and "
        "coordinator tables only (accounts, auth, the security log)"
    ),
}
# Those run here, to show they still leave the clinic (else they come off the list).
CROSS_CLINIC_RUNS = {
    "due state rebuilt for every clinic": _rebuild_every_clinic,
    "the export sweep of the task consumer": _sweep_exports,
}


@pytest.mark.parametrize("name", list(CROSS_CLINIC_RUNS))
def test_a_named_cross_clinic_operation_does_leave_the_clinic(
    module_world: World,  # noqa: F811
    db: None,
    name: str,
):
    assert name in CROSS_CLINIC
    with captured_violations(module_world.a.clinic.id) as found:
        CROSS_CLINIC_RUNS[name]()
    assert found, f"{name} stays inside one clinic now: take it off CROSS_CLINIC"

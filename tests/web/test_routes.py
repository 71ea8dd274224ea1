"""Every route declares who may use it (issue 8, part 3): this walks the whole URL configuration.

A page declares a permission (``clinic_view(Perm.X)``), ``signed-in`` (one's own account) or
``public`` (sign-in); the libraries' and FHIR's URL prefixes are declared as a whole with what
guards them (security/routes.py); each API operation declares ``x-permission``
(tests/api/test_permissions.py checks those against the permission matrix).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from bontrack.accounts.permissions import Perm
from bontrack.api.main import api
from bontrack.security.routes import EXTERNAL, PUBLIC, SIGNED_IN, declared_permission

KNOWN = {p.value for p in Perm} | {PUBLIC, SIGNED_IN}


def routes() -> Iterator[tuple[str, Any]]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    yield from walk(get_resolver().url_patterns, "")


def page_routes() -> list[tuple[str, Any]]:
    return [(path, view) for path, view in routes() if not path.startswith(tuple(EXTERNAL))]


def test_every_page_declares_a_known_permission():
    undeclared = [
        f"{path} ({view.__module__}.{getattr(view, '__name__', view)})"
        for path, view in page_routes()
        if declared_permission(view) not in KNOWN
    ]
    assert undeclared == [], "pages that declare no permission"
    assert len(page_routes()) > 40


def test_every_route_is_a_page_or_under_a_declared_prefix():
    for prefix in EXTERNAL:
        assert any(path.startswith(prefix) for path, _ in routes()), f"{prefix} serves nothing"


def test_every_api_operation_declares_a_known_permission():
    undeclared = []
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                declared = (operation.openapi_extra or {}).get("x-permission")
                if not declared or not set(declared) <= KNOWN:
                    undeclared.append(f"{operation.methods} {prefix}{path}: {declared}")
    assert undeclared == [], "API operations that declare no permission"


def test_the_pages_of_issue_8_declare_what_they_need():
    declared = {path: declared_permission(view) for path, view in page_routes()}
    assert declared["login/"] == PUBLIC
    assert declared["account/"] == SIGNED_IN
    assert declared["audit/"] == Perm.AUDIT_READ.value
    assert declared["audit/export.csv"] == Perm.AUDIT_READ.value
    assert declared["patients/<uuid:patient_id>/break-glass"] == Perm.CHART_READ.value
    assert declared["patients/<uuid:patient_id>/disclosures"] == Perm.AUDIT_READ.value
    # A patient's request to amend is decided by a prescriber, as every correction (B.33).
    assert declared["amendment-requests/<uuid:request_id>/decision"] == Perm.CORRECT.value


def test_the_self_pay_pages_declare_what_they_need():
    """Prices, invoices and takings: billing.read to read them (the nurse and the auditor too),
    billing.write to set a price, issue an invoice or take money (the front desk too)."""
    declared = {path: declared_permission(view) for path, view in page_routes()}
    read, write = Perm.BILLING_READ.value, Perm.BILLING_WRITE.value
    assert declared["prices/"] == read
    assert declared["prices/new"] == write
    assert declared["sessions/<uuid:session_id>/invoice"] == read
    assert declared["sessions/<uuid:session_id>/invoice.pdf"] == read
    assert declared["sessions/<uuid:session_id>/invoice/issue"] == write
    assert declared["sessions/<uuid:session_id>/invoice/payments"] == write
    assert declared["sessions/<uuid:session_id>/invoice/refunds"] == write
    assert declared["takings/"] == read
    assert declared["takings.csv"] == read


def test_the_claim_pages_declare_what_they_need():
    """Superbills, a patient's billing and the claims file: billing.read to read them (the nurse
    and the auditor too), billing.write to record coverage, choose a claim's diagnosis or confirm
    a claim item (the front desk too)."""
    declared = {path: declared_permission(view) for path, view in page_routes()}
    read, write = Perm.BILLING_READ.value, Perm.BILLING_WRITE.value
    assert declared["sessions/<uuid:session_id>/superbill/"] == read
    assert declared["sessions/<uuid:session_id>/superbill.pdf"] == read
    assert declared["sessions/<uuid:session_id>/superbill/confirmations"] == write
    assert declared["patients/<uuid:patient_id>/billing/"] == read
    assert declared["patients/<uuid:patient_id>/billing/coverage"] == write
    assert declared["patients/<uuid:patient_id>/billing/diagnosis"] == write
    assert declared["billing/claims/"] == read
    assert declared["billing/claims.csv"] == read
    # Billing settings: everyone who bills reads them; the clinic admin alone (users.manage)
    # confirms a catalog item for every claim (billing.md 7.8).
    assert declared["billing/settings/"] == read
    assert declared["billing/settings/confirmations"] == Perm.USERS_MANAGE.value


def test_the_billing_report_pages_declare_what_they_need():
    """The billing report and its CSV: billing.read (figures that identify nobody)."""
    declared = {path: declared_permission(view) for path, view in page_routes()}
    assert declared["billing/report/"] == Perm.BILLING_READ.value
    assert declared["billing/report.csv"] == Perm.BILLING_READ.value

"""Requests the schema fuzz (test_fuzz_api.py, `make fuzz`) found answered with a 500, each kept
as a plain test."""

from __future__ import annotations

import pytest
from django.test import Client

from bontrack.api.auth import issue_token
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.mark.postgres(sqlite=True)
@pytest.mark.parametrize(
    "offset",
    [
        "2179040820316326113994527610800963584",  # the fuzz's: past any 64-bit integer
        str(2**63),  # one past the largest the databases hold
        str(2**63 - 1),
    ],
)
def test_an_audit_page_offset_past_every_entry_is_an_empty_page_not_a_500(offset):
    """SQLite answered `datatype mismatch` and PostgreSQL `bigint out of range`: a 500."""
    s = builders.staff()
    builders.patient(s)  # a few entries on the trail
    token = issue_token(s.auditor, "audit", 1)[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = Client().get("/api/v1/audit", {"offset": offset, "limit": 1000}, **auth)
    assert response.status_code == 200, response.content
    assert response.json() == []
    first = Client().get("/api/v1/audit", {"offset": 0}, **auth)
    assert first.status_code == 200
    assert first.json()

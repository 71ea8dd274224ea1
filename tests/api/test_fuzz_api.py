"""schemathesis against the API's own OpenAPI schema, in process, as every role.

Every generated request (valid and invalid bodies, parameters and ids) must answer without a 5xx,
with a documented status code and content type, and with a body matching the documented schema.
`make fuzz` runs many more examples (HYPOTHESIS_PROFILE=fuzz).
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bontrack.api.auth import issue_token
from tests import builders

EXAMPLES = 300 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 8
# Clinic A's members, as tests/builders.py's Staff names them.
ROLES = tuple(member for clinic, member in builders.PERSONA_MEMBERS.values() if clinic == "a")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
# `make test` runs the random fuzzing phase only; `make fuzz` adds the coverage phase's systematic
# edge cases (every boundary and type of every parameter).
config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": LONG}}})
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=config
)


@pytest.fixture
def tokens(db):
    # As Django's test client does: keep the test's connection open across in-process requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    s = builders.staff()
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "chronic-migraine")
    yield {role: issue_token(getattr(s, role), "fuzz", 1)[1] for role in ROLES}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@pytest.mark.django_db
def test_the_api_answers_every_role_within_its_documented_contract(case, tokens):
    for role in ROLES:
        case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)

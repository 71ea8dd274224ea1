"""The committed contracts: docs/openapi.json is the schema the code generates, every operation
declares its client errors in the one error shape (DESIGN 3.5), and no model change lacks its
migration (DESIGN 4)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from bontrack.api.openapi import SCHEMA_FILE, render

ERROR_SHAPE = "#/components/schemas/ErrorOut"
# Takes no input and no credentials, so it has no client error to declare.
WITHOUT_CLIENT_ERRORS = {("get", "/api/v1/health")}


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in json.loads(render())["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.exists(), "docs/openapi.json is missing: run `make openapi`"
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    generated = json.loads(render())
    stale = sorted(
        path
        for path in committed["paths"].keys() | generated["paths"].keys()
        if committed["paths"].get(path) != generated["paths"].get(path)
    )
    up_to_date = SCHEMA_FILE.read_text(encoding="utf-8") == render()
    assert up_to_date, f"docs/openapi.json is out of date (paths: {stale}): run `make openapi`"


def test_every_operation_declares_its_client_errors_in_the_error_shape() -> None:
    problems = []
    for method, path, operation in operations():
        if (method, path) in WITHOUT_CLIENT_ERRORS:
            continue
        client_errors = {
            code: response
            for code, response in operation["responses"].items()
            if code.startswith("4")
        }
        if not client_errors:
            problems.append(f"{method.upper()} {path}: declares no 4xx response")
        elif "422" not in client_errors:
            problems.append(f"{method.upper()} {path}: does not declare 422 (invalid input)")
        for code, response in sorted(client_errors.items()):
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != ERROR_SHAPE:
                problems.append(f"{method.upper()} {path}: {code} is not the error shape: {schema}")
    assert not problems, "\n".join(problems)


def test_the_error_shape_is_a_list_of_field_and_message() -> None:
    schemas = json.loads(render())["components"]["schemas"]
    assert schemas["ErrorOut"]["required"] == ["errors"]
    assert schemas["ErrorOut"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ErrorItem"
    }
    assert set(schemas["ErrorItem"]["properties"]) == {"field", "message"}


def test_every_authenticated_operation_declares_401() -> None:
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in operations()
        if operation.get("security") and "401" not in operation["responses"]
    ]
    assert not missing, missing


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"models changed without a migration: run makemigrations\n{out.getvalue()}")

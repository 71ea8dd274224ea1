"""The REST API at /api/v1 (django-ninja): one router per area, one error shape."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.parser import Parser

from bontrack.api import errors
from bontrack.api.auth import AUTH


class DecimalParser(Parser):
    """JSON bodies are read with exact decimals, as `bontrack check` reads its input."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return json.loads(request.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as error:
            from ninja.errors import HttpError

            raise HttpError(400, f"the body is not valid JSON: {error}") from None


api = NinjaAPI(
    title="bontrack API",
    version="1",
    description="Plan, check, sign and follow up botulinum toxin treatments. Units are strings "
    "bound to their product; they are never converted between products.",
    auth=AUTH,
    parser=DecimalParser(),
    urls_namespace="api",
)
errors.install(api)

from bontrack.api import audit, check, health, inventory, patients, sessions, tokens  # noqa: E402

api.add_router("/auth", tokens.router)
api.add_router("/check", check.router)
api.add_router("/patients", patients.router)
api.add_router("/sessions", sessions.router)
api.add_router("/", inventory.router)
api.add_router("/audit", audit.router)
api.add_router("/", "bontrack.api.security.router")
api.add_router("/health", health.router)
api.add_router("/", "bontrack.api.followup.router")
api.add_router("/", "bontrack.api.interop.router")
api.add_router("/", "bontrack.api.charting.router")
api.add_router("/", "bontrack.api.corrections.router")
api.add_router("/", "bontrack.api.invoicing.router")
api.add_router("/", "bontrack.api.billing.router")
api.add_router("/", "bontrack.api.billing_reports.router")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def enforce_write_scopes() -> None:
    """Every operation that writes (any method but GET, HEAD and OPTIONS, unless declared
    ``reads_only``) refuses a bearer token carrying read scopes only (DESIGN 3.5: a write is
    never ``*.read``)."""
    from ninja.constants import NOT_SET

    from bontrack.api.auth import write_auth

    for _prefix, router in api._routers:
        for view in router.path_operations.values():
            for operation in view.operations:
                declared = operation.openapi_extra or {}
                if set(operation.methods) <= SAFE_METHODS or declared.get("x-reads-only"):
                    continue
                if operation.auth_param is None:
                    continue  # answers without credentials (the token sign-in)
                inherited = operation.auth_param is NOT_SET
                current = AUTH if inherited else list(operation.auth_callbacks)
                # Set as the operation's own auth, so that binding the router to the API does
                # not put the API's default back.
                operation.auth_param = operation.auth_callbacks = write_auth(list(current))


enforce_write_scopes()

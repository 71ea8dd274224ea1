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

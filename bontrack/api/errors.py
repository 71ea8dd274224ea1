"""One error shape for every 4xx: {"errors": [{"field": ..., "message": ...}]}."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from bontrack.access import flush_refusal
from bontrack.core.errors import NotFoundError, ServiceError, SignedRecordError
from bontrack.plan_input import GENERIC_MESSAGES, field_path


def error_body(field: str | None, message: str) -> dict[str, Any]:
    return {"errors": [{"field": field, "message": message}]}


def _validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shaped = []
    for err in errors:
        loc = [p for p in err.get("loc", []) if p not in ("body", "query", "path", "payload")]
        kind = err.get("type", "")
        if kind == "literal_error":
            message = f"must be one of {err.get('ctx', {}).get('expected', '')}"
        else:
            message = GENERIC_MESSAGES.get(kind, err.get("msg", "is invalid"))
        shaped.append({"field": field_path(loc) or None, "message": message})
    return shaped


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return api.create_response(
            request, {"errors": _validation_errors(list(exc.errors))}, status=422
        )

    @api.exception_handler(ServiceError)
    def refused(request: HttpRequest, exc: ServiceError) -> HttpResponse:
        if isinstance(exc, NotFoundError):
            flush_refusal(exc)
        return api.create_response(request, error_body(exc.field, exc.message), status=exc.status)

    @api.exception_handler(SignedRecordError)
    def signed(request: HttpRequest, exc: SignedRecordError) -> HttpResponse:
        return api.create_response(request, error_body(None, str(exc)), status=409)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(
            request, error_body(None, "sign in or send a valid token"), status=401
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, error_body(None, "not found"), status=404)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return api.create_response(request, error_body(None, str(exc)), status=exc.status_code)

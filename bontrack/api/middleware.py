"""Keeps the API's one error shape for the 4xx answers Django gives before the API sees a request
(an unknown path, a method the path does not allow)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

MESSAGES = {404: "no such endpoint", 405: "this method is not allowed here"}


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if request.path.startswith("/api/") and 400 <= response.status_code < 500 and not is_json:
            message = MESSAGES.get(response.status_code, "the request was refused")
            shaped = JsonResponse(
                {"errors": [{"field": None, "message": message}]}, status=response.status_code
            )
            if response.has_header("Allow"):
                shaped["Allow"] = response["Allow"]
            return shaped
        return response

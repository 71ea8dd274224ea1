"""The pages' error pages: 403, 404 and 500 say what happened in plain words, never a trace."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return defaults.page_not_found(request, exception or Http404())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return defaults.permission_denied(request, exception or Exception())


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request's context (it may be what failed): 500.html stands alone.
    return defaults.server_error(request)

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from bontrack.api.main import api
from bontrack.web.errors import page_not_found, permission_denied, server_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("fhir/", include("bontrack.interop.urls")),
    # The clinician's pages (bontrack/web): server-rendered, with htmx partials.
    path("", include("bontrack.web.urls")),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown paths: the API's error shape under /api/, the pages' 404 page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"errors": [{"field": None, "message": "no such endpoint"}]}, status=404
        )
    return page_not_found(request, exception)


def server_failed(request: HttpRequest) -> HttpResponse:
    """A bug: the API's error shape under /api/, the pages' 500 page elsewhere; never a trace."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"errors": [{"field": None, "message": "internal error: this is a bug"}]}, status=500
        )
    return server_error(request)


handler403 = permission_denied
handler404 = not_found
handler500 = server_failed

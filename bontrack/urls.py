from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.urls import path
from django.views.generic import RedirectView

from bontrack.api.main import api

urlpatterns = [
    # Until the clinician's pages land, the front door is the API's documentation.
    path("", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown paths: the API's error shape under /api/, a plain page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"errors": [{"field": None, "message": "no such endpoint"}]}, status=404
        )
    return HttpResponseNotFound("<h1>Not found</h1><p>There is no page at this address.</p>")


handler404 = not_found

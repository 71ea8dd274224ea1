from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from bontrack.api.main import api
from bontrack.interop.bulk_views import smart_configuration
from bontrack.web.errors import page_not_found, permission_denied, server_error
from bontrack.web.views.auth import SignInView
from bontrack.web.views.security import password_reset_by_admin

urlpatterns = [
    path("admin/", admin.site.urls),
    # Sign-in, second factor (TOTP, WebAuthn, recovery codes), password: django-allauth. No reset
    # by e-mail: the clinic's admin sets a new password (web/views/security.py).
    path("accounts/password/reset/", password_reset_by_admin, name="account_reset_password"),
    path("accounts/login/", SignInView.as_view(), name="account_login"),
    path("accounts/", include("allauth.urls")),
    # Your account, break-glass, audit reports, disclosures, requests to amend.
    path("", include("bontrack.web.security_urls")),
    path("api/v1/", api.urls),
    path("fhir/", include("bontrack.interop.urls")),
    # SMART discovery at the root too, for clients that look for it there.
    path(".well-known/smart-configuration", smart_configuration),
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

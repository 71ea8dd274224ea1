"""Every route declares who may use it; ``tests/web/test_routes.py`` walks the URL configuration
and fails on any route that does not.

- Pages: ``clinic_view(Perm.X)`` (web/access.py) sets ``view.permission`` to the permission;
  ``signed_in_view`` (web/views/security.py) to ``SIGNED_IN``; ``declare(PUBLIC)`` marks the
  few pages anyone may open (sign-in, sign-out).
- The API (``/api/v1/``): each operation's ``openapi_extra["x-permission"]`` (api/perms.py),
  checked against the permission matrix in tests/api/test_permissions.py.
- The libraries' own pages are declared here by URL prefix, with what guards them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

PUBLIC = "public"
SIGNED_IN = "signed-in"

F = TypeVar("F", bound=Callable[..., Any])

# URL prefixes whose views are guarded as a whole (libraries, FHIR), and what guards each.
EXTERNAL = {
    "admin/": "django.contrib.admin: staff users only; patient rows through PatientDataAdmin, "
    "audited (audit/admin.py)",
    "accounts/": "django-allauth: sign-in, second factor and password pages, each requiring "
    "what its flow needs (a pending sign-in, a signed-in user, a recent re-authentication)",
    "api/v1/": "django-ninja: every operation declares x-permission (api/perms.py)",
    "fhir/": "fhir_view: bearer token or session, then the access funnels (interop/fhir_views.py)",
    ".well-known/": "SMART discovery document: public by the standard, holds no patient data",
}


def declare(permission: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.permission = permission  # type: ignore[attr-defined]
        return view

    return mark


def declared_permission(callback: Any) -> str | None:
    """The permission a view declares (a function, or a class-based view's class)."""
    for holder in (callback, getattr(callback, "view_class", None)):
        found = getattr(holder, "permission", None)
        if found is not None:
            return str(found)
    return None

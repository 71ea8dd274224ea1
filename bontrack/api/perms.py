"""Each API operation declares the permission it needs, in its OpenAPI description:

    @router.get("/audit", ..., openapi_extra=needs(Perm.AUDIT_READ))

``x-permission`` lists the permissions a caller's role must hold (DESIGN 3.4); ``public`` marks
the routes that answer without credentials and ``signed-in`` those about the caller themself.
The services enforce them (bontrack/access.py); tests/api/test_permissions.py proves every route
declares one and that the matrix of roles it lets through matches the declaration.
"""

from __future__ import annotations

from typing import Any

from bontrack.accounts.permissions import Perm
from bontrack.security.routes import PUBLIC, SIGNED_IN

__all__ = ["PUBLIC", "SIGNED_IN", "needs"]


def needs(*perms: Perm | str, reads_only: bool = False) -> dict[str, Any]:
    """``reads_only`` marks a POST that writes nothing (a search, a check): a token with read
    scopes only may call it. Every other POST, PUT, PATCH and DELETE is a write, refused to such
    a token (``api/main.py::enforce_write_scopes``)."""
    declared: dict[str, Any] = {
        "x-permission": [p.value if isinstance(p, Perm) else p for p in perms]
    }
    if reads_only:
        declared["x-reads-only"] = True
    return declared

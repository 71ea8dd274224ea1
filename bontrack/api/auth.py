"""API authentication: the browser session (with CSRF) or a bearer token of one membership.

Either way the request gets an ``actor``: the membership acting, in its clinic, from an address.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from bontrack.accounts.models import ApiToken, Membership
from bontrack.accounts.permissions import may_write
from bontrack.audit.services import Actor
from bontrack.core.addresses import client_ip
from bontrack.core.errors import ForbiddenError

TOKEN_PREFIX = "bt_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    membership: Membership, name: str, days: int, scopes: list[str] | None = None
) -> tuple[ApiToken, str]:
    """A new token; the clear text is returned once and only its hash is stored (SHA-256 of 256
    random bits: no salt or slow hash is needed for a secret nobody chose)."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        membership=membership,
        name=name,
        prefix=clear[:10],
        key_hash=hash_token(clear),
        expires_at=timezone.now() + timedelta(days=days),
        scopes=list(scopes or []),
    )
    return token, clear


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = (
            ApiToken.objects.select_related("membership__user", "membership__clinic")
            .filter(
                key_hash=hash_token(token), revoked_at__isnull=True, expires_at__gt=timezone.now()
            )
            .first()
        )
        if found is None or not found.membership.active or not found.membership.user.is_active:
            return None
        if found.scopes:
            # Membership.can answers for this token's scopes only, in this request.
            found.membership.token_scopes = frozenset(found.scopes)  # type: ignore[attr-defined]
        request.actor = Actor(found.membership, client_ip(request))  # type: ignore[attr-defined]
        return found.membership


class WriteTokenAuth(TokenAuth):
    """A bearer token for a route that writes: refused when the token carries read scopes
    only (``accounts/permissions.py::may_write``), whatever the route's own permission."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        membership = super().authenticate(request, token)
        if membership is not None and not may_write(getattr(membership, "token_scopes", None)):
            raise ForbiddenError(
                "scopes",
                "this token carries read scopes only and writes nothing: ask for a token with "
                "the scope of this change",
            )
        return membership


def write_auth(callbacks: list[Any]) -> list[Any]:
    """The same authentication for a writing route, a bearer token's scopes checked."""
    return [WriteTokenAuth() if type(c) is TokenAuth else c for c in callbacks]


class ClinicSessionAuth(SessionAuth):
    """A signed-in user acting in the clinic chosen at sign-in (or their only clinic)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        memberships = Membership.objects.select_related("user", "clinic").filter(
            user=user, active=True
        )
        chosen = request.session.get("membership_id")
        membership = memberships.filter(id=chosen).first() if chosen else None
        if membership is None:
            only = list(memberships[:2])
            membership = only[0] if len(only) == 1 else None
        if membership is None:
            return None
        request.actor = Actor(membership, client_ip(request))  # type: ignore[attr-defined]
        return membership


def actor_of(request: HttpRequest) -> Actor:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    return actor


AUTH = [TokenAuth(), ClinicSessionAuth()]
# Signing, co-signing and deciding on findings: a bearer token only. The pages ask for the password
# again before these (security/reauth.py); a token is itself a credential sent with the call, so a
# browser session alone (possibly left open) cannot make them through the API (ASVS 3.7.1).
FRESH_CREDENTIAL = [TokenAuth()]

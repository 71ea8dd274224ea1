"""Sign in for a bearer token; list and revoke one's tokens.

A token belongs to one membership, is stored hashed, expires (``days``), may carry fewer
permissions than its role (``scopes``) and is revocable. A user who has a second factor gives its
code (``code``); one whose role requires a second factor and has none gets no token until they
set one up on the pages. A wrong code counts toward the lockout like a wrong password.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from bontrack.access import refuse_outside_clinic
from bontrack.accounts.models import ApiToken, Membership
from bontrack.accounts.permissions import ROLE_PERMISSIONS, Perm, Role
from bontrack.api.auth import actor_of, issue_token
from bontrack.api.perms import PUBLIC, SIGNED_IN, needs
from bontrack.api.schemas import ErrorOut, TokenIn, TokenOut
from bontrack.api.security_schemas import TokenInfo
from bontrack.audit.services import record_security_event
from bontrack.core.addresses import client_ip
from bontrack.core.errors import ForbiddenError, ServiceError
from bontrack.security.policy import has_second_factor, mfa_required, verify_code

router = Router(tags=["auth"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


@router.post(
    "/token",
    auth=None,
    response={
        201: TokenOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },
    openapi_extra=needs(PUBLIC),
)
def create_token(request: HttpRequest, body: TokenIn) -> Status[TokenOut]:
    """A bearer token for one of the user's memberships. 429: too many failed sign-ins, the
    account or the address is locked out for a while."""
    address = client_ip(request)
    user = authenticate(request, username=body.username, password=body.password)
    if user is None:
        record_security_event("sign-in-failed", username=body.username[:150], address=address)
        raise _unauthorised()
    if has_second_factor(user):
        if not body.code or not verify_code(user, body.code):
            record_security_event(
                "mfa-failed",
                username=user.get_username(),
                user_id=user.pk,
                address=address,
                via="token",
            )
            # Counted by django-axes like a wrong password (the pages' form counts it too).
            user_login_failed.send(
                sender=__name__, credentials={"username": body.username}, request=request
            )
            raise _UnauthorisedError(
                "code", "give the current code of your authenticator app (or a recovery code)"
            )
    elif mfa_required(user):
        raise ForbiddenError(
            "code",
            "your role requires a second factor: set one up on the pages (/accounts/2fa/) first",
        )
    memberships = Membership.objects.filter(user=user, active=True)
    if body.clinic_id is not None:
        memberships = memberships.filter(clinic_id=body.clinic_id)
    found = list(memberships.select_related("clinic")[:2])
    if len(found) != 1:
        raise ServiceError(
            "clinic_id", "choose one of your clinics" if found else "no active membership"
        )
    membership = found[0]
    scopes = _scopes(membership, body.scopes)
    token, clear = issue_token(membership, body.name, body.days, scopes)
    record_security_event(
        "sign-in",
        username=user.get_username(),
        user_id=user.pk,
        clinic_id=membership.clinic_id,
        address=address,
        via="token",
        scopes=scopes,
    )
    out = TokenOut(
        token=clear,
        expires_at=token.expires_at,
        membership_id=membership.id,
        clinic_id=membership.clinic_id,
        role=membership.role,
        scopes=scopes or sorted(p.value for p in ROLE_PERMISSIONS[Role(membership.role)]),
    )
    return Status(201, out)


def _scopes(membership: Membership, asked: list[str] | None) -> list[str]:
    if not asked:
        return []
    held = {p.value for p in ROLE_PERMISSIONS[Role(membership.role)]}
    for n, scope in enumerate(asked):
        if scope not in {p.value for p in Perm}:
            raise ServiceError(f"scopes[{n}]", f"unknown permission {scope!r}")
        if scope not in held:
            raise ServiceError(f"scopes[{n}]", f"your role ({membership.role}) does not hold it")
    return sorted(set(asked))


def _token_info(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "membership_id": t.membership_id,
        "clinic_id": t.membership.clinic_id,
        "role": t.membership.role,
        "scopes": list(t.scopes),
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
    }


@router.get("/tokens", response={200: list[TokenInfo], **ERRORS}, openapi_extra=needs(SIGNED_IN))
def list_tokens(request: HttpRequest) -> Any:
    """The caller's own tokens, in every clinic (their hashes are never shown)."""
    actor = actor_of(request)
    found = (
        ApiToken.objects.filter(membership__user_id=actor.membership.user_id)
        .select_related("membership")
        .order_by("-created_at")
    )
    return [_token_info(t) for t in found]


@router.delete(
    "/tokens/{token_id}",
    response={204: None, **ERRORS},
    openapi_extra=needs(SIGNED_IN),
)
def revoke_token(request: HttpRequest, token_id: UUID) -> Any:
    """Revoke one of one's own tokens; a clinic admin (users.manage) may revoke any token of
    their clinic's members. Another clinic's token answers 404."""
    actor = actor_of(request)
    found = (
        ApiToken.objects.select_related("membership")
        .filter(id=token_id, membership__clinic_id=actor.membership.clinic_id)
        .first()
    )
    if found is None:
        raise refuse_outside_clinic(actor, "token", token_id)
    own = found.membership.user_id == actor.membership.user_id
    if not own and not actor.membership.can(Perm.USERS_MANAGE):
        raise ForbiddenError(None, "this token is another member's")
    if found.revoked_at is None:
        ApiToken.objects.filter(pk=found.pk).update(revoked_at=timezone.now())
        record_security_event(
            "token-revoked",
            username=actor.membership.user.get_username(),
            user_id=actor.membership.user_id,
            clinic_id=actor.membership.clinic_id,
            address=actor.address,
            token=found.prefix,
            owner=found.membership.user_id,
        )
    return Status(204, None)


class _UnauthorisedError(ServiceError):
    status = 401


def _unauthorised() -> ServiceError:
    return _UnauthorisedError(None, "wrong user name or password")

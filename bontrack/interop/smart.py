"""SMART Backend Services (SMART App Launch 2.x, "backend services"): system clients.

A clinic admin registers a client with its public keys (a JWKS). The client asks for a token with
``grant_type=client_credentials`` and a ``private_key_jwt`` client assertion (RS384 or ES384)
signed with its private key; it gets an opaque bearer token that lives five minutes and carries
the scopes granted (``system/*.rs``, or ``system/{Type}.rs``; the SMART v1 ``.read`` too). Token
issue and refusal go to the security log; every use of a token too, and what it shows is
disclosed on the clinic's audit trail, patient by patient, as any other reader's.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from bontrack.access import refuse_outside_clinic, require
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm, Role
from bontrack.audit.services import Actor, clinical_transaction, record_security_event
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.interop.fhir_search import SEARCHES
from bontrack.interop.models import SystemClient, SystemToken, UsedAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
TOKEN_PREFIX = "bts_"
TOKEN_SECONDS = 300  # SMART recommends at most five minutes
MAX_ASSERTION_SECONDS = 300  # an assertion's exp may be at most five minutes ahead
LEEWAY_SECONDS = 30  # clock skew between the client and us
SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(rs|read)$")
DEFAULT_SCOPES = ("system/*.rs",)
MAX_KEYS = 10


@dataclass(frozen=True)
class Grant:
    """What a token allows: the resource types it may read and search."""

    types: frozenset[str]
    scopes: tuple[str, ...]

    def allows(self, resource_type: str) -> bool:
        return resource_type in self.types


def parse_scopes(scopes: Iterable[str]) -> Grant:
    types: set[str] = set()
    kept = []
    for scope in scopes:
        match = SCOPE.match(scope)
        if match is None:
            raise ValueError(f"unsupported scope {scope!r}: system/*.rs or system/{{Type}}.rs")
        kind = match.group(1)
        if kind != "*" and kind not in SEARCHES:
            raise ValueError(f"unsupported scope {scope!r}: {kind} is not served")
        types |= set(SEARCHES) if kind == "*" else {kind}
        kept.append(scope)
    return Grant(frozenset(types), tuple(kept))


# --- Registration ------------------------------------------------------------------------------


def _public_jwks(jwks: Any) -> dict[str, Any]:
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ServiceError("jwks", 'must be a JWK Set: {"keys": [...]} with at least one key')
    if len(jwks["keys"]) > MAX_KEYS:
        raise ServiceError("jwks", f"at most {MAX_KEYS} keys")
    keys = []
    for n, key in enumerate(jwks["keys"]):
        here = f"jwks.keys[{n}]"
        if not isinstance(key, Mapping):
            raise ServiceError(here, "must be a JSON Web Key")
        if key.get("kty") not in ("RSA", "EC"):
            raise ServiceError(f"{here}.kty", "must be RSA (RS384) or EC (ES384)")
        if "d" in key:
            raise ServiceError(here, "is a private key: register the public key only")
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            raise ServiceError(f"{here}.kid", "every key needs a kid")
        if key.get("alg") not in (None, *ALGORITHMS):
            raise ServiceError(f"{here}.alg", f"must be one of {', '.join(ALGORITHMS)}")
        try:
            jwt.PyJWK(dict(key), key.get("alg") or ("RS384" if key["kty"] == "RSA" else "ES384"))
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
            raise ServiceError(here, f"is not a usable public key: {error}") from None
        keys.append(dict(key))
    kids = [k["kid"] for k in keys]
    if len(set(kids)) != len(kids):
        raise ServiceError("jwks", "two keys have the same kid")
    return {"keys": keys}


def register_client(
    actor: Actor, *, name: str, jwks: Any, scopes: Iterable[str] = DEFAULT_SCOPES
) -> SystemClient:
    """A clinic admin registers a backend service with its public keys. The client acts through
    a membership of its own (role ``system-client``) that can never sign in."""
    require(actor, Perm.USERS_MANAGE)
    if not name.strip():
        raise ServiceError("name", "must not be empty")
    keys = _public_jwks(jwks)
    scopes = list(scopes)
    if not scopes:
        raise ServiceError("scopes", "give at least one scope, e.g. system/*.rs")
    for n, scope in enumerate(scopes):
        try:
            parse_scopes([scope])
        except ValueError as error:
            raise ServiceError(f"scopes[{n}]", str(error)) from None
    with clinical_transaction(actor) as trail:
        client_id = uuid.uuid4()
        user = get_user_model()(
            username=f"system-{client_id.hex[:20]}", first_name=name.strip()[:150]
        )
        user.set_unusable_password()
        user.save()
        membership = Membership.objects.create(
            user=user, clinic_id=actor.membership.clinic_id, role=Role.SYSTEM_CLIENT.value
        )
        client = SystemClient.objects.create(
            id=client_id,
            clinic_id=actor.membership.clinic_id,
            membership=membership,
            name=name.strip(),
            jwks=keys,
            scopes=scopes,
            registered_by=actor.membership,
            registered_at=timezone.now(),
        )
        trail.record("create", "system-client", client.id, None, name=client.name, scopes=scopes)
    record_security_event(
        "system-client-registered",
        username=actor.membership.user.get_username(),
        user_id=actor.membership.user_id,
        clinic_id=actor.membership.clinic_id,
        address=actor.address,
        client_id=str(client.id),
        name=client.name,
    )
    return client


def access_client(actor: Actor, client_id: UUID | str) -> SystemClient:
    """A client of the caller's clinic; another clinic's id answers 404 and is logged."""
    found = (
        SystemClient.objects.select_related("membership")
        .filter(clinic_id=actor.membership.clinic_id, id=client_id)
        .first()
    )
    if found is None:
        raise refuse_outside_clinic(actor, "system client", client_id)
    require(actor, Perm.USERS_MANAGE)
    return found


def list_clients(actor: Actor) -> list[SystemClient]:
    require(actor, Perm.USERS_MANAGE)
    return list(
        SystemClient.objects.filter(clinic_id=actor.membership.clinic_id).order_by("registered_at")
    )


def revoke_client(actor: Actor, client_id: UUID | str) -> SystemClient:
    """The client gets no new token, and its tokens stop working at once."""
    with clinical_transaction(actor) as trail:
        client = access_client(actor, client_id)
        if client.revoked_at is not None:
            raise ConflictError(None, "this client is already revoked")
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
        Membership.objects.filter(pk=client.membership_id).update(active=False)
        SystemToken.objects.filter(client=client).update(expires_at=client.revoked_at)
        trail.record("update", "system-client", client.id, None, kind="revoked")
    return client


# --- Tokens ------------------------------------------------------------------------------------


class TokenError(Exception):
    """An OAuth 2.0 error answer (RFC 6749 5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _client_of(claims: Mapping[str, Any]) -> SystemClient:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or claims.get("sub") != issuer:
        raise TokenError("invalid_client", "iss and sub must both be the client_id", 401)
    try:
        client_id = UUID(issuer)
    except ValueError:
        raise TokenError("invalid_client", "unknown client", 401) from None
    client = (
        SystemClient.objects.select_related("membership__user", "membership__clinic")
        .filter(id=client_id)
        .first()
    )
    if client is None or client.revoked_at is not None or not client.membership.active:
        raise TokenError("invalid_client", "unknown or revoked client", 401)
    return client


def _verified_claims(
    client: SystemClient, assertion: str, alg: str, kid: Any, audience: str
) -> Any:
    keys = [
        k
        for k in client.jwks["keys"]
        if k["kid"] == kid and k["kty"] == ("RSA" if alg == "RS384" else "EC")
    ]
    if not isinstance(kid, str) or not kid:
        # SMART Backend Services: the assertion's header names the key (kid) it is signed with.
        raise TokenError(
            "invalid_client", "the client assertion's header needs the kid of its key", 401
        )
    if not keys:
        raise TokenError("invalid_client", "no registered key matches the assertion's kid", 401)
    last: Exception | None = None
    for key in keys:
        try:
            return jwt.decode(
                assertion,
                key=jwt.PyJWK(key, alg).key,
                algorithms=[alg],
                audience=audience,
                issuer=str(client.id),
                leeway=LEEWAY_SECONDS,
                # exp and nbf are checked against the server's clock (timezone.now) below.
                options={
                    "require": ["iss", "sub", "aud", "exp", "jti"],
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError as error:
            last = error
        except jwt.PyJWTError as error:
            raise TokenError(
                "invalid_client", f"the client assertion is refused: {error}", 401
            ) from None
    raise TokenError("invalid_client", f"the client assertion's signature is wrong: {last}", 401)


def issue_token(form: Mapping[str, str], token_url: str, address: str) -> dict[str, Any]:
    """Exchange a signed client assertion for an access token; refusals raise ``TokenError``.
    Both go to the security log."""
    client: SystemClient | None = None
    try:
        if form.get("grant_type") != "client_credentials":
            raise TokenError("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise TokenError(
                "invalid_client", f"the client assertion is not a JWT: {error}", 401
            ) from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenError("invalid_client", f"alg must be one of {', '.join(ALGORITHMS)}", 401)
        client = _client_of(unverified)
        claims = _verified_claims(client, assertion, alg, header.get("kid"), token_url)
        now = timezone.now()
        try:
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            not_before = datetime.fromtimestamp(int(claims.get("nbf", 0)), UTC)
        except (TypeError, ValueError, OverflowError):
            raise TokenError("invalid_client", "exp and nbf must be NumericDates", 401) from None
        if expires < now - timedelta(seconds=LEEWAY_SECONDS):
            raise TokenError("invalid_client", "the client assertion has expired", 401)
        if not_before > now + timedelta(seconds=LEEWAY_SECONDS):
            raise TokenError("invalid_client", "the client assertion is not valid yet", 401)
        if expires > now + timedelta(seconds=MAX_ASSERTION_SECONDS + LEEWAY_SECONDS):
            raise TokenError("invalid_client", "exp must be at most five minutes ahead", 401)
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise TokenError("invalid_client", "jti must be a string of 1 to 255 characters", 401)
        try:
            requested = parse_scopes(form.get("scope", "").split())
        except ValueError as error:
            raise TokenError("invalid_scope", str(error)) from None
        if not requested.scopes:
            raise TokenError("invalid_scope", "ask for a scope, e.g. system/*.rs")
        allowed = parse_scopes(client.scopes)
        if not requested.types <= allowed.types:
            raise TokenError("invalid_scope", "the client was not registered for that scope")
        clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with transaction.atomic():
            UsedAssertion.objects.filter(expires_at__lt=now - timedelta(minutes=10)).delete()
            try:
                with transaction.atomic():
                    UsedAssertion.objects.create(
                        clinic_id=client.clinic_id,
                        client=client,
                        jti=jti,
                        expires_at=expires,
                    )
            except IntegrityError:
                raise TokenError("invalid_client", "this assertion was already used", 401) from None
            SystemToken.objects.create(
                clinic_id=client.clinic_id,
                client=client,
                key_hash=hash_token(clear),
                scopes=list(requested.scopes),
                issued_at=now,
                expires_at=now + timedelta(seconds=TOKEN_SECONDS),
            )
    except TokenError as error:
        record_security_event(
            "system-token-refused",
            username=client.membership.user.get_username() if client else "",
            user_id=client.membership.user_id if client else None,
            clinic_id=client.clinic_id if client else None,
            address=address,
            error=error.error,
            reason=error.description,
        )
        raise
    record_security_event(
        "system-token-issued",
        username=client.membership.user.get_username(),
        user_id=client.membership.user_id,
        clinic_id=client.clinic_id,
        address=address,
        client_id=str(client.id),
        scope=" ".join(requested.scopes),
    )
    return {
        "access_token": clear,
        "token_type": "bearer",
        "expires_in": TOKEN_SECONDS,
        "scope": " ".join(requested.scopes),
    }


@dataclass(frozen=True)
class SystemAccess:
    actor: Actor
    client: SystemClient
    grant: Grant


def authenticate_token(token: str, address: str, method: str, path: str) -> SystemAccess | None:
    """The system client a bearer token belongs to, or None. Every use is logged."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = (
        SystemToken.objects.select_related("client__membership__user", "client__membership__clinic")
        .filter(key_hash=hash_token(token), expires_at__gt=timezone.now())
        .first()
    )
    if found is None:
        return None
    client = found.client
    membership = client.membership
    if client.revoked_at is not None or not membership.active:
        return None
    record_security_event(
        "system-token-use",
        username=membership.user.get_username(),
        user_id=membership.user_id,
        clinic_id=client.clinic_id,
        address=address,
        client_id=str(client.id),
        method=method,
        path=path[:300],
    )
    return SystemAccess(Actor(membership, address), client, parse_scopes(found.scopes))


def smart_configuration(base: str) -> dict[str, Any]:
    """/.well-known/smart-configuration: what a backend service needs to find and use us."""
    return {
        "issuer": base.rstrip("/"),
        "token_endpoint": f"{base}auth/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.rs", "system/*.read"],
        # Backend services only: no authorization endpoint, no implicit or code flow.
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
    }

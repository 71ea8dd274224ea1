"""Helpers of the SMART and bulk export tests: key pairs, signed client assertions, the token
dance over HTTP, and running the queued export tasks in process.

The tasks are enqueued by the real code into the real (SQLite) huey queue; ``run_queued`` takes
each message off it as the consumer would and runs the task's body on the test's connection (the
consumer's own wrapper would close that connection, which holds the test's transaction).
``test_bulk_consumer.py`` runs a real consumer process once, end to end.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client, TestCase
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bontrack.audit.services import Actor
from bontrack.interop import bulk, smart
from bontrack.interop.models import SystemClient

TOKEN_URL = "http://testserver/fhir/auth/token"


@dataclass
class KeyPair:
    kid: str
    alg: str
    private: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS384" else ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg}

    @property
    def private_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS384" else ECAlgorithm
        return {**json.loads(algorithm.to_jwk(self.private)), "kid": self.kid}


def rsa_key(kid: str = "rsa-1") -> KeyPair:
    return KeyPair(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str = "ec-1") -> KeyPair:
    return KeyPair(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))


def assertion(
    client_id: str,
    key: KeyPair,
    *,
    audience: str = TOKEN_URL,
    lifetime: int = 240,
    jti: str | None = None,
    now: float | None = None,
    **overrides: Any,
) -> str:
    """A client assertion (private_key_jwt) signed with the client's private key, dated by the
    application's clock (the tests fix it)."""
    issued = now if now is not None else timezone.now().timestamp()
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": int(issued + lifetime),
        "jti": jti or uuid.uuid4().hex,
        **overrides,
    }
    return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid})


def token_form(
    client_id: str, key: KeyPair, scope: str = "system/*.rs", **kw: Any
) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": smart.ASSERTION_TYPE,
        "client_assertion": assertion(client_id, key, **kw),
    }


def register(
    actor: Actor, *keys: KeyPair, scopes: tuple[str, ...] = ("system/*.rs",)
) -> SystemClient:
    return smart.register_client(
        actor, name="Registry backend", jwks={"keys": [k.public_jwk for k in keys]}, scopes=scopes
    )


def get_token(http: Client, client_id: str, key: KeyPair, scope: str = "system/*.rs") -> str:
    response = http.post("/fhir/auth/token", token_form(client_id, key, scope))
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def kick_off(http: Client, token: str, path: str = "/fhir/$export", **query: Any) -> Any:
    """A kick-off request; the job's task is enqueued when the request's transaction commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return http.get(
            path,
            query or None,
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ACCEPT="application/fhir+json",
            HTTP_PREFER="respond-async",
        )


def run_queued() -> int:
    """Take every queued task off the real queue and run its body, as the consumer would."""
    ran = 0
    while (task := HUEY.dequeue()) is not None:
        assert task.name.endswith("run_export"), task.name
        bulk.write_export(*task.args)
        ran += 1
    return ran


def poll(http: Client, token: str, status_url: str) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return http.get(status_url, HTTP_AUTHORIZATION=f"Bearer {token}")


def download(http: Client, token: str, url: str) -> list[dict[str, Any]]:
    response = http.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response
    assert response["Content-Type"] == "application/fhir+ndjson"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def wait_seconds(seconds: float) -> None:
    time.sleep(seconds)

"""A liveness probe: answers without authentication and without touching the database."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from bontrack.api.perms import PUBLIC, needs

router = Router(tags=["health"])


class HealthOut(Schema):
    status: str


@router.get("", auth=None, response={200: HealthOut}, openapi_extra=needs(PUBLIC))
def health(request: HttpRequest) -> dict[str, str]:
    """`{"status": "ok"}` while the process serves requests; reads nothing, writes nothing."""
    return {"status": "ok"}

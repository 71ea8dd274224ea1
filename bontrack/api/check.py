"""The stateless check: the same contract as `bontrack check`, over HTTP."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut
from bontrack.check_output import result_json
from bontrack.domain.check import evaluate
from bontrack.plan_input import InvalidInputError, parse_check_input

router = Router(tags=["check"])


@router.post(
    "",
    response={200: dict[str, Any], 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": True,
        },
        **needs(Perm.PLAN_WRITE, reads_only=True),
    },
)
def check_plan(request: HttpRequest) -> Any:
    """Check a plan given in the `bontrack check` JSON (DESIGN 3.3); nothing is stored."""
    require(actor_of(request), Perm.PLAN_WRITE)
    try:
        parsed = parse_check_input(request.body.decode("utf-8", errors="replace"))
    except InvalidInputError as invalid:
        return Status(
            422, {"errors": [{"field": e.field, "message": e.message} for e in invalid.errors]}
        )
    result = evaluate(
        parsed.plan,
        parsed.patient,
        parsed.history,
        parsed.injector,
        parsed.now,
        verdicts=parsed.verdicts,
    )
    return Status(200, json.loads(json.dumps(result_json(result))))

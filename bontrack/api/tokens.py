"""Sign in for a bearer token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Status

from bontrack.accounts.models import Membership
from bontrack.api.auth import client_address, issue_token
from bontrack.api.schemas import ErrorOut, TokenIn, TokenOut
from bontrack.audit.services import record_security_event
from bontrack.treatments.errors import ServiceError

router = Router(tags=["auth"])


@router.post(
    "/token", auth=None, response={201: TokenOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut}
)
def create_token(request: HttpRequest, body: TokenIn) -> Status[TokenOut]:
    address = client_address(request)
    user = authenticate(request, username=body.username, password=body.password)
    if user is None:
        record_security_event("sign-in-failed", username=body.username[:150], address=address)
        raise _unauthorised()
    memberships = Membership.objects.filter(user=user, active=True)
    if body.clinic_id is not None:
        memberships = memberships.filter(clinic_id=body.clinic_id)
    found = list(memberships.select_related("clinic")[:2])
    if len(found) != 1:
        raise ServiceError(
            "clinic_id", "choose one of your clinics" if found else "no active membership"
        )
    membership = found[0]
    token, clear = issue_token(membership, body.name, body.days)
    record_security_event(
        "sign-in",
        username=user.get_username(),
        user_id=user.pk,
        clinic_id=membership.clinic_id,
        address=address,
        via="token",
    )
    out = TokenOut(
        token=clear,
        expires_at=token.expires_at,
        membership_id=membership.id,
        clinic_id=membership.clinic_id,
        role=membership.role,
    )
    return Status(201, out)


class _UnauthorisedError(ServiceError):
    status = 401


def _unauthorised() -> ServiceError:
    return _UnauthorisedError(None, "wrong user name or password")

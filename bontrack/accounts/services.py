"""Clinics and their people: create a clinic, add a member with role, credentials and privileges."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from bontrack.accounts.models import Clinic, Membership
from bontrack.accounts.permissions import ROLE_CREDENTIALS, Role
from bontrack.domain.catalog import catalog
from bontrack.treatments.errors import ConflictError, ServiceError


def create_clinic(name: str, time_zone: str = "UTC") -> Clinic:
    import zoneinfo

    if not name.strip():
        raise ServiceError("name", "must not be empty")
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ServiceError("time_zone", f"unknown time zone {time_zone!r}") from None
    return Clinic.objects.create(name=name.strip(), time_zone=time_zone)


def add_member(
    clinic: Clinic,
    *,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
    credentials: Sequence[str] = (),
    indications: Sequence[str] = (),
    supervisor: Membership | None = None,
) -> Membership:
    """A user (new or existing) joins the clinic in one role; passwords follow the validators."""
    try:
        chosen = Role(role)
    except ValueError:
        raise ServiceError("role", f"unknown role {role!r}") from None
    cat = catalog()
    for n, c in enumerate(credentials):
        if c not in cat.credentials:
            raise ServiceError(f"credentials[{n}]", f"unknown credential {c!r}")
    allowed = ROLE_CREDENTIALS.get(chosen)
    if allowed is not None and not set(credentials) & allowed:
        raise ServiceError(
            "credentials", f"a {chosen.value} holds one of {', '.join(sorted(allowed))}"
        )
    for n, i in enumerate(indications):
        if i not in cat.indications:
            raise ServiceError(f"indications[{n}]", f"unknown indication {i!r}")
    if supervisor is not None and (
        supervisor.clinic_id != clinic.id or supervisor.role != Role.PRESCRIBER
    ):
        raise ServiceError("supervisor", "the supervisor is a prescriber of the same clinic")
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.filter(username=username).first()
        if user is None:
            first, _, last = full_name.partition(" ")
            user = user_model(username=username, first_name=first, last_name=last)
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise ServiceError("password", " ".join(error.messages)) from None
            user.set_password(password)
            user.save()
        if Membership.objects.filter(user=user, clinic=clinic).exists():
            raise ConflictError("username", "this user is already a member of the clinic")
        return Membership.objects.create(
            user=user,
            clinic=clinic,
            role=chosen.value,
            credentials=list(credentials),
            indications=list(indications),
            supervisor=supervisor,
        )

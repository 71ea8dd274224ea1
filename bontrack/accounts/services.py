"""Clinics and their people: create a clinic, add a member with role, credentials and privileges,
a nurse injector's supervisors, a member's NPI."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from bontrack.access import MEMBER, access, require
from bontrack.accounts.models import Clinic, Membership
from bontrack.accounts.permissions import ROLE_CREDENTIALS, Perm, Role
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.billing.identifiers import npi_problem
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.domain.catalog import catalog


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
    supervisors: Sequence[Membership] = (),
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
    _check_supervisors(clinic, supervisors)
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
        member = Membership.objects.create(
            user=user,
            clinic=clinic,
            role=chosen.value,
            credentials=list(credentials),
            indications=list(indications),
        )
        member.supervisors.set(supervisors)
        return member


def _check_supervisors(clinic: Clinic, supervisors: Sequence[Membership]) -> None:
    for n, supervisor in enumerate(supervisors):
        if supervisor.clinic_id != clinic.id or supervisor.role != Role.PRESCRIBER:
            raise ServiceError(
                f"supervisor_ids[{n}]", "a supervisor is a prescriber of the same clinic"
            )


def set_supervisors(
    actor: Actor, membership_id: UUID | str, supervisor_ids: Sequence[UUID | str]
) -> Membership:
    """The clinic admin sets a nurse injector's supervising prescribers (DESIGN 3.4): one or
    more prescribers of the clinic; her sessions are co-signed by one of them."""
    with clinical_transaction(actor) as trail:
        member = access(actor, MEMBER, membership_id)
        require(actor, Perm.USERS_MANAGE)
        if not supervisor_ids:
            raise ServiceError(
                "supervisor_ids", "a nurse injector needs at least one supervising prescriber"
            )
        if member.role != Role.NURSE_INJECTOR:
            raise ServiceError(
                None, "only a nurse injector has supervisors: a prescriber works unsupervised"
            )
        chosen = [access(actor, MEMBER, i) for i in dict.fromkeys(str(i) for i in supervisor_ids)]
        _check_supervisors(member.clinic, chosen)
        before = sorted(str(i) for i in member.supervisors.values_list("id", flat=True))
        member.supervisors.set(chosen)
        trail.record(
            "update",
            "membership",
            member.id,
            None,
            supervisors_before=before,
            supervisors_after=sorted(str(m.id) for m in chosen),
        )
    return member


def set_npi(actor: Actor, membership_id: UUID | str, npi: str) -> Membership:
    """The clinic admin records a member's NPI (billing.md 7.9: a prescriber's NPI renders
    their claims and those of the nurse sessions they co-sign); blank clears it."""
    with clinical_transaction(actor) as trail:
        member = access(actor, MEMBER, membership_id)
        require(actor, Perm.USERS_MANAGE)
        npi = npi.strip()
        problem = npi_problem(npi)
        if problem:
            raise ServiceError("npi", problem)
        before = member.npi
        member.npi = npi
        member.save(update_fields=["npi"])
        trail.record("update", "membership", member.id, None, npi_before=before, npi_after=npi)
    return member

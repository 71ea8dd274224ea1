"""The access funnel: the only way services and views reach a clinic's rows (DESIGN.md 3.5).

One table (``KINDS``) names every kind of row a caller may ask for by id: its model, the word a
refusal uses, what is loaded with it, how its patient is reached, any rule of its own, and the
page address parameter that names it. One function, ``access(actor, kind, row_id, perm)``,
enforces for every kind the clinic boundary (another clinic's ids answer 404 and are logged as a
refused access), the role's permission (403), and, for a row of a patient's chart, that a
restricted chart is open only to its care team or through break-glass.

The funnel sits above the apps' models and below their services: it reads every app's models, no
model imports it, and every service and view reaches rows through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, Model, OuterRef
from django.utils import timezone

from bontrack.accounts.models import Clinic, Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, record_security_event
from bontrack.charting.models import (
    Appointment,
    ConsentTemplate,
    Photo,
    SavedPlan,
    SignedConsentForm,
)
from bontrack.core.errors import ForbiddenError, NotFoundError
from bontrack.core.scoping import in_clinic
from bontrack.inventory.models import Lot, Vial
from bontrack.invoicing.models import Invoice
from bontrack.outcomes.models import AdverseEvent, Assessment
from bontrack.patients.models import Consent, Diagnosis, Patient
from bontrack.security.models import AmendmentRequest, BreakGlassAccess
from bontrack.treatments.models import CorrectionRequest, SessionEvent, TreatmentSession

Row = TypeVar("Row", bound=Model)


def require(actor: Actor, perm: Perm) -> None:
    if not actor.membership.can(perm):
        raise ForbiddenError(
            None, f"your role ({actor.membership.role}) does not allow {perm.value}"
        )


def refuse_outside_clinic(actor: Actor, what: str, object_id: object) -> NotFoundError:
    """404 for an id outside the caller's clinic, logged to the security log. Inside a
    transaction the entry waits until the transaction has rolled back, so that it is kept."""
    refusal = {
        "kind": "refused-access",
        "username": actor.membership.user.get_username(),
        "user_id": actor.membership.user_id,
        "clinic_id": actor.membership.clinic_id,
        "address": actor.address,
        "object_type": what,
        "object_id": str(object_id),
    }
    error = NotFoundError(None, f"no {what} with that id in this clinic", refusal)
    if not connection.in_atomic_block:
        flush_refusal(error)
    return error


def flush_refusal(error: NotFoundError) -> None:
    """Write a pending refused-access entry; called once the refused transaction has ended."""
    if error.refusal is not None:
        record_security_event(**error.refusal)
        error.refusal = None


@dataclass(frozen=True)
class RowKind(Generic[Row]):
    """One kind of row reached by id. ``patient`` is the dotted attribute holding the id of the
    patient whose chart the row belongs to: such a row is open exactly when that chart is, for the
    same permission. ``guarded`` is false only for rows no permission guards (a member or the
    clinic named in a request: the boundary alone). ``rule`` is what this kind asks beyond that;
    ``find`` replaces the lookup by id within the caller's clinic."""

    model: type[Row]
    word: str  # "no {word} with that id in this clinic"
    related: tuple[str, ...] = ()
    patient: str | None = None
    guarded: bool = True
    rule: Callable[[Actor, Row, Perm], None] | None = None
    find: Callable[[Actor, UUID | str], Row | None] | None = None
    url_parameter: str | None = None  # the page address parameter naming such a row

    def __post_init__(self) -> None:
        if not self.guarded and (self.patient is not None or self.rule is not None):
            raise ValueError(f"{self.word}: a row of a chart, or with a rule, is guarded")

    def holds(self, actor: Actor, row_id: UUID | str) -> bool:
        """Whether the caller's clinic has a row of this kind with this id (nothing else asked)."""
        return bool(
            self.model._default_manager.filter(
                clinic_id=actor.membership.clinic_id, pk=row_id
            ).exists()
        )


def access(actor: Actor, kind: RowKind[Row], row_id: UUID | str, perm: Perm | None = None) -> Row:
    """The row of this kind with this id, if the caller may have it for ``perm``: else a logged
    404 (not the caller's clinic's, or no such id, or a malformed one), a 403 (the role), or a
    ``RestrictedChartError`` (a restricted chart outside the caller's care team)."""
    if perm is None:
        if kind.guarded:
            raise TypeError(f"reaching a {kind.word} needs a permission")
        return _in_clinic(actor, kind, row_id)
    row = _in_clinic(actor, kind, row_id)
    if kind.patient is not None:
        patient = _patient_loaded_with(row, kind.patient, actor)
        if patient is None:
            access(actor, PATIENT, attrgetter(kind.patient)(row), perm)
        else:
            require(actor, perm)
            _restricted_chart(actor, patient, perm)
    else:
        require(actor, perm)
    if kind.rule is not None:
        kind.rule(actor, row, perm)
    return row


def _patient_loaded_with(row: Model, path: str, actor: Actor) -> Patient | None:
    """The chart's patient when the row's lookup loaded it (``related``) and it is of the
    caller's clinic: the funnel then checks it without reading it again."""
    if "." in path or not path.endswith("_id"):
        return None
    name = path.removesuffix("_id")
    field = row._meta.get_field(name)
    if not field.is_relation or not field.is_cached(row):  # type: ignore[attr-defined]
        return None
    patient = getattr(row, name)
    if not isinstance(patient, Patient) or patient.clinic_id != actor.membership.clinic_id:
        return None
    return patient


def _in_clinic(actor: Actor, kind: RowKind[Row], row_id: UUID | str) -> Row:
    """The row with this id in the caller's clinic, else a logged 404. A malformed id is an id
    that is not there: it answers the same 404, never a 500."""
    if kind.find is not None:
        found = kind.find(actor, row_id)
    else:
        rows = in_clinic(
            kind.model._default_manager.all(), actor.membership.clinic_id, *kind.related
        )
        try:
            found = rows.filter(id=row_id).first()
        except (ValidationError, ValueError):
            found = None
    if found is None:
        raise refuse_outside_clinic(actor, kind.word, row_id)
    return found


def in_care_team(membership: Membership, patient: Patient) -> bool:
    """Whoever planned, signed or is booked for the patient outside a break-glass access, plus
    the prescriber who marked them restricted (DESIGN 3.4). What someone did while a break-glass
    access of theirs was open does not count: breaking glass never makes anyone care team."""
    if patient.restricted_by_id == membership.id:
        return True
    clinic = patient.clinic_id

    def under_glass(member: str, moment: str) -> Exists:
        return Exists(
            BreakGlassAccess.objects.filter(
                clinic_id=clinic,
                patient_id=patient.id,
                membership_id=OuterRef(member),
                at__lte=OuterRef(moment),
                expires_at__gt=OuterRef(moment),
            )
        )

    sessions = TreatmentSession.objects.filter(clinic_id=clinic, patient=patient)
    return (
        sessions.filter(planned_by=membership)
        .exclude(under_glass("planned_by", "created_at"))
        .exists()
        or sessions.filter(signed_by=membership)
        .exclude(under_glass("signed_by", "signed_at"))
        .exists()
        or Appointment.objects.filter(clinic_id=clinic, patient=patient, injector=membership)
        .exclude(under_glass("booked_by", "created_at"))
        .exists()
    )


def broke_glass(membership: Membership, patient: Patient) -> bool:
    """An unexpired break-glass access of this member to this patient's chart."""
    return BreakGlassAccess.objects.filter(
        membership=membership, patient=patient, expires_at__gt=timezone.now()
    ).exists()


def chart_open_to(membership: Membership, patient: Patient) -> bool:
    """Whether the member reads this patient's chart: not restricted, in the care team, or with
    an unexpired break-glass access."""
    return (
        not patient.restricted
        or in_care_team(membership, patient)
        or broke_glass(membership, patient)
    )


class RestrictedChartError(ForbiddenError):
    """A restricted chart outside the caller's care team: opened only by break-glass, with a
    reason (``bontrack/security/services.py``); the pages offer the form, the API names the call."""

    def __init__(self, patient_id: UUID) -> None:
        super().__init__(
            None,
            "this patient's chart is restricted to their care team: to open it in an emergency, "
            f"give a reason (break-glass: POST /api/v1/patients/{patient_id}/break-glass)",
        )
        self.patient_id = patient_id


def _restricted_chart(actor: Actor, patient: Patient, perm: Perm) -> None:
    """A restricted chart shows its demographics to whoever may read them; the rest only to the
    care team and to an unexpired break-glass access."""
    if (
        patient.restricted
        and perm is not Perm.DEMOGRAPHICS_READ
        and not in_care_team(actor.membership, patient)
        and not broke_glass(actor.membership, patient)
    ):
        raise RestrictedChartError(patient.id)


def _own_or_shared(actor: Actor, saved: SavedPlan, perm: Perm) -> None:
    """The clinic's saved plans, and the member's own; another injector's are not shared."""
    if saved.owner_id is not None and saved.owner_id != actor.membership.id:
        raise ForbiddenError(None, "this saved plan belongs to another injector")


def _own_clinic(actor: Actor, clinic_id: UUID | str) -> Clinic | None:
    """The caller's own clinic (already loaded with the membership); any other id is refused."""
    return actor.membership.clinic if str(actor.membership.clinic_id) == str(clinic_id) else None


PATIENT = RowKind(Patient, "patient", rule=_restricted_chart, url_parameter="patient_id")


def _session_locking_patient(actor: Actor, row_id: UUID | str) -> TreatmentSession | None:
    """A session with its patient, the patient's row locked in the same statement (signing:
    DESIGN 3.4; PostgreSQL, a lock that does not conflict with inserts referencing the patient;
    SQLite's IMMEDIATE transaction already holds the write lock)."""
    try:
        return (
            in_clinic(TreatmentSession.objects.all(), actor.membership.clinic_id, "patient")
            .select_for_update(of=("patient",), no_key=True)
            .filter(id=row_id)
            .first()
        )
    except (ValidationError, ValueError):
        return None


SESSION = RowKind(
    TreatmentSession,
    "session",
    related=("patient",),
    patient="patient_id",
    url_parameter="session_id",
)
# The session being signed: its patient locked as it is read (``services.sign_session``).
SESSION_TO_SIGN = RowKind(
    TreatmentSession,
    "session",
    related=("patient",),
    patient="patient_id",
    find=_session_locking_patient,
)
LOT = RowKind(Lot, "lot", url_parameter="lot_id")
VIAL = RowKind(Vial, "vial", related=("lot",), url_parameter="vial_id")
CONSENT = RowKind(Consent, "consent", patient="patient_id", url_parameter="consent_id")
MEMBER = RowKind(Membership, "member", guarded=False)
CLINIC = RowKind(Clinic, "clinic", guarded=False, find=_own_clinic)
DIAGNOSIS = RowKind(Diagnosis, "diagnosis", patient="patient_id")
ADVERSE_EVENT = RowKind(AdverseEvent, "adverse event", patient="patient_id")
ASSESSMENT = RowKind(Assessment, "assessment", patient="patient_id")
# An appended record of a session (co-signature, amendment, entered-in-error, cancel).
SESSION_EVENT = RowKind(
    SessionEvent, "session record", related=("session",), patient="session.patient_id"
)
# A correction request of a signed session (B.33).
CORRECTION_REQUEST = RowKind(
    CorrectionRequest,
    "correction request",
    related=("session__patient",),
    patient="session.patient_id",
    url_parameter="correction_id",
)
PHOTO = RowKind(Photo, "photo", patient="patient_id", url_parameter="photo_id")
CONSENT_FORM = RowKind(
    SignedConsentForm, "consent form", patient="patient_id", url_parameter="form_id"
)
CONSENT_TEMPLATE = RowKind(ConsentTemplate, "consent template", url_parameter="template_id")
SAVED_PLAN = RowKind(SavedPlan, "saved plan", rule=_own_or_shared)
APPOINTMENT = RowKind(
    Appointment, "appointment", patient="patient_id", url_parameter="appointment_id"
)
# A patient's request to amend their record (ONC 170.315(d)(4)).
AMENDMENT_REQUEST = RowKind(
    AmendmentRequest, "amendment request", patient="patient_id", url_parameter="request_id"
)

# A session's invoice: open to whoever may open the patient's chart for the billing permission.
INVOICE = RowKind(Invoice, "invoice", related=("patient", "session"), patient="patient_id")

KINDS: tuple[RowKind[Any], ...] = (
    PATIENT,
    SESSION,
    LOT,
    VIAL,
    CONSENT,
    MEMBER,
    CLINIC,
    DIAGNOSIS,
    ADVERSE_EVENT,
    ASSESSMENT,
    SESSION_EVENT,
    CORRECTION_REQUEST,
    PHOTO,
    CONSENT_FORM,
    CONSENT_TEMPLATE,
    SAVED_PLAN,
    APPOINTMENT,
    AMENDMENT_REQUEST,
    INVOICE,
)

# The kinds a page's address names, by parameter (``bontrack/web/access.py``).
BY_URL_PARAMETER: dict[str, RowKind[Any]] = {
    kind.url_parameter: kind for kind in KINDS if kind.url_parameter is not None
}

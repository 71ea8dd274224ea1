"""The access funnels: the only way services and views reach patient rows (DESIGN.md 3.5).

Each funnel enforces the clinic boundary (another clinic's ids answer 404 and are logged as a
refused access), the role's permission (403), and a restricted patient's care team.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, Model, OuterRef, QuerySet

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
from bontrack.inventory.models import Lot, Vial
from bontrack.outcomes.models import AdverseEvent, Assessment
from bontrack.patients.models import Consent, Diagnosis, Patient
from bontrack.treatments.models import CorrectionRequest, SessionEvent, TreatmentSession

Row = TypeVar("Row", bound=Model)


def require(actor: Actor, perm: Perm) -> None:
    if not actor.membership.can(perm):
        raise ForbiddenError(
            None, f"your role ({actor.membership.role}) does not allow {perm.value}"
        )


def _refused(actor: Actor, what: str, object_id: object) -> NotFoundError:
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


def _in_clinic(actor: Actor, rows: QuerySet[Row], what: str, row_id: object) -> Row:
    """The row with this id in the caller's clinic, else a logged 404. A malformed id is an id
    that is not there: it answers the same 404, never a 500."""
    try:
        found = rows.filter(clinic_id=actor.membership.clinic_id, id=row_id).first()
    except (ValidationError, ValueError):
        found = None
    if found is None:
        raise _refused(actor, what, row_id)
    return found


def in_care_team(membership: Membership, patient: Patient) -> bool:
    """Whoever planned, signed or is booked for the patient outside a break-glass access, plus
    the prescriber who marked them restricted (DESIGN 3.4). What someone did while a break-glass
    access of theirs was open does not count: breaking glass never makes anyone care team."""
    from bontrack.security.models import BreakGlassAccess

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


def chart_open_to(membership: Membership, patient: Patient) -> bool:
    """Whether the member reads this patient's chart: not restricted, in the care team, or with
    an unexpired break-glass access."""
    return (
        not patient.restricted
        or in_care_team(membership, patient)
        or broke_glass(membership, patient)
    )


def access_patient(actor: Actor, patient_id: UUID | str, perm: Perm) -> Patient:
    patient = _in_clinic(actor, Patient.objects.all(), "patient", patient_id)
    require(actor, perm)
    if (
        patient.restricted
        and perm is not Perm.DEMOGRAPHICS_READ
        and not in_care_team(actor.membership, patient)
        and not broke_glass(actor.membership, patient)
    ):
        raise RestrictedChartError(patient.id)
    return patient


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


def broke_glass(membership: Membership, patient: Patient) -> bool:
    """An unexpired break-glass access of this member to this patient's chart."""
    from django.utils import timezone

    from bontrack.security.models import BreakGlassAccess

    return BreakGlassAccess.objects.filter(
        membership=membership, patient=patient, expires_at__gt=timezone.now()
    ).exists()


def access_session(actor: Actor, session_id: UUID | str, perm: Perm) -> TreatmentSession:
    session = _in_clinic(
        actor, TreatmentSession.objects.select_related("patient"), "session", session_id
    )
    access_patient(actor, session.patient_id, perm)
    return session


def access_lot(actor: Actor, lot_id: UUID | str, perm: Perm) -> Lot:
    lot = _in_clinic(actor, Lot.objects.all(), "lot", lot_id)
    require(actor, perm)
    return lot


def access_vial(actor: Actor, vial_id: UUID | str, perm: Perm) -> Vial:
    vial = _in_clinic(actor, Vial.objects.select_related("lot"), "vial", vial_id)
    require(actor, perm)
    return vial


def access_consent(actor: Actor, consent_id: UUID | str, perm: Perm) -> Consent:
    consent = _in_clinic(actor, Consent.objects.all(), "consent", consent_id)
    access_patient(actor, consent.patient_id, perm)
    return consent


def access_membership(actor: Actor, membership_id: UUID | str) -> Membership:
    return _in_clinic(actor, Membership.objects.all(), "member", membership_id)


def access_clinic(actor: Actor, clinic_id: UUID | str) -> Clinic:
    """The caller's own clinic; any other clinic's id is refused like any other row's."""
    if str(actor.membership.clinic_id) != str(clinic_id):
        raise _refused(actor, "clinic", clinic_id)
    return actor.membership.clinic


def access_diagnosis(actor: Actor, diagnosis_id: UUID | str, perm: Perm) -> Diagnosis:
    found = _in_clinic(actor, Diagnosis.objects.all(), "diagnosis", diagnosis_id)
    access_patient(actor, found.patient_id, perm)
    return found


def access_adverse_event(actor: Actor, event_id: UUID | str, perm: Perm) -> AdverseEvent:
    found = _in_clinic(actor, AdverseEvent.objects.all(), "adverse event", event_id)
    access_patient(actor, found.patient_id, perm)
    return found


def access_assessment(actor: Actor, assessment_id: UUID | str, perm: Perm) -> Assessment:
    found = _in_clinic(actor, Assessment.objects.all(), "assessment", assessment_id)
    access_patient(actor, found.patient_id, perm)
    return found


def access_session_event(actor: Actor, event_id: UUID | str, perm: Perm) -> SessionEvent:
    """An appended record of a session (co-signature, amendment, entered-in-error, cancel)."""
    found = _in_clinic(
        actor, SessionEvent.objects.select_related("session"), "session record", event_id
    )
    access_patient(actor, found.session.patient_id, perm)
    return found


def access_correction_request(
    actor: Actor, request_id: UUID | str, perm: Perm
) -> CorrectionRequest:
    """A correction request of a signed session (B.33), reached through its patient."""
    found = _in_clinic(
        actor,
        CorrectionRequest.objects.select_related("session__patient"),
        "correction request",
        request_id,
    )
    access_patient(actor, found.session.patient_id, perm)
    return found


def access_photo(actor: Actor, photo_id: UUID | str, perm: Perm) -> Photo:
    found = _in_clinic(actor, Photo.objects.all(), "photo", photo_id)
    access_patient(actor, found.patient_id, perm)
    return found


def access_consent_form(actor: Actor, form_id: UUID | str, perm: Perm) -> SignedConsentForm:
    found = _in_clinic(actor, SignedConsentForm.objects.all(), "consent form", form_id)
    access_patient(actor, found.patient_id, perm)
    return found


def access_consent_template(actor: Actor, template_id: UUID | str, perm: Perm) -> ConsentTemplate:
    found = _in_clinic(actor, ConsentTemplate.objects.all(), "consent template", template_id)
    require(actor, perm)
    return found


def access_saved_plan(actor: Actor, saved_id: UUID | str, perm: Perm) -> SavedPlan:
    """The clinic's saved plans, and the member's own; another injector's are not shared."""
    found = _in_clinic(actor, SavedPlan.objects.all(), "saved plan", saved_id)
    require(actor, perm)
    if found.owner_id is not None and found.owner_id != actor.membership.id:
        raise ForbiddenError(None, "this saved plan belongs to another injector")
    return found


def access_appointment(actor: Actor, appointment_id: UUID | str, perm: Perm) -> Appointment:
    found = _in_clinic(actor, Appointment.objects.all(), "appointment", appointment_id)
    access_patient(actor, found.patient_id, perm)
    return found

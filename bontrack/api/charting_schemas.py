"""Request and response shapes of the charting routes: appointments, the next visit, reminders,
photos, signed consent forms and saved plans (bontrack/api/charting.py)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ninja import Schema
from pydantic import Field

from bontrack.api.followup import DueOut
from bontrack.api.schemas import In, PointOut, UnitsText
from bontrack.charting.models import APPOINTMENT_STATUSES
from bontrack.plan_input import AwareDateTime, IsoDate

# --- Appointments ------------------------------------------------------------------------------


class AppointmentIn(In):
    indication: str
    # With its UTC offset; shown back in the clinic's time zone.
    starts_at: AwareDateTime
    minutes: int = Field(default=30, description="between 5 and 480")
    injector_id: UUID | None = None
    notes: str = ""
    # The signed session whose next-visit proposal this booking takes up.
    proposed_by_session_id: UUID | None = None
    confirm: bool = Field(
        default=False,
        description=(
            "true books despite the warnings a 409 gave: the patient or the injector already "
            "booked at an overlapping time, or a time outside the opening hours"
        ),
    )


class OpeningHoursIn(In):
    # {"mon": [["08:00", "12:30"], ["13:30", "18:00"]], ..., "sun": []}; a day left out is closed.
    opening_hours: dict[str, list[list[str]]] | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


class OpeningHoursOut(Schema):
    time_zone: str
    opening_hours: dict[str, list[list[str]]]
    contact_email: str
    contact_phone: str
    # Where reminders come from and where replies go; null while no address is set.
    reminder_from: str | None
    reminder_reply_to: str | None


class AppointmentStatusIn(In):
    # The service holds the rule (and refuses changing a completed or cancelled appointment);
    # the enum only tells clients the values.
    status: str = Field(json_schema_extra={"enum": list(APPOINTMENT_STATUSES)})


class AppointmentOut(Schema):
    id: UUID
    patient_id: UUID
    record_number: str
    given_name: str
    family_name: str
    indication: str
    starts_at: datetime  # in the clinic's time zone, with its offset
    minutes: int
    status: str
    injector_id: UUID | None
    injector: str | None
    notes: str
    proposed_by_session_id: UUID | None
    booked_by: UUID


class AppointmentBookOut(Schema):
    time_zone: str
    start: date
    end: date
    appointments: list[AppointmentOut]


class NextVisitOut(Schema):
    session_id: UUID
    patient_id: UUID
    indication: str
    product: str
    administered_at: datetime | None
    # When the next session falls due and why (null when the due rules give nothing, e.g. the
    # session was entered in error); the same rules as GET /patients/{id}/due.
    due: DueOut | None
    # The due day at the signed session's time of day (within clinic hours), in the clinic's zone.
    suggested_at: datetime | None
    # The first open appointment of the indication already booked after the session, if any.
    booked: AppointmentOut | None
    # Why no visit is suggested (B.32): "stop recommended (NICE TA260)" or "not responding on
    # SCALE" while such a verdict of the indication stands; "" otherwise.
    held_because: str = ""


# --- Reminders ---------------------------------------------------------------------------------


class ReminderRowOut(Schema):
    patient_id: UUID
    record_number: str
    given_name: str
    family_name: str
    indication: str
    indication_name: str
    product: str
    last_session_date: date
    due: date | None
    status: str
    injector_id: UUID | None
    injector: str | None
    contact_method: str
    phone: str
    email: str
    # Agreed to be contacted by e-mail and has an address; otherwise why not.
    contactable: bool
    why_not: str
    last_reminded: date | None


class ReminderDraftOut(Schema):
    patient_id: UUID
    record_number: str
    indication: str
    due: date | None
    to: str
    subject: str
    body: str


class ReminderSkippedOut(Schema):
    patient_id: UUID
    reason: str


class ReminderPreviewOut(Schema):
    sender: str | None
    reply_to: str | None
    messages: list[ReminderDraftOut]
    skipped: list[ReminderSkippedOut]
    # The Reminders page sends only while the e-mails still match this fingerprint.
    digest: str


class ReminderListOut(Schema):
    today: date
    days: int
    rows: list[ReminderRowOut]


# --- Photos ------------------------------------------------------------------------------------


class PhotoOut(Schema):
    id: UUID
    patient_id: UUID
    indication: str
    view: str
    view_name: str
    timepoint: str
    session_id: UUID | None
    taken_on: date
    recorded_at: datetime
    width: int
    height: int
    size_bytes: int
    original_format: str
    # Of the stored JPEG, as GET /photos/{id}/image serves it.
    sha256: str
    uploaded_by: UUID


# --- Consent forms -----------------------------------------------------------------------------


class RiskOut(Schema):
    code: str
    name: str
    source: str


class ConsentFormOut(Schema):
    id: UUID
    patient_id: UUID
    consent_id: UUID
    indication: str
    product: str
    template_id: UUID
    template_version: int
    title: str
    signer_name: str
    signer_role: str
    witness_name: str
    signed_at: datetime
    expires_on: date
    withdrawn_on: date | None
    risks: list[RiskOut]
    catalog_version: str
    # Of the stored PDF, as GET /consent-forms/{id}/pdf serves it.
    pdf_sha256: str
    recorded_by: UUID


# --- Saved plans -------------------------------------------------------------------------------


class SavedPlanOut(Schema):
    id: UUID
    name: str
    product: str
    indication: str
    protocol: str
    points: list[PointOut]
    total_units: UnitsText
    # The clinic's (true) or the caller's own (false).
    shared: bool
    owner_id: UUID | None
    created_at: datetime


class PlanFromSavedIn(In):
    patient_id: UUID
    plan_date: IsoDate | None = None  # the clinic's today when left out


class RepeatLastIn(In):
    indication: str
    product: str
    plan_date: IsoDate | None = None  # the clinic's today when left out

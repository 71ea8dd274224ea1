"""Request and response shapes of the REST API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal
from uuid import UUID

from django.db import models
from ninja import Schema
from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bontrack.core.fields import max_length, nested_problems, text_problem
from bontrack.patients.models import Patient
from bontrack.plan_input import AwareDateTime, IsoDate, Number
from bontrack.treatments.models import TreatmentSession

UnitsText = str  # units leave the API as strings ("155", "2.5"), never floats


class In(Schema):
    """A request body. Every text in it is checked before any service or query sees it
    (bontrack/core/fields.py): no NUL, no lone surrogate, and, for a field of the model named in
    ``limits_from``, no more characters than its column holds, so that both engines answer 422
    naming the field (PostgreSQL would refuse them with a 500, SQLite store them)."""

    model_config = ConfigDict(extra="forbid")
    limits_from: ClassVar[type[models.Model] | None] = None

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            limit = max_length(cls.limits_from, info.field_name) if cls.limits_from else None
            problem = text_problem(value, limit)
            if problem:
                raise PydanticCustomError("text", problem)
        elif isinstance(value, list | dict):
            for where, problem in nested_problems(value):
                raise PydanticCustomError("text", f"{where}: {problem}" if where else problem)
        return value


class ErrorItem(Schema):
    field: str | None
    message: str


class ErrorOut(Schema):
    errors: list[ErrorItem]


class TokenIn(In):
    username: str
    password: str
    # The second factor's current code (or a recovery code), for a user who has one.
    code: str | None = None
    clinic_id: UUID | None = None
    name: str = "api"
    days: int = Field(default=30, ge=1, le=365)
    # Permissions (e.g. "chart.read") the token carries, among its role's; none given: all.
    scopes: list[str] | None = None


class TokenOut(Schema):
    token: str
    expires_at: datetime
    membership_id: UUID
    clinic_id: UUID
    role: str
    scopes: list[str]


class InfectedSiteIn(In):
    site: str
    side: Literal["left", "right", "midline"] | None = None


class PatientIn(In):
    limits_from = Patient

    record_number: str
    given_name: str
    family_name: str
    birth_date: IsoDate
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    phone: str = ""
    email: str = ""
    address: str = ""
    contact_agreed: bool = False
    contact_method: Literal["none", "phone", "email", "post"] = "none"
    weight_kg: Number | None = None
    weight_measured_on: IsoDate | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    conditions: list[str] = Field(default_factory=list)
    medications: list[str] = Field(default_factory=list)
    allergies: list[str] = Field(default_factory=list)
    infected_sites: list[InfectedSiteIn] = Field(default_factory=list)


class PatientPatch(In):
    limits_from = Patient

    record_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: IsoDate | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    contact_agreed: bool | None = None
    contact_method: Literal["none", "phone", "email", "post"] | None = None
    weight_kg: Number | None = None
    weight_measured_on: IsoDate | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: list[str] | None = None
    medications: list[str] | None = None
    allergies: list[str] | None = None
    infected_sites: list[InfectedSiteIn] | None = None
    restricted: bool | None = None


class PatientSummary(Schema):
    id: UUID
    record_number: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str


class PatientOut(PatientSummary):
    phone: str
    email: str
    address: str
    contact_agreed: bool
    contact_method: str
    restricted: bool
    # Clinical fields: null for a role that reads demographics only.
    clinical: dict[str, Any] | None


class ConsentIn(In):
    indication: str
    signed_on: IsoDate
    signed_by: str
    expires_on: IsoDate | None = None


class ConsentOut(Schema):
    id: UUID
    indication: str
    signed_on: date
    signed_by: str
    expires_on: date
    withdrawn_on: date | None


class WithdrawIn(In):
    on: IsoDate
    reason: str


class DiagnosisIn(In):
    indication: str
    icd10: str
    noted_on: IsoDate


class DiagnosisOut(Schema):
    id: UUID
    indication: str
    icd10: str
    noted_on: date


class PointIn(In):
    site: str
    side: Literal["left", "right", "midline"]
    units: Number
    route: Literal["intramuscular", "intradermal", "subcutaneous"] | None = None


class TechniqueIn(In):
    """How the points are placed: guidance ("" while not yet recorded) and the needle's gauge and
    length as written on its box (at most 40 characters)."""

    limits_from = TreatmentSession

    guidance: Literal["", "none", "emg", "electrical-stimulation", "ultrasound"] = ""
    needle: str = ""


class PlanIn(In):
    patient_id: UUID
    product: str
    indication: str
    plan_date: IsoDate
    protocol: str | None = None
    injections: list[PointIn] | None = None
    injector_id: UUID | None = None
    vial_ids: list[UUID] = Field(default_factory=list)
    notes: str = ""
    technique: TechniqueIn | None = None


class PlanPatch(In):
    injections: list[PointIn] | None = None
    vial_ids: list[UUID] | None = None
    injector_id: UUID | None = None
    plan_date: IsoDate | None = None
    notes: str | None = None
    # Replaces the technique as a whole when given.
    technique: TechniqueIn | None = None


class DecisionIn(In):
    fingerprint: str
    kind: Literal["acknowledge", "override"]
    reason: str = ""


class SignVialIn(In):
    """A vial drawn for the session (B.30): one of stock (``vial_id``), or one not from stock,
    typed at signing (``lot_number``, ``size_units``, ``expires_on``: e.g. a pharmacy-prepared
    syringe). ``drawn_units`` omitted: filled in the order the vials were opened."""

    vial_id: UUID | None = None
    drawn_units: Number | None = None
    lot_number: str | None = None
    size_units: Number | None = None
    expires_on: IsoDate | None = None


class SignIn(In):
    administered_at: AwareDateTime
    # The vials and their draws; ``vial_ids`` is the same without draws (all filled).
    vials: list[SignVialIn] | None = None
    vial_ids: list[UUID] | None = None


class ReasonIn(In):
    reason: str


class PointOut(Schema):
    site: str
    side: str
    units: UnitsText
    route: str


class EventOut(Schema):
    id: UUID
    kind: str
    reason: str
    by: UUID
    at: datetime
    digest: str
    amends_digest: str
    data: dict[str, Any]


class SessionVialOut(Schema):
    vial_id: UUID
    drawn_units: UnitsText | None


class TechniqueOut(Schema):
    guidance: str
    needle: str


class WeightUsedOut(Schema):
    """The weight a weight-based dose rule read at signing (a child's), when it was measured, and
    the session's current total per kg."""

    kg: UnitsText
    measured_on: date | None
    units_per_kg: UnitsText


class SessionOut(Schema):
    id: UUID
    patient_id: UUID
    status: str
    product: str
    indication: str
    protocol: str
    plan_date: date
    notes: str
    technique: TechniqueOut
    # Signed sessions only: null on a plan, and when no weight-based rule applied.
    weight_used: WeightUsedOut | None
    injector_id: UUID | None
    total_units: UnitsText
    injections: list[PointOut]
    original_injections: list[PointOut]
    vial_ids: list[UUID]
    # A plan's vials (drawn_units null), or a signed session's current draws (B.30).
    vials: list[SessionVialOut]
    check: dict[str, Any]
    catalog_version: str
    administered_at: datetime | None
    signed_at: datetime | None
    signed_by: UUID | None
    digest: str
    # The digest a correction names (B.33): the latest amendment's, else the signature's.
    current_digest: str
    events: list[EventOut]


class TimelineItem(Schema):
    id: UUID
    status: str
    plan_date: date
    product: str
    indication: str
    total_units: UnitsText
    injector: str | None
    overridden: list[str]
    # A dose given elsewhere (recorded here from another clinic's document): where it was given.
    external: bool = False
    given_elsewhere_at: str | None = None


class LotIn(In):
    product: str
    lot_number: str
    vial_size_units: Number
    expires_on: IsoDate
    received_vials: int
    received_on: IsoDate
    ndc: str | None = None  # 11 digits, 5-4-2; absent: the billing catalog's for the vial size


class LotOut(Schema):
    id: UUID
    product: str
    lot_number: str
    vial_size_units: UnitsText
    expires_on: date
    received_vials: int
    received_on: date
    recalled_at: datetime | None
    recall_reason: str
    ndc: str
    ndc_to_confirm: bool


class StockRow(Schema):
    lot: LotOut
    unopened: int
    expired: bool
    expiring_soon: bool
    recalled: bool


class VialOut(Schema):
    id: UUID
    lot_id: UUID
    product: str
    lot_number: str
    size_units: UnitsText
    reconstituted_at: datetime | None
    diluent_ml: str | None
    use_by: datetime | None
    patient_id: UUID | None
    # False: a vial typed at signing (lot, size, expiry), e.g. a pharmacy-prepared syringe.
    from_stock: bool
    # Derived from the draws of signed sessions and the closing (B.30), never stored.
    status: Literal["unopened", "open", "closed"]
    opened_at: datetime | None
    # When it closes (or closed): by hand, at the end of the day it was opened, or at its use-by.
    closes_at: datetime | None
    closed_at: datetime | None
    closed_how: Literal["closed", "end-of-day", "use-by"] | None
    used_units: UnitsText
    wasted_units: UnitsText
    remaining_units: UnitsText


class ReconstituteIn(In):
    diluent_ml: Number
    reconstituted_at: AwareDateTime


class WasteIn(In):
    # A vial no session drew is wasted whole: given, it must be the vial's size.
    units: Number | None = None


class CloseVialIn(In):
    note: str = ""


class ExposureOut(Schema):
    """A patient who received the lot. ``restricted``: a restricted patient outside the caller's
    care team, counted without details until the caller breaks glass (DESIGN 3.4)."""

    patient_id: UUID
    record_number: str
    name: str
    phone: str
    email: str
    session_id: UUID | None
    administered_on: date | None
    restricted: bool


class AdverseEventIn(In):
    term: str
    onset_date: IsoDate
    severity: Literal["mild", "moderate", "severe", "life-threatening"]
    serious: bool = False
    relatedness: Literal["unrelated", "unlikely", "possible", "probable", "certain"]
    outcome: Literal[
        "recovered", "recovering", "not-recovered", "recovered-with-sequelae", "fatal", "unknown"
    ]
    notes: str = ""


class AdverseEventOut(Schema):
    id: UUID
    session_id: UUID
    patient_id: UUID
    term: str
    onset_date: date
    severity: str
    serious: bool
    relatedness: str
    outcome: str
    notes: str
    recorded_at: datetime


class AuditOut(Schema):
    seq: int
    at: datetime
    username: str
    role: str
    patient_id: UUID | None
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]
    address: str
    hash: str


class ChainOut(Schema):
    name: str
    entries: int
    intact: bool
    broken_at: int | None
    problem: str


class DigestOut(Schema):
    session_id: UUID
    digest: str
    intact: bool


def units_text(value: Decimal) -> str:
    from bontrack.domain.units import format_decimal

    return format_decimal(Decimal(value))

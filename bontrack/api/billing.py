"""Claims: a session's charge sets and superbill, claim items confirmed, the catalog items a clinic
confirms once, coverage, the diagnosis a claim points at, the claims file, and a member's NPI
(docs/billing.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.accounts.services import set_npi
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import DiagnosisOut, ErrorOut, In
from bontrack.billing import reads, services
from bontrack.billing.catalog_items import CatalogItem
from bontrack.billing.models import CatalogConfirmation, ClaimConfirmation, Coverage
from bontrack.core import csvfiles
from bontrack.domain.billing import BillingTag, ChargeLine, ClaimItem, billing_catalog
from bontrack.patients.models import Diagnosis
from bontrack.plan_input import IsoDate

router = Router(tags=["billing"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- Schemas -----------------------------------------------------------------------------------


class ChargeLineOut(Schema):
    kind: Literal["procedure", "drug", "waste"]
    code: str
    modifiers: list[str]
    billing_units: int
    ndc: str | None
    diagnosis_pointer: str | None
    description: str
    tag: str
    refs: list[str]
    to_confirm: bool


class ClaimItemOut(Schema):
    code: str
    message: str


class ItemToConfirmOut(Schema):
    code: str
    message: str
    confirmed: bool
    confirmed_by: str
    confirmed_at: datetime | None
    note: str


class CatalogItemOut(Schema):
    code: str
    message: str
    catalog_version: str
    confirmed: bool
    confirmed_by: str
    confirmed_at: datetime | None
    note: str


class CatalogConfirmationIn(In):
    limits_from = CatalogConfirmation

    item_code: str
    message: str
    note: str = ""


class CatalogConfirmationOut(Schema):
    id: UUID
    item_code: str
    message: str
    catalog_version: str
    confirmed_by: str
    confirmed_at: datetime
    note: str


class ChargeSetOut(Schema):
    id: UUID
    sequence: int
    reason: str
    status: str
    why: str
    replaces: UUID | None
    created_at: datetime
    created_by: str
    date_of_service: date
    claimable: bool
    invoice_only: bool
    lines: list[ChargeLineOut]
    to_confirm: list[ClaimItemOut]
    refusals: list[ClaimItemOut]
    catalog_version: str
    current: bool


class CoverageIn(In):
    limits_from = Coverage

    payer_name: str
    payer_id: str
    member_id: str
    relationship: Literal["self", "spouse", "child", "other"]
    valid_from: IsoDate
    valid_to: IsoDate | None = None
    replaces: UUID | None = None


class CoverageOut(Schema):
    id: UUID
    payer_name: str
    payer_id: str
    member_id: str
    relationship: str
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    recorded_by: str
    replaces: UUID | None
    standing: bool


class ProviderOut(Schema):
    id: UUID
    name: str
    npi: str
    to_confirm: bool


class PatientLineOut(Schema):
    id: UUID
    name: str
    birth_date: date
    record_number: str


class HcpcsTotalOut(Schema):
    hcpcs: str
    product: str
    administered: int
    discarded: int
    billed: int


class SuperbillOut(Schema):
    session_id: UUID
    charge_set_id: UUID
    sequence: int
    reason: str
    status: str
    why: str
    captured_at: datetime
    catalog_version: str
    clinic: str
    patient: PatientLineOut
    coverage: CoverageOut | None
    date_of_service: date
    place_of_service: str
    product: str
    indication: str
    rendering_provider: ProviderOut | None
    diagnosis: str
    diagnosis_display: str
    lines: list[ChargeLineOut]
    claim_items: list[ItemToConfirmOut]
    catalog_items: list[CatalogItemOut]
    refusals: list[ClaimItemOut]
    totals: list[HcpcsTotalOut]
    claimable: bool
    invoice_only: bool
    voided: bool
    exportable: bool
    left_out_because: list[str]


class ConfirmationIn(In):
    limits_from = ClaimConfirmation

    item_code: str
    note: str = ""
    charge_set_id: UUID | None = None


class ConfirmationOut(Schema):
    id: UUID
    charge_set_id: UUID
    item_code: str
    confirmed_by: str
    at: datetime
    note: str


class ClaimDiagnosisIn(In):
    limits_from = Diagnosis

    indication: str
    icd10: str
    noted_on: IsoDate | None = None


class SuggestionOut(Schema):
    code: str
    display: str
    tag: str
    to_confirm: bool
    refs: list[str]


class NpiIn(In):
    npi: str


class NpiOut(Schema):
    member_id: UUID
    npi: str


# --- Renderers ---------------------------------------------------------------------------------


def _line(line: ChargeLine, to_confirm: bool) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "code": line.code,
        "modifiers": list(line.modifiers),
        "billing_units": line.billing_units,
        "ndc": line.ndc,
        "diagnosis_pointer": line.diagnosis_pointer,
        "description": line.description,
        "tag": line.tag,
        "refs": list(line.refs),
        "to_confirm": to_confirm,
    }


def _catalog_item(item: CatalogItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "message": item.message,
        "catalog_version": item.catalog_version,
        "confirmed": item.confirmed,
        "confirmed_by": item.confirmed_by,
        "confirmed_at": item.confirmed_at,
        "note": item.note,
    }


def _items(items: tuple[ClaimItem, ...]) -> list[dict[str, str]]:
    return [{"code": i.code, "message": i.message} for i in items]


def _coverage(view: reads.CoverageView) -> dict[str, Any]:
    return {
        "id": view.id,
        "payer_name": view.payer_name,
        "payer_id": view.payer_id,
        "member_id": view.member_id,
        "relationship": view.relationship,
        "valid_from": view.valid_from,
        "valid_to": view.valid_to,
        "recorded_at": view.recorded_at,
        "recorded_by": view.recorded_by,
        "replaces": view.replaces,
        "standing": view.standing,
    }


def superbill_out(bill: reads.Superbill) -> dict[str, Any]:
    provider = bill.rendering_provider
    return {
        "session_id": bill.session_id,
        "charge_set_id": bill.charge_set_id,
        "sequence": bill.sequence,
        "reason": bill.reason,
        "status": bill.status,
        "why": bill.why,
        "captured_at": bill.captured_at,
        "catalog_version": bill.catalog_version,
        "clinic": bill.clinic,
        "patient": {
            "id": bill.patient_id,
            "name": bill.patient_name,
            "birth_date": bill.birth_date,
            "record_number": bill.record_number,
        },
        "coverage": _coverage(bill.coverage) if bill.coverage is not None else None,
        "date_of_service": bill.date_of_service,
        "place_of_service": bill.place_of_service,
        "product": bill.product,
        "indication": bill.indication,
        "rendering_provider": {
            "id": provider.id,
            "name": provider.name,
            "npi": provider.npi,
            "to_confirm": provider.to_confirm,
        }
        if provider is not None
        else None,
        "diagnosis": bill.diagnosis,
        "diagnosis_display": bill.diagnosis_display,
        "lines": [_line(v.line, v.to_confirm) for v in bill.lines],
        "claim_items": [
            {
                "code": i.code,
                "message": i.message,
                "confirmed": i.confirmed,
                "confirmed_by": i.confirmed_by,
                "confirmed_at": i.confirmed_at,
                "note": i.note,
            }
            for i in bill.claim_items
        ],
        "catalog_items": [_catalog_item(i) for i in bill.catalog_items],
        "refusals": _items(bill.refusals),
        "totals": [
            {
                "hcpcs": t.hcpcs,
                "product": t.product,
                "administered": t.administered,
                "discarded": t.discarded,
                "billed": t.billed,
            }
            for t in bill.totals
        ],
        "claimable": bill.claimable,
        "invoice_only": bill.invoice_only,
        "voided": bill.voided,
        "exportable": bill.exportable,
        "left_out_because": list(bill.left_out_because),
    }


def _is_to_confirm(tag: str) -> bool:
    return tag in (BillingTag.RECALLED, BillingTag.UNCERTAIN)


# --- Routes ------------------------------------------------------------------------------------


@router.get(
    "/sessions/{session_id}/charges",
    response={200: list[ChargeSetOut], **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def charge_sets(request: HttpRequest, session_id: UUID) -> Any:
    """The session's charge sets, oldest first: captured at signing, then one per revision (an
    amendment, an entered-in-error's voiding set, a vial shared with a later session, a diagnosis
    chosen since); `current` marks the one a claim reads."""
    return [
        {
            "id": s.id,
            "sequence": s.sequence,
            "reason": s.reason,
            "status": s.status,
            "why": s.why,
            "replaces": s.replaces,
            "created_at": s.created_at,
            "created_by": s.created_by,
            "date_of_service": s.date_of_service,
            "claimable": s.claimable,
            "invoice_only": s.invoice_only,
            "lines": [_line(line, _is_to_confirm(line.tag)) for line in s.lines],
            "to_confirm": _items(s.to_confirm),
            "refusals": _items(s.refusals),
            "catalog_version": s.catalog_version,
            "current": s.current,
        }
        for s in services.charge_history(actor_of(request), session_id)
    ]


@router.get(
    "/sessions/{session_id}/superbill",
    response={200: SuperbillOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def superbill(request: HttpRequest, session_id: UUID) -> Any:
    """The session's superbill from its current charge set: lines, totals of billing units per
    HCPCS code, what is to confirm and whether it is, refusals, and why the claims file leaves
    it out (empty: exported). 409 when no charges were captured (a plan)."""
    return superbill_out(services.read_superbill(actor_of(request), session_id))


@router.post(
    "/sessions/{session_id}/charges/confirmations",
    response={201: ConfirmationOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_WRITE),
)
def confirm_item(request: HttpRequest, session_id: UUID, body: ConfirmationIn) -> Any:
    """Confirm one claim item of the current charge set (`item_code` as the superbill lists it),
    once; `charge_set_id`, when given, must still be the current set (409 otherwise)."""
    confirmation = services.confirm_claim_item(
        actor_of(request),
        session_id,
        item_code=body.item_code,
        note=body.note,
        charge_set_id=body.charge_set_id,
    )
    return Status(
        201,
        {
            "id": confirmation.id,
            "charge_set_id": confirmation.charge_set_id,
            "item_code": confirmation.item_code,
            "confirmed_by": confirmation.confirmed_by.display_name,
            "at": confirmation.at,
            "note": confirmation.note,
        },
    )


@router.get(
    "/billing/catalog-items",
    response={200: list[CatalogItemOut], **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def catalog_items(request: HttpRequest) -> Any:
    """Every catalog item the current billing catalog can raise on a claim ([R]/[U] codes, the
    bilateral modifier, whether the JW line repeats the NDC...), with whether the clinic
    confirmed it under this catalog version. A claim carrying an unconfirmed one stays out of
    the claims file."""
    return [_catalog_item(i) for i in services.catalog_items(actor_of(request))]


@router.post(
    "/billing/catalog-items/confirmations",
    response={201: CatalogConfirmationOut, **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def confirm_catalog_item(request: HttpRequest, body: CatalogConfirmationIn) -> Any:
    """The clinic admin confirms one catalog item (`item_code` and `message` as listed) for
    every claim of the clinic under the current catalog version, once (409 when it is
    already); a new catalog version asks again."""
    confirmation = services.confirm_catalog_item(
        actor_of(request), body.item_code, body.message, body.note
    )
    return Status(
        201,
        {
            "id": confirmation.id,
            "item_code": confirmation.item_code,
            "message": confirmation.message,
            "catalog_version": confirmation.catalog_version,
            "confirmed_by": confirmation.confirmed_by.display_name,
            "confirmed_at": confirmation.confirmed_at,
            "note": confirmation.note,
        },
    )


@router.post(
    "/patients/{patient_id}/coverage",
    response={201: CoverageOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_WRITE),
)
def record_coverage(request: HttpRequest, patient_id: UUID, body: CoverageIn) -> Any:
    """Append a version of the patient's coverage; `replaces` names the version it corrects."""
    coverage = services.record_coverage(actor_of(request), patient_id, **body.model_dump())
    return Status(201, _coverage(reads.coverage_view(coverage)))


@router.get(
    "/patients/{patient_id}/coverage",
    response={200: list[CoverageOut], **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def list_coverage(request: HttpRequest, patient_id: UUID) -> Any:
    """Every version of the patient's coverage, newest first; `standing`: no newer version
    replaces it."""
    return [_coverage(v) for v in services.list_coverage(actor_of(request), patient_id)]


@router.post(
    "/patients/{patient_id}/claim-diagnoses",
    response={201: DiagnosisOut, **ERRORS},
    openapi_extra=needs(Perm.BILLING_WRITE),
)
def choose_diagnosis(request: HttpRequest, patient_id: UUID, body: ClaimDiagnosisIn) -> Any:
    """The patient's ICD-10-CM code for an indication, one the billing catalog suggests for it
    on `noted_on` (today by default); claims of the indication refused for want of a diagnosis
    are derived again."""
    diagnosis = services.choose_diagnosis(actor_of(request), patient_id, **body.model_dump())
    return Status(201, diagnosis)


@router.get(
    "/billing/diagnosis-suggestions",
    response={200: list[SuggestionOut], **ERRORS},
    openapi_extra=needs(Perm.BILLING_READ),
)
def diagnosis_suggestions(request: HttpRequest, indication: str, on: IsoDate) -> Any:
    """The billing catalog's ICD-10-CM suggestions for an indication valid on a date, each with
    its tag; [R] and [U] ones are to confirm."""
    require(actor_of(request), Perm.BILLING_READ)
    return [
        {
            "code": s.code,
            "display": s.display,
            "tag": s.tag.value,
            "to_confirm": s.tag.to_confirm,
            "refs": list(s.refs),
        }
        for s in billing_catalog().icd_suggestions(indication, on)
    ]


def _csv_documented(description: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    }


@router.get(
    "/billing/claims.csv",
    response={200: Any, **ERRORS},
    openapi_extra={
        **_csv_documented(
            "One row per line of each exportable claim, then a blank line and the claims left "
            "out with why"
        ),
        **needs(Perm.BILLING_READ),
    },
)
def claims_csv(request: HttpRequest, start: IsoDate, end: IsoDate) -> HttpResponse:
    """The claims file of the dates of service from `start` to `end` (at most 366 days): one
    row per line of each claim that is complete, confirmed, covered and rendered under an NPI;
    after a blank line, the claims left out, each with why. Cosmetic sessions are invoiced,
    never listed. One export entry per patient on the audit trail."""
    text = services.claims_export(actor_of(request), start, end)
    response = HttpResponse(text, content_type=csvfiles.MEDIA_TYPE)
    response["Content-Disposition"] = csvfiles.content_disposition(
        services.claims_filename(start, end)
    )
    response["Cache-Control"] = "no-store"
    return response


@router.put(
    "/members/{member_id}/npi",
    response={200: NpiOut, **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def put_npi(request: HttpRequest, member_id: UUID, body: NpiIn) -> Any:
    """The clinic admin records a member's NPI (10 digits with its check digit; "" clears it):
    a prescriber's NPI renders their claims."""
    member = set_npi(actor_of(request), member_id, body.npi)
    return {"member_id": member.id, "npi": member.npi}

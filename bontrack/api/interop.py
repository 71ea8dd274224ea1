"""Interoperability in the REST API: doses given elsewhere (by hand, or a FHIR Bundle), the CSV
import and exports, and the SMART backend-services clients a clinic admin registers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Body, File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import actor_of
from bontrack.api.perms import needs
from bontrack.api.schemas import ErrorOut, In, PointIn, SessionOut, units_text
from bontrack.api.sessions import session_out
from bontrack.core import csvfiles
from bontrack.core.csvfiles import content_disposition
from bontrack.core.errors import ServiceError
from bontrack.interop import csv_io, smart
from bontrack.interop.fhir import record_number_system
from bontrack.interop.fhir_import import Chart, read_bundle
from bontrack.plan_input import IsoDate, Number
from bontrack.treatments import external
from bontrack.treatments.services import PointInput

router = Router(tags=["interoperability"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _csv_documented(description: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    }


# --- Schemas -----------------------------------------------------------------------------------


class ExternalDoseIn(In):
    given_on: IsoDate
    product: str
    # A catalog indication, or "other" for one outside the catalog (e.g. bladder).
    indication: str
    # The total; required when no injection names a site (it must match their sum otherwise).
    units: Number | None = None
    injections: list[PointIn] = Field(default_factory=list)
    place: str
    source_document: str
    notes: str = ""


class ImportedDoseOut(Schema):
    session_id: UUID | None
    given_on: date
    product: str
    indication: str
    total_units: str
    sites: int
    created: bool


class BundleImportOut(Schema):
    dry_run: bool
    doses: list[ImportedDoseOut]


class CsvErrorOut(Schema):
    line: int
    column: str | None
    message: str


class CsvImportOut(Schema):
    dry_run: bool
    rows: int
    patients_created: int
    patients_found: int
    doses_created: int
    doses_found: int
    errors: list[CsvErrorOut]


class SystemClientIn(In):
    name: str
    # The client's public keys as a JWK Set: {"keys": [{"kty": "RSA"|"EC", "kid": ..., ...}]}.
    jwks: dict[str, Any]
    scopes: list[str] = Field(default_factory=lambda: ["system/*.rs"])


class SystemClientOut(Schema):
    client_id: UUID
    name: str
    scopes: list[str]
    key_ids: list[str]
    registered_at: datetime
    revoked_at: datetime | None
    token_url: str


# --- Doses given elsewhere ---------------------------------------------------------------------


@router.post(
    "/patients/{patient_id}/external-doses",
    response={201: SessionOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def record_external_dose(request: HttpRequest, patient_id: UUID, body: ExternalDoseIn) -> Any:
    """Record a dose given elsewhere (date, product, indication, units, the sites if known,
    where, the source document). It is signed as recorded by you, shown on the timeline as given
    elsewhere, and counted by the checker like a dose given here (the same product only)."""
    dose = external.ExternalDose(
        given_on=body.given_on,
        product=body.product,
        indication=body.indication,
        place=body.place,
        source_document=body.source_document,
        units=body.units,
        injections=tuple(PointInput(p.site, p.side, p.units, p.route) for p in body.injections),
        notes=body.notes,
    )
    session, _ = external.record_external_dose(actor_of(request), patient_id, dose)
    return Status(201, session_out(session))


@router.post(
    "/patients/{patient_id}/external-doses/fhir",
    response={200: BundleImportOut, 201: BundleImportOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def import_external_doses(
    request: HttpRequest,
    patient_id: UUID,
    bundle: dict[str, Any] = Body(...),  # noqa: B008 (django-ninja declares bodies this way)
    dry_run: bool = False,
    place: str = "",
    source_document: str = "",
) -> Any:
    """Import doses given elsewhere from a FHIR R4 Bundle of MedicationAdministration resources
    (docs/fhir.md, "Doses given elsewhere"). Every entry that cannot be read is reported by its
    path; nothing is recorded unless all can. Importing the same Bundle again adds nothing.
    `dry_run=true` reports what would be recorded."""
    actor = actor_of(request)
    patient = external.check_patient(actor, patient_id)  # 403 or 404 before the Bundle is read
    doses, problems = read_bundle(
        bundle,
        time_zone=actor.membership.clinic.time_zone,
        place=place,
        source_document=source_document,
        today=external.clinic_today(actor),
        chart=Chart(
            family_name=patient.family_name,
            given_name=patient.given_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
            record_number=patient.record_number,
            record_system=record_number_system(patient.clinic_id),
        ),
    )
    if problems:
        return Status(422, {"errors": [{"field": p.field, "message": p.message} for p in problems]})
    if dry_run:
        today = external.clinic_today(actor)
        for n, dose in enumerate(doses):
            external.validate_external(dose, today, f"doses[{n}].")
        return Status(200, {"dry_run": True, "doses": [_dose_out(d, None, True) for d in doses]})
    recorded = external.record_external_doses(actor, patient_id, doses)
    return Status(
        201,
        {
            "dry_run": False,
            "doses": [
                _dose_out(d, s.id, created) for d, (s, created) in zip(doses, recorded, strict=True)
            ],
        },
    )


def _dose_out(dose: external.ExternalDose, session_id: Any, created: bool) -> dict[str, Any]:
    total = dose.units if dose.units is not None else sum(p.units for p in dose.injections)
    return {
        "session_id": session_id,
        "given_on": dose.given_on,
        "product": dose.product,
        "indication": dose.indication,
        "total_units": units_text(total),
        "sites": len(dose.injections),
        "created": created,
    }


# --- CSV ---------------------------------------------------------------------------------------


@router.post(
    "/imports/csv",
    response={200: CsvImportOut, **ERRORS},
    openapi_extra=needs(Perm.PLAN_WRITE),
)
def import_csv(
    request: HttpRequest,
    file: UploadedFile = File(...),  # noqa: B008 (django-ninja declares uploads this way)
    dry_run: bool = False,
) -> Any:
    """Import patients and their treatment history from a spreadsheet (docs/csv.md). A dry run
    reports every bad row by line, column and reason and writes nothing; a real run refuses the
    whole file while any row is bad (422, each row in the error list), and importing the same
    file twice adds nothing."""
    if file.size is not None and file.size > csv_io.MAX_BYTES:
        raise ServiceError("file", f"is larger than {csv_io.MAX_BYTES:,} bytes")
    content = file.read(csv_io.MAX_BYTES + 1)
    try:
        result = csv_io.import_csv(actor_of(request), content, dry_run=dry_run)
    except csv_io.CsvRefusedError as refused:
        return Status(
            422,
            {
                "errors": [
                    {
                        # Line 0 is the file as a whole (not UTF-8, too large): no line to name.
                        "field": "file"
                        if e.line == 0
                        else f"line {e.line}" + (f", {e.column}" if e.column else ""),
                        "message": e.message,
                    }
                    for e in refused.result.errors
                ]
            },
        )
    return {
        "dry_run": result.dry_run,
        "rows": result.rows,
        "patients_created": result.patients_created,
        "patients_found": result.patients_found,
        "doses_created": result.doses_created,
        "doses_found": result.doses_found,
        "errors": [
            {"line": e.line, "column": e.column, "message": e.message} for e in result.errors
        ],
    }


def _csv(request: HttpRequest, kind: str, start: date, end: date) -> HttpResponse:
    text = csv_io.export_csv(actor_of(request), kind, start, end)
    response = HttpResponse(text, content_type=csvfiles.MEDIA_TYPE)
    response["Content-Disposition"] = content_disposition(csv_io.export_filename(kind, start, end))
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "/exports/sessions",
    response={200: Any, **ERRORS},
    openapi_extra={
        **_csv_documented("The clinic's signed sessions in the period, one row each"),
        **needs(Perm.CHART_READ),
    },
)
def export_sessions(request: HttpRequest, start: IsoDate, end: IsoDate) -> HttpResponse:
    """The clinic's signed sessions from `start` to `end` (their dates), one row per session:
    status, product, indication, total (as amended), injector, given elsewhere or not. Each
    patient exported writes an export entry to the audit trail."""
    return _csv(request, "sessions", start, end)


@router.get(
    "/exports/injections",
    response={200: Any, **ERRORS},
    openapi_extra={
        **_csv_documented("Every injection of the clinic's signed sessions in the period"),
        **needs(Perm.CHART_READ),
    },
)
def export_injections(request: HttpRequest, start: IsoDate, end: IsoDate) -> HttpResponse:
    """Every injection point (as amended) of the clinic's signed sessions from `start` to
    `end`, one row per point."""
    return _csv(request, "injections", start, end)


# --- SMART backend-services clients ------------------------------------------------------------


def _client_out(request: HttpRequest, client: Any) -> dict[str, Any]:
    return {
        "client_id": client.id,
        "name": client.name,
        "scopes": client.scopes,
        "key_ids": [k["kid"] for k in client.jwks["keys"]],
        "registered_at": client.registered_at,
        "revoked_at": client.revoked_at,
        "token_url": request.build_absolute_uri("/fhir/auth/token"),
    }


@router.post(
    "/system-clients",
    response={201: SystemClientOut, **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def register_system_client(request: HttpRequest, body: SystemClientIn) -> Any:
    """Register a backend service (SMART Backend Services) with its public keys (a JWKS). It
    asks /fhir/auth/token for 5-minute tokens with a private_key_jwt assertion (RS384 or ES384)
    and reads the clinic's records (system/*.rs), bulk $export included. Clinic admins only."""
    client = smart.register_client(
        actor_of(request), name=body.name, jwks=body.jwks, scopes=body.scopes
    )
    return Status(201, _client_out(request, client))


@router.get(
    "/system-clients",
    response={200: list[SystemClientOut], **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def list_system_clients(request: HttpRequest) -> Any:
    return [_client_out(request, c) for c in smart.list_clients(actor_of(request))]


@router.post(
    "/system-clients/{client_id}/revoke",
    response={200: SystemClientOut, **ERRORS},
    openapi_extra=needs(Perm.USERS_MANAGE),
)
def revoke_system_client(request: HttpRequest, client_id: UUID) -> Any:
    """The client gets no new token, and its tokens stop working at once."""
    return _client_out(request, smart.revoke_client(actor_of(request), client_id))

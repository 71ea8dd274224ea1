"""HTTP for Bulk Data $export and SMART Backend Services.

- ``GET /fhir/$export``, ``/fhir/Patient/$export``, ``/fhir/Group/{clinic id}/$export`` with
  ``Prefer: respond-async``: 202 with ``Content-Location`` (the status URL); 429 with
  ``Retry-After`` while another export of the clinic runs.
- ``GET /fhir/bulk/{job}``: 202 with ``X-Progress`` and ``Retry-After`` while it runs, then 200
  with the manifest; ``DELETE`` cancels (202).
- ``GET /fhir/bulk/{job}/{Type}.ndjson``: one file, streamed, to the member that asked only.
- ``POST /fhir/auth/token``: client_credentials with a private_key_jwt assertion.
- ``GET /fhir/.well-known/smart-configuration`` (and ``/.well-known/smart-configuration``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from bontrack.access import flush_refusal
from bontrack.audit.services import Actor
from bontrack.core.addresses import client_ip
from bontrack.core.errors import NotFoundError, ServiceError
from bontrack.interop import bulk, fhir, kickoff, smart
from bontrack.interop.fhir_search import SearchError
from bontrack.interop.fhir_views import authenticate, fhir_response, operation_outcome
from bontrack.interop.models import UNDER_WAY, ExportStatus

View = Callable[..., HttpResponse]


def _bulk_view(*methods: str) -> Callable[[View], View]:
    """Signed in (a system client's token, an API token or the session), the methods given, and
    refusals as OperationOutcomes."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = operation_outcome(405, f"use {' or '.join(methods)} here")
                response["Allow"] = ", ".join(methods)
                return response
            actor = authenticate(request)
            if actor is None:
                return operation_outcome(401, "send a valid bearer token")
            try:
                return view(request, actor, *args, **kwargs)
            except bulk.ExportBusyError as error:
                response = operation_outcome(429, error.message, "throttled")
                response["Retry-After"] = str(error.retry_after)
                return response
            except SearchError as error:
                return operation_outcome(error.status, error.message, "invalid")
            except ServiceError as error:
                if isinstance(error, NotFoundError):
                    flush_refusal(error)
                return operation_outcome(error.status, error.message)

        return inner

    return decorate


def _status_url(request: HttpRequest, job_id: UUID) -> str:
    return request.build_absolute_uri(f"/fhir/bulk/{job_id}")


def _kick_off(request: HttpRequest, actor: Actor, level: str, group_id: str | None) -> HttpResponse:
    if "respond-async" not in request.headers.get("Prefer", ""):
        return operation_outcome(400, "a bulk export needs the header Prefer: respond-async")
    accept = request.headers.get("Accept", fhir.MEDIA_TYPE)
    if not any(a in accept for a in (fhir.MEDIA_TYPE, "application/json", "*/*")):
        return operation_outcome(406, "Accept application/fhir+json", "not-supported")
    wanted = bulk.parse_kickoff(request.GET.lists())
    job = kickoff.kick_off(
        actor,
        wanted,
        level=level,
        request_url=request.build_absolute_uri(),
        group_id=group_id,
        grant=getattr(request, "grant", None),
        client=getattr(request, "system_client", None),
    )
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": f"export {job.id} accepted: poll its Content-Location",
            }
        ],
    }
    response = fhir_response(body, 202)
    response["Content-Location"] = _status_url(request, job.id)
    return response


@_bulk_view("GET")
def export_system(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _kick_off(request, actor, "system", None)


@_bulk_view("GET")
def export_patients(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _kick_off(request, actor, "patient", None)


@_bulk_view("GET")
def export_group(request: HttpRequest, actor: Actor, group_id: str) -> HttpResponse:
    return _kick_off(request, actor, "group", group_id)


@_bulk_view("GET", "DELETE")
def status(request: HttpRequest, actor: Actor, job_id: UUID) -> HttpResponse:
    if request.method == "DELETE":
        bulk.cancel(actor, job_id)
        return fhir_response(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "information",
                        "code": "informational",
                        "diagnostics": "the export was cancelled and its files deleted",
                    }
                ],
            },
            202,
        )
    job = bulk.access_job(actor, job_id)
    if job.status in UNDER_WAY:
        response = HttpResponse(status=202)
        response["X-Progress"] = job.progress or job.status
        response["Retry-After"] = str(bulk.POLL_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
    if job.status == ExportStatus.COMPLETED:
        response = JsonResponse(bulk.manifest(job, _status_url(request, job.id)))
        response["Cache-Control"] = "no-store"
        assert job.finished_at is not None
        expires = job.finished_at + timedelta(hours=_retention_hours())
        response["Expires"] = http_date(expires.timestamp())
        return response
    if job.status == ExportStatus.FAILED:
        return operation_outcome(500, job.error_message or "the export failed", "exception")
    return operation_outcome(404, f"this export was {job.status}: its files are gone")


def _retention_hours() -> int:
    from django.conf import settings

    return int(settings.EXPORT_RETENTION_HOURS)


@_bulk_view("GET")
def download(request: HttpRequest, actor: Actor, job_id: UUID, name: str) -> HttpResponse:
    job = bulk.access_job(actor, job_id)
    listed = {
        f"{bulk.DELETED_DIR}-{e['type']}" if e.get("deleted") else e["type"]: e["count"]
        for e in [*job.output, *job.errors]
    }
    if job.status != ExportStatus.COMPLETED or name not in listed:
        return operation_outcome(404, "no such file in this export")
    path = bulk.export_dir(job.id) / f"{name}.ndjson"
    if not path.is_file():
        return operation_outcome(404, "this export's files are gone")
    bulk.record_download(actor, job, name, listed[name])
    response = FileResponse(path.open("rb"), content_type=bulk.NDJSON_TYPE)
    response["Cache-Control"] = "no-store"
    return response


# --- SMART -------------------------------------------------------------------------------------


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/")


@csrf_exempt
def smart_configuration(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return operation_outcome(405, "GET only")
    return JsonResponse(smart.smart_configuration(_base(request)))


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    """client_credentials with a private_key_jwt assertion (application/x-www-form-urlencoded)."""
    if request.method != "POST":
        response = JsonResponse(
            {"error": "invalid_request", "error_description": "POST the form here"}, status=405
        )
        response["Allow"] = "POST"
        return response
    try:
        body: dict[str, Any] = smart.issue_token(
            request.POST.dict(), request.build_absolute_uri(request.path), client_ip(request)
        )
        status_code = 200
    except smart.TokenError as error:
        body = {"error": error.error, "error_description": error.description}
        status_code = error.status
    response = HttpResponse(json.dumps(body), status=status_code, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    response["Date"] = http_date(timezone.now().timestamp())
    return response

"""The FHIR R4 read API at /fhir: application/fhir+json, read-only, one clinic at a time.

Authentication is the API's (a bearer token, or the signed-in session). Every answer that shows
patient data writes one 'disclose' entry per patient to the clinic's audit trail, in the same
transaction that read it. Refusals are OperationOutcomes: 401 without credentials, 403 for a
role without the permission, 404 for an id outside the caller's clinic (logged by the funnels),
400 for a search parameter that is not served.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from bontrack.access import flush_refusal
from bontrack.api.auth import ClinicSessionAuth, TokenAuth, actor_of
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.addresses import client_ip
from bontrack.core.errors import ForbiddenError, NotFoundError, ServiceError
from bontrack.interop import definitions, fhir, fhir_reads, smart
from bontrack.interop.fhir_search import JSON_FORMATS, SEARCHES, SearchError, parse_search
from bontrack.treatments.services import local_date

CONTENT_TYPE = f"{fhir.MEDIA_TYPE}; charset=utf-8"
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
}


def fhir_response(body: fhir.Resource, status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=CONTENT_TYPE,
    )
    response["Cache-Control"] = "no-store"  # patient data is never cached
    return response


def operation_outcome(status: int, message: str, code: str | None = None) -> HttpResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": code or ISSUE_CODES.get(status, "processing"),
                "diagnostics": message,
            }
        ],
    }
    response = fhir_response(body, status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="bontrack"'
    if status == 405:
        response["Allow"] = "GET"
    return response


def authenticate(request: HttpRequest) -> Actor | None:
    """A system client's access token (SMART backend services, ``smart.py``: its scopes go to
    ``request.grant``), else the API's: a valid bearer token, else the signed-in session's
    clinic."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer" and token.strip()
    request.grant = None  # type: ignore[attr-defined]
    request.system_client = None  # type: ignore[attr-defined]
    if bearer:
        access = smart.authenticate_token(
            token.strip(), client_ip(request), request.method or "", request.get_full_path()
        )
        if access is not None:
            request.actor = access.actor  # type: ignore[attr-defined]
            request.grant = access.grant  # type: ignore[attr-defined]
            request.system_client = access.client  # type: ignore[attr-defined]
            return access.actor
    if bearer and TokenAuth().authenticate(request, token.strip()) is not None:
        return actor_of(request)
    if ClinicSessionAuth().authenticate(request, None) is not None:
        return actor_of(request)
    return None


View = Callable[..., HttpResponse]


def fhir_view(view: Callable[..., HttpResponse], methods: tuple[str, ...] = ("GET",)) -> View:
    """GET only (a POST _search reads too), signed in, and the services' refusals as
    OperationOutcomes."""

    @csrf_exempt
    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in methods:
            return operation_outcome(405, "the FHIR API is read-only: GET")
        actor = authenticate(request)
        if actor is None:
            return operation_outcome(401, "sign in or send a valid bearer token")
        try:
            return view(request, actor, *args, **kwargs)
        except SearchError as error:
            return operation_outcome(error.status, error.message, _search_code(error))
        except ServiceError as error:
            if isinstance(error, NotFoundError):
                flush_refusal(error)
            return operation_outcome(error.status, error.message)

    return inner


def require_scope(request: HttpRequest, *resource_types: str) -> None:
    """A system client's token reads only the types its scopes grant (403 otherwise)."""
    grant = getattr(request, "grant", None)
    missing = [t for t in resource_types if grant is not None and not grant.allows(t)]
    if missing:
        raise ForbiddenError(None, f"the token's scopes do not cover {', '.join(missing)}")


def _search_code(error: SearchError) -> str:
    return "not-supported" if error.status == 406 else "invalid"


def _today(actor: Actor) -> date:
    """Today in the clinic's time zone (a consent is active while valid on it)."""
    return local_date(actor.clinic.time_zone, timezone.now())


def _format_only(request: HttpRequest) -> None:
    """A read and $everything take no parameters but _format (JSON)."""
    for name, texts in request.GET.lists():
        if name != "_format":
            raise SearchError(name, "is not taken here (only _format)")
        if any(t not in JSON_FORMATS for t in texts):
            raise SearchError(name, "only JSON (application/fhir+json) is served", 406)


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/")


def _disclose(
    trail: Any, interaction: str, resource_type: str, found: fhir_reads.Found, object_id: str = ""
) -> None:
    """One disclosure entry per patient shown (DESIGN 3.4), naming what was shown."""
    for patient_id in found.patients:
        shown = sorted(
            {str(e.resource["resourceType"]) for e in found.entries if e.patient_id == patient_id}
        )
        trail.record(
            "disclose",
            "fhir",
            object_id,
            patient_id,
            interaction=interaction,
            resource_type=resource_type,
            resources=shown,
            count=sum(1 for e in found.entries if e.patient_id == patient_id),
        )


def _entry(base: str, e: fhir_reads.Entry) -> dict[str, Any]:
    resource_type = e.resource["resourceType"]
    return {
        "fullUrl": f"{base}{resource_type}/{e.id}",
        "resource": e.resource,
        "search": {"mode": "match"},
    }


def _link(
    request: HttpRequest, relation: str, offset: int | None = None, leave_out: tuple[str, ...] = ()
) -> dict[str, str]:
    """A link of a GET search: its own parameters (those left out under lenient handling are
    not repeated; a POST _search's body never goes into a URL)."""
    query = request.GET.copy()
    for name in leave_out:
        query.pop(name, None)
    if offset is not None:
        query["_offset"] = str(offset)
    text = urlencode(sorted(query.lists()), doseq=True)
    url = request.build_absolute_uri(request.path) + (f"?{text}" if text else "")
    return {"relation": relation, "url": url}


def _bundle(
    request: HttpRequest,
    found: fhir_reads.Found,
    count: int | None,
    offset: int,
    ignored: tuple[str, ...] = (),
) -> fhir.Resource:
    base = _base(request)
    links = [_link(request, "self", leave_out=ignored)]
    # _count=0 asks for the total alone: there is no page to go to (FHIR search 3.1.1.5.6).
    if count and offset + count < found.total:
        links.append(_link(request, "next", offset + count, ignored))
    if count and offset > 0:
        links.append(_link(request, "previous", max(0, offset - count), ignored))
    entries = [_entry(base, e) for e in found.entries]
    if found.withheld:
        entries.append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "warning",
                            "code": "suppressed",
                            "diagnostics": f"{found.withheld} matching resources belong to "
                            "restricted patients outside your care team and are not shown",
                        }
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    bundle: fhir.Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": found.total,
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


# --- Views ---------------------------------------------------------------------------------------


@csrf_exempt
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: public, as FHIR clients read it before they sign in."""
    if request.method != "GET":
        return operation_outcome(405, "the FHIR API is read-only: GET")
    try:
        software = version("bontrack")
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        software = "unknown"
    return fhir_response(fhir.capability_statement(_base(request), software))


def _lenient(request: HttpRequest) -> bool:
    """``Prefer: handling=lenient``: ignore a parameter that is not served (FHIR search 3.1.1.4);
    without it, or with ``handling=strict``, such a parameter is refused."""
    prefer = request.headers.get("Prefer", "")
    return any(p.strip().lower() == "handling=lenient" for p in prefer.split(","))


def _search(request: HttpRequest, actor: Actor, resource_type: str, body: Any) -> HttpResponse:
    if resource_type not in SEARCHES:
        return operation_outcome(404, f"{resource_type} is not served here", "not-supported")
    require_scope(request, resource_type)
    given = dict(request.GET.lists())
    for name, texts in body.items():
        given[name] = [*given.get(name, []), *texts]
    query = parse_search(resource_type, given, lenient=_lenient(request), in_body=frozenset(body))
    with clinical_transaction(actor) as trail:
        found = fhir_reads.search(actor, resource_type, query, _today(actor))
        _disclose(trail, "search", resource_type, found)
    bundle = _bundle(request, found, query.count, query.offset, query.ignored)
    if query.ignored:
        bundle.setdefault("entry", []).append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "warning",
                            "code": "not-supported",
                            "diagnostics": f"ignored (not served): {', '.join(query.ignored)}",
                        }
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    return fhir_response(bundle)


@fhir_view
def search(request: HttpRequest, actor: Actor, resource_type: str) -> HttpResponse:
    return _search(request, actor, resource_type, {})


def _post_search(request: HttpRequest, actor: Actor, resource_type: str) -> HttpResponse:
    """POST {type}/_search, form-encoded: identifying parameters (the record number) travel in
    the body, never in a URL (DESIGN 3.4)."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise SearchError("Content-Type", "a _search body is form-encoded")
    return _search(request, actor, resource_type, dict(request.POST.lists()))


post_search = fhir_view(_post_search, ("POST",))


@fhir_view
def read(request: HttpRequest, actor: Actor, resource_type: str, resource_id: str) -> HttpResponse:
    if resource_type not in SEARCHES:
        return operation_outcome(404, f"{resource_type} is not served here", "not-supported")
    require_scope(request, resource_type)
    _format_only(request)
    with clinical_transaction(actor) as trail:
        entry = fhir_reads.read(actor, resource_type, resource_id, _today(actor))
        _disclose(trail, "read", resource_type, fhir_reads.Found([entry], 1), resource_id)
    response = fhir_response(entry.resource)
    meta = entry.resource["meta"]
    response["ETag"] = f'W/"{meta["versionId"]}"'
    response["Last-Modified"] = http_date(
        datetime.fromisoformat(meta["lastUpdated"].replace("Z", "+00:00")).timestamp()
    )
    return response


@csrf_exempt
def published(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    """bontrack's own CodeSystems, StructureDefinitions and SearchParameters at their canonical
    URLs: public, like the CapabilityStatement (terminology, never patient data)."""
    if request.method != "GET":
        return operation_outcome(405, "the FHIR API is read-only: GET")
    found = definitions.definition(kind, name)
    if found is None:
        return operation_outcome(404, f"no {kind} {name} is published here", "not-found")
    return fhir_response(found)


@fhir_view
def everything(request: HttpRequest, actor: Actor, patient_id: str) -> HttpResponse:
    require_scope(request, *fhir_reads.EVERYTHING)
    _format_only(request)
    with clinical_transaction(actor) as trail:
        found = fhir_reads.everything(actor, patient_id, _today(actor))
        _disclose(trail, "everything", "Patient", found, patient_id)
    return fhir_response(_bundle(request, found, None, 0))


@csrf_exempt
def unknown(request: HttpRequest, path: str = "") -> HttpResponse:
    return operation_outcome(404, f"nothing is served at /fhir/{path}", "not-supported")

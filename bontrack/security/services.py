"""Break-glass, patients' requests to amend, the audit report and the accounting of disclosures.

Like every service they reach patient rows through the access funnels and write their audit
entries in the same transaction (``clinical_transaction``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from bontrack.access import (
    AMENDMENT_REQUEST,
    PATIENT,
    SESSION,
    SESSION_EVENT,
    access,
    in_care_team,
    require,
)
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.models import ACTIONS, AuditEntry, SecurityEvent
from bontrack.audit.services import Actor, clinical_transaction, record_security_event
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic
from bontrack.patients.models import Patient
from bontrack.security.models import (
    AmendmentDecision,
    AmendmentOutcome,
    AmendmentRequest,
    BreakGlassAccess,
)
from bontrack.treatments.models import SessionEventKind, TreatmentSession

MIN_REASON = 10


def _reason(field: str, text: str) -> str:
    text = text.strip()
    if len(text) < MIN_REASON:
        raise ServiceError(field, f"give a reason of at least {MIN_REASON} characters")
    return text


# --- Break-glass (ONC 170.315(d)(6)) -----------------------------------------------------------


def break_glass(actor: Actor, patient_id: UUID | str, reason: str) -> BreakGlassAccess:
    """Open a restricted chart outside one's care team for ``BONTRACK_BREAK_GLASS_MINUTES``,
    giving a reason. Flagged in the clinic's audit trail (action ``break-glass``) and in the
    security log; the clinic admin sees every one on the audit page. Never crosses clinics."""
    patient = access(actor, PATIENT, patient_id, Perm.DEMOGRAPHICS_READ)
    require(actor, Perm.CHART_READ)
    text = _reason("reason", reason)
    if not patient.restricted or in_care_team(actor.membership, patient):
        raise ServiceError(None, "this chart is open to you: break-glass is not needed")
    now = timezone.now()
    minutes = int(getattr(settings, "BONTRACK_BREAK_GLASS_MINUTES", 60))
    with clinical_transaction(actor) as trail:
        opened = BreakGlassAccess.objects.create(
            clinic_id=actor.membership.clinic_id,
            patient=patient,
            membership=actor.membership,
            reason=text,
            at=now,
            expires_at=now + timedelta(minutes=minutes),
            address=actor.address,
        )
        trail.record(
            "break-glass",
            "patient",
            patient.id,
            patient.id,
            reason=text,
            access=str(opened.id),
            expires_at=opened.expires_at.isoformat(),
        )
    # The security log names the access, not the reason (it may hold clinical detail).
    record_security_event(
        "break-glass",
        username=actor.membership.user.get_username(),
        user_id=actor.membership.user_id,
        clinic_id=actor.membership.clinic_id,
        address=actor.address,
        patient_id=str(patient.id),
        access=str(opened.id),
    )
    return opened


def break_glass_accesses(actor: Actor, limit: int = 200) -> list[BreakGlassAccess]:
    require(actor, Perm.AUDIT_READ)
    return list(
        in_clinic(BreakGlassAccess.objects.all(), actor.membership.clinic_id, "patient")
        .select_related("membership__user")
        .order_by("-at")[:limit]
    )


# --- Requests to amend (ONC 170.315(d)(4)) -----------------------------------------------------


def record_amendment_request(
    actor: Actor,
    patient_id: UUID | str,
    *,
    request: str,
    received_on: date,
    session_id: UUID | str | None = None,
) -> AmendmentRequest:
    """Record what the patient asked to have amended, and in which record."""
    patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
    require(actor, Perm.DEMOGRAPHICS_WRITE)
    text = request.strip()
    if not text:
        raise ServiceError("request", "say what the patient asks to have amended")
    if received_on > timezone.localdate() + timedelta(days=1):
        raise ServiceError("received_on", "is in the future")
    session = None
    if session_id is not None:
        session = access(actor, SESSION, session_id, Perm.CHART_READ)
        if session.patient_id != patient.id:
            raise ServiceError("session_id", "this session is another patient's")
    with clinical_transaction(actor) as trail:
        found = AmendmentRequest.objects.create(
            clinic_id=actor.membership.clinic_id,
            patient=patient,
            session=session,
            received_on=received_on,
            request=text,
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
        )
        trail.record(
            "create",
            "amendment-request",
            found.id,
            patient.id,
            session=str(session.id) if session else None,
        )
    return found


def decide_amendment_request(
    actor: Actor,
    request_id: UUID | str,
    *,
    decision: str,
    reason: str,
    amendment_id: UUID | str | None = None,
) -> AmendmentDecision:
    """Accept or decline a request; appended beside it, never replacing it. Decided by a
    prescriber, like every correction of a signed record (B.33). An accepted request may name the
    session amendment that made the change (``POST /sessions/{id}/amendments``)."""
    found = access(actor, AMENDMENT_REQUEST, request_id, Perm.CORRECT)
    if decision not in (AmendmentOutcome.ACCEPTED, AmendmentOutcome.DECLINED):
        raise ServiceError("decision", "must be accepted or declined")
    text = _reason("reason", reason)
    amendment = None
    if amendment_id is not None:
        if decision != AmendmentOutcome.ACCEPTED:
            raise ServiceError("amendment_id", "only an accepted request links an amendment")
        amendment = access(actor, SESSION_EVENT, amendment_id, Perm.CHART_READ)
        if (
            amendment.kind != SessionEventKind.AMENDED
            or amendment.session.patient_id != found.patient_id
        ):
            raise ServiceError("amendment_id", "is not an amendment of this patient's record")
        if found.session_id is not None and amendment.session_id != found.session_id:
            raise ServiceError("amendment_id", "amends another session than the one asked about")
    with clinical_transaction(actor) as trail:
        if AmendmentDecision.objects.filter(clinic_id=found.clinic_id, request=found).exists():
            raise ConflictError("decision", "this request has been decided already")
        made = AmendmentDecision.objects.create(
            clinic_id=actor.membership.clinic_id,
            request=found,
            decision=decision,
            reason=text,
            amendment=amendment,
            by=actor.membership,
            at=timezone.now(),
        )
        trail.record(
            "amend",
            "amendment-request",
            found.id,
            found.patient_id,
            decision=decision,
            amendment=str(amendment.id) if amendment else None,
        )
    return made


def amendment_rows(clinic_id: UUID) -> QuerySet[AmendmentRequest]:
    """The clinic's amendment requests with their decision and session, read inside it."""
    decisions = AmendmentDecision.objects.filter(clinic_id=clinic_id).select_related("by__user")
    return (
        AmendmentRequest.objects.filter(clinic_id=clinic_id)
        .select_related("recorded_by__user")
        .prefetch_related(
            Prefetch("decision", queryset=decisions),
            prefetch_in_clinic("session", TreatmentSession, clinic_id),
        )
    )


def decision_of(request: AmendmentRequest) -> AmendmentDecision | None:
    """The request's decision, as loaded with it or read inside its clinic."""
    if AmendmentRequest._meta.get_field("decision").is_cached(request):  # type: ignore[union-attr]
        return getattr(request, "decision", None)
    return (
        AmendmentDecision.objects.filter(clinic_id=request.clinic_id, request=request)
        .select_related("by__user")
        .first()
    )


def amendment_requests(actor: Actor, patient_id: UUID | str) -> list[AmendmentRequest]:
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        found = list(
            amendment_rows(patient.clinic_id).filter(patient=patient).order_by("-recorded_at")
        )
        trail.record("read", "amendment-requests", patient.id, patient.id)
    return found


# --- The audit report (ONC 170.315(d)(3)) ------------------------------------------------------

# Every field an auditor filters or sorts by: the query parameter, the column.
SORTABLE = {
    "time": "at",
    "user": "username",
    "role": "role",
    "patient": "patient_id",
    "action": "action",
    "data": "object_type",
    "object": "object_id",
    "address": "address",
}


@dataclass(frozen=True)
class AuditQuery:
    since: datetime | None = None
    until: datetime | None = None
    user: str = ""
    patient_id: UUID | None = None
    action: str = ""
    data: str = ""
    address: str = ""
    sort: str = "-time"

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.action and self.action not in ACTIONS:
            found.append(("action", f"must be one of {', '.join(ACTIONS)}"))
        if self.sort.lstrip("-") not in SORTABLE:
            sorts = ", ".join(sorted(SORTABLE))
            found.append(("sort", f"sorts by one of {sorts}, '-' first for descending"))
        if self.since and self.until and self.since > self.until:
            found.append(("until", "is before since"))
        return found


def audit_entries(actor: Actor, query: AuditQuery) -> QuerySet[AuditEntry]:
    """The clinic's audit trail filtered by every field and sorted by any of them."""
    require(actor, Perm.AUDIT_READ)
    problems = query.problems()
    if problems:
        raise ServiceError(*problems[0])
    entries = AuditEntry.objects.filter(clinic_id=actor.membership.clinic_id)
    if query.since is not None:
        entries = entries.filter(at__gte=query.since)
    if query.until is not None:
        entries = entries.filter(at__lte=query.until)
    if query.user:
        entries = entries.filter(username=query.user)
    if query.patient_id is not None:
        entries = entries.filter(patient_id=query.patient_id)
    if query.action:
        entries = entries.filter(action=query.action)
    if query.data:
        entries = entries.filter(object_type=query.data)
    if query.address:
        entries = entries.filter(address__startswith=query.address)
    column = F(SORTABLE[query.sort.lstrip("-")])
    # Entries without a patient sort first ascending, last descending, on both engines.
    if query.sort.startswith("-"):
        return entries.order_by(column.desc(nulls_last=True), "-seq")
    return entries.order_by(column.asc(nulls_first=True), "seq")


AUDIT_COLUMNS = (
    "seq",
    "time",
    "user",
    "role",
    "patient",
    "action",
    "data",
    "object",
    "address",
    "detail",
    "hash",
)


def audit_rows(entries: QuerySet[AuditEntry]) -> list[list[object]]:
    import json

    return [
        [
            e.seq,
            e.at.isoformat(),
            e.username,
            e.role,
            e.patient_id or "",
            e.action,
            e.object_type,
            e.object_id,
            e.address,
            json.dumps(e.detail, sort_keys=True, default=str),
            e.hash,
        ]
        for e in entries.iterator()
    ]


def record_audit_export(actor: Actor, query: AuditQuery, count: int) -> None:
    """Exporting the audit trail is itself audited (no patient: the trail is the clinic's)."""
    with clinical_transaction(actor) as trail:
        trail.record(
            "export",
            "audit-log",
            "",
            None,
            rows=count,
            filters={k: str(v) for k, v in query.__dict__.items() if v not in (None, "")},
        )


# --- The accounting of disclosures (ONC 170.315(d)(11), HIPAA 164.528) -------------------------

DISCLOSURE_ACTIONS = ("export", "print", "disclose")


def disclosures(actor: Actor, patient_id: UUID | str) -> tuple[Patient, list[AuditEntry]]:
    """Every export, print and FHIR read of one patient's data, oldest first. The report names
    the patient, so producing it writes one read entry."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.DEMOGRAPHICS_READ)
        require(actor, Perm.AUDIT_READ)
        found = list(
            AuditEntry.objects.filter(
                clinic_id=actor.membership.clinic_id,
                patient_id=patient.id,
                action__in=DISCLOSURE_ACTIONS,
            ).order_by("seq")
        )
        trail.record("read", "disclosures", patient.id, patient.id, entries=len(found))
    return patient, found


def disclosure_row(entry: AuditEntry) -> dict[str, Any]:
    """What was disclosed, to whom, how: the API's and the page's row."""
    detail = entry.detail or {}
    how = {
        "print": "printed",
        "export": "exported",
        "disclose": "FHIR " + str(detail.get("interaction", "read"))
        if entry.object_type == "fhir"
        else "disclosed",
    }[entry.action]
    what = detail.get("resources") or detail.get("what") or entry.object_type
    return {
        "seq": entry.seq,
        "at": entry.at,
        "user": entry.username,
        "role": entry.role,
        "action": entry.action,
        "how": how,
        "data": entry.object_type,
        "object_id": entry.object_id,
        "what": ", ".join(what) if isinstance(what, list) else str(what),
        "address": entry.address,
    }


# --- The security log, as a clinic sees it (ONC 170.315(d)(2), (d)(3)) -------------------------

SECURITY_COLUMNS = ("seq", "time", "user", "event", "address", "detail", "hash")


@dataclass(frozen=True)
class SecurityQuery:
    since: datetime | None = None
    until: datetime | None = None
    user: str = ""
    kind: str = ""

    def problems(self) -> list[tuple[str, str]]:
        if self.since and self.until and self.since > self.until:
            return [("until", "is before since")]
        return []


def security_events(actor: Actor, query: SecurityQuery) -> QuerySet[SecurityEvent]:
    """The security log's events that concern this clinic, newest first: those recorded in it
    (refused accesses, break-glass) and every sign-in, failure, lockout, second-factor and
    re-authentication event of its members' accounts. Failures for user names that are no
    account belong to no clinic: the service's operator reads them in the admin site."""
    require(actor, Perm.AUDIT_READ)
    problems = query.problems()
    if problems:
        raise ServiceError(*problems[0])
    clinic_id = actor.membership.clinic_id
    members = Membership.objects.filter(clinic_id=clinic_id)
    events = SecurityEvent.objects.filter(
        Q(clinic_id=clinic_id)
        | Q(clinic_id__isnull=True, user_id__in=members.values("user_id"))
        | Q(
            clinic_id__isnull=True, user__isnull=True, username__in=members.values("user__username")
        )
    )
    if query.since is not None:
        events = events.filter(at__gte=query.since)
    if query.until is not None:
        events = events.filter(at__lte=query.until)
    if query.user:
        events = events.filter(username=query.user)
    if query.kind:
        events = events.filter(kind=query.kind)
    return events.order_by("-seq")


def security_kinds() -> list[str]:
    return sorted(SecurityEvent.objects.values_list("kind", flat=True).distinct())


def security_rows(events: QuerySet[SecurityEvent]) -> list[list[object]]:
    import json

    return [
        [
            e.seq,
            e.at.isoformat(),
            e.username,
            e.kind,
            e.address,
            json.dumps(e.detail, sort_keys=True, default=str),
            e.hash,
        ]
        for e in events.iterator()
    ]


def record_security_log_read(actor: Actor, how: str, query: SecurityQuery, count: int) -> None:
    """Reading or exporting the security log is audited like the audit trail's export."""
    with clinical_transaction(actor) as trail:
        trail.record(
            how,
            "security-log",
            "",
            None,
            rows=count,
            filters={k: str(v) for k, v in query.__dict__.items() if v not in (None, "")},
        )

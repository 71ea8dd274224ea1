"""What each FHIR interaction reads: through the access funnels, within the caller's clinic.

``read``, ``search`` and ``everything`` return resources with the patient each concerns; the
view writes the audit trail's disclosure entries in the same transaction. Rows are loaded by
``ClinicRecords`` in a constant number of queries (one patient's, or the whole clinic's for a
search without ``patient``) and mapped by ``fhir.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from django.utils import timezone

from bontrack.access import (
    ADVERSE_EVENT,
    ASSESSMENT,
    CLINIC,
    CONSENT,
    DIAGNOSIS,
    LOT,
    MEMBER,
    PATIENT,
    SESSION,
    SESSION_EVENT,
    access,
    in_care_team,
    require,
)
from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm, Role
from bontrack.audit.services import Actor
from bontrack.billing import reads as billing_reads
from bontrack.billing.models import ChargeReason, ChargeSet, ChargeStatus, Coverage
from bontrack.core.errors import NotFoundError
from bontrack.interop import fhir
from bontrack.interop.fhir_search import Search
from bontrack.inventory.models import Lot
from bontrack.outcomes.models import AdverseEvent, Assessment
from bontrack.patients.models import Consent, Diagnosis, Patient
from bontrack.treatments.models import Injection, SessionEvent, SessionEventKind, TreatmentSession
from bontrack.treatments.records import amended_points
from bontrack.treatments.services import local_date

# The permission each resource type needs; everything not named is a chart (CHART_READ).
PERMS: dict[str, Perm] = {
    "Patient": Perm.DEMOGRAPHICS_READ,
    "Organization": Perm.DEMOGRAPHICS_READ,
    "Practitioner": Perm.DEMOGRAPHICS_READ,
    "PractitionerRole": Perm.DEMOGRAPHICS_READ,
    "Group": Perm.DEMOGRAPHICS_READ,
    "Medication": Perm.INVENTORY_READ,
    "Coverage": Perm.BILLING_READ,
    "Claim": Perm.BILLING_READ,
}
# Resource types that belong to no patient.
UNOWNED = ("Organization", "Practitioner", "PractitionerRole", "Medication")
# $everything's order: who and where first, then the chart in the order it happened.
EVERYTHING = (
    "Patient",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Condition",
    "Consent",
    "Medication",
    "Procedure",
    "MedicationAdministration",
    "Observation",
    "AdverseEvent",
    "Provenance",
)
# Billing records: read, searched and exported when ``_type`` names them (``billing.read``), never
# part of $everything, which is the chart.
BILLING = ("Coverage", "Claim")


def perm_for(resource_type: str) -> Perm:
    return PERMS.get(resource_type, Perm.CHART_READ)


@dataclass(frozen=True)
class Entry:
    """One resource, the patient it concerns, the days a date search matches, what a reference or
    token search may match (``Medication/{id}``, ``Procedure/{id}``, ``lot-number:{number}``),
    and its place in a listing."""

    resource: fhir.Resource
    patient_id: UUID | None
    start: date | None = None
    end: date | None = None
    refs: frozenset[str] = frozenset()
    order: tuple[str, ...] = ()
    # When the rows behind it last changed; None: they keep no change time (the clinic, its
    # members, lots), and the resource counts as changed at every answer (``meta.lastUpdated``).
    updated: datetime | None = None

    @property
    def id(self) -> str:
        return str(self.resource["id"])


_VERSION_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False
)


def version_of(resource: fhir.Resource) -> str:
    """``meta.versionId``: a digest of the resource's content, so that it changes exactly when
    what the resource says does (and an ETag of it is strong enough for a consumer's cache)."""
    text = _VERSION_ENCODER.encode(resource)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def stamped(resource: fhir.Resource, updated: datetime) -> fhir.Resource:
    """The resource with ``meta.versionId`` and ``meta.lastUpdated`` (its other meta kept)."""
    meta = {
        "versionId": version_of(resource),
        "lastUpdated": fhir.instant(updated),
        **resource.get("meta", {}),
    }
    found: fhir.Resource = {"resourceType": resource["resourceType"], "id": resource["id"]}
    found["meta"] = meta
    found.update((k, v) for k, v in resource.items() if k not in found)
    return found


def _ordered(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (*e.order, e.id))


class ClinicRecords:
    """The rows the FHIR API reads for one clinic: one patient's (``patient``), or every
    patient's. The caller has passed the funnels for ``patient``; for the whole clinic, the
    charts of restricted patients outside the caller's care team are ``hidden``."""

    def __init__(self, actor: Actor, today: date, patient: Patient | None = None) -> None:
        self.actor = actor
        self.clinic = actor.membership.clinic
        self.today = today
        self.patient = patient
        self.now = timezone.now()

    def _rows(self, model: Any) -> Any:
        rows = model.objects.filter(clinic_id=self.clinic.id)
        if self.patient is not None:
            rows = rows.filter(patient_id=self.patient.id)
        return rows

    @cached_property
    def patients(self) -> list[Patient]:
        if self.patient is not None:
            return [self.patient]
        return list(Patient.objects.filter(clinic_id=self.clinic.id))

    @cached_property
    def hidden(self) -> frozenset[UUID]:
        """Patients whose charts the caller may not open (restricted, not in the care team)."""
        if self.patient is not None:
            return frozenset()
        member = self.actor.membership
        return frozenset(
            p.id for p in self.patients if p.restricted and not in_care_team(member, p)
        )

    @cached_property
    def sessions(self) -> list[fhir.SessionRecord]:
        rows = (
            self._rows(TreatmentSession)
            .select_related("injector__user", "signed_by__user")
            .prefetch_related("injections", "events__by__user", "session_vials__vial__lot")
        )
        return [fhir.session_record(s) for s in rows]

    @cached_property
    def records_by_id(self) -> dict[UUID, fhir.SessionRecord]:
        return {r.session.id: r for r in self.sessions}

    @cached_property
    def diagnoses(self) -> list[Diagnosis]:
        return list(self._rows(Diagnosis))

    @cached_property
    def diagnoses_by_patient(self) -> dict[UUID, list[Diagnosis]]:
        found: dict[UUID, list[Diagnosis]] = {}
        for d in sorted(self.diagnoses, key=lambda d: (d.noted_on, d.created_at, str(d.id))):
            found.setdefault(d.patient_id, []).append(d)
        return found

    def _local_day(self, moment: Any) -> date:
        return local_date(self.clinic.time_zone, moment)

    # -- entries per resource type -----------------------------------------------------------

    def entries(self, resource_type: str) -> list[Entry]:
        """Every resource of one type these rows make, in listing order."""
        make = {
            "Patient": self._patients,
            "Organization": self._organizations,
            "Practitioner": self._practitioners,
            "PractitionerRole": self._practitioner_roles,
            "Medication": self._medications,
            "Condition": self._conditions,
            "Procedure": self._procedures,
            "MedicationAdministration": self._medication_administrations,
            "Observation": self._observations,
            "AdverseEvent": self._adverse_events,
            "Consent": self._consents,
            "Provenance": self._provenances,
            "Group": self._groups,
            "Coverage": self._coverages,
            "Claim": self._claims,
        }[resource_type]
        return _ordered([self._stamp(e) for e in make()])

    def _stamp(self, entry: Entry) -> Entry:
        return replace(entry, resource=stamped(entry.resource, entry.updated or self.now))

    def _groups(self) -> Iterator[Entry]:
        yield Entry(fhir.group_resource(self.clinic, self.patient_count), None)

    @cached_property
    def patient_count(self) -> int:
        return Patient.objects.filter(clinic_id=self.clinic.id).count()

    @staticmethod
    def session_time(record: fhir.SessionRecord) -> datetime:
        """A session's rows last changed: its plan, its signature, or a record appended to it."""
        s = record.session
        moments = [s.updated_at, s.signed_at, *(e.at for e in record.events)]
        return max(m for m in moments if m is not None)

    def _patients(self) -> Iterator[Entry]:
        for p in self.patients:
            yield Entry(
                fhir.patient_resource(p),
                p.id,
                refs=frozenset(
                    {f"identifier:{fhir.record_number_system(p.clinic_id)}|{p.record_number}"}
                ),
                order=(p.family_name.lower(), p.given_name.lower(), p.record_number),
                updated=p.updated_at,
            )

    def _organizations(self) -> Iterator[Entry]:
        yield Entry(fhir.organization_resource(self.clinic), None)

    @cached_property
    def memberships(self) -> list[Membership]:
        # A system client (a backend service) is a member of the clinic but no practitioner.
        return list(
            Membership.objects.filter(clinic_id=self.clinic.id)
            .exclude(role=Role.SYSTEM_CLIENT)
            .select_related("user")
        )

    def _practitioners(self) -> Iterator[Entry]:
        for m in self.memberships:
            yield Entry(fhir.practitioner_resource(m), None, order=(m.display_name.lower(),))

    def _practitioner_roles(self) -> Iterator[Entry]:
        for m in self.memberships:
            yield Entry(fhir.practitioner_role_resource(m), None, order=(m.display_name.lower(),))

    def _medications(self) -> Iterator[Entry]:
        for lot in Lot.objects.filter(clinic_id=self.clinic.id):
            yield Entry(
                fhir.medication_resource(lot),
                None,
                refs=frozenset({f"lot-number:{lot.lot_number}"}),
                order=(lot.product, lot.expires_on.isoformat(), lot.lot_number),
            )

    def _conditions(self) -> Iterator[Entry]:
        for d in self.diagnoses:
            yield Entry(
                fhir.condition_resource(d),
                d.patient_id,
                d.noted_on,
                d.noted_on,
                order=(d.noted_on.isoformat(), d.created_at.isoformat()),
                updated=d.created_at,
            )

    def _procedures(self) -> Iterator[Entry]:
        for r in self.sessions:
            s = r.session
            yield Entry(
                fhir.procedure_resource(r, self.diagnoses_by_patient.get(s.patient_id, [])),
                s.patient_id,
                s.plan_date,
                s.plan_date,
                order=(s.plan_date.isoformat(), s.created_at.isoformat()),
                updated=self.session_time(r),
            )

    def _medication_administrations(self) -> Iterator[Entry]:
        for r in self.sessions:
            s = r.session
            resources = fhir.medication_administration_resources(r)
            if not resources:  # a plan, or a cancelled one: nothing was administered
                continue
            refs: dict[tuple[UUID, ...], frozenset[str]] = {}
            changed = self.session_time(r)
            for n, (resource, point) in enumerate(zip(resources, r.points, strict=True), 1):
                found = r.point_lots(point)
                key = tuple(lot.id for lot in found)
                lots = refs.get(key)
                if lots is None:
                    lots = refs[key] = frozenset(f"Medication/{lot.id}" for lot in found)
                yield Entry(
                    resource,
                    s.patient_id,
                    s.plan_date,
                    s.plan_date,
                    refs=lots,
                    order=(s.plan_date.isoformat(), s.created_at.isoformat(), f"{n:06d}"),
                    updated=changed,
                )

    def _observations(self) -> Iterator[Entry]:
        assessments = self._rows(Assessment).select_related("recorded_by__user")
        for a in assessments:
            yield Entry(
                fhir.observation_resource(a),
                a.patient_id,
                a.start,
                a.end,
                order=(a.start.isoformat(), a.end.isoformat(), a.scale, a.muscle_group),
                updated=a.recorded_at,
            )
        for p in self.patients:
            weight = fhir.weight_observation_resource(p)
            if weight is not None and p.weight_measured_on is not None:
                day = p.weight_measured_on
                yield Entry(
                    weight,
                    p.id,
                    day,
                    day,
                    order=(day.isoformat(), day.isoformat(), ""),
                    updated=p.updated_at,
                )

    def _adverse_events(self) -> Iterator[Entry]:
        events = self._rows(AdverseEvent).select_related("recorded_by__user")
        for e in events:
            record = self.records_by_id[e.session_id]
            yield Entry(
                fhir.adverse_event_resource(e, record),
                e.patient_id,
                e.onset_date,
                e.onset_date,
                order=(e.onset_date.isoformat(), e.recorded_at.isoformat()),
                updated=e.recorded_at,
            )

    def _consents(self) -> Iterator[Entry]:
        for c in self._rows(Consent):
            changed = c.created_at
            if c.withdrawn_on is not None:  # a withdrawal is a change of the day it took effect
                withdrawn = timezone.make_aware(
                    datetime.combine(c.withdrawn_on, datetime.min.time())
                )
                changed = max(changed, withdrawn)
            yield Entry(
                fhir.consent_resource(c, self.today),
                c.patient_id,
                c.signed_on,
                c.signed_on,
                order=(c.signed_on.isoformat(), c.created_at.isoformat()),
                updated=changed,
            )

    def _provenances(self) -> Iterator[Entry]:
        for r in self.sessions:
            target = frozenset({f"Procedure/{r.session.id}"})
            moments = {
                str(r.session.id): r.session.signed_at,
                **{str(e.id): e.at for e in r.events},
            }
            for resource in fhir.provenance_resources(r):
                moment = moments[resource["id"]]
                day = self._local_day(moment)
                yield Entry(
                    resource,
                    r.session.patient_id,
                    day,
                    day,
                    target,
                    order=(moment.isoformat(),),
                    updated=moment,
                )

    def _coverages(self) -> Iterator[Entry]:
        """The standing versions of each patient's coverage (a corrected one is replaced)."""
        for c in self._rows(Coverage).filter(replaced_by__isnull=True):
            yield Entry(
                fhir.coverage_resource(c, self.today),
                c.patient_id,
                order=(c.valid_from.isoformat(), c.recorded_at.isoformat()),
                updated=c.recorded_at,
            )

    def _claims(self) -> Iterator[Entry]:
        """Each session's current charge set that the claims file exports (billing.md 7.8): a
        claim left out (unconfirmed, uncovered, no NPI, awaiting a co-signature) is not one."""
        candidates = [
            s
            for s in self._rows(ChargeSet)
            .filter(replaced_by__isnull=True, status=ChargeStatus.COMPLETE)
            .exclude(reason=ChargeReason.ENTERED_IN_ERROR)
            .select_related("session__clinic", "session__patient", "session__signed_by")
            if s.charges
        ]
        appended: dict[UUID, list[datetime]] = {}
        for session_id, at in SessionEvent.objects.filter(
            session_id__in=[s.session_id for s in candidates]
        ).values_list("session_id", "at"):
            appended.setdefault(session_id, []).append(at)
        for charge_set in candidates:
            bill = billing_reads.superbill(charge_set.session, charge_set)
            if bill is None or not bill.exportable or bill.coverage is None:
                continue
            moments = [
                bill.captured_at,
                bill.coverage.recorded_at,
                *(i.confirmed_at for i in bill.claim_items if i.confirmed_at is not None),
                *appended.get(charge_set.session_id, []),
            ]
            yield Entry(
                fhir.claim_resource(bill),
                bill.patient_id,
                bill.date_of_service,
                bill.date_of_service,
                order=(bill.date_of_service.isoformat(), bill.captured_at.isoformat()),
                updated=max(moments),
            )


# --- Interactions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """What an interaction answers: the resources shown, the number that matched, and how many
    matches were withheld (restricted patients outside the caller's care team)."""

    entries: list[Entry]
    total: int
    withheld: int = 0

    @property
    def patients(self) -> list[UUID]:
        return list(dict.fromkeys(e.patient_id for e in self.entries if e.patient_id))


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _missing(resource_type: str) -> NotFoundError:
    """An id that cannot be in any clinic, or a row of this clinic that has no such resource (a
    plan's MedicationAdministration): 404 without a security entry."""
    return NotFoundError(None, f"no {resource_type} with that id in this clinic")


def read(actor: Actor, resource_type: str, resource_id: str, today: date) -> Entry:
    """One resource by id. Another clinic's id is refused (404) by the funnel, and logged."""
    perm = perm_for(resource_type)
    require(actor, perm)
    patient: Patient | None = None
    if resource_type == "MedicationAdministration":
        if _uuid(resource_id) is None:
            raise _missing(resource_type)
        patient = access(actor, SESSION, _session_of_point(actor, resource_id), perm).patient
    elif resource_type == "Observation" and resource_id.endswith("-weight"):
        patient_id = resource_id.removesuffix("-weight")
        if _uuid(patient_id) is None:
            raise _missing(resource_type)
        patient = access(actor, PATIENT, patient_id, perm)
    else:
        if _uuid(resource_id) is None:
            raise _missing(resource_type)
        patient = _funnel(actor, resource_type, resource_id, perm)
    records = ClinicRecords(actor, today, patient)
    found = next((e for e in records.entries(resource_type) if e.id == resource_id), None)
    if found is None:
        raise _missing(resource_type)
    return found


def _session_of_point(actor: Actor, point_id: str) -> UUID:
    """The session an administration's id belongs to: an injection's (the funnel then refuses,
    and logs, another clinic's), else a point an amendment of this clinic added."""
    injection = Injection.objects.filter(id=point_id).values_list("session_id", flat=True).first()
    if injection is not None:
        return injection
    amended = SessionEvent.objects.filter(
        clinic_id=actor.membership.clinic_id, kind=SessionEventKind.AMENDED
    ).only("id", "session_id", "data")
    for event in amended.iterator(chunk_size=500):
        if any(p.id == point_id for p in amended_points(event)):
            return event.session_id
    raise _missing("MedicationAdministration")


def _found(row_id: UUID | None, resource_type: str) -> UUID:
    if row_id is None:
        raise _missing(resource_type)
    return row_id


def _funnel(actor: Actor, resource_type: str, resource_id: str, perm: Perm) -> Patient | None:
    """Pass the access funnel of the row behind a resource id; the patient it belongs to."""
    if resource_type == "Patient":
        return access(actor, PATIENT, resource_id, perm)
    if resource_type in ("Organization", "Group"):
        access(actor, CLINIC, resource_id)
        return None
    if resource_type in ("Practitioner", "PractitionerRole"):
        access(actor, MEMBER, resource_id)
        return None
    if resource_type == "Medication":
        access(actor, LOT, resource_id, perm)
        return None
    if resource_type == "Condition":
        return access(actor, DIAGNOSIS, resource_id, perm).patient
    if resource_type == "Procedure":
        return access(actor, SESSION, resource_id, perm).patient
    if resource_type == "Observation":
        return access(actor, ASSESSMENT, resource_id, perm).patient
    if resource_type == "AdverseEvent":
        return access(actor, ADVERSE_EVENT, resource_id, perm).patient
    if resource_type == "Consent":
        return access(actor, CONSENT, resource_id, perm).patient
    if resource_type == "Coverage":
        # The coverage's patient, through the funnel: another clinic's is refused and logged.
        owner = Coverage.objects.filter(id=resource_id).values_list("patient_id", flat=True)
        return access(actor, PATIENT, _found(owner.first(), resource_type), perm)
    if resource_type == "Claim":
        session = ChargeSet.objects.filter(id=resource_id).values_list("session_id", flat=True)
        return access(actor, SESSION, _found(session.first(), resource_type), perm).patient
    # Provenance: a signed session's signature, or one of its appended records.
    mine = TreatmentSession.objects.filter(clinic_id=actor.membership.clinic_id, id=resource_id)
    if mine.exists():
        return access(actor, SESSION, resource_id, perm).patient
    return access(actor, SESSION_EVENT, resource_id, perm).session.patient


def search(actor: Actor, resource_type: str, query: Search, today: date) -> Found:
    """A type's resources that match, within the caller's clinic, one page of them."""
    perm = perm_for(resource_type)
    require(actor, perm)
    patient = None
    if query.patient is not None:
        patient = access(actor, PATIENT, query.patient, perm)
    if query.target is not None:
        session = access(actor, SESSION, query.target, perm)
        if patient is not None and session.patient_id != patient.id:
            return Found([], 0)
        patient = session.patient
    if query.medication is not None:
        access(actor, LOT, query.medication, Perm.INVENTORY_READ)
    records = ClinicRecords(actor, today, patient)
    matches = [e for e in records.entries(resource_type) if _matches(e, query, records.now)]
    shown = [
        e
        for e in matches
        if resource_type == "Patient" or e.patient_id is None or e.patient_id not in records.hidden
    ]
    page = shown[query.offset : query.offset + query.count]
    return Found(page, len(shown), len(matches) - len(shown))


def _matches(entry: Entry, query: Search, now: datetime) -> bool:
    if query.ids is not None and entry.id not in query.ids:
        return False
    if query.last_updated:
        moment = entry.updated or now
        if not all(clause.matches(moment) for clause in query.last_updated):
            return False
    if query.identifier is not None:
        system, value = query.identifier
        wanted = f"identifier:{system}|{value}" if system is not None else None
        if not any(
            r == wanted if wanted else r.startswith("identifier:") and r.endswith(f"|{value}")
            for r in entry.refs
        ):
            return False
    if query.dates and not query.matches_dates(entry.start, entry.end):
        return False
    if query.medication is not None and f"Medication/{query.medication}" not in entry.refs:
        return False
    if query.target is not None and f"Procedure/{query.target}" not in entry.refs:
        return False
    return query.lot_number is None or f"lot-number:{query.lot_number}" in entry.refs


def everything(actor: Actor, patient_id: str, today: date) -> Found:
    """Patient/{id}/$everything: the patient, their clinic, the people and lots their record
    names, and every resource of their chart."""
    require(actor, Perm.CHART_READ)
    if _uuid(patient_id) is None:
        raise _missing("Patient")
    patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
    records = ClinicRecords(actor, today, patient)
    chart: dict[str, list[Entry]] = {t: records.entries(t) for t in EVERYTHING if t not in UNOWNED}
    named = set()
    for entries in chart.values():
        for e in entries:
            named |= set(_references(e.resource))
    found: list[Entry] = []
    for t in EVERYTHING:
        if t in chart:
            found.extend(chart[t])
        else:
            # A PractitionerRole has its Practitioner's id (the membership's).
            kind = "Practitioner" if t == "PractitionerRole" else t
            found.extend(e for e in records.entries(t) if f"{kind}/{e.id}" in named)
    return Found(found, len(found))


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield reference
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)

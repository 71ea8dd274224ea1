"""Rows to FHIR R4 resources: plain, JSON-ready dicts, one function per resource type.

The functions run no queries of their own: they read the rows they are given, the relations the
caller prefetched (``fhir_reads.py`` says which) and the catalog. Every concept carries bontrack's
own code (the catalog's, under ``{FHIR_BASE_URL}/CodeSystem/...``, published there); a standard code
(SNOMED CT, ICD-10-CM, LOINC) is added where the facts give one, and never invented where they
do not (facts.md section 5). Doses are in the product's own units: UCUM's arbitrary unit
``[arb'U]`` shown as "U", always with the product they belong to, never converted (DESIGN 3.1).
A Claim is coded as a claim is (CPT, HCPCS, NDC, NPI, place of service), from the charge set
captured from the signed record; a Coverage from the patient's insurance (billing.md 5, 7).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from django.conf import settings

from bontrack.accounts.models import Clinic, Membership
from bontrack.billing.models import Coverage
from bontrack.billing.reads import Superbill
from bontrack.domain.catalog import catalog
from bontrack.interop.fhir_search import SEARCHES
from bontrack.inventory.models import Lot
from bontrack.outcomes.models import AdverseEvent, Assessment
from bontrack.patients.models import Consent, Diagnosis, Patient
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession
from bontrack.treatments.records import Point, SessionStatus, current_points, status_of

Resource = dict[str, Any]

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"
# The date of the CapabilityStatement: change it when what /fhir serves changes.
CAPABILITY_DATE = "2026-12-06"

# --- Code systems and extensions -----------------------------------------------------------------

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

# bontrack's own systems, under the server's public FHIR base, where each is published
# (``definitions.py``); the codes are the catalog's, which never change.
BONTRACK_URI = settings.FHIR_BASE_URL
# The base older exports used; an import still reads codes under it.
LEGACY_URI = "https://bontrack.example/fhir"


def _code_system(name: str) -> str:
    return f"{BONTRACK_URI}/CodeSystem/{name}"


def _structure(name: str) -> str:
    return f"{BONTRACK_URI}/StructureDefinition/{name}"


SITE_SYSTEM = _code_system("site")
INDICATION_SYSTEM = _code_system("indication")
PRODUCT_SYSTEM = _code_system("product")
SCALE_SYSTEM = _code_system("scale")
ADVERSE_EVENT_TERM_SYSTEM = _code_system("adverse-event-term")
ROUTE_SYSTEM = _code_system("route")
PROCEDURE_SYSTEM = _code_system("procedure")
ROLE_SYSTEM = _code_system("role")
CREDENTIAL_SYSTEM = _code_system("credential")
PROTOCOL_URI = f"{BONTRACK_URI}/protocol/"  # Procedure.instantiatesUri: the protocol followed

DIGEST_EXTENSION = _structure("sha256-digest")  # the signed record's SHA-256 (hex)
PRIOR_DIGEST_EXTENSION = _structure("prior-sha256-digest")  # the record amended or co-signed
POSSIBLE_LOT_EXTENSION = _structure("possible-lot")  # a dose whose lot is one of several
RECALL_EXTENSION = _structure("lot-recalled-at")
TIMEPOINT_EXTENSION = _structure("assessment-timepoint")
FOLLOWS_EXTENSION = _structure("assessment-follows-procedure")
# A dose given elsewhere and recorded here (treatments/external.py): where it was given.
GIVEN_ELSEWHERE_EXTENSION = _structure("given-elsewhere")


def scale_level_system(scale: str) -> str:
    """The levels of one ordinal scale (``modified-ashworth`` "1+", ``gais`` "improved")."""
    return f"{SCALE_SYSTEM}/{scale}"


def record_number_system(clinic_id: UUID | str) -> str:
    """Record numbers are unique per clinic, so each clinic has its own identifier system."""
    return f"{BONTRACK_URI}/clinic/{clinic_id}/record-number"


LATERALITY_EXTENSION = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
# facts.md 5.2 and 5.2a: a point is one site code plus a laterality qualifier.
LATERALITY = {
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
    "both": ("51440002", "Right and left"),
    "midline": ("399488007", "Midline"),
}
# facts.md 5.2a; the facts give no code for the subcutaneous route: bontrack's own code only.
ROUTES = {
    "intramuscular": ("78421000", "Intramuscular route"),
    "intradermal": ("372464004", "Intradermal route"),
}
# facts.md section 4: the only scale with a LOINC code; the others have bontrack's code only.
SCALE_LOINC = {
    "pain-nrs": ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
}
BODY_WEIGHT_LOINC = ("29463-7", "Body weight")
# facts.md 5.2a; no substance code was found for type B.
BONT_A_SUBSTANCE = ("108890005", "Botulinum toxin type A (substance)")
# UCUM units of the scales measured in units; every other scale is a score.
SCALE_UNITS = {
    "headache-days-28d": ("days", "d"),
    "headache-days-month": ("days", "d"),
    "migraine-days-28d": ("days", "d"),
    "mouth-opening-mm": ("mm", "mm"),
    "gravimetric-sweat-mg-5min": ("mg per 5 min", "mg/(5.min)"),
    "prism-dioptres": ("prism dioptres", "[p'diop]"),
}
SCORE_UNIT = ("score", "{score}")

# Claims (billing.md 5, 7.8): the code systems a professional claim's lines are coded in.
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NDC = "http://hl7.org/fhir/sid/ndc"
NPI = "http://hl7.org/fhir/sid/us-npi"
PLACE_OF_SERVICE = (
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
)
PLACE_OF_SERVICE_NAMES = {"11": "Office"}
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY_LOINC = "59284-0"  # Patient consent
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
AE_CAUSALITY = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
AUTHOR_SIGNATURE = ("1.2.840.10065.1.12.1.1", "Author's Signature")
VERIFICATION_SIGNATURE = ("1.2.840.10065.1.12.1.5", "Verification Signature")

# A session's status (treatments/records.py) as a Procedure's.
PROCEDURE_STATUS = {
    SessionStatus.PLAN: "preparation",
    SessionStatus.SIGNED: "completed",
    SessionStatus.AMENDED: "completed",
    SessionStatus.AWAITING_CO_SIGNATURE: "completed",
    SessionStatus.ENTERED_IN_ERROR: "entered-in-error",
    SessionStatus.CANCELLED: "not-done",
}
# AdverseEvent codes of R4 (4.0.1): severity and outcome are required bindings.
AE_SEVERITY_CODES = {
    "mild": "mild",
    "moderate": "moderate",
    "severe": "severe",
    "life-threatening": "severe",  # R4 has no finer grade; the seriousness says the rest
}
AE_OUTCOME_CODES = {
    "recovered": ("resolved", "Resolved"),
    "recovering": ("recovering", "Recovering"),
    "not-recovered": ("ongoing", "Ongoing"),
    "recovered-with-sequelae": ("resolvedWithSequelae", "Resolved with Sequelae"),
    "fatal": ("fatal", "Fatal"),
    "unknown": ("unknown", "Unknown"),
}
# WHO-UMC causality, as R4 codes it; "unrelated" has no WHO-UMC category (text only).
AE_CAUSALITY_CODES = {
    "certain": ("Certain", "Certain"),
    "probable": ("Probably-Likely", "Probably/Likely"),
    "possible": ("Possible", "Possible"),
    "unlikely": ("Unlikely", "Unlikely"),
}

# --- Small pieces ------------------------------------------------------------------------------


def number(value: Decimal) -> int | float:
    """A Decimal as a JSON number written as its normalised text (5, 2.5; never 5.000 or 2E+1).
    Stored values have at most 3 decimals and 10 digits, so the float prints them exactly."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return int(normal)
    return float(normal)


def instant(moment: datetime) -> str:
    """An aware datetime in UTC, ISO 8601 with Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(value: date) -> str:
    return value.isoformat()


def ref(resource_type: str, resource_id: object, display: str | None = None) -> dict[str, str]:
    reference = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        reference["display"] = display
    return reference


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"coding": list(codings)}
    if text:
        found["text"] = text
    return found


@cache
def units_quantity(units: Decimal) -> dict[str, Any]:
    """A dose: the product's own units, UCUM's arbitrary unit, never [iU] nor converted. Made once
    per amount and shared, read-only, like the concepts below (equal amounts, 5 and 5.000, make
    the same quantity)."""
    return {"value": number(units), "unit": "U", "system": UCUM, "code": "[arb'U]"}


def laterality_extension(side: str) -> dict[str, Any]:
    code, display = LATERALITY[side]
    return {
        "url": LATERALITY_EXTENSION,
        "valueCodeableConcept": concept(coding(SNOMED, code, display)),
    }


# The concepts below depend only on their arguments and the catalog (loaded once per process):
# they are made once and shared, read-only, by every resource that names them (bulk exports
# write hundreds of thousands of doses).
@cache
def site_concept(site_code: str, side: str) -> dict[str, Any]:
    """One site with its laterality: SNOMED CT where the catalog has a code, the catalog's own
    code always."""
    site = catalog().sites.get(site_code)
    name = site.name if site is not None else site_code
    codings = []
    if site is not None and site.snomed:
        codings.append(coding(SNOMED, site.snomed))
    codings.append(coding(SITE_SYSTEM, site_code, name))
    found = concept(*codings, text=f"{name}, {'left and right' if side == 'both' else side}")
    return {"extension": [laterality_extension(side)], **found}


@cache
def route_concept(route: str) -> dict[str, Any]:
    codings = []
    if route in ROUTES:
        codings.append(coding(SNOMED, *ROUTES[route]))
    codings.append(coding(ROUTE_SYSTEM, route, route))
    return concept(*codings, text=route)


@cache
def product_concept(product_code: str) -> dict[str, Any]:
    product = catalog().products.get(product_code)
    if product is None:
        return concept(coding(PRODUCT_SYSTEM, product_code), text=product_code)
    return concept(
        coding(PRODUCT_SYSTEM, product.code, product.name),
        text=f"{product.name} ({', '.join(product.brands)})",
    )


@cache
def indication_concept(indication: str, icd10: str | None = None) -> dict[str, Any]:
    """An indication: its ICD-10-CM code when the patient's diagnosis names one (the catalog
    lists several per indication), and the catalog's own code."""
    found = catalog().indications.get(indication)
    name = found.name if found is not None else indication
    codings = []
    if icd10:
        display = next((c.display for c in found.icd10 if c.code == icd10), None) if found else None
        codings.append(coding(ICD10CM, icd10, display))
    codings.append(coding(INDICATION_SYSTEM, indication, name))
    return concept(*codings, text=name)


def practitioner_ref(membership: Membership) -> dict[str, str]:
    return ref("Practitioner", membership.id, membership.display_name)


def digest_extensions(own: str, prior: str = "") -> list[dict[str, str]]:
    found = [{"url": DIGEST_EXTENSION, "valueString": own}]
    if prior:
        found.append({"url": PRIOR_DIGEST_EXTENSION, "valueString": prior})
    return found


# --- A session as it stands ----------------------------------------------------------------


@dataclass(frozen=True)
class SessionRecord:
    """A session with what was appended to it: status, current (amended) points and notes, the
    co-signature, and the lots of its vials. Built from prefetched relations
    (``events__by__user``, ``session_vials__vial__lot``)."""

    session: TreatmentSession
    status: str
    events: tuple[SessionEvent, ...]
    points: tuple[Point, ...]
    notes: str
    lots: tuple[Lot, ...]
    vial_lots: dict[str, Lot]

    @property
    def co_signature(self) -> SessionEvent | None:
        return next((e for e in self.events if e.kind == SessionEventKind.CO_SIGNED), None)

    def point_lots(self, point: Point) -> tuple[Lot, ...]:
        """The lot a point was drawn from: its vial's, or the session's only lot; several when
        the session used vials of several lots and the point does not name its vial."""
        if point.vial_id is not None and point.vial_id in self.vial_lots:
            return (self.vial_lots[point.vial_id],)
        return self.lots


def session_record(
    session: TreatmentSession,
    original: Sequence[Point] | None = None,
    events_read: Sequence[SessionEvent] | None = None,
    vials_read: Sequence[Any] | None = None,
) -> SessionRecord:
    """``original``, ``events_read``, ``vials_read``: the session's points, appended records and
    vial uses when the caller read them already (a bulk export reads a batch's at once, without
    a prefetch per session)."""
    events = tuple(session.events.all() if events_read is None else events_read)
    amendments = [e for e in events if e.kind == SessionEventKind.AMENDED]
    notes = session.notes
    if amendments:
        latest = max(amendments, key=lambda e: (e.at, str(e.id)))
        notes = latest.data.get("notes", session.notes)
    vial_lots: dict[str, Lot] = {}
    lots: dict[UUID, Lot] = {}
    uses = session.session_vials.all() if vials_read is None else vials_read
    for use in sorted(uses, key=lambda u: u.pk):
        vial_lots[str(use.vial_id)] = use.vial.lot
        lots.setdefault(use.vial.lot_id, use.vial.lot)
    return SessionRecord(
        session=session,
        status=status_of(session, events),
        events=events,
        points=tuple(current_points(session, events, original)),
        notes=notes,
        lots=tuple(lots.values()),
        vial_lots=vial_lots,
    )


def given_elsewhere(session: TreatmentSession) -> str:
    """The words for a dose given elsewhere ("" for one given here)."""
    if not session.external:
        return ""
    text = f"Given elsewhere: {session.source_place}"
    if session.source_document:
        text += f"; source: {session.source_document}"
    return text


def administration_id(point: Point) -> str:
    """MedicationAdministration/{the injection's own id}: an amended point keeps the id of the
    point it corrects, a new point gets a new one (``records.Point``), so an id never moves to
    another injection."""
    return point.id


# --- Resources -----------------------------------------------------------------------------


def organization_resource(clinic: Clinic) -> Resource:
    return {
        "resourceType": "Organization",
        "id": str(clinic.id),
        "active": True,
        "type": [
            concept(
                coding(
                    "http://terminology.hl7.org/CodeSystem/organization-type",
                    "prov",
                    "Healthcare Provider",
                )
            )
        ],
        "name": clinic.name,
    }


def group_resource(clinic: Clinic, patients: int) -> Resource:
    """The Group Bulk Data's ``Group/{id}/$export`` names: the clinic's patients (its id is the
    clinic's). Its members are not listed here: they are what the export writes."""
    return {
        "resourceType": "Group",
        "id": str(clinic.id),
        "type": "person",
        "actual": True,
        "name": f"Patients of {clinic.name}",
        "quantity": patients,
        "managingEntity": ref("Organization", clinic.id),
    }


def practitioner_resource(membership: Membership) -> Resource:
    """A clinic member as a Practitioner (id: the membership's, so that a person's work in
    another clinic is never linked)."""
    user: Any = membership.user  # the configured user model
    name: dict[str, Any] = {"text": membership.display_name}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    credentials = catalog().credentials
    found: Resource = {"resourceType": "Practitioner", "id": str(membership.id)}
    if membership.npi:  # a prescriber whose NPI the clinic admin recorded (billing.md 7.9)
        found["identifier"] = [{"system": NPI, "value": membership.npi}]
    found["active"] = bool(membership.active and user.is_active)
    found["name"] = [name]
    if membership.credentials:
        found["qualification"] = [
            {
                "code": concept(
                    coding(
                        CREDENTIAL_SYSTEM,
                        c,
                        credentials[c].name if c in credentials else None,
                    )
                )
            }
            for c in membership.credentials
        ]
    return found


def practitioner_role_resource(membership: Membership) -> Resource:
    return {
        "resourceType": "PractitionerRole",
        "id": str(membership.id),
        "active": membership.active,
        "practitioner": practitioner_ref(membership),
        "organization": ref("Organization", membership.clinic_id),
        "code": [concept(coding(ROLE_SYSTEM, membership.role, membership.role))],
    }


SEXES_TO_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def patient_resource(patient: Patient) -> Resource:
    """US Core's required elements: identifier (the clinic's record number under the clinic's
    own system), name, gender (administrative sex)."""
    found: Resource = {"resourceType": "Patient", "id": str(patient.id)}
    if patient.restricted:
        found["meta"] = {"security": [coding(CONFIDENTIALITY, "R", "restricted")]}
    found["identifier"] = [
        {
            "use": "usual",
            "type": concept(coding(V2_0203, "MR", "Medical record number"), text="Record number"),
            "system": record_number_system(patient.clinic_id),
            "value": patient.record_number,
        }
    ]
    found["active"] = True
    found["name"] = [
        {"use": "official", "family": patient.family_name, "given": [patient.given_name]}
    ]
    telecom = []
    # The contact the patient agreed to comes first (rank 1).
    for system, value, method in (
        ("phone", patient.phone, "phone"),
        ("email", patient.email, "email"),
    ):
        if value:
            point: dict[str, Any] = {"system": system, "value": value}
            if patient.contact_agreed and patient.contact_method == method:
                point["rank"] = 1
            telecom.append(point)
    if telecom:
        found["telecom"] = telecom
    found["gender"] = SEXES_TO_GENDER.get(patient.sex, "unknown")
    found["birthDate"] = day(patient.birth_date)
    if patient.address.strip():
        found["address"] = [{"text": patient.address.strip()}]
    found["managingOrganization"] = ref("Organization", patient.clinic_id)
    return found


def condition_resource(diagnosis: Diagnosis) -> Resource:
    return {
        "resourceType": "Condition",
        "id": str(diagnosis.id),
        "clinicalStatus": concept(coding(CONDITION_CLINICAL, "active", "Active")),
        "verificationStatus": concept(coding(CONDITION_VERIFICATION, "confirmed", "Confirmed")),
        "category": [concept(coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item"))],
        "code": indication_concept(diagnosis.indication, diagnosis.icd10),
        "subject": ref("Patient", diagnosis.patient_id),
        "recordedDate": day(diagnosis.noted_on),
    }


def _body_sites(points: Iterable[Point]) -> list[dict[str, Any]]:
    """Every site of the session once, in the order first injected: a site injected on the left
    and on the right is one body site with the laterality "right and left"."""
    sides: dict[str, list[str]] = {}
    for p in points:
        if not p.site:  # a dose given elsewhere whose sites are not known
            continue
        found = sides.setdefault(p.site, [])
        if p.side not in found:
            found.append(p.side)
    sites = []
    for site, seen in sides.items():
        if set(seen) == {"left", "right"}:
            sites.append(site_concept(site, "both"))
        else:
            sites.extend(site_concept(site, side) for side in seen)
    return sites


def procedure_resource(record: SessionRecord, diagnoses: Sequence[Diagnosis] = ()) -> Resource:
    """One treatment session. ``diagnoses``: the patient's, to name the indication's ICD-10-CM
    code and Condition."""
    s = record.session
    status = PROCEDURE_STATUS[record.status]
    found: Resource = {"resourceType": "Procedure", "id": str(s.id)}
    if s.external:
        found["extension"] = [{"url": GIVEN_ELSEWHERE_EXTENSION, "valueString": s.source_place}]
    if s.protocol:
        found["instantiatesUri"] = [PROTOCOL_URI + s.protocol]
    found["status"] = status
    reason_event = next(
        (
            e
            for e in record.events
            if e.kind in (SessionEventKind.CANCELLED, SessionEventKind.ENTERED_IN_ERROR)
        ),
        None,
    )
    if reason_event is not None and reason_event.reason:
        found["statusReason"] = {"text": reason_event.reason}
    found["code"] = concept(
        coding(PROCEDURE_SYSTEM, "botulinum-toxin-injection", "Botulinum toxin injection"),
        text="Botulinum toxin injection",
    )
    found["subject"] = ref("Patient", s.patient_id)
    if s.external:  # the day is known, rarely the time
        found["performedDateTime"] = day(s.plan_date)
        if s.signed_by is not None:
            found["recorder"] = practitioner_ref(s.signed_by)
    elif s.administered_at is not None:
        found["performedDateTime"] = instant(s.administered_at)
    performers = []
    if s.injector is not None:
        performers.append(
            {
                "function": {"text": "injector"},
                "actor": practitioner_ref(s.injector),
                "onBehalfOf": ref("Organization", s.clinic_id),
            }
        )
    co_signature = record.co_signature
    if co_signature is not None:
        performers.append(
            {
                "function": {"text": "co-signing prescriber"},
                "actor": practitioner_ref(co_signature.by),
                "onBehalfOf": ref("Organization", s.clinic_id),
            }
        )
    if performers:
        found["performer"] = performers
    same = [d for d in diagnoses if d.indication == s.indication]
    found["reasonCode"] = [indication_concept(s.indication, same[0].icd10 if same else None)]
    if same:
        found["reasonReference"] = [ref("Condition", d.id) for d in same]
    sites = _body_sites(record.points)
    if sites:
        found["bodySite"] = sites
    notes = [{"text": elsewhere}] if (elsewhere := given_elsewhere(s)) else []
    if record.notes.strip():
        notes.append({"text": record.notes.strip()})
    if notes:
        found["note"] = notes
    if s.external:
        found["location"] = {"display": s.source_place}
    if record.lots:
        found["usedReference"] = [ref("Medication", lot.id) for lot in record.lots]
    found["usedCode"] = [product_concept(s.product)]
    return found


def medication_administration_resources(record: SessionRecord) -> list[Resource]:
    """One per injection point of a signed session, as it stands after amendments: one site,
    one dose, bound to the Medication of its lot (or, when the lot is not known, to the
    product)."""
    s = record.session
    if not s.is_signed or s.administered_at is None:
        return []
    status = "entered-in-error" if record.status == SessionStatus.ENTERED_IN_ERROR else "completed"
    # What every point of the session shares is made once (and shared, read-only).
    session_id = str(s.id)
    part_of = [ref("Procedure", session_id)]
    subject = ref("Patient", s.patient_id)
    effective = day(s.plan_date) if s.external else instant(s.administered_at)
    performer = [{"actor": practitioner_ref(s.injector)}] if s.injector is not None else None
    note = [{"text": given_elsewhere(s)}] if s.external else None
    lot_refs: dict[UUID, dict[str, str]] = {
        lot.id: ref("Medication", lot.id) for lot in record.lots
    }
    lot_refs.update({lot.id: ref("Medication", lot.id) for lot in record.vial_lots.values()})
    sites = catalog().sites
    found = []
    for point in record.points:
        resource: Resource = {
            "resourceType": "MedicationAdministration",
            "id": administration_id(point),
        }
        if point.source_identifier:  # imported: the administration's identifier at its source
            system, _, value = point.source_identifier.rpartition("|")
            resource["identifier"] = [{**({"system": system} if system else {}), "value": value}]
        lots = record.point_lots(point)
        if len(lots) > 1:
            resource["extension"] = [
                {"url": POSSIBLE_LOT_EXTENSION, "valueReference": lot_refs[lot.id]} for lot in lots
            ]
        resource["partOf"] = part_of
        resource["status"] = status
        if len(lots) == 1:
            resource["medicationReference"] = lot_refs[lots[0].id]
        else:
            resource["medicationCodeableConcept"] = product_concept(s.product)
        resource["subject"] = subject
        resource["effectiveDateTime"] = effective
        if performer is not None:
            resource["performer"] = performer
        if note is not None:
            resource["note"] = note
        dose_text = f"{format(point.units.normalize(), 'f')} U {s.product}"
        if point.site:
            site = sites.get(point.site)
            where = site.name if site is not None else point.site
            resource["dosage"] = {
                "text": f"{dose_text}, {where} ({point.side}), {point.route}",
                "site": site_concept(point.site, point.side),
                "route": route_concept(point.route),
                "dose": units_quantity(point.units),
            }
        else:  # given elsewhere, sites not known
            resource["dosage"] = {
                "text": f"{dose_text}, sites not known",
                "dose": units_quantity(point.units),
            }
        found.append(resource)
    return found


def medication_resource(lot: Lot) -> Resource:
    """One lot of one product: a recall is a search on the lot number."""
    product = catalog().products.get(lot.product)
    found: Resource = {"resourceType": "Medication", "id": str(lot.id)}
    if lot.recalled_at is not None:
        found["extension"] = [{"url": RECALL_EXTENSION, "valueDateTime": instant(lot.recalled_at)}]
    found["code"] = product_concept(lot.product)
    found["status"] = "inactive" if lot.recalled_at is not None else "active"
    if product is not None:
        found["manufacturer"] = {"display": product.manufacturer}
        found["form"] = {
            "text": "powder for solution for injection"
            if product.form == "powder"
            else "solution for injection"
        }
    found["amount"] = {
        "numerator": units_quantity(lot.vial_size_units),
        "denominator": {"value": 1, "unit": "vial"},
    }
    if product is not None and product.serotype.startswith("A"):
        found["ingredient"] = [
            {
                "itemCodeableConcept": concept(coding(SNOMED, *BONT_A_SUBSTANCE)),
                "isActive": True,
            }
        ]
    found["batch"] = {"lotNumber": lot.lot_number, "expirationDate": day(lot.expires_on)}
    return found


def observation_resource(assessment: Assessment) -> Resource:
    """A result on an outcome scale: LOINC where the facts give a code, the catalog's code
    always; a number with its unit, or an ordinal scale's level."""
    a = assessment
    scale = catalog().scales.get(a.scale)
    name = scale.name if scale is not None else a.scale
    found: Resource = {"resourceType": "Observation", "id": str(a.id)}
    extensions: list[dict[str, Any]] = [{"url": TIMEPOINT_EXTENSION, "valueCode": a.timepoint}]
    if a.session_id is not None:
        extensions.append(
            {"url": FOLLOWS_EXTENSION, "valueReference": ref("Procedure", a.session_id)}
        )
    found["extension"] = extensions
    found["status"] = "final"
    found["category"] = [concept(coding(OBSERVATION_CATEGORY, "survey", "Survey"))]
    codings = []
    if a.scale in SCALE_LOINC:
        codings.append(coding(LOINC, *SCALE_LOINC[a.scale]))
    codings.append(coding(SCALE_SYSTEM, a.scale, name))
    found["code"] = concept(*codings, text=name)
    found["subject"] = ref("Patient", a.patient_id)
    if a.period_start is not None and a.period_end is not None:
        found["effectivePeriod"] = {"start": day(a.period_start), "end": day(a.period_end)}
    elif a.assessed_on is not None:
        found["effectiveDateTime"] = day(a.assessed_on)
    found["issued"] = instant(a.recorded_at)
    if a.source == "diary":
        found["performer"] = [ref("Patient", a.patient_id)]
    else:
        found["performer"] = [practitioner_ref(a.recorded_by)]
    if a.value_number is not None:
        unit, code = SCALE_UNITS.get(a.scale, SCORE_UNIT)
        found["valueQuantity"] = {
            "value": number(a.value_number),
            "unit": unit,
            "system": UCUM,
            "code": code,
        }
    else:
        found["valueCodeableConcept"] = concept(
            coding(scale_level_system(a.scale), a.value_level, a.value_level), text=a.value_level
        )
    if a.muscle_group:
        found["bodySite"] = {"text": a.muscle_group}
    return found


def weight_observation_id(patient_id: UUID | str) -> str:
    return f"{patient_id}-weight"


def weight_observation_resource(patient: Patient) -> Resource | None:
    """The patient's weight (LOINC 29463-7), when it was measured on a known day (a vital sign
    needs its date)."""
    if patient.weight_kg is None or patient.weight_measured_on is None:
        return None
    return {
        "resourceType": "Observation",
        "id": weight_observation_id(patient.id),
        "status": "final",
        "category": [concept(coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs"))],
        "code": concept(coding(LOINC, *BODY_WEIGHT_LOINC), text="Body weight"),
        "subject": ref("Patient", patient.id),
        "effectiveDateTime": day(patient.weight_measured_on),
        "valueQuantity": {
            "value": number(patient.weight_kg),
            "unit": "kg",
            "system": UCUM,
            "code": "kg",
        },
    }


def adverse_event_resource(event: AdverseEvent, record: SessionRecord) -> Resource:
    """R4's AdverseEvent: every injection point of the session is a suspect entity, each with
    the clinician's causality assessment."""
    terms = catalog().adverse_event_terms
    term = terms.get(event.term)
    name = term.name if term is not None else event.term
    text = event.notes.strip() if event.term == "other" and event.notes.strip() else name
    causality: dict[str, Any] = {}
    if event.relatedness in AE_CAUSALITY_CODES:
        causality["assessment"] = concept(
            coding(AE_CAUSALITY, *AE_CAUSALITY_CODES[event.relatedness]), text=event.relatedness
        )
    else:
        causality["assessment"] = {"text": event.relatedness}
    causality["productRelatedness"] = event.relatedness
    causality["author"] = practitioner_ref(event.recorded_by)
    outcome, outcome_display = AE_OUTCOME_CODES[event.outcome]
    grade = AE_SEVERITY_CODES[event.severity]
    found: Resource = {
        "resourceType": "AdverseEvent",
        "id": str(event.id),
        "actuality": "actual",
        "event": concept(coding(ADVERSE_EVENT_TERM_SYSTEM, event.term, name), text=text),
        "subject": ref("Patient", event.patient_id),
        "date": day(event.onset_date),
        "recordedDate": instant(event.recorded_at),
        "recorder": practitioner_ref(event.recorded_by),
        "seriousness": concept(
            coding(AE_SERIOUSNESS, "Serious", "Serious")
            if event.serious
            else coding(AE_SERIOUSNESS, "Non-serious", "Non-serious")
        ),
        "severity": concept(coding(AE_SEVERITY, grade, grade.capitalize()), text=event.severity),
        "outcome": concept(coding(AE_OUTCOME, outcome, outcome_display)),
    }
    suspects = [
        {
            "instance": ref("MedicationAdministration", administration_id(point)),
            "causality": [causality],
        }
        for point in record.points
    ]
    if suspects and record.session.is_signed:
        found["suspectEntity"] = suspects
    return found


def consent_resource(consent: Consent, today: date) -> Resource:
    """A consent to treat one indication; active while valid (B.29) on ``today``."""
    c = consent
    last_day = min(c.expires_on, c.signed_on + timedelta(days=365)) - timedelta(days=1)
    if c.withdrawn_on is not None:
        last_day = min(last_day, c.withdrawn_on - timedelta(days=1))
    indication = catalog().indications.get(c.indication)
    name = indication.name if indication is not None else c.indication
    return {
        "resourceType": "Consent",
        "id": str(c.id),
        "status": "active" if c.valid_on(today) else "inactive",
        "scope": concept(coding(CONSENT_SCOPE, "treatment", "Treatment")),
        "category": [concept(coding(LOINC, CONSENT_CATEGORY_LOINC))],
        "patient": ref("Patient", c.patient_id),
        "dateTime": day(c.signed_on),
        "performer": [{"display": c.signed_by}],
        "organization": [ref("Organization", c.clinic_id)],
        "policyRule": {"text": f"Informed consent to botulinum toxin treatment: {name}"},
        "provision": {
            "type": "permit",
            "period": {"start": day(c.signed_on), "end": day(max(last_day, c.signed_on))},
            "code": [indication_concept(c.indication)],
        },
    }


def _signature(
    kind: tuple[str, str], when: datetime, who: Membership, own: str, prior: str = ""
) -> dict[str, Any]:
    return {
        "extension": digest_extensions(own, prior),
        "type": [coding(SIGNATURE_TYPE, *kind)],
        "when": instant(when),
        "who": practitioner_ref(who),
    }


def _agent(kind: str, display: str, who: Membership) -> dict[str, Any]:
    return {
        "type": concept(coding(PROVENANCE_PARTICIPANT, kind, display)),
        "who": practitioner_ref(who),
        "onBehalfOf": ref("Organization", who.clinic_id),
    }


def provenance_resources(record: SessionRecord) -> list[Resource]:
    """One per signature of a signed session: the signature itself (Provenance/{session id}),
    then each appended, digested record (Provenance/{its id}): co-signature, amendment,
    entered-in-error."""
    s = record.session
    if not s.is_signed or s.signed_at is None or s.signed_by is None:
        return []
    target = [ref("Procedure", s.id)]
    found: list[Resource] = [
        {
            "resourceType": "Provenance",
            "id": str(s.id),
            "target": target,
            "recorded": instant(s.signed_at),
            "activity": concept(coding(DATA_OPERATION, "CREATE", "create"), text="signature"),
            "agent": [_agent("author", "Author", s.signed_by)],
            "signature": [_signature(AUTHOR_SIGNATURE, s.signed_at, s.signed_by, s.digest)],
        }
    ]
    for event in record.events:
        if event.kind == SessionEventKind.CANCELLED:
            continue
        if event.kind == SessionEventKind.CO_SIGNED:
            activity: dict[str, Any] = {"text": "co-signature"}
            agent = _agent("verifier", "Verifier", event.by)
            kind = VERIFICATION_SIGNATURE
        elif event.kind == SessionEventKind.AMENDED:
            activity = concept(coding(DATA_OPERATION, "UPDATE", "revise"), text="amendment")
            agent = _agent("author", "Author", event.by)
            kind = AUTHOR_SIGNATURE
        else:
            activity = concept(
                coding(DATA_OPERATION, "NULLIFY", "nullify"), text="entered in error"
            )
            agent = _agent("author", "Author", event.by)
            kind = AUTHOR_SIGNATURE
        resource: Resource = {
            "resourceType": "Provenance",
            "id": str(event.id),
            "target": target,
            "recorded": instant(event.at),
        }
        if event.reason:
            resource["reason"] = [{"text": event.reason}]
        resource["activity"] = activity
        resource["agent"] = [agent]
        resource["signature"] = [
            _signature(kind, event.at, event.by, event.digest, event.amends_digest)
        ]
        found.append(resource)
    return found


def coverage_resource(coverage: Coverage, today: date) -> Resource:
    """One standing version of a patient's insurance (billing.md 7.7): ``active`` unless its
    validity ended before ``today`` (``cancelled``); the payer by name and id, never a
    reference (bontrack keeps no payer Organizations)."""
    c = coverage
    ended = c.valid_to is not None and c.valid_to < today
    found: Resource = {
        "resourceType": "Coverage",
        "id": str(c.id),
        "status": "cancelled" if ended else "active",
    }
    if c.relationship == "self":
        found["subscriber"] = ref("Patient", c.patient_id)
    found["subscriberId"] = c.member_id
    found["beneficiary"] = ref("Patient", c.patient_id)
    found["relationship"] = concept(
        coding(SUBSCRIBER_RELATIONSHIP, c.relationship, c.relationship.capitalize())
    )
    period = {"start": day(c.valid_from)}
    if c.valid_to is not None:
        period["end"] = day(c.valid_to)
    found["period"] = period
    found["payor"] = [{"identifier": {"value": c.payer_id}, "display": c.payer_name}]
    return found


def _modifier_system(modifier: str) -> str:
    """CPT's modifiers are two digits (50 bilateral); JW, JZ, RT, LT are HCPCS Level II's."""
    return CPT if modifier.isdigit() else HCPCS


def claim_resource(bill: Superbill) -> Resource:
    """A professional claim (R4 ``Claim``, use ``claim``) from a charge set the claims file
    exports (billing.md 7.8): the lines as captured, in billing units, each coded in CPT (a
    procedure) or HCPCS (a drug given or discarded) with its modifiers and, on a drug line, the
    lot's NDC as a detail; no amounts (bontrack holds no fee schedule). The caller passes only
    an exportable superbill: complete, confirmed, covered, rendered under an NPI."""
    coverage, provider = bill.coverage, bill.rendering_provider
    assert coverage is not None
    assert provider is not None
    served = day(bill.date_of_service)
    place = concept(
        coding(
            PLACE_OF_SERVICE,
            bill.place_of_service,
            PLACE_OF_SERVICE_NAMES.get(bill.place_of_service),
        )
    )
    found: Resource = {
        "resourceType": "Claim",
        "id": str(bill.charge_set_id),
        "status": "active",
        "type": concept(coding(CLAIM_TYPE, "professional", "Professional")),
        "use": "claim",
        "patient": ref("Patient", bill.patient_id),
        "billablePeriod": {"start": served, "end": served},
        "created": instant(bill.captured_at),
        "insurer": {"identifier": {"value": coverage.payer_id}, "display": coverage.payer_name},
        "provider": {
            "reference": f"Practitioner/{provider.id}",
            "identifier": {"system": NPI, "value": provider.npi},
            "display": provider.name,
        },
        "priority": concept(coding(PROCESS_PRIORITY, "normal", "Normal")),
    }
    if bill.diagnosis:
        found["diagnosis"] = [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": concept(
                    coding(ICD10CM, bill.diagnosis, bill.diagnosis_display or None)
                ),
            }
        ]
    found["insurance"] = [{"sequence": 1, "focal": True, "coverage": ref("Coverage", coverage.id)}]
    items = []
    for n, view in enumerate(bill.lines, start=1):
        line = view.line
        item: Resource = {"sequence": n}
        if line.diagnosis_pointer and bill.diagnosis:
            item["diagnosisSequence"] = [1]
        # The description is bontrack's own words (CPT's descriptors are AMA copyright,
        # billing.md 7.10): text, never a coding's display.
        item["productOrService"] = concept(
            coding(CPT if line.kind == "procedure" else HCPCS, line.code),
            text=line.description,
        )
        if line.modifiers:
            item["modifier"] = [concept(coding(_modifier_system(m), m)) for m in line.modifiers]
        item["servicedDate"] = served
        item["locationCodeableConcept"] = place
        item["quantity"] = {"value": line.billing_units}
        if line.ndc:
            item["detail"] = [
                {
                    "sequence": 1,
                    "productOrService": concept(coding(NDC, line.ndc.replace("-", ""))),
                }
            ]
        items.append(item)
    found["item"] = items
    return found


BULK_DATA_CAPABILITY = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
BULK_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
BULK_PATIENT_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
BULK_GROUP_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
RESTFUL_SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def capability_statement(base_url: str, software_version: str) -> Resource:
    """What /fhir serves: every resource type with read and search and its search parameters
    (each with its definition), Patient/{id}/$everything, Bulk Data $export at the system,
    Patient and Group levels, and SMART Backend Services' token endpoint."""
    base = base_url.rstrip("/")
    resources = []
    for resource_type, params in SEARCHES.items():
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {
                    "name": p.name,
                    "definition": p.definition(resource_type, BONTRACK_URI),
                    "type": p.type,
                    "documentation": p.documentation,
                }
                for p in params
            ],
        }
        if resource_type == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": "The patient, their clinic, the people and lots their "
                    "record names, and every resource of their chart.",
                },
                {
                    "name": "export",
                    "definition": BULK_PATIENT_EXPORT,
                    "documentation": "Bulk Data: every patient's compartment, asynchronously.",
                },
            ]
        if resource_type == "Group":
            entry["operation"] = [
                {
                    "name": "export",
                    "definition": BULK_GROUP_EXPORT,
                    "documentation": "Bulk Data: the Group is the clinic (its id is the "
                    "Organization's); its patients' compartments, asynchronously.",
                }
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "id": "bontrack",
        "name": "BontrackFhirReadApi",
        "title": "bontrack FHIR R4 read API",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "bontrack",
        "kind": "instance",
        "instantiates": [BULK_DATA_CAPABILITY],
        "software": {"name": "bontrack", "version": software_version},
        "implementation": {
            "description": "Botulinum toxin treatments: read and search, clinic by clinic",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": [MEDIA_TYPE, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Every answer is limited to the caller's clinic and "
                "written to the clinic's audit trail as a disclosure, one entry per patient. "
                "Searches page with _count (at most 500, 50 by default) and _offset; a "
                "parameter that is not served is refused unless the request says Prefer: "
                "handling=lenient.",
                "security": {
                    "extension": [
                        {
                            "url": SMART_OAUTH_URIS,
                            "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}],
                        }
                    ],
                    "service": [
                        concept(
                            coding(RESTFUL_SECURITY, "SMART-on-FHIR", "SMART-on-FHIR"),
                            text="SMART Backend Services (client_credentials, private_key_jwt)",
                        )
                    ],
                    "description": "A SMART Backend Services access token (POST "
                    f"{base}/auth/token), a bearer token of /api/v1/auth/token (Authorization: "
                    "Bearer ...), or the signed-in browser session. Without either: 401.",
                },
                "resource": resources,
                "operation": [
                    {
                        "name": "export",
                        "definition": BULK_EXPORT,
                        "documentation": "Bulk Data: every type the token's scopes allow, "
                        "asynchronously (Prefer: respond-async).",
                    }
                ],
            }
        ],
    }

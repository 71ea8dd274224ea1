"""The permission matrix of DESIGN 3.4 over every route of the API, for every persona.

A role with the permission gets a 2xx; a role of clinic A without it gets 403; the prescriber of
clinic B (``other_clinic``) gets 404 for every id of clinic A, writes a refused-access entry to the
security log and changes nothing in clinic A; without credentials every call gets 401. Every
refusal carries the one error shape and leaves clinic A's rows exactly as they were.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from bontrack.api.main import api
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.billing.catalog_items import raisable_items
from bontrack.domain.billing import billing_catalog
from bontrack.domain.catalog import catalog
from tests import builders
from tests.api.support import (
    TRACKED,
    Upload,
    World,
    error_shape_problems,
    use_temporary_clinical_storage,
)
from tests.charting import support as charting
from tests.interop.bulk_support import ec_key

pytestmark = pytest.mark.django_db

A_ROLES = builders.CLINIC_A_PERSONAS
EVERYONE = frozenset(A_ROLES)
DEMOGRAPHICS_WRITE = frozenset({"clinic_admin", "physician", "nurse_injector", "front_desk"})
CHART_READ = frozenset({"clinic_admin", "physician", "nurse_injector", "auditor"})
CLINICAL = frozenset({"physician", "nurse_injector"})  # plan; sign and amend
PRESCRIBER = frozenset({"physician"})  # override, co-sign
INVENTORY_WRITE = frozenset({"clinic_admin", "physician", "nurse_injector"})
AUDIT_READ = frozenset({"clinic_admin", "auditor"})
ADMIN = frozenset({"clinic_admin"})  # users and privileges: system clients too
OWNER_OR_ADMIN = frozenset({"physician", "clinic_admin"})  # the physician's own API token
# Claims (billing.write): coverage, claim diagnoses, confirmations; billing.read is everyone's.
CLAIMS_WRITE = frozenset({"clinic_admin", "physician", "front_desk"})
# Prices, invoices, payments and refunds (billing.write): the front desk takes the money.
BILLING_WRITE = frozenset({"clinic_admin", "physician", "front_desk"})

# Routes that answer without credentials.
PUBLIC = {("POST", "/auth/token"), ("GET", "/health")}
DIARY = b"date,headache,migraine,hours,acute_medication\n2026-01-05,yes,no,3,yes\n"
CHECK_EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "preempt-after-spasticity.json").read_text()
)

Body = Callable[[World, str], Any]
HISTORY = (
    b"record_number,given_name,family_name,birth_date,date,product,indication,units,place,"
    b"source_document\nH-1,Ann,Lee,1970-02-03,2026-01-05,onabotulinumtoxinA,cervical-dystonia,"
    b"100,Old clinic,EHR export\n"
)
EXTERNAL_BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": {"text": "BOTOX"},
                "subject": {"display": "the patient"},
                "effectiveDateTime": "2026-01-05",
                "performer": [{"actor": {"display": "St Elsewhere Hospital"}}],
                "reasonCode": [{"text": "bladder"}],
                "dosage": {"dose": {"value": 100, "unit": "U"}},
            }
        }
    ],
}


@pytest.fixture(autouse=True)
def clinical_files(settings: Any, tmp_path: Path) -> None:
    use_temporary_clinical_storage(settings, tmp_path / "clinical-files")


def _today() -> str:
    return timezone.localdate().isoformat()


def _catalog_item_body(w: World, role: str) -> dict[str, str]:
    """The first item the current billing catalog can raise, as the settings list it."""
    item = raisable_items(billing_catalog())[0]
    return {"item_code": item.code, "message": item.message}


def _repeat_last_body(w: World, role: str) -> dict[str, str]:
    w.signed  # noqa: B018 (the signed spasticity session is the one repeated)
    return {"indication": "upper-limb-spasticity", "product": "onabotulinumtoxinA"}


@dataclass(frozen=True)
class Case:
    """One call: who may make it, and which clinic A object it names (other clinics: 404)."""

    method: str
    path: str
    allowed: frozenset[str]
    target: str | None = None
    body: Body | None = None
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}" + (f" [{self.label}]" if self.label else "")

    def expected(self, role: str) -> int:
        """200 stands for any 2xx."""
        if role == "other_clinic":
            if self.target is not None:
                return 404
            # Calls that name no clinic A object act in clinic B, as its prescriber.
            return 200 if "physician" in self.allowed else 403
        return 200 if role in self.allowed else 403


def _continue_despite_body(w: World, role: str) -> dict[str, str]:
    """An HDSS series that stayed at 4 (non-responder), so that a prescriber may continue."""
    from bontrack.outcomes.services import record_assessment

    today = timezone.localdate()
    for value, timepoint, day in ((Decimal(4), "baseline", 60), (Decimal(4), "follow-up", 1)):
        record_assessment(
            w.a.actor("physician"),
            w.patient.id,
            indication="axillary-hyperhidrosis",
            scale="hdss",
            value=value,
            timepoint=timepoint,
            assessed_on=today - timedelta(days=day),
        )
    return {
        "indication": "axillary-hyperhidrosis",
        "scale": "hdss",
        "reason": "The patient reports fewer soaked shirts; reassess after one more cycle.",
    }


def _token_body(w: World, role: str) -> dict[str, str]:
    return {"username": w.username(role), "password": w.password(role)}


CASES = [
    Case("GET", "/health", EVERYONE),
    Case("POST", "/auth/token", EVERYONE, body=_token_body),
    Case("POST", "/check", CLINICAL, body=lambda w, r: CHECK_EXAMPLE),
    # Patients: demographics for everyone at the desk, charts for clinicians and auditors.
    Case("GET", "/patients", EVERYONE),
    Case("POST", "/patients/search", EVERYONE, body=lambda w, r: {"q": "P-"}),
    Case(
        "POST",
        "/patients",
        DEMOGRAPHICS_WRITE,
        body=lambda w, r: {
            "record_number": "P-NEW",
            "given_name": "Sam",
            "family_name": "Roe",
            "birth_date": "1990-01-02",
            "phone": "+44 20 7946 0001",
        },
    ),
    Case("GET", "/patients/{patient}", EVERYONE, "patient"),
    Case(
        "PATCH",
        "/patients/{patient}",
        DEMOGRAPHICS_WRITE,
        "patient",
        lambda w, r: {"phone": "+44 20 7946 0002", "contact_method": "phone"},
        "demographics",
    ),
    Case(
        "PATCH",
        "/patients/{patient}",
        CLINICAL,
        "patient",
        lambda w, r: {"weight_kg": 71, "weight_measured_on": _today()},
        "clinical",
    ),
    Case("GET", "/patients/{patient}/timeline", CHART_READ, "patient"),
    Case("GET", "/patients/{patient}/consents", CHART_READ, "patient"),
    Case(
        "POST",
        "/patients/{patient}/consents",
        CLINICAL,
        "patient",
        lambda w, r: {"indication": "glabellar-lines", "signed_on": _today(), "signed_by": "Alex"},
    ),
    Case(
        "POST",
        "/patients/consents/{consent}/withdraw",
        CLINICAL,
        "consent",
        lambda w, r: {"on": _today(), "reason": "The patient changed their mind."},
    ),
    Case(
        "POST",
        "/patients/{patient}/diagnoses",
        CLINICAL,
        "patient",
        lambda w, r: {
            "indication": "chronic-migraine",
            "icd10": catalog().indications["chronic-migraine"].icd10[0].code,
            "noted_on": _today(),
        },
    ),
    # Sessions: clinicians plan and sign, only a prescriber overrides or co-signs.
    Case(
        "POST",
        "/sessions",
        CLINICAL,
        "patient",
        lambda w, r: {
            "patient_id": str(w.patient.id),
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "plan_date": _today(),
            "protocol": "preempt-155",
        },
    ),
    Case("GET", "/sessions/{plan}", CHART_READ, "plan", label="plan"),
    Case("GET", "/sessions/{signed}", CHART_READ, "signed", label="signed"),
    Case("PATCH", "/sessions/{plan}", CLINICAL, "plan", lambda w, r: {"notes": "Bring the diary."}),
    Case("DELETE", "/sessions/{plan}", CLINICAL, "plan"),
    Case("POST", "/sessions/{plan}/check", CLINICAL, "plan"),
    Case(
        "POST",
        "/sessions/{plan2}/decisions",
        CLINICAL,
        "plan2",
        lambda w, r: {"fingerprint": w.warn_fingerprint, "kind": "acknowledge"},
        "acknowledge a warning",
    ),
    Case(
        "POST",
        "/sessions/{plan}/decisions",
        PRESCRIBER,
        "plan",
        lambda w, r: {
            "fingerprint": w.block_fingerprint,
            "kind": "override",
            "reason": "Migraine is disabling; the spasticity dose was the minimum.",
        },
        "override a block",
    ),
    Case(
        "POST",
        "/sessions/{plan}/sign",
        CLINICAL,
        "plan",
        lambda w, r: {
            "administered_at": w.administered.isoformat(),
            "vial_ids": [str(w.plan_vial.id)],
        },
    ),
    Case("POST", "/sessions/{nurse_signed}/co-sign", PRESCRIBER, "nurse_signed"),
    # B.33: only a prescriber corrects a signed record; a nurse files a correction request.
    Case(
        "POST",
        "/sessions/{signed}/amendments",
        PRESCRIBER,
        "signed",
        lambda w, r: {"reason": "The notes were left out.", "notes": "Tolerated well."},
    ),
    Case(
        "POST",
        "/sessions/{signed}/entered-in-error",
        PRESCRIBER,
        "signed",
        lambda w, r: {"reason": "Charted on the wrong patient.", "toxin_given": True},
    ),
    # The session's injector appends to its note (the physician signed it).
    Case(
        "POST",
        "/sessions/{signed}/addenda",
        PRESCRIBER,
        "signed",
        lambda w, r: {"text": "The patient called: no bruising."},
    ),
    Case(
        "POST",
        "/sessions/{signed}/correction-requests",
        CLINICAL,
        "signed",
        lambda w, r: {
            "kind": "entered-in-error",
            "corrects_digest": w.signed.digest,
            "reason": "Charted on the wrong patient.",
            "proposed": {"toxin_given": True},
        },
    ),
    Case("GET", "/correction-requests", CHART_READ),
    Case("GET", "/correction-requests?status=all", CHART_READ, label="all"),
    Case("GET", "/correction-requests/{correction_request}", CHART_READ, "correction_request"),
    # Only the nurse who filed it withdraws it.
    Case(
        "POST",
        "/correction-requests/{correction_request}/withdraw",
        frozenset({"nurse_injector"}),
        "correction_request",
        lambda w, r: {},
    ),
    Case(
        "POST",
        "/correction-requests/{correction_request}/accept",
        PRESCRIBER,
        "correction_request",
        lambda w, r: {},
    ),
    Case(
        "POST",
        "/correction-requests/{correction_request}/decline",
        PRESCRIBER,
        "correction_request",
        lambda w, r: {"reason": "The notes are in the letter already."},
    ),
    Case(
        "PUT",
        "/members/{nurse_member}/supervisors",
        ADMIN,
        "nurse_member",
        lambda w, r: {"supervisor_ids": [str(w.a.physician.id)]},
    ),
    Case(
        "POST",
        "/sessions/{plan}/cancel",
        CLINICAL,
        "plan",
        lambda w, r: {"reason": "The patient cancelled."},
    ),
    Case("GET", "/sessions/{signed}/verify", CHART_READ, "signed"),
    Case(
        "POST",
        "/sessions/{signed}/adverse-events",
        CLINICAL,
        "signed",
        lambda w, r: {
            "term": "injection-site-pain",
            "onset_date": _today(),
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovering",
        },
    ),
    # Inventory: everyone reads it; the front desk and the auditor do not change it.
    Case("GET", "/lots", EVERYONE),
    Case(
        "POST",
        "/lots",
        INVENTORY_WRITE,
        body=lambda w, r: {
            "product": "onabotulinumtoxinA",
            "lot_number": "NEW-LOT",
            "vial_size_units": 100,
            "expires_on": (timezone.localdate() + timedelta(days=200)).isoformat(),
            "received_vials": 2,
            "received_on": _today(),
        },
    ),
    Case("GET", "/lots/{lot}", EVERYONE, "lot"),
    Case(
        "POST",
        "/lots/{lot}/recall",
        INVENTORY_WRITE,
        "lot",
        lambda w, r: {"reason": "Manufacturer notice 2026-11"},
    ),
    Case("GET", "/lots/{lot}/exposures", EVERYONE, "lot"),
    Case("GET", "/stock", EVERYONE),
    Case("GET", "/vials", EVERYONE),
    # A filter naming clinic A's lot: clinic B sees none of its vials.
    Case("GET", "/vials?lot_id={lot}", EVERYONE, label="lot filter"),
    Case("GET", "/vials/{opened_vial}", EVERYONE, "opened_vial"),
    Case(
        "POST",
        "/vials/{fresh_vial}/reconstitute",
        INVENTORY_WRITE,
        "fresh_vial",
        lambda w, r: {
            "diluent_ml": 4,
            "reconstituted_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        },
    ),
    Case(
        "POST",
        "/vials/{opened_vial}/waste",
        INVENTORY_WRITE,
        "opened_vial",
        lambda w, r: {},
    ),
    Case(
        "POST",
        "/vials/{opened_vial}/close",
        INVENTORY_WRITE,
        "opened_vial",
        lambda w, r: {"note": "end of the clinic"},
    ),
    # Follow-up: clinicians record, chart readers read, exports need chart read.
    Case(
        "POST",
        "/patients/{patient}/assessments",
        CLINICAL,
        "patient",
        lambda w, r: {
            "indication": "chronic-migraine",
            "scale": "hit-6",
            "value": 62,
            "timepoint": "baseline",
            "assessed_on": _today(),
        },
    ),
    Case("GET", "/patients/{patient}/assessments", CHART_READ, "patient"),
    Case(
        "POST",
        "/sessions/{signed}/wear-off",
        CLINICAL,
        "signed",
        lambda w, r: {"wore_off_on": _today()},
    ),
    Case("GET", "/patients/{patient}/wear-off", CHART_READ, "patient"),
    Case("GET", "/patients/{patient}/verdicts", CHART_READ, "patient"),
    Case(
        "POST",
        "/patients/{patient}/verdicts/continue",
        PRESCRIBER,
        "patient",
        _continue_despite_body,
    ),
    Case("GET", "/patients/{patient}/due", CHART_READ, "patient"),
    Case("GET", "/due", CHART_READ),
    Case("GET", "/due?format=csv", CHART_READ, label="csv"),
    Case(
        "POST",
        "/patients/{patient}/diary",
        CLINICAL,
        "patient",
        lambda w, r: Upload({"file": ("diary.csv", DIARY)}),
    ),
    Case(
        "POST",
        "/patients/{patient}/diary?dry_run=true",
        CLINICAL,
        "patient",
        lambda w, r: Upload({"file": ("diary.csv", DIARY)}),
        "dry run",
    ),
    Case("GET", "/reports/adverse-events", CHART_READ),
    Case("GET", "/reports/adverse-events/export", CHART_READ),
    # The audit log: clinic admins and auditors only.
    Case("GET", "/audit", AUDIT_READ),
    Case("GET", "/audit?patient_id={patient}", AUDIT_READ, label="patient filter"),
    Case("GET", "/audit/verify", AUDIT_READ),
    # Interoperability: doses given elsewhere and the CSV import are clinical writes; exports
    # read charts; system clients (SMART backend services) are users, managed by the admin.
    Case(
        "POST",
        "/patients/{patient}/external-doses",
        CLINICAL,
        "patient",
        lambda w, r: {
            "given_on": _today(),
            "product": "onabotulinumtoxinA",
            "indication": "upper-limb-spasticity",
            "units": 100,
            "place": "St Elsewhere Hospital",
            "source_document": "Discharge letter",
        },
    ),
    Case(
        "POST",
        "/patients/{patient}/external-doses/fhir",
        CLINICAL,
        "patient",
        lambda w, r: EXTERNAL_BUNDLE,
    ),
    Case(
        "POST",
        "/patients/{patient}/external-doses/fhir?dry_run=true",
        CLINICAL,
        "patient",
        lambda w, r: EXTERNAL_BUNDLE,
        "dry run",
    ),
    Case("POST", "/imports/csv", CLINICAL, body=lambda w, r: Upload({"file": ("h.csv", HISTORY)})),
    Case(
        "POST",
        "/imports/csv?dry_run=true",
        CLINICAL,
        body=lambda w, r: Upload({"file": ("h.csv", HISTORY)}),
        label="dry run",
    ),
    Case("GET", "/exports/sessions?start=2020-01-01&end=2030-12-31", CHART_READ),
    Case("GET", "/exports/injections?start=2020-01-01&end=2030-12-31", CHART_READ),
    Case("GET", "/system-clients", ADMIN),
    Case(
        "POST",
        "/system-clients",
        ADMIN,
        body=lambda w, r: {"name": "Registry", "jwks": {"keys": [ec_key().public_jwk]}},
    ),
    Case("POST", "/system-clients/{system_client}/revoke", ADMIN, "system_client"),
    # Issue 8: one's tokens; break-glass; audit reports, disclosures, requests to amend.
    Case("GET", "/auth/tokens", EVERYONE),
    Case("DELETE", "/auth/tokens/{api_token}", OWNER_OR_ADMIN, "api_token"),
    Case(
        "POST",
        "/patients/{restricted}/break-glass",
        CHART_READ,
        "restricted",
        lambda w, r: {"reason": "Covering for the patient's physician today"},
    ),
    Case("GET", "/patients/{patient}/disclosures", AUDIT_READ, "patient"),
    Case("GET", "/patients/{patient}/amendment-requests", CHART_READ, "patient"),
    Case(
        "POST",
        "/patients/{patient}/amendment-requests",
        CHART_READ & DEMOGRAPHICS_WRITE,
        "patient",
        lambda w, r: {"request": "My allergies are listed wrongly", "received_on": _today()},
    ),
    Case(
        "POST",
        "/patients/amendment-requests/{amendment_request}/decision",
        PRESCRIBER,
        "amendment_request",
        lambda w, r: {"decision": "declined", "reason": "The chart matches the referral letter"},
    ),
    Case("GET", "/audit/export", AUDIT_READ),
    Case("GET", "/audit/export?patient_id={patient}&sort=user", AUDIT_READ, label="filtered"),
    Case("GET", "/audit/break-glass", AUDIT_READ),
    # Charting around the treatment: the permissions of the pages (appointments at the desk;
    # photos, forms and reminders for chart readers; saved plans and repeat last for clinicians).
    Case("GET", "/appointments", EVERYONE),
    Case("GET", "/patients/{patient}/appointments", EVERYONE, "patient"),
    Case(
        "POST",
        "/patients/{patient}/appointments",
        DEMOGRAPHICS_WRITE,
        "patient",
        lambda w, r: {
            "indication": "chronic-migraine",
            "starts_at": (w.now + timedelta(days=2)).isoformat(),
            "minutes": 20,
            "confirm": True,  # the hour may be outside the opening hours
        },
    ),
    Case("GET", "/clinic/opening-hours", EVERYONE),
    Case(
        "PUT",
        "/clinic/opening-hours",
        ADMIN,
        body=lambda w, r: {"contact_phone": "+44 20 7946 0100"},
    ),
    Case(
        "POST",
        "/appointments/{appointment}/status",
        DEMOGRAPHICS_WRITE,
        "appointment",
        lambda w, r: {"status": "arrived"},
    ),
    Case("GET", "/sessions/{signed}/next-visit", CHART_READ, "signed"),
    Case("GET", "/reminders", CHART_READ),
    Case("GET", "/reminders?format=csv", CHART_READ, label="csv"),
    # Reading who is due and writing to them: clinicians and the clinic admin.
    Case("GET", "/reminders/preview", CHART_READ & DEMOGRAPHICS_WRITE),
    Case("GET", "/patients/{patient}/photos", CHART_READ, "patient"),
    Case(
        "POST",
        "/patients/{patient}/photos",
        CLINICAL,
        "patient",
        lambda w, r: Upload(
            {"photo": ("frown.jpg", charting.jpeg())},
            {"indication": "glabellar-lines", "view": "maximal-frown", "timepoint": "before"},
        ),
    ),
    Case("GET", "/photos/{photo}/image", CHART_READ, "photo"),
    Case("GET", "/photos/{photo}/thumbnail", CHART_READ, "photo"),
    Case("GET", "/patients/{patient}/consent-forms", CHART_READ, "patient"),
    Case("GET", "/consent-forms/{consent_form}/pdf", CHART_READ, "consent_form"),
    Case("GET", "/saved-plans", CLINICAL),
    Case(
        "POST",
        "/saved-plans/{saved_plan}/sessions",
        CLINICAL,
        "saved_plan",
        lambda w, r: {"patient_id": str(w.patient.id)},
    ),
    Case("POST", "/patients/{patient}/repeat-last", CLINICAL, "patient", _repeat_last_body),
    # Claims (docs/billing.md): the charge sets and superbill of a signed session, its claim
    # items confirmed, coverage, the claim's diagnosis, the claims file, a member's NPI.
    Case("GET", "/sessions/{signed}/charges", EVERYONE, "signed"),
    Case("GET", "/sessions/{signed}/superbill", EVERYONE, "signed"),
    Case(
        "POST",
        "/sessions/{signed}/charges/confirmations",
        CLAIMS_WRITE,
        "signed",
        # 300 U from two 200 U vials where 100 U + 200 U would do (billing.md 7.6).
        lambda w, r: {"item_code": "smallest-vial"},
    ),
    Case("GET", "/patients/{patient}/coverage", EVERYONE, "patient"),
    Case(
        "POST",
        "/patients/{patient}/coverage",
        CLAIMS_WRITE,
        "patient",
        lambda w, r: {
            "payer_name": "Medicare Part B",
            "payer_id": "MCR-JE",
            "member_id": "1EG4-TE5-MK72",
            "relationship": "self",
            "valid_from": "2026-01-01",
        },
    ),
    Case(
        "POST",
        "/patients/{patient}/claim-diagnoses",
        CLAIMS_WRITE,
        "patient",
        lambda w, r: {"indication": "chronic-migraine", "icd10": "G43.709"},
    ),
    Case(
        "GET",
        f"/billing/diagnosis-suggestions?indication=chronic-migraine&on={_today()}",
        EVERYONE,
    ),
    Case(
        "GET",
        f"/billing/claims.csv?start={timezone.localdate() - timedelta(days=300)}&end={_today()}",
        EVERYONE,
    ),
    Case("GET", "/billing/report", EVERYONE),
    Case(
        "GET",
        f"/billing/report?start={timezone.localdate() - timedelta(days=300)}&end={_today()}",
        EVERYONE,
        label="a period",
    ),
    Case("GET", "/billing/report.csv", EVERYONE),
    # The catalog items a clinic confirms once (billing.md 7.8): the clinic admin alone.
    Case("GET", "/billing/catalog-items", EVERYONE),
    Case(
        "POST",
        "/billing/catalog-items/confirmations",
        ADMIN,
        body=_catalog_item_body,
    ),
    Case(
        "PUT",
        "/members/{nurse_member}/npi",
        ADMIN,
        "nurse_member",
        lambda w, r: {"npi": "1234567893"},
    ),
    # Self-pay money (docs/billing.md): the price list, a cosmetic session's invoice, payments
    # and refunds, the day's takings; billing.read is everyone's, billing.write takes money.
    Case("GET", "/prices", EVERYONE),
    Case(
        "POST",
        "/prices",
        BILLING_WRITE,
        body=lambda w, r: {
            "product": "onabotulinumtoxinA",
            "kind": "per-unit",
            "amount": 13,
            "tax_rate": 10,
            "currency": "USD",
        },
    ),
    Case(
        "POST",
        "/sessions/{cosmetic_signed}/invoice",
        BILLING_WRITE,
        "cosmetic_signed",
        lambda w, r: {},
    ),
    Case("GET", "/invoices/{invoice}", EVERYONE, "invoice"),
    Case(
        "POST",
        "/invoices/{invoice}/payments",
        BILLING_WRITE,
        "invoice",
        lambda w, r: {"amount": 10, "method": "cash", "reference": "desk"},
    ),
    Case(
        "POST",
        "/invoices/{invoice}/refunds",
        BILLING_WRITE,
        "invoice",
        lambda w, r: {"amount": 5, "method": "card", "reason": "Goodwill"},
    ),
    Case("GET", "/takings", EVERYONE),
    Case("GET", f"/takings?date={_today()}", EVERYONE, label="a day"),
    Case("GET", "/takings.csv", EVERYONE),
]


def _normalise(path: str) -> str:
    path = re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])
    path = re.sub(r"/+", "/", "/" + path)
    return path.rstrip("/") or "/"


def api_routes() -> dict[tuple[str, str], Any]:
    """Every (method, path) the API serves, walked from its routers, with its operation."""
    found = {}
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    found[(method, _normalise(prefix + path))] = operation
    return found


# -- the table covers the API -------------------------------------------------------------------


def test_the_table_lists_every_route_of_the_api_and_no_other():
    served = set(api_routes())
    listed = {(c.method, _normalise(c.path)) for c in CASES}
    assert served - listed == set(), "routes the permission table does not list"
    assert listed - served == set(), "routes in the table that the API does not serve"


def test_each_route_declares_the_permission_the_matrix_enforces():
    """A route's ``x-permission`` (api/perms.py) is what the roles it lets through hold: every
    role the matrix allows holds the declared permissions, and for each route some case allows
    exactly the roles that hold them (a case may narrow it, e.g. overriding within decisions)."""
    from bontrack.accounts.permissions import ROLE_PERMISSIONS, Role

    role_of = {
        "physician": Role.PRESCRIBER,
        "nurse_injector": Role.NURSE_INJECTOR,
        "front_desk": Role.FRONT_DESK,
        "auditor": Role.AUDITOR,
        "clinic_admin": Role.CLINIC_ADMIN,
    }
    operations = api_routes()
    exact: dict[tuple[str, str], bool] = {}
    problems = []
    for case in CASES:
        key = (case.method, _normalise(case.path))
        declared = set((operations[key].openapi_extra or {}).get("x-permission") or [])
        assert declared, f"{case.id} declares no x-permission"
        if declared & {"public", "signed-in"}:
            exact[key] = True
            continue
        holders = {
            persona
            for persona, role in role_of.items()
            if declared <= {p.value for p in ROLE_PERMISSIONS[role]}
        }
        if not case.allowed <= holders:
            problems.append(f"{case.id}: allows {sorted(case.allowed - holders)} beyond {declared}")
        exact[key] = exact.get(key, False) or case.allowed == holders
    assert problems == []
    assert [k for k, ok in exact.items() if not ok] == [], "declared more than any case allows"


def test_every_write_route_refuses_a_token_with_read_scopes_only():
    """Scopes (docs/security.md): any POST, PUT, PATCH or DELETE that is not declared
    ``reads_only`` (a search, a check) authenticates bearer tokens with WriteTokenAuth, which
    refuses a token holding only read scopes (tests/api/test_edges.py calls some of them)."""
    from bontrack.api.auth import TokenAuth, WriteTokenAuth

    unguarded = []
    for (method, path), operation in api_routes().items():
        if method in ("GET", "HEAD", "OPTIONS") or not operation.auth_callbacks:
            continue
        declared = operation.openapi_extra or {}
        kinds = {type(c) for c in operation.auth_callbacks}
        if declared.get("x-reads-only"):
            assert WriteTokenAuth not in kinds, f"{method} {path} reads only"
        elif TokenAuth in kinds or WriteTokenAuth not in kinds:
            unguarded.append(f"{method} {path}")
    assert unguarded == []


# -- the matrix ---------------------------------------------------------------------------------


def test_front_desk_reads_demographics_without_the_clinical_fields(world: World):
    desk = world.call("front_desk", "GET", "/patients/{patient}").json()
    assert desk["record_number"] == "P-1"
    assert desk["clinical"] is None
    auditor = world.call("auditor", "GET", "/patients/{patient}").json()
    assert auditor["clinical"]["weight_kg"] == "70"


def test_the_nurse_signature_awaits_the_co_signature_of_a_prescriber(world: World):
    signed = world.call(
        "nurse_injector",
        "POST",
        "/sessions/{plan}/sign",
        {"administered_at": world.administered.isoformat(), "vial_ids": [str(world.plan_vial.id)]},
    )
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "awaiting-co-signature"
    refused = world.call("nurse_injector", "POST", "/sessions/{plan}/co-sign")
    assert refused.status_code == 403, refused.content
    done = world.call("physician", "POST", "/sessions/{plan}/co-sign")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "signed"


# -- without credentials ------------------------------------------------------------------------

PRIVATE_ROUTES = sorted(set(api_routes()) - {(m, _normalise(p)) for m, p in PUBLIC})


@pytest.mark.parametrize(
    ("method", "path"), PRIVATE_ROUTES, ids=[" ".join(r) for r in PRIVATE_ROUTES]
)
@pytest.mark.parametrize("credentials", ["none", "unknown token"])
def test_unauthenticated_calls_get_401_with_the_error_shape(
    client: Any, method: str, path: str, credentials: str
):
    before = {m.__name__: m.objects.count() for m in TRACKED}
    url = "/api/v1" + path.replace("{}", str(uuid.uuid4()))
    headers = {} if credentials == "none" else {"HTTP_AUTHORIZATION": "Bearer bt_not-a-token"}
    body = {} if method == "GET" else {"data": "{}", "content_type": "application/json"}
    response = getattr(client, method.lower())(url, **body, **headers)
    assert response.status_code == 401, response.content
    assert error_shape_problems(response) == []
    assert {m.__name__: m.objects.count() for m in TRACKED} == before


def test_the_public_routes_answer_without_credentials(world: World):
    world.a  # noqa: B018 (a-physician exists: only the password is wrong)
    assert world.call(None, "GET", "/health").status_code == 200
    wrong = world.call(
        None, "POST", "/auth/token", {"username": "a-physician", "password": "not the password"}
    )
    assert wrong.status_code == 401
    assert error_shape_problems(wrong) == []
    assert SecurityEvent.objects.order_by("-seq").first().kind == "sign-in-failed"


# -- reads are audited: one read entry per patient shown ---------------------------------------

PATIENT_READS = [
    ("/patients/{patient}", EVERYONE),
    ("/patients/{patient}/timeline", CHART_READ),
    ("/patients/{patient}/consents", CHART_READ),
    ("/sessions/{signed}", CHART_READ),
    ("/sessions/{signed}/verify", CHART_READ),
    ("/patients/{patient}/assessments", CHART_READ),
    ("/patients/{patient}/wear-off", CHART_READ),
    ("/patients/{patient}/verdicts", CHART_READ),
    ("/patients/{patient}/due", CHART_READ),
    ("/patients/{patient}/appointments", EVERYONE),
    ("/sessions/{signed}/next-visit", CHART_READ),
    ("/patients/{patient}/photos", CHART_READ),
    ("/photos/{photo}/image", CHART_READ),
    ("/photos/{photo}/thumbnail", CHART_READ),
    ("/patients/{patient}/consent-forms", CHART_READ),
    ("/consent-forms/{consent_form}/pdf", CHART_READ),
    ("/sessions/{signed}/charges", EVERYONE),
    ("/sessions/{signed}/superbill", EVERYONE),
    ("/patients/{patient}/coverage", EVERYONE),
]


@pytest.mark.parametrize(
    ("path", "role"),
    [(path, role) for path, allowed in PATIENT_READS for role in A_ROLES if role in allowed],
)
def test_each_patient_read_writes_exactly_one_read_entry(world: World, path: str, role: str):
    world.prepare(path)
    world.token(role)
    last = AuditEntry.objects.filter(clinic=world.a.clinic).order_by("-seq").first().seq
    response = world.call(role, "GET", path)
    assert response.status_code == 200, response.content
    written = list(AuditEntry.objects.filter(clinic=world.a.clinic, seq__gt=last))
    assert [(e.action, e.patient_id) for e in written] == [("read", world.patient.id)]
    assert written[0].username == world.username(role)


@pytest.mark.parametrize("role", A_ROLES)
@pytest.mark.parametrize("query", ["", "?q=P-2"])
def test_the_patient_list_writes_one_read_entry_per_patient_shown(
    world: World, role: str, query: str
):
    world.prepare("{patient} {patient2}")
    world.token(role)
    last = AuditEntry.objects.filter(clinic=world.a.clinic).order_by("-seq").first().seq
    if query:
        response = world.call(role, "POST", "/patients/search", {"q": query.split("=")[1]})
    else:
        response = world.call(role, "GET", "/patients")
    assert response.status_code == 200, response.content
    shown = sorted(uuid.UUID(p["id"]) for p in response.json())
    assert len(shown) == (1 if query else 2)
    written = list(AuditEntry.objects.filter(clinic=world.a.clinic, seq__gt=last))
    assert all(e.action == "read" for e in written)
    assert sorted(e.patient_id for e in written) == shown

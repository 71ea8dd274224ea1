"""A clinic that bills: staff with the physician's NPI recorded, the billing catalog's items
confirmed once for the clinic by its admin, a BOTOX 200 U lot received with its catalog NDC, and
helpers to sign sessions, record coverage and read the API as a client would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.test import Client
from django.utils import timezone

from bontrack.accounts.models import Membership
from bontrack.accounts.services import set_npi
from bontrack.api.auth import issue_token
from bontrack.billing import services as billing
from bontrack.billing.models import ChargeSet, Coverage
from bontrack.inventory.models import Lot
from bontrack.patients.models import Patient
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from tests import builders

# A valid NPI (CMS's own example: its check digit over 80840 + the first nine digits is 3).
PHYSICIAN_NPI = "1234567893"


@dataclass
class Clinic:
    staff: builders.Staff
    patient: Patient
    lot: Lot

    def sign_preempt(self, at: datetime | None = None, **plan: Any) -> TreatmentSession:
        """The physician signs PREEMPT 155 U from a fresh 200 U vial."""
        at = at or timezone.now() - timedelta(hours=1)
        vial = builders.open_vial(self.staff, self.lot, at=at - timedelta(minutes=30))
        return builders.signed_session(self.staff, self.patient, at, vial, **plan)

    def cover(self, patient: Patient | None = None, **values: Any) -> Coverage:
        fields: dict[str, Any] = {
            "payer_name": "Medicare Part B",
            "payer_id": "MCR-JE",
            "member_id": "1EG4-TE5-MK72",
            "relationship": "self",
            "valid_from": date(2020, 1, 1),
        }
        fields.update(values)
        return billing.record_coverage(
            self.staff.actor("front_desk"), (patient or self.patient).id, **fields
        )

    def diagnose(self, indication: str = "chronic-migraine", icd10: str = "G43.709") -> None:
        billing.choose_diagnosis(
            self.staff.actor("front_desk"), self.patient.id, indication=indication, icd10=icd10
        )

    def client(self, role: str = "front_desk") -> Client:
        member: Membership = getattr(self.staff, role)
        _, token = issue_token(member, "billing tests", 1)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def confirm_catalog_items(staff: builders.Staff) -> None:
    """The clinic admin confirms every catalog item the current billing catalog can raise
    (billing.md 7.8): what a clinic does once in its Billing settings before it exports."""
    admin = staff.actor("admin")
    for item in billing.catalog_items(admin):
        if not item.confirmed:
            billing.confirm_catalog_item(admin, item.code, item.message)


def billing_clinic(catalog_confirmed: bool = True) -> Clinic:
    """``catalog_confirmed=False`` leaves the catalog items open, as a new clinic has them."""
    s = builders.staff()
    set_npi(s.actor("admin"), s.physician.id, PHYSICIAN_NPI)
    if catalog_confirmed:
        confirm_catalog_items(s)
    patient = builders.patient(s, weight_kg=70)
    for indication in ("chronic-migraine", "glabellar-lines", "axillary-hyperhidrosis"):
        builders.consent(s, patient, indication)
    return Clinic(s, patient, builders.lot(s, size=200, vials=10))


def charge_sets(session: TreatmentSession) -> list[ChargeSet]:
    return list(ChargeSet.objects.filter(session=session).order_by("sequence"))


def lines_of(charge_set: ChargeSet) -> list[tuple[str, tuple[str, ...], int]]:
    """(code, modifiers, billing units) of each line, in order."""
    return [
        (line["code"], tuple(line["modifiers"]), line["billing_units"])
        for line in charge_set.charges["lines"]
    ]


def amend_units(clinic: Clinic, session: TreatmentSession, units: Decimal) -> None:
    """The physician corrects the dose to ``units`` at one site (drawn from the same vial)."""
    sessions.amend(
        clinic.staff.actor("physician"),
        session.id,
        reason="The dose was charted wrongly",
        injections=[sessions.PointInput("frontalis", "left", units)],
    )

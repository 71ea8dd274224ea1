"""The pages' edges: a recall list that counts a restricted patient without naming them, CSV
downloads whose file name no record number breaks, and form errors (never a 500) for text the
database cannot hold, on both engines."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.services import Actor
from bontrack.inventory.services import RESTRICTED_EXPOSURE, recall_lot
from bontrack.patients.models import Patient
from bontrack.patients.services import register_patient, update_patient
from bontrack.security.services import break_glass
from tests import builders
from tests.web.conftest import Pages


def _restricted_patient_on_the_lot(pages: Pages) -> Patient:
    s = pages.staff
    keeper = builders.another_prescriber(s, "a-physician-keeper")
    patient = register_patient(
        s.actor("physician"),
        timezone.localdate(),
        record_number="P-SECRET",
        given_name="Vera",
        family_name="Hidden",
        birth_date=date(1970, 1, 1),
    )
    update_patient(Actor(keeper, "127.0.0.1"), patient.id, timezone.localdate(), restricted=True)
    break_glass(s.actor("physician"), patient.id, "Covering for the keeper this week")
    builders.consent(s, patient, "upper-limb-spasticity", timezone.localdate() - timedelta(days=20))
    when = timezone.now() - timedelta(days=3)
    builders.signed_session(
        s,
        patient,
        when,
        builders.open_vial(s, pages.lot, at=when - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[builders.sessions.PointInput("biceps-brachii", "left", Decimal(50))],
    )
    recall_lot(s.actor("admin"), pages.lot.id, reason="Manufacturer notice 2026-11")
    return patient


@pytest.mark.parametrize("persona", ["front_desk", "auditor"])
def test_the_lot_page_counts_a_restricted_patient_without_naming_them(pages: Pages, persona: str):
    _restricted_patient_on_the_lot(pages)
    page = pages.client(persona).get(f"/inventory/lots/{pages.lot.id}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Restricted patient: break glass or ask their care team" in text
    assert "Hidden" not in text
    assert "P-SECRET" not in text
    assert "P-1" in text  # the other exposed patient is listed in full


def test_the_lot_csv_counts_a_restricted_patient_without_their_details(pages: Pages):
    _restricted_patient_on_the_lot(pages)
    response = pages.client("front_desk").get(f"/inventory/lots/{pages.lot.id}/exposures.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2
    hidden = next(r for r in rows if r["name"] == RESTRICTED_EXPOSURE)
    assert hidden["record_number"] == hidden["phone"] == hidden["email"] == ""
    assert hidden["session_id"] == hidden["administered_on"] == ""


def test_a_record_number_with_a_line_break_does_not_break_the_disclosures_csv(pages: Pages):
    patient = builders.patient(pages.staff, "P-9\r\nX-Evil: 1")
    response = pages.client("clinic_admin").get(f"/patients/{patient.id}/disclosures.csv")
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert disposition.startswith('attachment; filename="disclosures-P-9-X-Evil-1.csv"')
    assert "X-Evil" not in {name for name, _ in response.items()}


@pytest.mark.postgres(sqlite=True)
@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("given_name", "A" * 101, "at most 100 characters"),
        ("record_number", "R" * 41, "at most 40 characters"),
    ],
)
def test_the_registration_form_names_a_field_too_long_for_its_column(
    pages: Pages, field: str, value: str, complaint: str
):
    form = {
        "record_number": "P-NEW",
        "given_name": "Sam",
        "family_name": "Roe",
        "birth_date": "1990-01-02",
        "sex": "unknown",
        "contact_method": "none",
        field: value,
    }
    page = pages.client("front_desk").post("/patients/new", form)
    assert page.status_code == 400
    assert complaint in page.content.decode()
    assert page.context["form"].errors[field]
    assert not Patient.objects.filter(clinic_id=pages.staff.clinic.id, given_name=value).exists()

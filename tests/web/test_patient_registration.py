"""Registering a patient and changing their details in the pages: the front desk records
demographics, clinicians also the risk factors the safety check reads; bad input is shown beside
its field with nothing saved; every save is audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.patients.models import Patient
from tests.web.conftest import Pages

NEW = {
    "record_number": "R-100",
    "given_name": "Ines",
    "family_name": "Quartey",
    "birth_date": "1984-03-09",
    "sex": "female",
    "phone": "+44 20 7946 0000",
    "email": "ines@example.org",
    "address": "1 Example Road",
    "contact_agreed": "on",
    "contact_method": "email",
}


def _entries(patient: Patient, action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(patient_id=patient.id, action=action).order_by("seq"))


def test_the_front_desk_registers_a_patient_with_demographics_only(pages: Pages):
    client = pages.client("front_desk")
    form = client.get("/patients/new").content.decode()
    assert 'name="record_number"' in form
    assert 'name="weight_kg"' not in form
    assert 'name="allergies"' not in form

    # A clinical field slipped into the post is not read: the role records demographics only.
    response = client.post("/patients/new", {**NEW, "weight_kg": "70", "pregnant": "on"})
    patient = Patient.objects.get(record_number="R-100")
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.id}/"
    assert (patient.given_name, patient.family_name, patient.sex) == ("Ines", "Quartey", "female")
    assert patient.contact_agreed
    assert patient.contact_method == "email"
    assert patient.weight_kg is None
    assert not patient.pregnant
    assert len(_entries(patient, "create")) == 1
    assert "registered" in client.get(response["Location"]).content.decode()


def test_a_clinician_registers_risk_factors_and_the_chart_shows_them(pages: Pages):
    client = pages.client("physician")
    response = client.post(
        "/patients/new",
        {
            **NEW,
            "weight_kg": "61.5",
            "conditions": ["myasthenia-gravis"],
            "medications": ["aminoglycosides"],
            "allergies": ["onabotulinumtoxinA", "cow-milk-protein"],
            "infected_sites": ["masseter:left", "axilla"],
        },
    )
    assert response.status_code == 302
    patient = Patient.objects.get(record_number="R-100")
    assert patient.weight_kg == Decimal("61.5")
    # A weight given without its date is today's (the clinic's day), never left undated.
    assert patient.weight_measured_on == timezone.localdate()
    assert patient.conditions == ["myasthenia-gravis"]
    assert patient.medications == ["aminoglycosides"]
    assert patient.allergies == ["onabotulinumtoxinA", "cow-milk-protein"]
    assert patient.infected_sites == [{"site": "masseter", "side": "left"}, {"site": "axilla"}]
    page = client.get(f"/patients/{patient.id}/").content.decode()
    assert "Myasthenia" in page
    assert "BOTOX (onabotulinumtoxinA)" in page


def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(pages: Pages):
    client = pages.client("physician")
    before = Patient.objects.count()
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    cases = [
        ({"birth_date": "9 March"}, "give a date, e.g. 2026-11-25"),
        ({"birth_date": tomorrow}, "is in the future"),
        ({"given_name": ""}, "fill this in"),
        ({"email": "not-an-address"}, "give an e-mail address, e.g. name@clinic.example"),
        ({"weight_kg": "900"}, "must be between 0 and 500 kg"),
        ({"weight_kg": "heavy"}, "give a number, e.g. 2.5"),
        ({"conditions": ["leprosy"]}, "pick one of the choices offered"),
        ({"record_number": pages.patient.record_number}, "another patient of this clinic"),
    ]
    for change, complaint in cases:
        response = client.post("/patients/new", {**NEW, **change})
        page = response.content.decode()
        assert response.status_code == 400, change
        assert complaint in page, (change, page)
        assert 'class="field-error"' in page
        assert "Nothing was saved" in page
        # What the user typed is still in the form.
        assert 'value="Quartey"' in page
    assert Patient.objects.count() == before


def test_editing_saves_only_what_changed_and_dates_a_new_weight(pages: Pages):
    patient = pages.patient
    patient.weight_measured_on = timezone.localdate() - timedelta(days=200)
    patient.save(update_fields=["weight_measured_on"])
    client = pages.client("physician")
    form = client.get(f"/patients/{patient.id}/edit").content.decode()
    assert f'value="{patient.record_number}"' in form
    assert 'value="70.00"' in form

    fields = {
        "record_number": patient.record_number,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date.isoformat(),
        "sex": patient.sex,
        "contact_method": patient.contact_method,
        "weight_kg": "72",
        "weight_measured_on": patient.weight_measured_on.isoformat(),
    }
    response = client.post(f"/patients/{patient.id}/edit", fields)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.weight_kg == Decimal(72)
    # The old date would have passed a new weight off as 200 days old: the new one is today's.
    assert patient.weight_measured_on == timezone.localdate()
    update = _entries(patient, "update")[-1]
    assert update.detail["fields"] == ["weight_kg", "weight_measured_on"]

    count = len(_entries(patient, "update"))
    fields.update(weight_kg="72.00", weight_measured_on=timezone.localdate().isoformat())
    response = client.post(f"/patients/{patient.id}/edit", fields, follow=True)
    assert "Nothing was changed" in response.content.decode()
    assert len(_entries(patient, "update")) == count


def test_the_front_desk_edits_contact_details_but_never_the_risk_factors(pages: Pages):
    patient = pages.patient
    client = pages.client("front_desk")
    assert 'name="weight_kg"' not in client.get(f"/patients/{patient.id}/edit").content.decode()
    response = client.post(
        f"/patients/{patient.id}/edit",
        {
            "record_number": patient.record_number,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "birth_date": patient.birth_date.isoformat(),
            "sex": patient.sex,
            "contact_method": "phone",
            "phone": "+44 161 496 0000",
            "weight_kg": "40",
        },
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.contact_method) == ("+44 161 496 0000", "phone")
    assert patient.weight_kg == Decimal(70)


def test_who_may_register_and_edit(pages: Pages):
    assert pages.client("auditor").get("/patients/new").status_code == 403
    assert pages.client("auditor").get(f"/patients/{pages.patient.id}/edit").status_code == 403
    other = pages.client("other_clinic")
    before = pages.patient.given_name
    response = other.post(f"/patients/{pages.patient.id}/edit", {"given_name": "Changed"})
    assert response.status_code == 404
    pages.patient.refresh_from_db()
    assert pages.patient.given_name == before
    list_page = pages.client("front_desk").get("/patients/").content.decode()
    assert 'href="/patients/new"' in list_page
    assert 'href="/patients/new"' not in pages.client("auditor").get("/patients/").content.decode()

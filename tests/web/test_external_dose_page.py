"""Recording a dose given elsewhere from the patient page: counted by the safety check like a
dose given here (the same product only), shown on the timeline, refused field by field."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import current_points, total_units
from bontrack.treatments.services import recheck
from tests.web.conftest import Pages

LETTER = {
    "product": "onabotulinumtoxinA",
    "indication": "upper-limb-spasticity",
    "place": "St Elsewhere Rehabilitation",
    "source_document": "Discharge letter of 2 Nov",
}


def _external(pages: Pages) -> list[TreatmentSession]:
    return list(TreatmentSession.objects.filter(patient=pages.patient, external=True))


def test_a_dose_from_a_letter_is_recorded_and_the_check_counts_it(pages: Pages):
    client = pages.client("physician")
    page = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert f'href="/patients/{pages.patient.id}/external-dose"' in page
    before = recheck(pages.staff.actor("physician"), pages.plan.id)
    given_on = (timezone.localdate() - timedelta(days=10)).isoformat()
    response = client.post(
        f"/patients/{pages.patient.id}/external-dose",
        {
            **LETTER,
            "given_on": given_on,
            "units": "100",
            "site_0": "biceps-brachii",
            "side_0": "right",
            "units_0": "60",
            "site_1": "brachialis",
            "side_1": "right",
            "units_1": "40",
        },
    )
    assert response.status_code == 302
    (dose,) = _external(pages)
    assert dose.is_signed
    assert dose.source_place == "St Elsewhere Rehabilitation"
    assert total_units(current_points(dose)) == Decimal(100)
    # The earlier 300 U plus these 100 U: the plan's cumulative check now sees 400 U before it.
    after = recheck(pages.staff.actor("physician"), pages.plan.id)
    assert after != before
    assert any("100 U" in f["message"] for f in after["findings"]), after["findings"]
    shown = client.get(f"/patients/{pages.patient.id}/", follow=True).content.decode()
    assert '<span class="badge info">given elsewhere</span>' in shown
    assert "St Elsewhere Rehabilitation" in shown


def test_each_refusal_names_its_field_and_nothing_is_recorded(pages: Pages):
    client = pages.client("physician")
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    today = timezone.localdate().isoformat()
    cases = [
        ({"given_on": tomorrow, "units": "50"}, "is in the future"),
        ({"given_on": today}, "give the total units, or the injections"),
        ({"given_on": today, "units": "-5"}, "must be greater than 0"),
        ({"given_on": today, "units": "50", "place": ""}, "fill this in"),
        (
            {
                "given_on": today,
                "units": "10",
                "site_0": "biceps-brachii",
                "side_0": "left",
                "units_0": "20",
            },
            "the injections add up to 20 U, more than the stated total of 10 U",
        ),
        (
            {"given_on": today, "site_2": "biceps-brachii", "side_2": "middle", "units_2": "20"},
            "Select a valid choice",
        ),
        (
            {"given_on": today, "site_3": "biceps-brachii", "side_3": "midline", "units_3": "20"},
            "midline",
        ),
        ({"given_on": today, "units_1": "20"}, "choose the site of these units"),
    ]
    for change, complaint in cases:
        response = client.post(f"/patients/{pages.patient.id}/external-dose", {**LETTER, **change})
        page = response.content.decode()
        assert response.status_code == 400, change
        assert complaint in page, (change, page[-3000:])
        assert "Nothing was recorded" in page
    assert _external(pages) == []


def test_only_those_who_sign_record_doses_and_never_for_another_clinic(pages: Pages):
    for persona in ("front_desk", "auditor", "clinic_admin"):
        url = f"/patients/{pages.patient.id}/external-dose"
        assert pages.client(persona).get(url).status_code == 403
    response = pages.client("other_clinic").post(
        f"/patients/{pages.patient.id}/external-dose",
        {**LETTER, "given_on": timezone.localdate().isoformat(), "units": "50"},
    )
    assert response.status_code == 404
    assert _external(pages) == []

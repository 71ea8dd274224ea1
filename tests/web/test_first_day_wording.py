"""What a clinic reads on its first day: a refused result kept and explained beside its field, the
vials to reconstitute from what is in stock, amounts without padding zeros ("2.5 mL"), and no
developer wording (design references, Django's sentences, role codes) on any main page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django import forms
from django.test import Client
from django.utils import timezone

from bontrack.outcomes.models import Assessment
from bontrack.web import forms as web_forms
from bontrack.web import patient_forms
from tests import builders
from tests.builders import CLINIC_A_PERSONAS
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _section(body: str, code: str) -> str:
    start = body.index(f'id="record-{code}"')
    return body[start : body.index("</details>", start)]


# --- Record a result: the refusal beside its field, the values kept ---------------------------


def test_a_result_out_of_range_is_refused_beside_the_value_with_everything_typed_kept(pages):
    client = pages.client("physician")
    day = (timezone.localdate() - timedelta(days=3)).isoformat()
    response = client.post(
        f"/patients/{pages.patient.id}/assessments",
        {
            "indication": "chronic-migraine",
            "scale": "headache-days-28d",
            "timepoint": "peak-effect",
            "assessed_on": day,
            "value": "31",
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    form = _section(body, "chronic-migraine")
    assert form.split("\n")[0].endswith(" open>")  # the form stays open
    # Beside the value field, not in the page's message area at the top.
    value_field = form[form.index('id="value-chronic-migraine"') :]
    assert value_field.index("must be between 0 and 28") < value_field.index("</div>")
    assert 'aria-describedby="value-chronic-migraine-error"' in form
    assert 'role="status"' not in body[: body.index("<h1")]
    # What was typed is still there.
    assert 'value="31"' in form
    assert f'value="{day}"' in form
    assert '<option value="peak-effect" selected>' in form
    assert '<option value="headache-days-28d" selected>' in form
    assert not Assessment.objects.exists()


def test_half_a_period_is_refused_beside_the_period_and_the_other_fields_kept(pages):
    client = pages.client("nurse_injector")
    start = (timezone.localdate() - timedelta(days=28)).isoformat()
    response = client.post(
        f"/patients/{pages.patient.id}/assessments",
        {
            "indication": "upper-limb-spasticity",
            "scale": "modified-ashworth",
            "timepoint": "follow-up",
            "period_start": start,
            "value": "1+",
            "muscle_group": "elbow flexors, left",
            "session_id": str(pages.signed.id),
        },
    )
    assert response.status_code == 422
    form = _section(response.content.decode(), "upper-limb-spasticity")
    assert 'id="period-upper-limb-spasticity-error">give both ends of the period' in form
    assert f'value="{start}"' in form
    assert 'value="elbow flexors, left"' in form
    assert '<option value="1+" selected>' in form
    assert f'<option value="{pages.signed.id}" selected>' in form
    assert "The result was not recorded: correct the field marked below." in form


def test_a_recorded_result_still_goes_back_to_its_chart(pages):
    client = pages.client("physician")
    response = client.post(
        f"/patients/{pages.patient.id}/assessments",
        {
            "indication": "chronic-migraine",
            "scale": "headache-days-28d",
            "timepoint": "baseline",
            "assessed_on": timezone.localdate().isoformat(),
            "value": "18",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#outcomes-chronic-migraine")
    assert Assessment.objects.count() == 1


# --- Vials to reconstitute, from stock ----------------------------------------------------------


@pytest.fixture
def stocked() -> tuple[Client, str]:
    """A PREEMPT plan (155 U of Botox) in a clinic holding 100 U and 50 U vials, none of 200 U."""
    s = builders.staff()
    p = builders.patient(s)
    builders.consent(s, p, "chronic-migraine")
    builders.lot(s, number="H1", size=100, vials=2)
    builders.lot(s, number="F1", size=50, vials=2)
    plan = builders.sessions.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    client = Client()
    client.force_login(s.physician.user)
    return client, f"/sessions/{plan.id}/"


def _totals(body: str) -> str:
    start = body.index('id="totals"')
    return body[start : body.index("</section>", start)]


def test_the_plan_editor_recommends_one_combination_of_vials_in_stock(stocked):
    client, url = stocked
    totals = _totals(client.get(url).content.decode())
    recommended = re.search(r'id="vials-recommended">(.*?)</div></div>', totals, re.S)
    assert recommended is not None
    assert "2 × 100 U" in recommended.group(1)
    assert "45 U left over" in recommended.group(1)
    assert "vials to reconstitute, from stock" in recommended.group(1)
    alternatives = re.search(r'id="vials-alternatives">(.*?)</p>', totals, re.S)
    assert alternatives is not None
    assert alternatives.group(1).startswith("Or instead: 1 × 100 U + 2 × 50 U")
    assert "200 U" not in totals  # a size the catalog lists but the clinic does not hold
    assert "by size" not in totals


def test_the_plan_editor_says_when_the_stock_cannot_cover_the_plan(stocked):
    client, url = stocked
    from bontrack.inventory.models import Lot

    Lot.objects.filter(lot_number="H1").update(recalled_at=timezone.now())
    totals = _totals(client.get(url).content.decode())
    assert "Not enough in stock" in totals
    assert "2 × 50 U unopened: 100 U for 155 U" in totals


# --- Amounts as written, never padded ----------------------------------------------------------


def test_a_dilution_of_two_and_a_half_ml_reads_2_5_ml_on_every_page(pages):
    vial = builders.open_vial(pages.staff, pages.lot, diluent="2.5")
    client = pages.client("physician")
    client.post(
        f"/sessions/{pages.plan.id}/vials", {"vial_id": str(vial.id), "action": "add"}, **HTMX
    )
    for path in (
        f"/sessions/{pages.plan.id}/",
        "/inventory/",
        f"/inventory/lots/{pages.lot.id}/",
        f"/patients/{pages.patient.id}/",
        "/",
    ):
        body = client.get(path).content.decode()
        assert "2.500" not in body, path
        assert "200.000" not in body, path
        assert "70.00 kg" not in body, path
    editor = client.get(f"/sessions/{pages.plan.id}/").content.decode()
    assert "200 U + 2.5 mL" in editor


# --- No developer wording -----------------------------------------------------------------------

DEVELOPER_WORDING = (
    re.compile(r"DESIGN \d"),
    re.compile(r"Ensure this value"),
    re.compile(r"Ensure that there are no more"),
    re.compile(r"This field is required"),
    re.compile(r"Select a valid choice"),
    re.compile(r"Enter a (valid|whole|number)"),
    re.compile(r"facts\.md|codes\.md|DESIGN\.md"),
    re.compile(r"\b(nurse-injector|front-desk|clinic-admin)\b(?![\"'=-])"),
)


def _visible(body: str) -> str:
    """The text a reader sees: no tags, attributes, scripts or comments."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<!--.*?-->", " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def _main_pages(pages: Pages) -> list[str]:
    return [
        "/",
        "/due/",
        "/patients/",
        f"/patients/{pages.patient.id}/",
        f"/patients/{pages.patient.id}/diary",
        f"/sessions/{pages.plan.id}/",
        f"/sessions/{pages.signed.id}/",
        "/inventory/",
        f"/inventory/lots/{pages.lot.id}/",
        "/appointments/",
        "/reminders/",
        "/consent-forms/",
        "/saved-plans/",
        "/reports/adverse-events/",
        "/audit/",
        "/account/",
    ]


@pytest.mark.parametrize("persona", sorted(CLINIC_A_PERSONAS))
def test_no_main_page_shows_developer_wording(pages, persona):
    client = pages.client(persona)
    seen = 0
    for path in _main_pages(pages):
        response = client.get(path)
        if response.status_code != 200:
            continue
        seen += 1
        text = _visible(response.content.decode())
        for pattern in DEVELOPER_WORDING:
            found = pattern.search(text)
            assert found is None, (
                f"{persona} {path}: {text[max(found.start() - 80, 0) : found.end() + 80]!r}"
            )
    assert seen >= 4


def test_a_point_of_zero_units_is_refused_in_clinical_words(pages):
    client = pages.client("physician")
    body = client.post(
        f"/sessions/{pages.plan.id}/points/0/change", {"units": "0"}, **HTMX
    ).content.decode()
    assert "Ensure this value" not in body
    assert "give more than 0 U" in body


def test_every_page_form_speaks_clinical_words():
    """A form added to the pages inherits the clinical messages (``ClinicalForm``)."""
    found = [
        value
        for module in (web_forms, patient_forms)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, forms.Form)
        and value.__module__ == module.__name__
        and value is not web_forms.ClinicalForm
    ]
    assert len(found) >= 10
    assert [f.__name__ for f in found if not issubclass(f, web_forms.ClinicalForm)] == []
    form = web_forms.LotForm(
        {"product": "nothing", "lot_number": "", "vial_size_units": "1.23456", "expires_on": "x"}
    )
    assert not form.is_valid()
    assert form.errors["product"] == ["pick one of the choices offered"]
    assert form.errors["lot_number"] == ["fill this in"]
    assert form.errors["vial_size_units"] == ["has too many decimals: at most 3 after the point"]
    assert form.errors["expires_on"] == ["give a date, e.g. 2026-11-25"]
    assert form.errors["received_vials"] == ["fill this in"]
    assert web_forms.PointForm({"units": "0"}).errors["units"] == ["give more than 0 U"]
    assert web_forms.RecallForm({"reason": "x" * 2001}).errors["reason"] == [
        "is too long: at most 2000 characters (this has 2001)"
    ]


def test_the_header_names_the_role_in_words(pages):
    body = pages.client("nurse_injector").get("/").content.decode()
    assert "· nurse injector ·" in body


def test_a_paper_consent_is_withdrawn_under_its_indications_name_not_its_code(pages: Pages):
    page = pages.client("physician").get(f"/patients/{pages.patient.id}/").content.decode()
    assert "Withdraw the chronic migraine" in page
    assert "Withdraw the chronic-migraine consent" not in page

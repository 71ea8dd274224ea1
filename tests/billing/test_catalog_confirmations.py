"""The catalog items a clinic confirms once in its Billing settings (billing.md 7.8, first kind).

A PREEMPT claim carries two: 64615's counting rests on a recalled source (procedure-to-confirm)
and its JW line repeats the drug line's NDC (ndc-on-waste-line). Until the clinic admin confirms
them, the claims file leaves the claim out saying so; once confirmed, it is exported; a
confirmation under another catalog version holds nothing. The superbill shows who confirmed.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.billing import services as billing
from bontrack.billing.catalog_items import CONFIRM_IN_SETTINGS, raisable_items
from bontrack.billing.models import CatalogConfirmation
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.domain.billing import (
    CATALOG_ITEM_CODES,
    Visit,
    VisitPoint,
    VisitVial,
    billing_catalog,
    derive_charges,
)
from bontrack.domain.units import Units
from tests.billing.support import Clinic, billing_clinic

pytestmark = pytest.mark.django_db

PREEMPT_ITEMS = ("procedure-to-confirm", "ndc-on-waste-line")


def _billable_preempt() -> tuple[Clinic, str]:
    """A clinic whose catalog items are still open, and a PREEMPT claim complete but for them:
    diagnosed, covered, rendered by the physician with an NPI."""
    clinic = billing_clinic(catalog_confirmed=False)
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt()
    return clinic, str(session.id)


def _claims_file(client: Client) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    today = timezone.localdate()
    response = client.get(
        f"/api/v1/billing/claims.csv?start={today - timedelta(days=7)}&end={today}"
    )
    assert response.status_code == 200, response.content
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    blank = rows.index([])
    claims, left_out = rows[:blank], rows[blank + 1 :]
    return (
        [dict(zip(claims[0], r, strict=True)) for r in claims[1:]],
        [dict(zip(left_out[0], r, strict=True)) for r in left_out[1:]],
    )


def _superbill(client: Client, session_id: str) -> dict:
    response = client.get(f"/api/v1/sessions/{session_id}/superbill")
    assert response.status_code == 200, response.content
    return response.json()


def _confirm(client: Client, item: dict, note: str = "") -> object:
    return client.post(
        "/api/v1/billing/catalog-items/confirmations",
        {"item_code": item["code"], "message": item["message"], "note": note},
        content_type="application/json",
    )


def test_a_preempt_claim_is_left_out_until_the_clinic_admin_confirms_its_catalog_items():
    clinic, session_id = _billable_preempt()
    desk = clinic.client("front_desk")

    bill = _superbill(desk, session_id)
    assert [(i["code"], i["confirmed"]) for i in bill["catalog_items"]] == [
        (code, False) for code in PREEMPT_ITEMS
    ]
    assert bill["exportable"] is False
    assert bill["left_out_because"] == [
        f"{i['message']}: {CONFIRM_IN_SETTINGS}" for i in bill["catalog_items"]
    ]
    claims, left_out = _claims_file(desk)
    assert claims == []
    assert [r["left_out_session_id"] for r in left_out] == [session_id]
    why = left_out[0]["why"].split("; ")
    assert f"{bill['catalog_items'][0]['message']}: {CONFIRM_IN_SETTINGS}" in why
    assert why[0].startswith("64615 "), why

    listed = desk.get("/api/v1/billing/catalog-items")
    assert listed.status_code == 200, listed.content
    settings = {(i["code"], i["message"]): i for i in listed.json()}
    admin = clinic.client("admin")
    for item in bill["catalog_items"]:
        assert (item["code"], item["message"]) in settings
        confirmed = _confirm(admin, item, note="Our payer takes 64615 once per session.")
        assert confirmed.status_code == 201, confirmed.content
        body = confirmed.json()
        assert body["catalog_version"] == billing_catalog().version
        assert body["confirmed_by"] == clinic.staff.admin.display_name

    again = _confirm(admin, bill["catalog_items"][0])
    assert again.status_code == 409
    assert again.json()["errors"][0]["message"] == "this item is confirmed already"

    claims, left_out = _claims_file(desk)
    assert left_out == []
    assert [(r["code"], r["modifiers"], r["billing_units"]) for r in claims] == [
        ("64615", "", "1"),
        ("J0585", "", "155"),
        ("J0585", "JW", "45"),
    ]
    entries = AuditEntry.objects.filter(action="create", object_type="catalog-confirmation")
    assert entries.count() == len(PREEMPT_ITEMS)
    assert {e.patient_id for e in entries} == {None}


def test_the_superbill_shows_who_confirmed_each_catalog_item_on_the_page_and_in_the_api():
    clinic, session_id = _billable_preempt()
    admin = clinic.staff.actor("admin")
    for item in billing.catalog_items(admin):
        billing.confirm_catalog_item(admin, item.code, item.message, "Checked with Medicare.")

    bill = _superbill(clinic.client("front_desk"), session_id)
    assert bill["exportable"] is True
    for item in bill["catalog_items"]:
        assert item["confirmed"] is True
        assert item["confirmed_by"] == clinic.staff.admin.display_name
        assert item["confirmed_at"] is not None
        assert item["note"] == "Checked with Medicare."

    page = Client()
    page.force_login(clinic.staff.front_desk.user)
    html = page.get(f"/sessions/{session_id}/superbill/").content.decode()
    assert 'data-catalog-item="procedure-to-confirm" data-confirmed="true"' in html
    assert f"Confirmed for the clinic by {clinic.staff.admin.display_name}" in html
    assert 'data-exportable="true"' in html


def test_a_new_catalog_version_reopens_every_catalog_item():
    clinic, session_id = _billable_preempt()
    admin = clinic.staff.actor("admin")
    # Confirmed under another catalog version: the entries may have changed since.
    for item in billing.catalog_items(admin):
        CatalogConfirmation.objects.create(
            clinic=clinic.staff.clinic,
            item_code=item.code,
            message=item.message,
            catalog_version="2020.01.1",
            confirmed_by=clinic.staff.admin,
            confirmed_at=timezone.now(),
        )
    desk = clinic.client("front_desk")
    assert not any(i.confirmed for i in billing.catalog_items(admin))
    bill = _superbill(desk, session_id)
    assert [i["confirmed"] for i in bill["catalog_items"]] == [False, False]
    claims, left_out = _claims_file(desk)
    assert claims == []
    assert [r["left_out_session_id"] for r in left_out] == [session_id]

    for item in bill["catalog_items"]:
        billing.confirm_catalog_item(admin, item["code"], item["message"])
    claims, left_out = _claims_file(desk)
    assert left_out == []
    assert {r["session_id"] for r in claims} == {session_id}


def test_only_the_clinic_admin_confirms_a_catalog_item():
    clinic, session_id = _billable_preempt()
    item = _superbill(clinic.client("front_desk"), session_id)["catalog_items"][0]
    for role in ("physician", "front_desk", "nurse", "auditor"):
        refused = _confirm(clinic.client(role), item)
        assert refused.status_code == 403, (role, refused.content)
    with pytest.raises(ForbiddenError):
        billing.confirm_catalog_item(clinic.staff.actor("physician"), item["code"], item["message"])
    assert not CatalogConfirmation.objects.exists()

    page = Client()
    page.force_login(clinic.staff.front_desk.user)
    settings = page.get("/billing/settings/")
    assert settings.status_code == 200
    assert 'data-catalog-item="procedure-to-confirm" data-confirmed="false"' in (
        settings.content.decode()
    )
    assert 'action="/billing/settings/confirmations"' not in settings.content.decode()
    posted = page.post(
        "/billing/settings/confirmations",
        {"item_code": item["code"], "message": item["message"]},
    )
    assert posted.status_code == 403
    assert not CatalogConfirmation.objects.exists()


def test_the_clinic_admin_confirms_from_the_billing_settings_page_linked_from_the_claims():
    clinic, session_id = _billable_preempt()
    page = Client()
    page.force_login(clinic.staff.admin.user)
    assert 'href="/billing/settings/"' in page.get("/billing/claims/").content.decode()
    html = page.get("/billing/settings/").content.decode()
    assert f'data-catalog-version="{billing_catalog().version}"' in html
    assert html.count('<button type="submit" class="compact">Confirm</button>') == len(
        raisable_items(billing_catalog())
    )
    item = _superbill(clinic.client("front_desk"), session_id)["catalog_items"][0]
    posted = page.post(
        "/billing/settings/confirmations",
        {"item_code": item["code"], "message": item["message"], "note": "Per our payer."},
    )
    assert posted.status_code == 302
    assert posted["Location"] == "/billing/settings/#catalog-items"
    html = page.get("/billing/settings/").content.decode()
    assert f"Confirmed by {clinic.staff.admin.display_name}" in html
    assert "Per our payer." in html
    unknown = page.post(
        "/billing/settings/confirmations", {"item_code": item["code"], "message": "not one"}
    )
    assert unknown.status_code == 400
    assert "Not confirmed: message: not an item of billing catalog" in unknown.content.decode()


def test_an_item_not_in_the_current_catalog_cannot_be_confirmed():
    clinic = billing_clinic(catalog_confirmed=False)
    admin = clinic.staff.actor("admin")
    with pytest.raises(ServiceError) as unknown_code:
        billing.confirm_catalog_item(admin, "smallest-vial", "a claim item")
    assert unknown_code.value.field == "code"
    item = raisable_items(billing_catalog())[0]
    billing.confirm_catalog_item(admin, item.code, item.message)
    with pytest.raises(ConflictError):
        billing.confirm_catalog_item(admin, item.code, item.message)


def _visits() -> list[Visit]:
    """A visit per product, indication and guidance, both sides of two limbs and of the head,
    a vial with discard and each diagnosis the catalog suggests: every way an item is raised."""
    billing_data = billing_catalog()
    limbs = [s for s, region in billing_data.site_regions.items() if region == "upper-limb"][:2]
    others = [s for s, region in billing_data.site_regions.items() if region == "head-neck"][:1]
    visits = []
    for product in billing_data.products.values():
        sizes = product.medical_vial_sizes
        if product.hcpcs is None or not sizes:
            continue
        size = Units(product.product, max(sizes))
        ndc = product.ndcs_for(size.amount)[0].ndc if product.ndcs_for(size.amount) else None
        per_unit = product.units_per_billing_unit
        dose = Units(product.product, per_unit * 2)
        points = tuple(
            VisitPoint(site, side, Units(product.product, dose.amount / 8))
            for site in (*limbs, *others)
            for side in ("left", "right")
        )
        given = Units(product.product, sum(p.units.amount for p in points))
        vial = VisitVial(size, Units(product.product, size.amount - given.amount), ndc, False)
        for indication in billing_data.procedures:
            codes = [s.code for s in billing_data.icd.get(indication, ())] or [None]
            for guidance in ("none", "emg", "electrical-stimulation", "ultrasound"):
                for diagnosis in codes:
                    visits.append(
                        Visit(
                            product=product.product,
                            indication=indication,
                            date_of_service=date(2026, 3, 2),
                            points=points,
                            vials=(vial,),
                            guidance=guidance,
                            diagnosis=diagnosis,
                        )
                    )
    return visits


def test_the_settings_list_every_catalog_item_a_claim_can_carry():
    billing_data = billing_catalog()
    listed = set(raisable_items(billing_data))
    raised = set()
    for visit in _visits():
        charges = derive_charges(visit, billing_data)
        raised |= {i for i in charges.to_confirm if i.code in CATALOG_ITEM_CODES}
    # Every item a claim can carry is listed, word for word, and nothing else is.
    assert raised == listed, raised ^ listed

"""The plan editor and inventory pages with B.30 and B.34: the draws are shown per vial before
signing and may be changed; a future injection time is refused in the preview and at signing;
the inventory pages show what a vial gave, what is left and what was wasted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.inventory.models import VialClosing
from bontrack.treatments.models import SessionVial
from bontrack.treatments.services import stored_result_at
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def editor(client, pages: Pages, path: str, data: dict[str, str]) -> str:
    response = client.post(f"/sessions/{pages.plan.id}/{path}", data, **HTMX)
    assert response.status_code == 200, response.content
    return response.content.decode()


def decide_all(client, pages: Pages, at) -> None:
    for f in stored_result_at(pages.plan, at)["findings"]:
        if f["severity"] == "block" and not f["overridable"]:
            continue
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        editor(
            client,
            pages,
            "decisions",
            {
                "fingerprint": f["fingerprint"],
                "kind": kind,
                "reason": "Reviewed with the patient.",
                "confirm": pages.staff.password,
            },
        )


def test_the_editor_shows_each_vials_draw_before_signing_and_signs_the_draws_given(pages):
    client = pages.client("physician")
    body = editor(client, pages, "vials/open", {"lot_id": str(pages.lot.id), "diluent_ml": "4"})
    first = pages.plan.session_vials.get().vial_id
    assert f'name="draw-{first}"' in body
    assert 'value="155"' in body
    body = editor(client, pages, "vials/open", {"lot_id": str(pages.lot.id), "diluent_ml": "4"})
    second = pages.plan.session_vials.exclude(vial_id=first).get().vial_id
    assert f'name="draw-{second}"' in body
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    decide_all(client, pages, at)
    password = pages.staff.password
    short = editor(
        client,
        pages,
        "sign",
        {
            "administered_at": local(at),
            "confirm": password,
            f"draw-{first}": "100",
            f"draw-{second}": "54.999",
        },
    )
    assert "Not signed:" in short
    assert "supply" in short
    pages.plan.refresh_from_db()
    assert not pages.plan.is_signed
    response = client.post(
        f"/sessions/{pages.plan.id}/sign",
        {
            "administered_at": local(at),
            "confirm": password,
            f"draw-{first}": "100",
            f"draw-{second}": "55",
        },
        **HTMX,
    )
    assert response.status_code == 204, response.content
    draws = dict(
        SessionVial.objects.filter(session=pages.plan).values_list("vial_id", "drawn_units")
    )
    assert draws == {first: Decimal(100), second: Decimal(55)}
    lot_page = client.get(f"/inventory/lots/{pages.lot.id}/").content.decode()
    assert "145 U left" in lot_page
    assert "Close the vial" in lot_page


def test_the_preview_refuses_an_injection_time_6_minutes_ahead(pages):
    client = pages.client("physician")
    ahead = timezone.now() + timedelta(minutes=6, seconds=30)
    body = editor(client, pages, "time", {"administered_at": local(ahead)})
    assert "the injection time is in the future" in body
    assert "plan date" in body
    body = client.get(
        f"/sessions/{pages.plan.id}/workspace", {"administered_at": local(ahead)}, **HTMX
    ).content.decode()
    assert "the injection time is in the future" in body
    signing = editor(
        client,
        pages,
        "sign",
        {"administered_at": local(ahead), "confirm": pages.staff.password},
    )
    assert "the injection time is in the future" in signing
    pages.plan.refresh_from_db()
    assert not pages.plan.is_signed


def test_the_preview_accepts_an_injection_time_5_minutes_ahead(pages):
    client = pages.client("physician")
    # A datetime-local field has minutes only: now + 5 minutes, floored, is at most 5:00 ahead.
    ahead = timezone.now() + timedelta(minutes=5)
    body = editor(client, pages, "time", {"administered_at": local(ahead)})
    assert "the injection time is in the future" not in body


def test_the_inventory_page_lists_an_open_vial_with_what_it_still_holds(pages):
    client = pages.client("nurse_injector")
    editor(
        pages.client("physician"),
        pages,
        "vials/open",
        {"lot_id": str(pages.lot.id), "diluent_ml": "4"},
    )
    page = client.get("/inventory/").content.decode()
    assert "Open vials" in page
    assert "200 U" in page


def test_the_signed_record_shows_what_each_vial_gave(pages: Pages):
    """pages.signed: 6 x 50 U of spasticity from 200 U vials, drawn in the order they were
    opened (B.30): 200 U from the first, 100 U from the second."""
    uses = SessionVial.objects.filter(session=pages.signed).order_by("vial__reconstituted_at")
    drawn = sorted(Decimal(u.drawn_units) for u in uses)
    assert drawn == [Decimal(100), Decimal(200)]
    page = pages.client("physician").get(f"/sessions/{pages.signed.id}/").content.decode()
    assert "<th>Drawn</th>" in page
    assert '<td class="nowrap">200 U</td>' in page
    assert '<td class="nowrap">100 U</td>' in page


def test_closing_an_open_vial_from_the_lot_page_wastes_what_it_held(pages: Pages):
    client = pages.client("nurse_injector")
    vial = pages.lot.vials.filter(reconstituted_at__isnull=True).first()
    client.post(f"/inventory/vials/{vial.id}/reconstitute", {"diluent_ml": "2"})
    closed = client.post(f"/inventory/vials/{vial.id}/close", follow=True)
    assert "Vial closed: what it still held is recorded as wasted." in closed.content.decode()
    closing = VialClosing.objects.get(vial=vial)
    assert not closing.wasted_by_hand
    again = client.post(f"/inventory/vials/{vial.id}/close", follow=True).content.decode()
    assert "Not closed:" in again
    assert VialClosing.objects.filter(vial=vial).count() == 1

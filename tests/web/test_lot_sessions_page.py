"""The lot page says which signed session drew from each vial, and how much, without naming the
patient (the session, one click away, audits its read)."""

from __future__ import annotations

import pytest

from bontrack.treatments.models import SessionVial
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db


def test_the_lot_page_links_each_vial_to_the_sessions_that_drew_from_it(pages: Pages):
    use = SessionVial.objects.select_related("vial__lot").filter(session=pages.signed).first()
    body = (
        pages.client("nurse_injector").get(f"/inventory/lots/{use.vial.lot_id}/").content.decode()
    )
    row = body[body.index(f'id="vial-{use.vial_id}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="/sessions/{pages.signed.id}/"' in row
    assert f"{use.drawn_units.normalize():f} U" in row
    assert pages.patient.family_name not in row

"""The plan editor's body map for fingers in gloves, and the shortcuts for bilateral muscles.

Layout: for every protocol of the catalog, every indication's empty sites and a crowded plan,
each target drawn at the editor's width is at least 44 CSS px and no two targets' squares overlap.
Shortcuts: "Same on the other side" gives the other side of a muscle the same points, and a
point added on "both sides" lands on the left and the right with the same units.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from bontrack.domain.catalog import catalog
from bontrack.web import bodymap
from tests.web.conftest import Pages
from tests.web.test_views import HTMX, _editor


def _problems(views: list[bodymap.View]) -> list[str]:
    found = []
    for view in views:
        scale = bodymap.EDITOR_PX / view.box[2]
        targets = [(m.label, m.x, m.y, m.r) for m in view.markers] + [
            (f"+ {g.label}", g.x, g.y, g.r) for g in view.ghosts
        ]
        for label, x, y, r in targets:
            if 2 * r * scale < 44:
                found.append(f"{view.code}: {label} is {2 * r * scale:.1f} px")
            left, top, width, height = view.box
            if not (left <= x - r and x + r <= left + width and top <= y - r <= top + height):
                found.append(f"{view.code}: {label} lies outside the drawn part")
        for (a, ax, ay, ar), (b, bx, by, br) in itertools.combinations(targets, 2):
            if abs(ax - bx) < ar + br and abs(ay - by) < ar + br:
                found.append(f"{view.code}: {a} overlaps {b}")
    return found


@pytest.mark.parametrize("protocol", sorted(catalog().protocols))
def test_every_protocol_is_drawn_with_targets_of_44_px_that_do_not_overlap(protocol):
    points = [(p.site, p.side, p.units) for p in catalog().protocols[protocol].points]
    assert _problems(bodymap.views(points, for_touch=True)) == []


@pytest.mark.parametrize("indication", sorted(catalog().indications))
def test_every_indication_s_empty_sites_are_targets_of_44_px_that_do_not_overlap(indication):
    sites = list(catalog().indications[indication].sites)
    assert _problems(bodymap.views([], ghost_sites=sites, for_touch=True)) == []


def test_six_points_on_one_muscle_beside_every_empty_site_of_the_arm_stay_apart():
    points = [("biceps-brachii", "left", Decimal(50))] * 6 + [
        ("flexor-carpi-ulnaris", "right", Decimal(25))
    ]
    sites = list(catalog().indications["upper-limb-spasticity"].sites)
    views = bodymap.views(points, ghost_sites=sites, for_touch=True)
    assert _problems(views) == []
    # Circles moved away from their muscle keep a line to it.
    assert any(m.anchor_x is not None for v in views for m in v.markers)


def test_four_digit_units_fit_inside_their_circle():
    views = bodymap.views([("biceps-brachii", "left", Decimal("1000"))], for_touch=True)
    marker = views[0].markers[0]
    assert marker.units == "1000"
    # Digits are about 0.6 em wide: four of them fit across the circle with room to spare.
    assert 4 * 0.6 * marker.font < 2 * marker.r * 0.9


def test_same_on_the_other_side_copies_a_muscle_s_points_and_a_second_time_changes_nothing(
    pages: Pages,
):
    client = pages.client("physician")
    # Point 0 is the left corrugator (5 U), point 1 the right one (5 U).
    body = _editor(client, pages, "points/0/change", {"units": "7.5", "action": "mirror"})
    assert "160 U" in body
    assert "in 31 points" in body
    body = _editor(client, pages, "points/0/change", {"units": "7.5", "action": "mirror"})
    assert "160 U" in body
    assert "in 31 points" in body
    pages.plan.refresh_from_db()
    assert pages.plan.check_result["total_units"] == "160"


def test_a_midline_point_has_no_other_side_and_nothing_changes(pages: Pages):
    client = pages.client("physician")
    body = _editor(client, pages, "points/2/change", {"units": "5", "action": "mirror"})
    assert "A midline point has no other side: add another point instead." in body
    assert 'id="point-editor"' in body
    pages.plan.refresh_from_db()
    assert pages.plan.check_result["total_units"] == "155"


def test_a_point_added_on_both_sides_lands_left_and_right_with_the_same_units(pages: Pages):
    client = pages.client("physician")
    body = _editor(
        client, pages, "points/add", {"site": "frontalis", "side": "both", "units": "2.5"}
    )
    assert "160 U" in body
    assert "in 33 points" in body
    body = client.get(f"/sessions/{pages.plan.id}/workspace", **HTMX).content.decode()
    assert body.count('data-site="frontalis" data-side="left"') == 3
    assert body.count('data-site="frontalis" data-side="right"') == 3


def test_the_body_map_opens_a_point_on_click_only_and_leaves_keys_to_the_page_script(
    pages: Pages,
):
    body = pages.client("physician").get(f"/sessions/{pages.plan.id}/").content.decode()
    assert 'hx-trigger="click"' in body
    assert "keyup[" not in body
    assert 'tabindex="0" role="button"' in body

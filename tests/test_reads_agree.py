"""The pages and the API show one record: the patient's timeline and a session's record, fetched
through GET /api/v1/... with a bearer token and through the HTML pages signed in, carry the same
facts (entries in the same order with the same dates, totals, status, injector and overridden
findings; the same points per site and the same draw from each vial). Both render
``bontrack/treatments/reads.py``; the pages carry the facts in data- attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.treatments import external
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.supply import DrawInput
from tests import builders
from tests.api.support import World

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]

BICEPS = sessions.PointInput("biceps-brachii", "left", Decimal(50))


@dataclass
class Tagged:
    """An element carrying data- attributes, and the data- elements inside it."""

    attrs: dict[str, str]
    inside: list[dict[str, str]] = field(default_factory=list)


class DataAttributes(HTMLParser):
    """Every element with the ``wanted`` data- attribute, with the data- attributes of the
    elements nested in it (the overridden findings of a timeline row)."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.found: list[Tagged] = []
        self._open: list[tuple[str, Tagged | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {k: v or "" for k, v in attrs if k.startswith("data-")}
        current = next((t for _, t in reversed(self._open) if t is not None), None)
        if current is not None and data:
            current.inside.append(data)
        element = Tagged(data) if self.wanted in data else None
        if element is not None:
            self.found.append(element)
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self._open.append((tag, element))

    def handle_endtag(self, tag: str) -> None:
        for n in range(len(self._open) - 1, -1, -1):
            if self._open[n][0] == tag:
                del self._open[n:]
                return


def tagged(html: str, wanted: str) -> list[Tagged]:
    parser = DataAttributes(wanted)
    parser.feed(html)
    return parser.found


@dataclass
class Both:
    world: World
    page: Client

    def api(self, path: str) -> Any:
        response = self.world.call("physician", "GET", path)
        assert response.status_code == 200, response.content
        return response.json()

    def html(self, path: str) -> str:
        response = self.page.get(path)
        assert response.status_code == 200, response.content[:300]
        return str(response.content.decode())


@pytest.fixture
def both(db: None) -> Both:
    """Clinic A's patient with a session signed two weeks ago (upper-limb spasticity, 6 x 50 U
    from two vials) then amended to 7 x 50 U with a third vial, today's plan signed with its
    cumulative-dose block overridden, a dose given elsewhere and a cancelled plan; patient 2's
    nurse-signed session entered in error with the toxin not given (its draws released)."""
    world = World()
    a, doctor = world.a, world.a.actor("physician")
    signed_now = sessions.sign_session(doctor, world.plan.id, administered_at=world.administered)
    assert signed_now.check_result["findings"]
    first = world.signed
    third = builders.open_vial(a, world.lot, at=world.two_weeks_ago - timedelta(hours=1))
    sessions.amend(
        doctor,
        first.id,
        reason="A third vial was drawn: 350 U were given",
        injections=[BICEPS] * 7,
        vials=[DrawInput(vial_id=u.vial_id) for u in first.session_vials.all()]
        + [DrawInput(vial_id=third.id, drawn_units=Decimal(50))],
    )
    external.record_external_dose(
        doctor,
        world.patient.id,
        external.ExternalDose(
            given_on=timezone.localdate() - timedelta(days=60),
            product="onabotulinumtoxinA",
            indication="cervical-dystonia",
            place="Movement disorders clinic",
            source_document="Referral letter",
            units=Decimal(200),
        ),
    )
    dropped = sessions.plan_session(
        doctor,
        world.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate() + timedelta(days=7),
        protocol="preempt-155",
    )
    sessions.cancel_plan(doctor, dropped.id, reason="booked twice")
    sessions.mark_entered_in_error(
        doctor, world.nurse_signed.id, reason="Charted on the wrong patient", toxin_given=False
    )
    page = Client()
    page.force_login(a.physician.user)
    return Both(world, page)


def _api_timeline(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": t["id"],
            "status": t["status"],
            "plan_date": t["plan_date"],
            "total_units": t["total_units"],
            "injector": t["injector"] or "",
            "overridden": t["overridden"],
            "given_elsewhere_at": t["given_elsewhere_at"] or "",
        }
        for t in items
    ]


def _page_timeline(html: str) -> list[dict[str, Any]]:
    return [
        {
            "id": row.attrs["data-session"],
            "status": row.attrs["data-status"],
            "plan_date": row.attrs["data-plan-date"],
            "total_units": row.attrs["data-total-units"],
            "injector": row.attrs["data-injector"],
            "overridden": [d["data-overridden"] for d in row.inside if "data-overridden" in d],
            "given_elsewhere_at": row.attrs.get("data-given-elsewhere-at", ""),
        }
        for row in tagged(html, "data-session")
    ]


@pytest.mark.parametrize("whose", ["patient", "patient2"])
def test_the_timeline_is_the_same_on_the_page_and_in_the_api(both: Both, whose: str) -> None:
    patient = getattr(both.world, whose)
    api = _api_timeline(both.api(f"/patients/{patient.id}/timeline"))
    page = _page_timeline(both.html(f"/patients/{patient.id}/"))
    assert page == api
    assert len(api) == TreatmentSession.objects.filter(patient=patient).count()
    if whose == "patient":
        assert [t["status"] for t in api] == ["cancelled", "signed", "amended", "signed"]
        assert [t["total_units"] for t in api] == ["155", "155", "350", "200"]
        assert api[1]["overridden"] == ["cumulative-dose"]
        assert api[3]["given_elsewhere_at"] == "Movement disorders clinic"
    else:
        assert "entered-in-error" in [t["status"] for t in api]


def _api_record(session: dict[str, Any]) -> dict[str, Any]:
    groups: dict[tuple[str, str, str, str], list[Decimal]] = {}
    for p in session["injections"]:
        groups.setdefault((p["site"], p["side"], p["route"], p["units"]), []).append(
            Decimal(p["units"])
        )
    return {
        "status": session["status"],
        "total_units": session["total_units"],
        "points": [
            (site, side, route, each, len(units), f"{sum(units, Decimal(0)).normalize():f}")
            for (site, side, route, each), units in groups.items()
        ],
        "draws": [(v["vial_id"], v["drawn_units"]) for v in session["vials"]],
    }


def _page_record(html: str) -> dict[str, Any]:
    [status] = tagged(html, "data-status")
    [total] = tagged(html, "data-total-units")
    return {
        "status": status.attrs["data-status"],
        "total_units": total.attrs["data-total-units"],
        "points": [
            (
                g.attrs["data-site"],
                g.attrs["data-side"],
                g.attrs["data-route"],
                g.attrs["data-each"],
                int(g.attrs["data-points"]),
                g.attrs["data-units"],
            )
            for g in tagged(html, "data-site")
        ],
        "draws": [
            (v.attrs["data-vial"], v.attrs["data-drawn"])
            for v in tagged(html, "data-vial")
            if v.attrs["data-drawn"]
        ],
    }


@pytest.mark.parametrize("which", ["signed", "plan", "nurse_signed"])
def test_a_session_record_is_the_same_on_the_page_and_in_the_api(both: Both, which: str) -> None:
    session = getattr(both.world, which)
    api = both.api(f"/sessions/{session.id}")
    html = both.html(f"/sessions/{session.id}/")
    assert _page_record(html) == _api_record(api)
    listed = [v.attrs["data-vial"] for v in tagged(html, "data-vial")]
    assert {v["vial_id"] for v in api["vials"]} <= set(listed)
    if which == "signed":
        # The vial only the amendment names is on the page with its lot and its draw.
        assert len(api["vials"]) == 3
        assert sorted(Decimal(v["drawn_units"]) for v in api["vials"]) == [50, 100, 200]
        assert api["total_units"] == "350"
    if which == "nurse_signed":
        # Entered in error without toxin given: the draws are released, the vials still listed.
        assert api["vials"] == []
        assert listed == [str(v) for v in api["vial_ids"]]
    note = both.html(f"/sessions/{session.id}/note")
    assert _page_record(note) == _api_record(api)

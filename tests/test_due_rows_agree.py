"""The due rows agree wherever they are shown: the API's due list (JSON and CSV), the Due page and
its CSV download list the same patients, in the same order, with the same due dates and the same
reasons, and hold apart the same stop-verdict patients with the same words (B.32)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.inventory.models import Lot
from bontrack.outcomes import services as followup
from bontrack.treatments import services as sessions
from tests import builders
from tests.api.support import World
from tests.services.followup import NECK, at, migraine_patient, signed

pytestmark = pytest.mark.django_db


def _today() -> date:
    return timezone.localdate()


def _neck(
    s: builders.Staff, lot: Lot, record: str, weeks_ago: int, *, by_nurse: bool = False
) -> None:
    """Cervical dystonia with onabotulinumtoxinA (bontrack's 70 days, B.17) ``weeks_ago``."""
    p = builders.patient(s, record)
    day = _today() - timedelta(weeks=weeks_ago)
    builders.consent(s, p, "cervical-dystonia", day - timedelta(days=5))
    if not by_nurse:
        signed(s, p, lot, day, indication="cervical-dystonia", injections=NECK)
        return
    nurse = s.actor("nurse")
    plan = sessions.plan_session(
        nurse,
        p.id,
        product="onabotulinumtoxinA",
        indication="cervical-dystonia",
        plan_date=day,
        injections=NECK,
        vial_ids=[builders.open_vial(s, lot, at=at(day, 9)).id],
    )
    for f in sessions.stored_result_at(plan, at(day))["findings"]:
        sessions.decide(nurse, plan.id, fingerprint_=f["fingerprint"], kind="acknowledge")
    sessions.sign_session(nurse, plan.id, administered_at=at(day))


def _clinic(world: World) -> None:
    """Patients overdue, due today, due later, due by their wear-off history, held by a stop
    verdict, and not due yet."""
    s = world.a
    lot = builders.lot(s, number="DUE", vials=40)
    _neck(s, lot, "CD-OVERDUE", weeks_ago=12)  # 84 days after: 14 days overdue
    _neck(s, lot, "CD-NURSE", weeks_ago=11, by_nurse=True)  # 7 days overdue, the nurse's
    migraine_patient(s, lot, "CM-TODAY", weeks_ago=(24, 12))  # 84 days: due today
    _neck(s, lot, "CD-SOON-B", weeks_ago=9)  # due in 7 days, two on one day
    _neck(s, lot, "CD-SOON-A", weeks_ago=9)
    worn = migraine_patient(s, lot, "CM-WEAR-OFF", weeks_ago=(26, 13))
    first = worn.cycles[0]
    followup.record_wear_off(
        s.actor("physician"), first.id, wore_off_on=first.plan_date + timedelta(days=92)
    )  # the wear-off history (92 days, due tomorrow) is later than the label's 84 days
    migraine_patient(s, lot, "CM-STOP", weeks_ago=(24, 12), days=(22, 20, 18))  # NICE: stop
    _neck(s, lot, "CD-LATER", weeks_ago=2)  # due in 8 weeks: not listed


def _shown(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _page_rows(page: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The Due page's rows and held rows: patient, record number, due date, and the words that
    say why (which date sets it; why the patient is held)."""
    page = html.unescape(page)
    listed = page[page.index('id="due-list"') :]
    due_part, _, held_part = listed.partition('id="due-held"')
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", due_part, re.S)[1:]:
        rows.append(
            {
                "patient_id": re.search(r'href="/patients/([^/]+)/"', tr).group(1),
                "record_number": re.search(r"<br><small>([^<]*)</small>", tr).group(1),
                "due": re.search(r'class="nowrap due-cell"><strong>([^<]*)</strong>', tr).group(1),
                "overdue": bool(re.search(r"\d+ days? overdue", tr)),
                "set_by": re.search(r"set by ([^<]*)</small>", tr).group(1),
            }
        )
    held = []
    for tr in re.findall(r"<tr>(.*?)</tr>", held_part, re.S)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        held.append(
            {
                "patient_id": re.search(r'href="/patients/([^/]+)/#', tr).group(1),
                "record_number": re.search(r"<br><small>([^<]*)</small>", tr).group(1),
                "due": cells[3].strip(),
                "held_because": re.search(r'class="badge block">([^<]*)<', tr).group(1),
            }
        )
    return rows, held


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.postgres(sqlite=True)
@pytest.mark.parametrize(
    ("page_query", "api_query"),
    [
        ("weeks=4", "weeks=4"),
        ("weeks=2&indication=cervical-dystonia", "weeks=2&indication=cervical-dystonia"),
        ("injector={nurse}", "injector_id={nurse}"),
    ],
)
def test_the_api_the_due_page_and_both_csv_files_show_the_same_due_rows(
    page_query: str, api_query: str
) -> None:
    world = World()
    _clinic(world)
    nurse = str(world.a.nurse.id)
    page_query, api_query = page_query.format(nurse=nurse), api_query.format(nurse=nurse)
    body = world.call("physician", "GET", f"/due?{api_query}").json()
    api_csv = _csv(world.call("physician", "GET", f"/due?{api_query}&format=csv"))
    browser = Client()
    browser.force_login(world.a.physician.user)
    page = browser.get(f"/due/?{page_query}")
    assert page.status_code == 200
    page_rows, page_held = _page_rows(page.content.decode())
    page_csv = _csv(browser.get(f"/due/export.csv?{page_query}"))

    # The world is what the filters should pick out, so that the comparison compares something.
    listed = [r["record_number"] for r in body["rows"]]
    expected = {
        "weeks=4": ["CD-OVERDUE", "CD-NURSE", "CM-TODAY", "CM-WEAR-OFF", "CD-SOON-A", "CD-SOON-B"],
        "weeks=2&indication=cervical-dystonia": [
            "CD-OVERDUE",
            "CD-NURSE",
            "CD-SOON-A",
            "CD-SOON-B",
        ],
        f"injector_id={nurse}": ["CD-NURSE"],
    }[api_query]
    assert listed == expected
    assert body["total"] == len(expected)
    held = [(r["record_number"], r["held_because"]) for r in body["held"]]
    assert held == (
        []
        if "=cervical" in api_query or "injector" in api_query
        else [("CM-STOP", "stop recommended (NICE TA260)")]
    )

    # The page: the same patients in the same order, the same due dates, overdue alike, and the
    # date that sets each due date is the one the API's reason gives.
    assert [(r["patient_id"], r["record_number"], r["due"]) for r in page_rows] == [
        (r["patient_id"], r["record_number"], _shown(date.fromisoformat(r["due"])))
        for r in body["rows"]
    ]
    for shown, answered in zip(page_rows, body["rows"], strict=True):
        assert shown["overdue"] is (answered["status"] == "overdue")
        decisive = shown["set_by"].removesuffix(" (the later of the two)")
        assert decisive.lower() in answered["reason"].lower(), (shown, answered["reason"])
        assert shown["set_by"].endswith("(the later of the two)") is (answered["basis"] == "both")
    assert [
        (r["patient_id"], r["record_number"], r["due"], r["held_because"]) for r in page_held
    ] == [
        (
            r["patient_id"],
            r["record_number"],
            _shown(date.fromisoformat(r["due"])),
            r["held_because"],
        )
        for r in body["held"]
    ]

    # Both CSV files: every row due (never one held apart), byte for byte the same columns.
    def essentials(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
        return [
            (r["record_number"], r["due"], r["status"], r["basis"], r["reason"], r["injector"])
            for r in rows
        ]

    assert essentials(page_csv) == essentials(api_csv)
    assert essentials(api_csv) == [
        (r["record_number"], r["due"], r["status"], r["basis"], r["reason"], r["injector"] or "")
        for r in body["rows"]
    ]
    assert page_csv == api_csv


def test_the_set_by_words_name_bontracks_own_interval_and_the_wear_off_history() -> None:
    """Spot checks of the words the page shows beside the due date (B.36)."""
    world = World()
    _clinic(world)
    browser = Client()
    browser.force_login(world.a.physician.user)
    rows, _ = _page_rows(browser.get("/due/?weeks=4").content.decode())
    words = {r["record_number"]: r["set_by"] for r in rows}
    assert words["CD-OVERDUE"] == "bontrack's interval (policy B.17)"
    assert words["CM-TODAY"] == "the label interval"
    assert words["CM-WEAR-OFF"] == "the wear-off history (the later of the two)"

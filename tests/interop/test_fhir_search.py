"""Searches: by patient and date (with prefixes), by id, by target; paging with _count."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from bontrack.interop.fhir_search import SearchError, parse_date, parse_search
from tests.interop.support import validate
from tests.interop.world import CYCLES, World

pytestmark = pytest.mark.django_db


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def search(world: World, path: str, **query: str) -> dict[str, Any]:
    response = world.get("a-physician", path, **query)
    assert response.status_code == 200, response.content
    bundle = response.json()
    validate(bundle)
    return bundle


def test_procedures_by_patient_and_date_with_prefixes(world):
    maria = str(world.maria.id)
    every = search(world, "/Procedure", patient=maria)
    assert ids(every) == [str(s.id) for s in world.cycles] + [str(world.plan.id)]
    assert search(world, "/Procedure", patient=f"Patient/{maria}")["total"] == 4
    assert search(world, "/Procedure", subject=maria)["total"] == 4
    # eq on a day, a month and a year
    assert ids(search(world, "/Procedure", patient=maria, date=CYCLES[1])) == [
        str(world.cycles[1].id)
    ]
    assert ids(search(world, "/Procedure", patient=maria, date="2026-04")) == [
        str(world.cycles[1].id)
    ]
    assert search(world, "/Procedure", patient=maria, date="2026")["total"] == 4
    # ge and le together: a range; gt, lt and ne
    spring = world.client.get(
        "/fhir/Procedure",
        {"patient": maria, "date": ["ge2026-02-01", "le2026-07-31"]},
        HTTP_AUTHORIZATION=f"Bearer {world.token('a-physician')}",
    ).json()
    assert ids(spring) == [str(world.cycles[1].id), str(world.cycles[2].id)]
    assert ids(search(world, "/Procedure", patient=maria, date=f"gt{CYCLES[2]}")) == [
        str(world.plan.id)
    ]
    assert ids(search(world, "/Procedure", patient=maria, date=f"lt{CYCLES[1]}")) == [
        str(world.cycles[0].id)
    ]
    assert search(world, "/Procedure", patient=maria, date=f"ne{CYCLES[1]}")["total"] == 3


def test_observations_with_a_period_match_by_overlap(world):
    maria = str(world.maria.id)
    # The baseline covers 2025-12-08..2026-01-04: "ge2026-01-01" overlaps it, "eq2026-01" does not
    # contain it.
    ge = search(world, "/Observation", patient=maria, date="ge2026-01-01")
    assert ge["total"] == 5  # two headache-day results, two pain scores, the weight
    # In January: the pain score and the weight of 2026-01-05, not the period begun in December.
    january = search(world, "/Observation", patient=maria, date="2026-01")
    assert january["total"] == 2
    december = search(world, "/Observation", patient=maria, date="le2025-12-31")
    assert december["total"] == 1


def test_administrations_conditions_consents_events_provenance_by_date(world):
    maria = str(world.maria.id)
    cycle = search(world, "/MedicationAdministration", patient=maria, date=CYCLES[2])
    assert cycle["total"] == 31
    assert (
        search(world, "/MedicationAdministration", **{"effective-time": CYCLES[2]})["total"] == 31
    )
    assert search(world, "/Condition", patient=maria, date="2026-01-05")["total"] == 1
    assert (
        search(world, "/Condition", patient=maria, **{"recorded-date": "lt2026-01-05"})["total"]
        == 0
    )
    assert search(world, "/Consent", patient=maria, date="le2026-01-05")["total"] == 1
    assert search(world, "/AdverseEvent", subject=maria, date="2026-06-30")["total"] == 1
    # Provenance: by the signed session, and by the day it was recorded (the co-signature was
    # the morning after the nurse's session).
    nurse = world.cycles[1]
    signed = search(world, "/Provenance", target=f"Procedure/{nurse.id}")
    assert signed["total"] == 2
    assert search(world, "/Provenance", patient=maria, recorded="2026-04-07")["total"] == 1
    assert search(world, "/Provenance", patient=maria, date="2026")["total"] == 5


def test_search_by_id_and_the_clinic_wide_lists(world):
    procedure = str(world.cycles[0].id)
    assert ids(search(world, "/Procedure", _id=procedure)) == [procedure]
    two = f"{world.cycles[0].id},{world.cycles[1].id}"
    assert search(world, "/Procedure", _id=two)["total"] == 2
    assert ids(search(world, "/Patient")) == [str(world.maria.id), str(world.restricted.id)]
    assert ids(search(world, "/Organization")) == [str(world.a.clinic.id)]
    assert len(ids(search(world, "/Practitioner"))) == 5  # one per member of clinic A
    assert len(ids(search(world, "/PractitionerRole"))) == 5


def test_count_pages_with_next_and_previous_links(world):
    first = search(world, "/MedicationAdministration", patient=str(world.maria.id), _count="40")
    assert first["total"] == 93
    assert len(ids(first)) == 40
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert set(links) == {"self", "next"}
    seen = list(ids(first))
    url = links["next"]
    while url:
        parsed = urlparse(url)
        assert parsed.path == "/fhir/MedicationAdministration"
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        page = search(world, "/MedicationAdministration", **query)
        seen += ids(page)
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert "previous" in links
        url = links.get("next")
    assert len(seen) == len(set(seen)) == 93
    only_total = search(world, "/MedicationAdministration", _count="0")
    assert only_total["total"] == 94
    assert "entry" not in only_total


def test_everything_orders_the_chart_and_names_only_what_it_references(world):
    bundle = search(world, f"/Patient/{world.maria.id}/$everything")
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[:2] == ["Patient", "Organization"]
    assert kinds.index("Procedure") < kinds.index("MedicationAdministration")
    practitioners = {
        r["id"]
        for r in (e["resource"] for e in bundle["entry"])
        if r["resourceType"] == "Practitioner"
    }
    assert practitioners == {str(world.a.physician.id), str(world.a.nurse.id)}
    medications = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Medication"]
    assert [m["resource"]["id"] for m in medications] == [str(world.lot.id)]
    for e in bundle["entry"]:
        assert (
            e["fullUrl"]
            == f"http://testserver/fhir/{e['resource']['resourceType']}/{e['resource']['id']}"
        )


def test_date_parameters_parse_to_ranges_of_days():
    assert parse_date("date", "2026").first == date(2026, 1, 1)
    assert parse_date("date", "2026-02").last == date(2026, 2, 28)
    clause = parse_date("date", "ge2026-03-04")
    assert (clause.prefix, clause.first, clause.last) == ("ge", date(2026, 3, 4), date(2026, 3, 4))
    for bad in ("2026-02-30", "26-01-01", "2026-01-01T10:00:00Z", "ap2026", "ge"):
        with pytest.raises(SearchError):
            parse_date("date", bad)
    # A resource's period against a month: eq needs it inside, ge/le need an overlap.
    march = parse_date("date", "2026-03")
    assert march.matches(date(2026, 3, 2), date(2026, 3, 30))
    assert not march.matches(date(2026, 2, 20), date(2026, 3, 10))
    assert parse_date("date", "ge2026-03").matches(date(2026, 2, 20), date(2026, 3, 10))
    assert parse_date("date", "le2026-03").matches(date(2026, 3, 31), date(2026, 4, 10))
    assert not parse_date("date", "gt2026-03").matches(date(2026, 3, 31), date(2026, 3, 31))
    assert not march.matches(None, None)


def test_parameters_are_checked_against_what_the_type_takes():
    with pytest.raises(SearchError, match="not searched by lot-number"):
        parse_search("Procedure", {"lot-number": ["x"]})
    with pytest.raises(SearchError, match="give it once"):
        parse_search("Procedure", {"patient": ["a", "b"]})
    found = parse_search("Medication", {"lot-number": ["C7421A"], "_count": ["10"]})
    assert (found.lot_number, found.count, found.offset) == ("C7421A", 10, 0)


def test_everything_reads_a_constant_number_of_queries_however_long_the_history(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.interop.world import _sign, utc

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = world.get("a-physician", f"/Patient/{world.maria.id}/$everything")
        assert response.status_code == 200
        return len(captured.captured_queries)

    world.token("a-physician")  # signed in before counting
    before = queries()
    # One more signed cycle (the planned one, given early): 31 more administrations.
    when = utc("2026-09-14T11:00:00")
    world.clock.at(when + timedelta(minutes=20))
    _sign(world.a, "physician", world.plan, when, world.lot)
    assert queries() == before

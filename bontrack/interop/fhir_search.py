"""The FHIR search parameters /fhir serves, parsed and matched (pure: no Django, no I/O).

One table (``SEARCHES``) says which parameters each resource type takes; the views refuse any
other (a misspelt ``patient`` must never widen a search to the whole clinic), and the
CapabilityStatement lists the same table.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

DEFAULT_COUNT = 50
MAX_COUNT = 500
# Parameters every search takes besides its own: paging and the (JSON-only) format.
COMMON = ("_count", "_offset", "_format")
JSON_FORMATS = ("json", "application/json", "application/fhir+json")
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


class SearchError(ValueError):
    """A search the server refuses (400), naming the parameter."""

    def __init__(self, parameter: str, message: str, status: int = 400) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # the FHIR search parameter type
    means: str  # what it filters on: id, patient, date, medication, lot-number, target
    documentation: str


ID = SearchParam("_id", "token", "id", "The resource's id; comma-separated ids match any of them.")
PATIENT = SearchParam(
    "patient", "reference", "patient", "The patient: Patient/{id} or the id alone."
)
SUBJECT = SearchParam("subject", "reference", "patient", "The patient (the same as patient).")
MEDICATION = SearchParam(
    "medication",
    "reference",
    "medication",
    "The lot's Medication (Medication/{id}): every dose drawn from it, and every dose that may "
    "have been (a session that used vials of several lots, the dose naming none).",
)
LOT_NUMBER = SearchParam("lot-number", "token", "lot-number", "The lot number, exactly.")
TARGET = SearchParam("target", "reference", "target", "The signed session: Procedure/{id}.")


def _date(name: str, what: str) -> SearchParam:
    return SearchParam(
        name,
        "date",
        "date",
        f"{what}, as a day in the clinic's time zone: YYYY, YYYY-MM or YYYY-MM-DD with an "
        "optional prefix eq (the default), ne, gt, lt, ge or le; repeat it for a range.",
    )


SEARCHES: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (ID,),
    "Organization": (ID,),
    "Practitioner": (ID,),
    "PractitionerRole": (ID,),
    "Condition": (
        ID,
        PATIENT,
        SUBJECT,
        _date("recorded-date", "The day the diagnosis was noted"),
        _date("date", "The day the diagnosis was noted (the same as recorded-date)"),
    ),
    "Procedure": (ID, PATIENT, SUBJECT, _date("date", "The session's date")),
    "MedicationAdministration": (
        ID,
        PATIENT,
        SUBJECT,
        MEDICATION,
        _date("effective-time", "The session's date"),
        _date("date", "The session's date (the same as effective-time)"),
    ),
    "Medication": (ID, LOT_NUMBER),
    "Observation": (
        ID,
        PATIENT,
        SUBJECT,
        _date("date", "The day assessed, or the period a result covers"),
    ),
    "AdverseEvent": (ID, PATIENT, SUBJECT, _date("date", "The day the event began")),
    "Consent": (ID, PATIENT, _date("date", "The day the consent was signed")),
    "Provenance": (
        ID,
        PATIENT,
        TARGET,
        _date("recorded", "The day the signature was recorded"),
        _date("date", "The day the signature was recorded (the same as recorded)"),
    ),
}


@dataclass(frozen=True)
class DateClause:
    """One date parameter: a prefix and the range of days its value covers."""

    prefix: str
    first: date
    last: date

    def matches(self, start: date | None, end: date | None) -> bool:
        """FHIR's date search against a resource's day (start == end) or period of days."""
        if start is None or end is None:
            return False
        within = self.first <= start and end <= self.last
        return {
            "eq": within,
            "ne": not within,
            "gt": end > self.last,
            "lt": start < self.first,
            "ge": end >= self.first,
            "le": start <= self.last,
        }[self.prefix]


@dataclass(frozen=True)
class Search:
    ids: frozenset[str] | None = None
    patient: UUID | None = None
    dates: tuple[DateClause, ...] = ()
    medication: UUID | None = None
    lot_number: str | None = None
    target: UUID | None = None
    count: int = DEFAULT_COUNT
    offset: int = 0
    given: dict[str, list[str]] = field(default_factory=dict)

    def matches_dates(self, start: date | None, end: date | None) -> bool:
        return all(clause.matches(start, end) for clause in self.dates)


_DATE = re.compile(r"^(?P<prefix>[a-z]{2})?(?P<value>\d{4}(?:-\d{2}(?:-\d{2})?)?)$")


def parse_date(name: str, text: str) -> DateClause:
    found = _DATE.match(text)
    if found is None:
        raise SearchError(
            name, f"{text!r} is not a day: give YYYY, YYYY-MM or YYYY-MM-DD, e.g. ge2026-01-01"
        )
    prefix = found["prefix"] or "eq"
    if prefix not in DATE_PREFIXES:
        raise SearchError(name, f"the prefix {prefix!r} is not supported (eq, ne, gt, lt, ge, le)")
    parts = [int(p) for p in found["value"].split("-")]
    try:
        if len(parts) == 1:
            first, last = date(parts[0], 1, 1), date(parts[0], 12, 31)
        elif len(parts) == 2:
            year, month = parts
            first = date(year, month, 1)
            last = date(year, month, calendar.monthrange(year, month)[1])
        else:
            first = last = date(parts[0], parts[1], parts[2])
    except ValueError:
        raise SearchError(name, f"{text!r} is not a calendar day") from None
    return DateClause(prefix, first, last)


def parse_reference(name: str, text: str, resource_type: str) -> UUID:
    """``Type/{id}`` or the id alone; ids here are UUIDs."""
    value = text.strip()
    if "/" in value:
        kind, _, value = value.rpartition("/")
        if kind.rsplit("/", 1)[-1] != resource_type:
            raise SearchError(name, f"must refer to a {resource_type}")
    try:
        return UUID(value)
    except ValueError:
        raise SearchError(name, f"{text!r} is not a {resource_type} id") from None


def _whole(name: str, text: str, most: int | None = None) -> int:
    if not text.isdigit():
        raise SearchError(name, "must be a whole number (0 or more)")
    value = int(text)
    if most is not None and value > most:
        raise SearchError(name, f"must be at most {most}")
    return value


def parse_search(resource_type: str, query: Mapping[str, Sequence[str]]) -> Search:
    """A search's parameters, checked against what the resource type takes."""
    served = {p.name: p for p in SEARCHES[resource_type]}
    values: dict[str, object] = {}
    dates: list[DateClause] = []
    given: dict[str, list[str]] = {}
    for name, texts in query.items():
        given[name] = list(texts)
        if name == "_format":
            if any(t not in JSON_FORMATS for t in texts):
                raise SearchError(name, "only JSON (application/fhir+json) is served", 406)
            continue
        if name in ("_count", "_offset"):
            if len(texts) != 1:
                raise SearchError(name, "give it once")
            limit = MAX_COUNT if name == "_count" else None
            values[name] = _whole(name, texts[0], limit)
            continue
        param = served.get(name)
        if param is None:
            base = name.split(":", 1)[0]
            if base in served:
                raise SearchError(name, "search modifiers are not supported")
            known = ", ".join(sorted(served))
            raise SearchError(
                name, f"{resource_type} is not searched by {name} here (it is by {known})"
            )
        if param.means == "date":
            dates.extend(parse_date(name, t) for t in texts)
            continue
        if len(texts) != 1 or param.means in values:
            raise SearchError(name, "give it once")
        text = texts[0]
        if param.means == "id":
            values["id"] = frozenset(t.strip() for t in text.split(",") if t.strip())
        elif param.means == "patient":
            values["patient"] = parse_reference(name, text, "Patient")
        elif param.means == "medication":
            values["medication"] = parse_reference(name, text, "Medication")
        elif param.means == "target":
            values["target"] = parse_reference(name, text, "Procedure")
        else:
            values["lot-number"] = text
    return Search(
        ids=values.get("id"),  # type: ignore[arg-type]
        patient=values.get("patient"),  # type: ignore[arg-type]
        dates=tuple(dates),
        medication=values.get("medication"),  # type: ignore[arg-type]
        lot_number=values.get("lot-number"),  # type: ignore[arg-type]
        target=values.get("target"),  # type: ignore[arg-type]
        count=values.get("_count", DEFAULT_COUNT),  # type: ignore[arg-type]
        offset=values.get("_offset", 0),  # type: ignore[arg-type]
        given=given,
    )

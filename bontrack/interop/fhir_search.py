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
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

DEFAULT_COUNT = 50
MAX_COUNT = 500
# Parameters every search takes besides its own: paging, the (JSON-only) format, and the change
# time (``meta.lastUpdated``).
COMMON = ("_count", "_offset", "_format", "_lastUpdated")
# Where bontrack's own search parameters are published (definitions.py): the path under the
# FHIR base. R4's own parameters carry their R4 definition.
R4_PARAMETER = "http://hl7.org/fhir/SearchParameter/"
OWN_PARAMETER = "SearchParameter/"
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
    # R4's SearchParameter id (``Resource-id``, ``clinical-patient``...), or "" for bontrack's own
    # (published under the server's base as SearchParameter/bontrack-{resource}-{name}).
    r4: str = ""
    expression: str = ""

    def definition(self, resource_type: str, base: str) -> str:
        if self.r4:
            return f"{R4_PARAMETER}{self.r4}"
        return f"{base}/{OWN_PARAMETER}{own_parameter_id(resource_type, self.name)}"


def own_parameter_id(resource_type: str, name: str) -> str:
    return f"bontrack-{resource_type.lower()}-{name}"


ID = SearchParam(
    "_id", "token", "id", "The resource's id; comma-separated ids match any of them.", "Resource-id"
)
LAST_UPDATED = SearchParam(
    "_lastUpdated",
    "date",
    "last-updated",
    "meta.lastUpdated: an instant (2026-01-01T00:00:00Z) or a day (UTC) with a prefix eq (the "
    "default), gt, lt, ge or le; repeat it for a range.",
    "Resource-lastUpdated",
)


def _patient(name: str, r4: str) -> SearchParam:
    return SearchParam(name, "reference", "patient", "The patient: Patient/{id} or the id.", r4)


IDENTIFIER = SearchParam(
    "identifier",
    "token",
    "identifier",
    "The record number: system|value, or the value alone (any system). Identifying data: it is "
    "taken only in the body of POST /fhir/Patient/_search, never in a URL.",
    "Patient-identifier",
)
MEDICATION = SearchParam(
    "medication",
    "reference",
    "medication",
    "The lot's Medication (Medication/{id}): every dose drawn from it, and every dose that may "
    "have been (a session that used vials of several lots, the dose naming none).",
    "medications-medication",
)
LOT_NUMBER = SearchParam(
    "lot-number", "token", "lot-number", "The lot number, exactly.", "Medication-lot-number"
)
TARGET = SearchParam(
    "target", "reference", "target", "The signed session: Procedure/{id}.", "Provenance-target"
)


def _date(name: str, what: str, r4: str = "", expression: str = "") -> SearchParam:
    return SearchParam(
        name,
        "date",
        "date",
        f"{what}, as a day in the clinic's time zone: YYYY, YYYY-MM or YYYY-MM-DD with an "
        "optional prefix eq (the default), ne, gt, lt, ge or le; repeat it for a range.",
        r4,
        expression,
    )


# R4's names with R4's definitions; where bontrack keeps a shorter synonym (``date`` on
# Condition, MedicationAdministration and Provenance, ``patient`` on AdverseEvent), it is its own
# search parameter, published with its definition.
SEARCHES: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (ID, LAST_UPDATED, IDENTIFIER),
    "Organization": (ID, LAST_UPDATED),
    "Practitioner": (ID, LAST_UPDATED),
    "PractitionerRole": (ID, LAST_UPDATED),
    "Group": (ID, LAST_UPDATED),
    "Condition": (
        ID,
        LAST_UPDATED,
        _patient("patient", "clinical-patient"),
        _patient("subject", "Condition-subject"),
        _date("recorded-date", "The day the diagnosis was noted", "Condition-recorded-date"),
        _date(
            "date",
            "The day the diagnosis was noted (the same as recorded-date)",
            expression="Condition.recordedDate",
        ),
    ),
    "Procedure": (
        ID,
        LAST_UPDATED,
        _patient("patient", "clinical-patient"),
        _patient("subject", "Procedure-subject"),
        _date("date", "The session's date", "clinical-date"),
    ),
    "MedicationAdministration": (
        ID,
        LAST_UPDATED,
        _patient("patient", "clinical-patient"),
        _patient("subject", "MedicationAdministration-subject"),
        MEDICATION,
        _date("effective-time", "The session's date", "medications-effective-time"),
        _date(
            "date",
            "The session's date (the same as effective-time)",
            expression="MedicationAdministration.effective",
        ),
    ),
    "Medication": (ID, LAST_UPDATED, LOT_NUMBER),
    "Observation": (
        ID,
        LAST_UPDATED,
        _patient("patient", "clinical-patient"),
        _patient("subject", "Observation-subject"),
        _date("date", "The day assessed, or the period a result covers", "clinical-date"),
    ),
    "AdverseEvent": (
        ID,
        LAST_UPDATED,
        _patient("subject", "AdverseEvent-subject"),
        SearchParam(
            "patient",
            "reference",
            "patient",
            "The patient (the same as subject).",
            expression="AdverseEvent.subject",
        ),
        _date("date", "The day the event began", "AdverseEvent-date"),
    ),
    "Consent": (
        ID,
        LAST_UPDATED,
        _patient("patient", "clinical-patient"),
        _date("date", "The day the consent was signed", "clinical-date"),
    ),
    "Provenance": (
        ID,
        LAST_UPDATED,
        _patient("patient", "Provenance-patient"),
        TARGET,
        _date("recorded", "The day the signature was recorded", "Provenance-recorded"),
        _date(
            "date",
            "The day the signature was recorded (the same as recorded)",
            expression="Provenance.recorded",
        ),
    ),
    # Billing records (billing.read): the patient's insurance and the claims exported.
    "Coverage": (
        ID,
        LAST_UPDATED,
        _patient("patient", "Coverage-patient"),
        _patient("beneficiary", "Coverage-beneficiary"),
    ),
    "Claim": (ID, LAST_UPDATED, _patient("patient", "Claim-patient")),
}


@dataclass(frozen=True)
class InstantClause:
    """One _lastUpdated parameter: a prefix and the instants [first, last) its value covers."""

    prefix: str
    first: datetime
    last: datetime

    def matches(self, moment: datetime) -> bool:
        return {
            "eq": self.first <= moment < self.last,
            "gt": moment >= self.last,
            "lt": moment < self.first,
            "ge": moment >= self.first,
            "le": moment < self.last,
        }[self.prefix]


_INSTANT = re.compile(r"^(?P<prefix>[a-z]{2})?(?P<value>\d{4}.*)$")


def parse_instant(name: str, text: str) -> InstantClause:
    """An instant with its offset (to the second), or a day (UTC: its 24 hours)."""
    found = _INSTANT.match(text.strip())
    prefix = (found["prefix"] if found else None) or "eq"
    if found is None or prefix not in ("eq", "gt", "lt", "ge", "le"):
        raise SearchError(
            name, f"{text!r} is not an instant: give e.g. ge2026-01-01T00:00:00Z or lt2026-02-01"
        )
    value = found["value"]
    try:
        if len(value) == 10:
            first = datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
            return InstantClause(prefix, first, first + timedelta(days=1))
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(
            name, f"{text!r} is not an instant: give e.g. ge2026-01-01T00:00:00Z or lt2026-02-01"
        ) from None
    if moment.tzinfo is None:
        raise SearchError(name, "an instant needs its offset (Z or +01:00)")
    first = moment.replace(microsecond=0)
    return InstantClause(prefix, first, first + timedelta(seconds=1))


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
    # (system or None for any, value): the record number.
    identifier: tuple[str | None, str] | None = None
    last_updated: tuple[InstantClause, ...] = ()
    ignored: tuple[str, ...] = ()  # unknown parameters left out under Prefer: handling=lenient
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


def parse_search(
    resource_type: str,
    query: Mapping[str, Sequence[str]],
    *,
    lenient: bool = False,
    in_body: frozenset[str] = frozenset(),
) -> Search:
    """A search's parameters, checked against what the resource type takes. ``lenient``
    (``Prefer: handling=lenient``): a parameter that is not served is left out, and said so,
    rather than refused. ``in_body``: the names given in a POST _search body (identifying data,
    the record number, is taken only there)."""
    served = {p.name: p for p in SEARCHES[resource_type]}
    values: dict[str, object] = {}
    dates: list[DateClause] = []
    instants: list[InstantClause] = []
    given: dict[str, list[str]] = {}
    ignored: list[str] = []
    for name, texts in query.items():
        if (
            lenient
            and name not in served
            and name not in ("_format", "_count", "_offset")
            and name.split(":", 1)[0] not in served
        ):
            ignored.append(name)
            continue
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
        if param.means == "last-updated":
            instants.extend(parse_instant(name, t) for t in texts)
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
        elif param.means == "identifier":
            if name not in in_body:
                raise SearchError(
                    name,
                    "a record number never travels in a URL: POST it, form-encoded, to "
                    "/fhir/Patient/_search",
                )
            system, bar, value = text.rpartition("|")
            if not value.strip():
                raise SearchError(name, "give system|value or the value")
            values["identifier"] = (system if bar else None, value.strip())
        else:
            values["lot-number"] = text
    return Search(
        ids=values.get("id"),  # type: ignore[arg-type]
        patient=values.get("patient"),  # type: ignore[arg-type]
        dates=tuple(dates),
        medication=values.get("medication"),  # type: ignore[arg-type]
        lot_number=values.get("lot-number"),  # type: ignore[arg-type]
        target=values.get("target"),  # type: ignore[arg-type]
        identifier=values.get("identifier"),  # type: ignore[arg-type]
        last_updated=tuple(instants),
        ignored=tuple(ignored),
        count=values.get("_count", DEFAULT_COUNT),  # type: ignore[arg-type]
        offset=values.get("_offset", 0),  # type: ignore[arg-type]
        given=given,
    )

"""A FHIR R4 Bundle of MedicationAdministration resources, read as doses given elsewhere.

Each completed MedicationAdministration is one injection (one site, one dose); those of one
Procedure (``partOf``), or else of one day, product and indication, make one external session.
What is read, and from where:

- **product**: ``medicationCodeableConcept`` (or the Medication that ``medicationReference``
  names, in the Bundle or contained): a code of our product system, else a coding's display or
  the text naming the catalog's product (``onabotulinumtoxinA``) or one of its brands (``BOTOX``);
- **day**: ``effectiveDateTime``, or ``effectivePeriod.start`` (a time with an offset is read in
  the clinic's time zone);
- **units**: ``dosage.dose`` in the product's own units, UCUM ``[arb'U]`` (or unit ``U``); never
  international units nor another product's units (DESIGN 3.1);
- **site** (optional): ``dosage.site``, a code of our site system or the SNOMED CT code the
  catalog gives, with the laterality extension (mCODE's) or the side in our own coding's text;
- **indication**: ``reasonCode``: our indication code, or an ICD-10-CM code the catalog lists
  (one outside the catalog is recorded as ``other``: it counts toward cumulative windows);
- **where**: ``performer[].actor.display``, else the import's ``place``; **source document**:
  the import's ``source_document``, else the Bundle's identifier or id.

Every problem is reported by the entry's path (``entry[2].resource.dosage.dose.code``) and reason;
nothing is recorded unless every entry reads.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bontrack.domain.catalog import catalog
from bontrack.interop.fhir import (
    BONTRACK_URI,
    ICD10CM,
    INDICATION_SYSTEM,
    LATERALITY,
    LATERALITY_EXTENSION,
    LEGACY_URI,
    PRODUCT_SYSTEM,
    ROUTE_SYSTEM,
    ROUTES,
    SITE_SYSTEM,
    SNOMED,
    UCUM,
)
from bontrack.treatments.external import OTHER_INDICATION, ExternalDose
from bontrack.treatments.services import PointInput

MAX_ENTRIES = 2_000


def _ours(system: str) -> tuple[str, str]:
    """One of our code systems, under the server's base or the base older exports used."""
    return system, system.replace(BONTRACK_URI, LEGACY_URI, 1)


SIDE_BY_SNOMED = {
    code: ("both" if side == "both" else side) for side, (code, _) in LATERALITY.items()
}
ROUTE_BY_SNOMED = {code: route for route, (code, _) in ROUTES.items()}
INTERNATIONAL_UNITS = ("[iU]", "[IU]", "IU", "iU")


@dataclass(frozen=True)
class Chart:
    """The chart a Bundle is imported into: what its Patient must agree with."""

    family_name: str
    given_name: str
    birth_date: date
    sex: str
    record_number: str
    record_system: str


@dataclass(frozen=True)
class ReadError:
    field: str
    message: str


class _RefusedError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class _Point:
    group: str
    key: str
    day: date
    product: str
    indication: str
    indication_text: str
    point: PointInput
    place: str


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding", []) or [] if isinstance(c, Mapping)]


def _product(concept: Any, path: str) -> str:
    cat = catalog()
    names = []
    for c in _codings(concept):
        if c.get("system") in _ours(PRODUCT_SYSTEM):
            if c.get("code") in cat.products:
                return str(c["code"])
            raise _RefusedError(f"{path}.coding", f"unknown product code {c.get('code')!r}")
        names.extend(str(c.get(k, "")) for k in ("display", "code"))
    if isinstance(concept, Mapping):
        names.append(str(concept.get("text", "")))
    for name in (n.strip().lower() for n in names if n and n.strip()):
        for product in cat.products.values():
            known = {
                product.code.lower(),
                product.name.lower(),
                *(b.lower() for b in product.brands),
            }
            if name in known or any(k and k in name for k in known if len(k) > 3):
                return product.code
    raise _RefusedError(path, "no product of the catalog is named (our product code, or a brand)")


def _medication(resource: Mapping[str, Any], path: str, bundle_index: dict[str, Any]) -> str:
    if "medicationCodeableConcept" in resource:
        return _product(resource["medicationCodeableConcept"], f"{path}.medicationCodeableConcept")
    reference = (resource.get("medicationReference") or {}).get("reference")
    if not isinstance(reference, str):
        raise _RefusedError(f"{path}.medication[x]", "name the product (medicationCodeableConcept)")
    found = None
    if reference.startswith("#"):
        found = next(
            (
                c
                for c in resource.get("contained", []) or []
                if isinstance(c, Mapping) and c.get("id") == reference[1:]
            ),
            None,
        )
    else:
        found = bundle_index.get(reference)
    if not isinstance(found, Mapping) or found.get("resourceType") != "Medication":
        raise _RefusedError(
            f"{path}.medicationReference", f"{reference} is not a Medication in this Bundle"
        )
    return _product(found.get("code"), f"{path}.medicationReference({reference}).code")


def _day(
    resource: Mapping[str, Any], path: str, zone: zoneinfo.ZoneInfo, today: date | None
) -> date:
    """The day the dose was given, in the clinic's zone; after ``today`` (the clinic's) it is
    refused (B.35)."""
    day = _given_on(resource, path, zone)
    if today is not None and day > today:
        where = (
            f"{path}.effectiveDateTime"
            if resource.get("effectiveDateTime") is not None
            else f"{path}.effectivePeriod.start"
        )
        raise _RefusedError(
            where,
            f"{day.isoformat()} is in the future (today is {today.isoformat()} at the clinic): "
            "import doses already given",
        )
    return day


def _given_on(resource: Mapping[str, Any], path: str, zone: zoneinfo.ZoneInfo) -> date:
    text = resource.get("effectiveDateTime")
    where = f"{path}.effectiveDateTime"
    if text is None and isinstance(resource.get("effectivePeriod"), Mapping):
        text = resource["effectivePeriod"].get("start")
        where = f"{path}.effectivePeriod.start"
    if not isinstance(text, str):
        raise _RefusedError(f"{path}.effective[x]", "the day the dose was given is required")
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _RefusedError(
            where, "must be a date (YYYY-MM-DD) or a dateTime with its offset"
        ) from None
    if moment.tzinfo is None:
        raise _RefusedError(where, "a time needs its offset")
    return moment.astimezone(zone).date()


def _units(dosage: Mapping[str, Any], path: str) -> Decimal:
    dose = dosage.get("dose")
    if not isinstance(dose, Mapping):
        raise _RefusedError(f"{path}.dose", "the dose (units) is required")
    code, unit = dose.get("code"), dose.get("unit")
    if code in INTERNATIONAL_UNITS or unit in INTERNATIONAL_UNITS:
        raise _RefusedError(
            f"{path}.dose.code",
            "international units are not a botulinum toxin dose: give [arb'U], the product's "
            "own units",
        )
    if code is not None and (code != "[arb'U]" or dose.get("system") not in (None, UCUM)):
        raise _RefusedError(
            f"{path}.dose.code", f"must be UCUM [arb'U] (the product's units), not {code}"
        )
    if code is None and str(unit or "").strip().lower() not in ("u", "unit", "units"):
        raise _RefusedError(f"{path}.dose.unit", "must be U: the product's own units")
    value = dose.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _RefusedError(f"{path}.dose.value", "must be a number")
    try:
        units = Decimal(str(value))
    except InvalidOperation:
        raise _RefusedError(f"{path}.dose.value", "must be a number") from None
    if not units.is_finite() or units <= 0:
        raise _RefusedError(f"{path}.dose.value", "must be greater than 0")
    return units


def _site(dosage: Mapping[str, Any], path: str) -> tuple[str, str, str | None]:
    """(site, side, route) — ("", "", None) when the site is not given."""
    concept = dosage.get("site")
    if concept is None:
        return "", "", None
    cat = catalog()
    by_snomed = {s.snomed: s.code for s in cat.sites.values() if s.snomed}
    site = ""
    for c in _codings(concept):
        if c.get("system") in _ours(SITE_SYSTEM) and c.get("code") in cat.sites:
            site = str(c["code"])
            break
        if c.get("system") == SNOMED and c.get("code") in by_snomed:
            site = by_snomed[str(c["code"])]
    if not site:
        raise _RefusedError(
            f"{path}.site", "no site of the catalog (our site code or its SNOMED CT code)"
        )
    side = ""
    for extension in concept.get("extension", []) or []:
        if isinstance(extension, Mapping) and extension.get("url") == LATERALITY_EXTENSION:
            for c in _codings(extension.get("valueCodeableConcept")):
                side = SIDE_BY_SNOMED.get(str(c.get("code")), "")
    sides = cat.sites[site].sides
    if not side and len(sides) == 1:
        side = sides[0]
    if side == "both":
        raise _RefusedError(f"{path}.site", "one administration is one side: give left or right")
    if side not in sides:
        raise _RefusedError(
            f"{path}.site.extension",
            f"{site} is injected {' or '.join(sides)}: give the laterality (mCODE's extension)",
        )
    route = None
    for c in _codings(dosage.get("route")):
        if c.get("system") == SNOMED and c.get("code") in ROUTE_BY_SNOMED:
            route = ROUTE_BY_SNOMED[str(c["code"])]
        elif c.get("system") in _ours(ROUTE_SYSTEM) and c.get("code") in cat.routes:
            route = str(c["code"])
    return site, side, route


def _indication(resource: Mapping[str, Any], path: str) -> tuple[str, str]:
    cat = catalog()
    concepts = resource.get("reasonCode") or []
    if not isinstance(concepts, list) or not concepts:
        raise _RefusedError(
            f"{path}.reasonCode", "give the indication (our indication code or ICD-10-CM)"
        )
    texts = []
    for concept in concepts:
        for c in _codings(concept):
            code = str(c.get("code", ""))
            if c.get("system") in _ours(INDICATION_SYSTEM):
                if code in cat.indications:
                    return code, ""
                raise _RefusedError(f"{path}.reasonCode", f"unknown indication code {code!r}")
            if c.get("system") == ICD10CM:
                matches = [
                    i.code for i in cat.indications.values() if code in {x.code for x in i.icd10}
                ]
                if len(matches) == 1:
                    return matches[0], ""
                texts.append(f"ICD-10-CM {code}" + (f" {c['display']}" if c.get("display") else ""))
            elif c.get("display"):
                texts.append(str(c["display"]))
        if isinstance(concept, Mapping) and concept.get("text"):
            texts.append(str(concept["text"]))
    if not texts:
        raise _RefusedError(f"{path}.reasonCode", "name the indication (a code or text)")
    return OTHER_INDICATION, "; ".join(texts)


def _place(resource: Mapping[str, Any]) -> str:
    for performer in resource.get("performer", []) or []:
        actor = performer.get("actor") if isinstance(performer, Mapping) else None
        if isinstance(actor, Mapping) and actor.get("display"):
            return str(actor["display"])
    return ""


def source_identifier(resource: Mapping[str, Any]) -> str:
    """The administration's first identifier in its source system, "system|value" ("" when it has
    none): kept on its point so that each imported administration stays itself."""
    identifiers = [
        f"{i.get('system', '')}|{i.get('value', '')}"
        for i in resource.get("identifier", []) or []
        if isinstance(i, Mapping) and i.get("value")
    ]
    return identifiers[0][:300] if identifiers else ""


def _key(resource: Mapping[str, Any], full_url: str) -> str:
    """The administration's identity: its identifier, else its fullUrl, else its content."""
    identifier = source_identifier(resource)
    if identifier:
        basis = "identifier:" + identifier
    elif full_url:
        basis = "fullUrl:" + full_url
    else:
        basis = "content:" + json.dumps(resource, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _folded(text: Any) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def patient_mismatches(resource: Mapping[str, Any], path: str, chart: Chart) -> list[ReadError]:
    """Each field of the Bundle's Patient that names someone else than the chart: the name
    (family and given), birth date, sex, or a record number of this clinic's system. A field
    the Bundle leaves out is not compared."""
    found: list[ReadError] = []
    names = [n for n in resource.get("name", []) or [] if isinstance(n, Mapping)]
    if names and not any(
        _folded(n.get("family")) == _folded(chart.family_name)
        and _folded(chart.given_name) in {_folded(g) for g in n.get("given", []) or []}
        for n in names
    ):
        found.append(ReadError(f"{path}.name", "is not the name on this chart"))
    birth = resource.get("birthDate")
    if birth is not None and str(birth) != chart.birth_date.isoformat():
        found.append(ReadError(f"{path}.birthDate", "is not the birth date on this chart"))
    gender = resource.get("gender")
    if gender not in (None, "unknown") and chart.sex != "unknown" and gender != chart.sex:
        found.append(ReadError(f"{path}.gender", "is not the sex on this chart"))
    for n, identifier in enumerate(resource.get("identifier", []) or []):
        if (
            isinstance(identifier, Mapping)
            and identifier.get("system") == chart.record_system
            and identifier.get("value") != chart.record_number
        ):
            found.append(ReadError(f"{path}.identifier[{n}]", "is not this chart's record number"))
    if found:
        found.append(
            ReadError(
                "patient",
                "this Bundle is another patient's: import it into their chart, or check the "
                "document",
            )
        )
    return found


def read_bundle(
    bundle: Any,
    *,
    time_zone: str,
    place: str = "",
    source_document: str = "",
    today: date | None = None,
    chart: Chart | None = None,
) -> tuple[list[ExternalDose], list[ReadError]]:
    """The Bundle's doses, grouped into sessions, and every problem found; given the clinic's
    ``today``, an administration dated after it is refused by its entry's path (B.35)."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        return [], [ReadError("resourceType", "must be Bundle")]
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        return [], [ReadError("entry", "the Bundle has no entries")]
    if len(entries) > MAX_ENTRIES:
        return [], [ReadError("entry", f"at most {MAX_ENTRIES} entries")]
    zone = zoneinfo.ZoneInfo(time_zone)
    index: dict[str, Any] = {}
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("resource"), Mapping):
            r = entry["resource"]
            if entry.get("fullUrl"):
                index[str(entry["fullUrl"])] = r
            if r.get("resourceType") and r.get("id"):
                index[f"{r['resourceType']}/{r['id']}"] = r
    identifier = bundle.get("identifier") if isinstance(bundle.get("identifier"), Mapping) else {}
    document = source_document.strip() or (
        f"FHIR Bundle {identifier.get('value')}"
        if identifier.get("value")
        else f"FHIR Bundle {bundle.get('id', '')}".strip()
    )
    points: list[_Point] = []
    errors: list[ReadError] = []
    administrations = 0
    for n, entry in enumerate(entries):
        path = f"entry[{n}].resource"
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            errors.append(ReadError(path, "is missing"))
            continue
        if resource.get("resourceType") == "Patient" and chart is not None:
            errors.extend(patient_mismatches(resource, path, chart))
            continue
        if resource.get("resourceType") != "MedicationAdministration":
            continue  # Medications, Patients, Practitioners... are read only when named
        administrations += 1
        try:
            if resource.get("status") != "completed":
                raise _RefusedError(
                    f"{path}.status",
                    f"must be completed (a dose that was given), not {resource.get('status')!r}",
                )
            product = _medication(resource, path, index)
            day = _day(resource, path, zone, today)
            dosage = resource.get("dosage")
            if not isinstance(dosage, Mapping):
                raise _RefusedError(
                    f"{path}.dosage", "the dosage (units, and the site if known) is required"
                )
            units = _units(dosage, f"{path}.dosage")
            site, side, route = _site(dosage, f"{path}.dosage")
            indication, indication_text = _indication(resource, path)
            where = _place(resource) or place.strip()
            if not where:
                raise _RefusedError(
                    f"{path}.performer",
                    "say where it was given (performer.actor.display, or place)",
                )
            part_of = [
                p.get("reference")
                for p in resource.get("partOf", []) or []
                if isinstance(p, Mapping)
            ]
            group = f"partOf:{part_of[0]}" if part_of and part_of[0] else f"day:{day}"
            points.append(
                _Point(
                    f"{group}|{product}|{indication}|{where}",
                    _key(resource, str(entry.get("fullUrl", ""))),
                    day,
                    product,
                    indication,
                    indication_text,
                    PointInput(site, side, units, route, source_identifier(resource)),
                    where,
                )
            )
        except _RefusedError as refused:
            errors.append(ReadError(refused.field, refused.message))
    if not administrations and not errors:
        errors.append(ReadError("entry", "the Bundle holds no MedicationAdministration"))
    groups: dict[str, list[_Point]] = {}
    for p in points:
        groups.setdefault(p.group, []).append(p)
    doses = []
    for members in groups.values():
        first = members[0]
        if len({m.day for m in members}) > 1:
            errors.append(
                ReadError("entry", f"the administrations of {first.group} are on several days")
            )
            continue
        known = [m for m in members if m.point.site]
        if known and len(known) != len(members):
            errors.append(
                ReadError(
                    "entry",
                    "the administrations of one session either all name a site or none does",
                )
            )
            continue
        basis = "fhir|" + "|".join(sorted(m.key for m in members))
        key = hashlib.sha256(basis.encode("utf-8")).hexdigest()
        texts = sorted({m.indication_text for m in members if m.indication_text})
        doses.append(
            ExternalDose(
                given_on=first.day,
                product=first.product,
                indication=first.indication,
                place=first.place,
                source_document=document,
                units=sum((m.point.units for m in members), Decimal(0)),
                # Every administration is its own point, with or without its site.
                injections=tuple(m.point for m in members),
                notes=f"Indication: {'; '.join(texts)}" if texts else "",
                key=key,
            )
        )
    return doses, errors

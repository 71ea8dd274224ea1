"""Parse and validate a `bontrack check` plan (DESIGN.md 3.3) into domain values.

The edge validates everything the domain trusts: JSON shape, exact numbers (read as Decimal;
numbers written as strings, booleans for numbers, NaN and infinities are invalid), dates and
offsets, catalog codes, and the cross-field rules (a history after the plan, a vial reconstituted
after ``now``, a child's weight where a weight-based rule applies). Every problem is reported with
the field's path, e.g. ``plan.injections[2].units: must be greater than 0``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from bontrack.domain.catalog import catalog as packaged_catalog
from bontrack.domain.catalog.model import Catalog
from bontrack.domain.check import requires_weight
from bontrack.domain.planning import expand_protocol
from bontrack.domain.treatment import (
    OTHER_INDICATION,
    HistoryEntry,
    InfectedSite,
    Injection,
    Injector,
    Patient,
    Plan,
    Verdict,
    Vial,
)
from bontrack.domain.units import Units, format_decimal

MAX_DECIMALS = 3
# Sanity bounds that keep arithmetic finite: no vial, session or patient comes near them.
MAX_UNITS = Decimal(1_000_000)
MAX_WEIGHT_KG = Decimal(500)
MIN_YEAR, MAX_YEAR = 1900, 2999
ALLERGY_INGREDIENTS = ("cow-milk-protein", "human-albumin")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_AGE_YEARS = 120  # B.35: a birth date further back contradicts itself
MAX_SUMMARY_CHARS = 200  # DESIGN 3.3: a verdict's summary is one line


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.field or 'input'}: {self.message}"


class InvalidInputError(ValueError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class CheckRequest:
    plan: Plan
    patient: Patient
    history: tuple[HistoryEntry, ...]
    injector: Injector | None
    now: datetime
    verdicts: tuple[Verdict, ...] = ()


class _NonFinite:
    """What the JSON reader makes of NaN, Infinity and -Infinity, so that the field is named."""

    def __init__(self, text: str) -> None:
        self.text = text


def _number(value: Any) -> Decimal:
    if isinstance(value, _NonFinite):
        raise PydanticCustomError(
            "non_finite", "must be a finite number, not {text}", {"text": value.text}
        )
    if isinstance(value, str):
        raise PydanticCustomError("number_type", "must be a number, not a string")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PydanticCustomError("number_type", "must be a number")
    return Decimal(value)


def has_at_most_decimals(value: Decimal, places: int) -> bool:
    """Judged on the exact value (2.5000 has one decimal), never on a rounded copy."""
    with localcontext() as exact:
        exact.prec = max(28, len(value.as_tuple().digits) + 2)
        exponent = value.normalize(exact).as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -places


def _in_years(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError(
            "date_range",
            "must be between the years {low} and {high}",
            {"low": MIN_YEAR, "high": MAX_YEAR},
        )


def _iso_date(value: Any) -> date:
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        raise PydanticCustomError("date_type", "must be a date written YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "date_value", "is not a real date: {value}", {"value": value}
        ) from None
    _in_years(parsed)
    return parsed


def _aware_datetime(value: Any) -> datetime:
    if not isinstance(value, str) or "T" not in value:
        raise PydanticCustomError(
            "datetime_type", "must be an ISO 8601 date and time with a UTC offset"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "datetime_value", "is not a valid date and time: {value}", {"value": value}
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError(
            "datetime_naive", "must include a UTC offset, e.g. 2026-11-25T09:30:00+01:00"
        )
    _in_years(parsed)
    return parsed


Number = Annotated[Decimal, BeforeValidator(_number)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
AwareDateTime = Annotated[datetime, BeforeValidator(_aware_datetime)]
Side = Literal["left", "right", "midline"]
Route = Literal["intramuscular", "intradermal", "subcutaneous"]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InjectionIn(_Shape):
    site: StrictStr
    side: Side
    units: Number
    route: Route | None = None


class VialIn(_Shape):
    size_units: Number
    diluent_ml: Number | None = None
    reconstituted_at: AwareDateTime | None = None
    lot: StrictStr | None = None
    lot_expires: IsoDate | None = None
    recalled: StrictBool | None = None
    drawn_units: Number | None = None


class PlanIn(_Shape):
    date: IsoDate
    product: StrictStr
    indication: StrictStr
    protocol: StrictStr | None = None
    injections: list[InjectionIn] | None = None
    vials: list[VialIn] | None = None
    vial: VialIn | None = None


def _infected_site(value: Any) -> Any:
    return {"site": value} if isinstance(value, str) else value


class InfectedSiteIn(_Shape):
    site: StrictStr
    side: Side | None = None


class PatientIn(_Shape):
    birth_date: IsoDate
    weight_kg: Number | None = None
    weight_measured_on: IsoDate | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    pregnant: StrictBool | None = None
    breastfeeding: StrictBool | None = None
    conditions: list[StrictStr] | None = None
    medications: list[StrictStr] | None = None
    allergies: list[StrictStr] | None = None
    infected_sites: list[Annotated[InfectedSiteIn, BeforeValidator(_infected_site)]] | None = None


class HistoryIn(_Shape):
    date: IsoDate
    product: StrictStr
    indication: StrictStr
    units: Number
    injections: list[InjectionIn] | None = None
    administered_at: AwareDateTime | None = None
    injector: StrictStr | None = None


class VerdictIn(_Shape):
    indication: StrictStr
    scale: StrictStr
    muscle_group: StrictStr | None = None
    verdict: StrictStr
    as_of: IsoDate
    summary: StrictStr
    source: StrictStr


class InjectorIn(_Shape):
    credentials: list[StrictStr]
    indications: list[StrictStr]
    supervised_by: StrictStr | None = None


class CheckIn(_Shape):
    now: AwareDateTime
    patient: PatientIn
    plan: PlanIn
    history: list[HistoryIn] | None = None
    injector: InjectorIn | None = None
    verdicts: list[VerdictIn] | None = None


GENERIC_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
}


def field_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith("function-"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def _pydantic_errors(error: ValidationError) -> list[FieldError]:
    found = []
    for err in error.errors(include_url=False):
        kind = err["type"]
        loc = list(err["loc"])
        if loc and isinstance(loc[-1], str) and loc[-1].startswith(DUPLICATE):
            loc[-1] = loc[-1][len(DUPLICATE) :]
            message = f"duplicate key {loc[-1]!r}: give each key once"
            found.append(FieldError(field_path(loc), message))
            continue
        if kind == "literal_error":
            message = f"must be one of {err['ctx']['expected']}"
        elif err.get("input", "") is None and kind != "missing":
            message = "is required (null is not a value here)"
        else:
            message = GENERIC_MESSAGES.get(kind, err["msg"])
        found.append(FieldError(field_path(err["loc"]), message))
    return found


DUPLICATE = "\0duplicate:"


def _mark_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice is kept under a marker name, so that validation reports it at its path
    (every shape forbids unknown keys) instead of silently keeping the last value."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        result[DUPLICATE + key if key in result else key] = value
    return result


def read_json(text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_NonFinite,
            object_pairs_hook=_mark_duplicate_keys,
        )
    except json.JSONDecodeError as error:
        raise InvalidInputError([FieldError(None, f"not valid JSON: {error}")]) from None
    except ValueError as error:
        raise InvalidInputError([FieldError(None, f"not valid JSON: {error}")]) from None


class _Validator:
    """Catalog-aware checks on the parsed shape; collects every problem before failing."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def code(self, path: str, value: str, known: Sequence[str] | dict[str, Any], what: str) -> bool:
        if value in known:
            return True
        self.fail(path, f"unknown {what} code {value!r} (`bontrack catalog` lists them)")
        return False

    def units(self, path: str, value: Decimal) -> None:
        if value <= 0:
            self.fail(path, "must be greater than 0")
        elif value > MAX_UNITS:
            self.fail(path, f"must be at most {MAX_UNITS:,} U")
        elif not has_at_most_decimals(value, MAX_DECIMALS):
            self.fail(path, f"must have at most {MAX_DECIMALS} decimals")

    def injections(
        self, path: str, items: list[InjectionIn], product: str
    ) -> tuple[Injection, ...]:
        result = []
        for n, item in enumerate(items):
            here = f"{path}[{n}]"
            self.units(f"{here}.units", item.units)
            site = self.catalog.sites.get(item.site)
            if site is None:
                self.code(f"{here}.site", item.site, self.catalog.sites, "site")
                continue
            if item.side not in site.sides:
                self.fail(
                    f"{here}.side",
                    f"{site.code} is injected {' or '.join(site.sides)}, not {item.side}",
                )
            route = item.route or site.default_route
            result.append(Injection(site.code, item.side, Units(product, item.units), route))
        return tuple(result)


def parse_check_input(text: str, catalog: Catalog | None = None) -> CheckRequest:
    """Turn the JSON text of a check into domain values, or raise ``InvalidInputError``."""
    cat = catalog or packaged_catalog()
    raw = read_json(text)
    if not isinstance(raw, dict):
        raise InvalidInputError([FieldError(None, "must be a JSON object")])
    duplicates = [k[len(DUPLICATE) :] for k in raw if k.startswith(DUPLICATE)]
    if duplicates:
        raise InvalidInputError(
            [FieldError(k, f"duplicate key {k!r}: give each key once") for k in duplicates]
        )
    try:
        shape = CheckIn.model_validate(raw)
    except ValidationError as error:
        raise InvalidInputError(_pydantic_errors(error)) from None
    return _build(shape, cat)


def _build(shape: CheckIn, cat: Catalog) -> CheckRequest:
    v = _Validator(cat)
    p = shape.plan
    product_ok = v.code("plan.product", p.product, cat.products, "product")
    v.code("plan.indication", p.indication, cat.indications, "indication")
    if p.protocol is not None:
        v.code("plan.protocol", p.protocol, cat.protocols, "protocol")
    if p.protocol is None and p.injections is None:
        v.fail("plan", "give a protocol, injections, or both")
    if p.injections is not None and not p.injections:
        v.fail("plan.injections", "must list at least one injection")
    if p.vial is not None and p.vials is not None:
        v.fail("plan.vial", "give plan.vial or plan.vials, not both")
    if p.date < shape.patient.birth_date:
        v.fail("patient.birth_date", "is after the plan date")

    injections: tuple[Injection, ...] = ()
    if p.injections:
        injections = v.injections("plan.injections", p.injections, p.product)
    elif p.protocol in cat.protocols:
        injections = expand_protocol(cat.protocols[p.protocol], p.product)

    vials = []
    vial_inputs = p.vials if p.vials is not None else ([p.vial] if p.vial is not None else [])
    for n, vial in enumerate(vial_inputs):
        here = "plan.vial" if p.vial is not None else f"plan.vials[{n}]"
        if product_ok:
            product = cat.products[p.product]
            if vial.size_units not in product.vial_sizes:
                sizes = ", ".join(f"{s} U" for s in product.vial_sizes)
                v.fail(f"{here}.size_units", f"{p.product} comes in {sizes}")
            if vial.diluent_ml is not None:
                if vial.diluent_ml > 100:
                    v.fail(f"{here}.diluent_ml", "must be at most 100 mL")
                elif vial.diluent_ml < 0:
                    v.fail(f"{here}.diluent_ml", "must not be negative")
                elif vial.diluent_ml == 0 and product.form == "powder":
                    v.fail(f"{here}.diluent_ml", "must be greater than 0 for a powder")
        if vial.reconstituted_at is not None and vial.reconstituted_at > shape.now:
            v.fail(f"{here}.reconstituted_at", "is after now")
        if vial.drawn_units is not None:
            _drawn_units(v, f"{here}.drawn_units", vial.drawn_units, vial.size_units)
        vials.append(
            Vial(
                size=Units(p.product, vial.size_units),
                diluent_ml=vial.diluent_ml,
                reconstituted_at=vial.reconstituted_at,
                lot=vial.lot,
                lot_expires=vial.lot_expires,
                recalled=vial.recalled,
                drawn_before=(
                    None if vial.drawn_units is None else Units(p.product, vial.drawn_units)
                ),
            )
        )

    history = []
    for n, h in enumerate(shape.history or []):
        here = f"history[{n}]"
        ok = v.code(f"{here}.product", h.product, cat.products, "product")
        if h.indication != OTHER_INDICATION:
            v.code(f"{here}.indication", h.indication, cat.indications, "indication")
        v.units(f"{here}.units", h.units)
        if h.date > p.date:
            v.fail(
                f"{here}.date",
                f"{h.date.isoformat()} is after the plan date {p.date.isoformat()}: the check "
                "reads history up to the plan date (B.35)",
            )
        if h.date < shape.patient.birth_date:
            v.fail(
                "patient.birth_date",
                f"{shape.patient.birth_date.isoformat()} is after {here}.date "
                f"{h.date.isoformat()}: a treatment cannot come before birth (B.35)",
            )
        if h.administered_at is not None and h.administered_at.date() != h.date:
            v.fail(
                f"{here}.administered_at",
                f"falls on {h.administered_at.date().isoformat()}, not on the entry's date "
                f"{h.date.isoformat()}",
            )
        points = v.injections(f"{here}.injections", h.injections or [], h.product) if ok else ()
        listed = sum((i.units.amount for i in points), Decimal(0))
        if listed > h.units:
            v.fail(
                f"{here}.injections",
                f"the listed points add up to {format_decimal(listed)} U, more than the entry's "
                f"units {format_decimal(h.units)} U: correct the points or the total (B.35)",
            )
        history.append(
            HistoryEntry(
                h.date,
                h.product,
                h.indication,
                Units(h.product, h.units),
                points,
                administered_at=h.administered_at,
                injector=(h.injector or "").strip() or None,
            )
        )

    patient = _patient(v, shape.patient, cat)
    injector = None
    if shape.injector is not None:
        for n, c in enumerate(shape.injector.credentials):
            v.code(f"injector.credentials[{n}]", c, cat.credentials, "credential")
        for n, i in enumerate(shape.injector.indications):
            v.code(f"injector.indications[{n}]", i, cat.indications, "indication")
        # B.35: an empty or blank supervisor is no supervisor, so that B.21 blocks.
        supervisor = (shape.injector.supervised_by or "").strip() or None
        injector = Injector(
            tuple(shape.injector.credentials),
            tuple(shape.injector.indications),
            supervisor,
        )
    verdicts = _verdicts(v, shape.verdicts or [], cat)
    _patient_dates(v, shape.patient, p.date)
    if v.errors:
        raise InvalidInputError(v.errors)
    plan = Plan(
        date=p.date,
        product=p.product,
        indication=p.indication,
        injections=injections,
        protocol=p.protocol,
        vials=tuple(vials),
    )
    if patient.weight_kg is None and requires_weight(plan, patient, history, cat):
        raise InvalidInputError(
            [
                FieldError(
                    "patient.weight_kg",
                    "is required: the patient is a child and a weight-based dose rule applies "
                    "(policy child, B.9)",
                )
            ]
        )
    return CheckRequest(plan, patient, tuple(history), injector, shape.now, verdicts)


def _drawn_units(v: _Validator, path: str, drawn: Decimal, size: Decimal) -> None:
    """B.30: what earlier sessions drew from the vial, 0 up to its size."""
    if drawn < 0:
        v.fail(path, "must be 0 or more")
    elif drawn > size:
        v.fail(
            path,
            f"{format_decimal(drawn)} U is more than the vial's size_units "
            f"{format_decimal(size)} U",
        )
    elif not has_at_most_decimals(drawn, MAX_DECIMALS):
        v.fail(path, f"must have at most {MAX_DECIMALS} decimals")


def _patient_dates(v: _Validator, p: PatientIn, plan_date: date) -> None:
    """B.35: a weight measured after the plan date, or a birth date more than 120 years before
    it, contradicts the plan."""
    if p.weight_measured_on is not None and p.weight_measured_on > plan_date:
        v.fail(
            "patient.weight_measured_on",
            f"{p.weight_measured_on.isoformat()} is after the plan date "
            f"{plan_date.isoformat()}: give the weight measured on or before it (B.35)",
        )
    try:
        oldest = plan_date.replace(year=plan_date.year - MAX_AGE_YEARS)
    except ValueError:  # 29 February
        oldest = plan_date.replace(year=plan_date.year - MAX_AGE_YEARS, day=28)
    if p.birth_date < oldest:
        v.fail(
            "patient.birth_date",
            f"{p.birth_date.isoformat()} is more than {MAX_AGE_YEARS} years before the plan "
            f"date {plan_date.isoformat()} (B.35)",
        )


def _verdicts(v: _Validator, items: list[VerdictIn], cat: Catalog) -> tuple[Verdict, ...]:
    """DESIGN 3.3 ``verdicts``: the patient's latest verdict per series (B.32)."""
    if not items:
        return ()
    # Imported here: most plans carry no verdicts, and a check needs no other part of the
    # outcome rules (its start-up: tests/cli/test_startup_imports.py).
    from bontrack.domain.outcomes import VERDICTS

    result = []
    for n, item in enumerate(items):
        here = f"verdicts[{n}]"
        v.code(f"{here}.indication", item.indication, cat.indications, "indication")
        v.code(f"{here}.scale", item.scale, cat.scales, "scale")
        if item.verdict not in VERDICTS:
            v.fail(f"{here}.verdict", f"must be one of {', '.join(VERDICTS)}")
        if not item.summary.strip():
            v.fail(f"{here}.summary", "must not be empty")
        elif len(item.summary) > MAX_SUMMARY_CHARS:
            v.fail(
                f"{here}.summary",
                f"is {len(item.summary)} characters; at most {MAX_SUMMARY_CHARS}",
            )
        result.append(
            Verdict(
                indication=item.indication,
                scale=item.scale,
                verdict=item.verdict,
                as_of=item.as_of,
                summary=item.summary.strip(),
                source=item.source.strip(),
                muscle_group=(item.muscle_group or "").strip() or None,
            )
        )
    return tuple(result)


def _patient(v: _Validator, p: PatientIn, cat: Catalog) -> Patient:
    if p.weight_kg is not None and not 0 < p.weight_kg <= MAX_WEIGHT_KG:
        v.fail("patient.weight_kg", f"must be greater than 0 and at most {MAX_WEIGHT_KG} kg")
    for n, c in enumerate(p.conditions or []):
        v.code(f"patient.conditions[{n}]", c, cat.codes_of("condition"), "condition")
    for n, m in enumerate(p.medications or []):
        v.code(f"patient.medications[{n}]", m, cat.codes_of("drug"), "drug")
    allergy_codes = [*cat.products, *ALLERGY_INGREDIENTS]
    for n, a in enumerate(p.allergies or []):
        v.code(f"patient.allergies[{n}]", a, allergy_codes, "allergy")
    infected = []
    for n, s in enumerate(p.infected_sites or []):
        site = cat.sites.get(s.site)
        if site is None:
            v.code(f"patient.infected_sites[{n}].site", s.site, cat.sites, "site")
        elif s.side is not None and s.side not in site.sides:
            v.fail(f"patient.infected_sites[{n}].side", f"{site.code} has no {s.side} side")
        infected.append(InfectedSite(s.site, s.side))
    return Patient(
        birth_date=p.birth_date,
        weight_kg=p.weight_kg,
        weight_measured_on=p.weight_measured_on,
        sex=p.sex or "unknown",
        pregnant=bool(p.pregnant),
        breastfeeding=bool(p.breastfeeding),
        conditions=tuple(p.conditions or ()),
        medications=tuple(p.medications or ()),
        allergies=tuple(p.allergies or ()),
        infected_sites=tuple(infected),
    )

"""Read the catalog's packaged TOML files and validate them into frozen objects.

This is the domain's one sanctioned read: the package's own data, through ``importlib.resources``,
once per process. An invalid file stops start-up with the file, the entry and the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from bontrack.domain.catalog.model import (
    PERCENT_THRESHOLDS,
    RESPONSE_THRESHOLDS,
    VERDICT_PAIRS,
    WHOLE_THRESHOLDS,
    AdverseEventTerm,
    Catalog,
    Citation,
    Credential,
    Dilution,
    IcdCode,
    Indication,
    Ingredient,
    Interval,
    LabelUse,
    Limit,
    Measure,
    MuscleDose,
    PatientFactor,
    PhotoView,
    Point,
    Population,
    Product,
    Protocol,
    ProtocolPoint,
    Response,
    ResponseRule,
    RuleSource,
    Scale,
    Severity,
    Site,
    Source,
    Tag,
    Threshold,
)
from bontrack.domain.catalog.tables import TomlTable

DATA_FILES = (
    "catalog.toml",
    "products.toml",
    "indications.toml",
    "protocols.toml",
    "sites.toml",
    "limits.toml",
    "factors.toml",
    "scales.toml",
    "adverse_events.toml",
)
# The lock also covers the billing catalog, which lives beside these files (domain/billing).
LOCKED_FILES = (*DATA_FILES, "billing.toml")
LOCK_FILE = "catalog.lock"
SIDES = ("left", "right", "midline")
REGIONS = ("head-neck", "eye", "skin", "upper-limb", "lower-limb")
VIEWS = ("face", "front", "back")
RULE_IDS = (
    "product-mismatch",
    "site-limit",
    "muscle-range",
    "session-total",
    "cumulative-dose",
    "weight-based-dose",
    "period-limit",
    "retreatment-interval",
    "contraindication",
    "precaution",
    "off-label",
    "mixed-products",
    "lot",
    "reconstitution",
    "injector-scope",
    "consent",
    "supply",
    "repeat-visit",
    "response",
)
POLICY_NUMBER = re.compile(r"^(B\.\d+):")
VERSION_PATTERN = re.compile(r"^\d{4}\.(0[1-9]|1[0-2])\.\d+$")
TOP_LEVEL = {
    "catalog.toml": {"version", "policies", "sources", "routes", "credential"},
    "products.toml": {"product"},
    "indications.toml": {"indication"},
    "protocols.toml": {"protocol"},
    "sites.toml": {"site"},
    "limits.toml": {"limit", "muscle_dose", "interval"},
    "factors.toml": {"condition", "drug", "state", "allergy", "rule_sources"},
    "scales.toml": {"scale"},
    "adverse_events.toml": {"term"},
}

T = TypeVar("T")


class CatalogError(ValueError):
    """The catalog's data is invalid: names the file, the entry and the field."""


class _Entry(TomlTable):
    """One table of a data file, read field by field with errors that say where."""

    error = CatalogError

    def text(self, field: str, default: str | None = None) -> str:
        value = self._get(field, default is None)
        if value is None:
            return default if default is not None else ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        return value

    def optional_text(self, field: str) -> str | None:
        value = self._get(field, False)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        return value

    def flag(self, field: str, default: bool | None = None) -> bool:
        value = self._get(field, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def number(self, field: str, *, positive: bool = False) -> Decimal:
        value = self._get(field, True)
        return self._decimal(field, value, positive)

    def optional_number(self, field: str, *, positive: bool = False) -> Decimal | None:
        value = self._get(field, False)
        return None if value is None else self._decimal(field, value, positive)

    def _decimal(self, field: str, value: Any, positive: bool) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(field, "must be a number")
        number = Decimal(value)
        if not number.is_finite() or number < 0 or (positive and number == 0):
            raise self.fail(field, "must be greater than 0" if positive else "must not be negative")
        return number

    def integer(self, field: str, default: int | None = None) -> int:
        value = self._get(field, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(field, "must be a whole number, 0 or more")
        return value

    def optional_integer(self, field: str) -> int | None:
        value = self._get(field, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(field, "must be a whole number greater than 0")
        return value

    def texts(self, field: str, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
        value = self._get(field, False)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(field, "must be a string or a list of strings")
        if allowed is not None:
            known = set(allowed)
            for item in value:
                if item not in known:
                    raise self.fail(field, f"unknown code {item!r}")
        return tuple(value)

    def choice(self, field: str, allowed: Iterable[str], default: str | None = None) -> str:
        value = self.text(field, default)
        options = tuple(allowed)
        if value not in options:
            raise self.fail(field, f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def tables(self, field: str) -> list[_Entry]:
        value = self._get(field, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(field, "must be a list of tables")
        return [_Entry(self.file, f"{self.where}: {field}[{i}]", v) for i, v in enumerate(value)]

    def table(self, field: str) -> _Entry:
        return _Entry(self.file, f"{self.where}: {field}", self._get(field, True))


class _Reader:
    def __init__(self, texts: Mapping[str, str]) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        for name in DATA_FILES:
            if name not in texts:
                raise CatalogError(f"{name}: missing from the catalog data")
            try:
                self.docs[name] = tomllib.loads(texts[name], parse_float=Decimal)
            except tomllib.TOMLDecodeError as error:
                raise CatalogError(f"{name}: not valid TOML: {error}") from None
        self.sources: dict[str, Source] = {}
        self.policies: dict[str, str] = {}
        # Response entries naming indications, checked once the indications are read.
        self.response_indications: list[tuple[_Entry, str, tuple[str, ...]]] = []

    def entries(self, file: str, key: str, name_field: str = "code") -> list[_Entry]:
        doc = self.docs[file]
        unexpected = sorted(set(doc) - TOP_LEVEL[file])
        if unexpected:
            raise CatalogError(f"{file}: {unexpected[0]}: unknown top-level table")
        items = doc.get(key, [])
        if not isinstance(items, list):
            raise CatalogError(f"{file}: {key}: must be an array of tables")
        result = []
        for i, item in enumerate(items):
            label = item.get(name_field) if isinstance(item, dict) else None
            result.append(_Entry(file, f"{key} {label!r}" if label else f"{key}[{i}]", item))
        return result

    def citation(self, entry: _Entry) -> Citation:
        basis = entry.choice("basis", ("label", "policy"), "label")
        policies = entry.texts("policy", self.policies)
        if basis == "policy" and not policies:
            raise entry.fail("basis", "a figure resting on bontrack policy names the policy")
        refs = entry.texts("source")
        if not refs and basis == "policy" and "tag" not in entry.data:
            # B.36: a rule that is bontrack's own arithmetic or decision cites the policy alone.
            return Citation(
                refs=(),
                tag=Tag.LABEL,
                policies=policies,
                policy_numbers=tuple(self.policy_number(p) for p in policies),
                policy_first=True,
            )
        if not refs:
            raise entry.fail("source", "is required")
        for ref in refs:
            if ref.split()[0] not in self.sources:
                raise entry.fail("source", f"unknown source key {ref.split()[0]!r}")
        tag = Tag(entry.choice("tag", [t.value for t in Tag]))
        return Citation(
            refs=refs,
            tag=tag,
            policies=policies,
            policy_numbers=tuple(self.policy_number(p) for p in policies),
            policy_first=basis == "policy",
        )

    def policy_number(self, policy: str) -> str:
        """'B.17' from the policy's text 'B.17: a too-short interval warns, never blocks'."""
        found = POLICY_NUMBER.match(self.policies[policy])
        return found.group(1) if found else ""


def _unique(items: Iterable[T], key: Callable[[T], str], what: str, file: str) -> dict[str, T]:
    result: dict[str, T] = {}
    for item in items:
        k = key(item)
        if k in result:
            raise CatalogError(f"{file}: {what} {k!r}: defined twice")
        result[k] = item
    return result


def parse_catalog(texts: Mapping[str, str]) -> Catalog:
    """Validate the data files' texts (file name → TOML text) into a ``Catalog``."""
    r = _Reader(texts)
    head = _Entry("catalog.toml", "catalog", r.docs["catalog.toml"])
    version = head.text("version")
    if not VERSION_PATTERN.match(version):
        raise head.fail("version", f"must look like YYYY.MM.N, not {version!r}")
    policies = head.table("policies")
    r.policies = {key: policies.text(key) for key in policies.data}
    sources = head.table("sources")
    for key in sources.data:
        src = sources.table(key)
        r.sources[key] = Source(key=key, title=src.text("title"), url=src.text("url"))
        src.done()
    routes = head.table("routes").texts("codes")
    credentials = {}
    for entry in r.entries("catalog.toml", "credential"):
        credentials[entry.text("code")] = Credential(
            code=entry.text("code"),
            name=entry.text("name"),
            can_prescribe=entry.flag("can_prescribe"),
        )
        entry.done()

    sites = _unique(
        (_site(e, routes) for e in r.entries("sites.toml", "site")),
        lambda s: s.code,
        "site",
        "sites.toml",
    )
    scales = _unique(
        (_scale(e, r) for e in r.entries("scales.toml", "scale")),
        lambda s: s.code,
        "scale",
        "scales.toml",
    )
    products = _unique(
        (_product(e, r) for e in r.entries("products.toml", "product")),
        lambda p: p.code,
        "product",
        "products.toml",
    )
    indications = _unique(
        (
            _indication(e, r, products, sites, scales, routes)
            for e in r.entries("indications.toml", "indication")
        ),
        lambda i: i.code,
        "indication",
        "indications.toml",
    )
    for entry, scale_code, named in r.response_indications:
        for code in named:
            if code not in indications:
                raise entry.fail("indications", f"unknown code {code!r}")
            if scale_code not in indications[code].scales:
                raise entry.fail("indications", f"{code} is not followed with {scale_code}")
    protocols = _unique(
        (
            _protocol(e, r, products, indications, sites, routes)
            for e in r.entries("protocols.toml", "protocol", "id")
        ),
        lambda p: p.id,
        "protocol",
        "protocols.toml",
    )
    limits = tuple(
        _limit(e, r, products, indications, sites) for e in r.entries("limits.toml", "limit", "id")
    )
    _unique(limits, lambda limit: limit.id, "limit", "limits.toml")
    muscle_doses = tuple(
        dose
        for e in r.entries("limits.toml", "muscle_dose", "product")
        for dose in _muscle_doses(e, r, products, indications, sites)
    )
    intervals = tuple(
        _interval(e, r, products, indications)
        for e in r.entries("limits.toml", "interval", "product")
    )
    factors: dict[str, PatientFactor] = {}
    for kind in ("condition", "drug", "state", "allergy"):
        for entry in r.entries("factors.toml", kind):
            factor = PatientFactor(
                code=entry.text("code"),
                kind=kind,
                name=entry.text("name"),
                message=entry.text("message"),
                cite=r.citation(entry),
            )
            entry.done()
            if f"{kind}:{factor.code}" in factors:
                raise entry.fail("code", "defined twice")
            factors[f"{kind}:{factor.code}"] = factor
    terms = _unique(
        (_term(e, r, indications, products) for e in r.entries("adverse_events.toml", "term")),
        lambda t: t.code,
        "term",
        "adverse_events.toml",
    )
    rule_sources: dict[str, RuleSource] = {}
    raw_rule_sources = r.docs["factors.toml"].get("rule_sources", {})
    for key in raw_rule_sources:
        entry = _Entry("factors.toml", f"rule_sources {key!r}", raw_rule_sources[key])
        rule_sources[key] = RuleSource(rule=key, topic=entry.text("topic"), cite=r.citation(entry))
        entry.done()
    return Catalog(
        version=version,
        policies=r.policies,
        sources=r.sources,
        products=products,
        indications=indications,
        protocols=protocols,
        sites=sites,
        limits=limits,
        muscle_doses=muscle_doses,
        intervals=intervals,
        factors=factors,
        scales=scales,
        credentials=credentials,
        routes=routes,
        rule_sources=rule_sources,
        adverse_event_terms=terms,
    )


def _term(
    e: _Entry,
    r: _Reader,
    indications: Mapping[str, Indication],
    products: Mapping[str, Product],
) -> AdverseEventTerm:
    term = AdverseEventTerm(
        code=e.text("code"),
        name=e.text("name"),
        indications=e.texts("indications", indications),
        cite=r.citation(e),
        products=e.texts("products", products),
    )
    e.done()
    return term


def _site(e: _Entry, routes: tuple[str, ...]) -> Site:
    sides = e.texts("sides", SIDES)
    if not sides:
        raise e.fail("sides", "is required")
    points_table = e.table("points")
    points: dict[str, Point] = {}
    for side in sides:
        if side not in points_table.data:
            raise points_table.fail(side, "a point is required for every listed side")
        p = points_table.table(side)
        points[side] = Point(view=p.choice("view", VIEWS), x=p.number("x"), y=p.number("y"))
        p.done()
    points_table.done()
    site = Site(
        code=e.text("code"),
        name=e.text("name"),
        region=e.choice("region", REGIONS),
        sides=sides,
        default_route=e.choice("default_route", routes),
        description=e.text("description"),
        points=points,
        snomed=e.optional_text("snomed"),
        snomed_source=e.optional_text("snomed_source"),
    )
    e.done()
    return site


def _scale(e: _Entry, r: _Reader) -> Scale:
    scale = Scale(
        code=e.text("code"),
        name=e.text("name"),
        kind=e.choice("kind", ("numeric", "ordinal")),
        minimum=e.optional_number("minimum"),
        maximum=e.optional_number("maximum"),
        step=e.optional_number("step", positive=True),
        levels=e.texts("levels"),
        cite=r.citation(e),
        short_name=e.text("short_name", ""),
        unit=e.text("unit", ""),
        graded=e.flag("graded", False),
        per_muscle_group=e.flag("per_muscle_group", False),
    )
    if scale.kind == "ordinal" and len(scale.levels) < 2:
        raise e.fail("levels", "an ordinal scale needs at least two levels")
    if scale.graded and scale.kind != "numeric":
        raise e.fail("graded", "only a numeric scale is graded (an ordinal scale has levels)")
    entries = e.tables("response")
    if not entries:
        raise e.fail(
            "response",
            'is required (where the facts give no definition: rule = "no-definition" and why)',
        )
    responses = tuple(_response(entry, r, scale) for entry in entries)
    general = [
        entry for entry, found in zip(entries, responses, strict=True) if not found.indications
    ]
    if len(general) > 1:
        raise general[1].fail("indications", "only one response may apply to every indication")
    named: set[str] = set()
    for entry, found in zip(entries, responses, strict=True):
        twice = sorted(named & set(found.indications))
        if twice:
            raise entry.fail("indications", f"{twice[0]} already has a response on this scale")
        named.update(found.indications)
    e.done()
    return dataclasses.replace(scale, responses=responses)


# Which scales a rule can judge: the falls and limits in numbers need a numeric scale, grades an
# ordinal or graded one.
_NUMERIC_RULES = (
    ResponseRule.NICE_TA260,
    ResponseRule.FALL_POINTS,
    ResponseRule.FALL_PCT,
    ResponseRule.AT_MOST,
)
_WORDED_RULES = (
    ResponseRule.FALL_POINTS,
    ResponseRule.FALL_PCT,
    ResponseRule.FALL_GRADES,
    ResponseRule.AT_MOST,
    ResponseRule.AT_LEAST,
)
_ALL_THRESHOLDS = frozenset(
    name for required, optional in RESPONSE_THRESHOLDS.values() for name in required + optional
)


def _response(e: _Entry, r: _Reader, scale: Scale) -> Response:
    rule = ResponseRule(e.choice("rule", [rule.value for rule in ResponseRule]))
    if rule in _NUMERIC_RULES and scale.kind != "numeric":
        raise e.fail("rule", f"a {rule.value} rule needs a numeric scale")
    if rule is ResponseRule.FALL_GRADES and scale.kind != "ordinal" and not scale.graded:
        raise e.fail("rule", "a fall-grades rule needs an ordinal scale or a graded one")
    required, optional = RESPONSE_THRESHOLDS[rule]
    counts = window = ""
    whose = f"a {rule.value} rule"
    if rule is ResponseRule.NICE_TA260:
        counts = e.choice("counts", ("headache-days", "migraine-days"))
        window = e.choice("window", ("28-days", "calendar-month"))
        # The episodic test counts headache days: a scale of migraine days has no use for it.
        if counts == "headache-days":
            required, optional = required + optional, ()
        else:
            required, optional = required, ()
            whose = "a nice-ta260 rule on migraine days (the episodic test counts headache days)"
    unexpected = (set(e.data) & _ALL_THRESHOLDS) - set(required + optional)
    for name in sorted(unexpected):
        theirs = ", ".join(required + optional) or "none"
        raise e.fail(name, f"is not a threshold of {whose} (its thresholds: {theirs})")
    thresholds: dict[str, Threshold] = {}
    for name in required + optional:
        if name not in e.data:
            if name in required:
                raise e.fail(name, f"is required for a {rule.value} rule")
            continue
        if not isinstance(e.data[name], dict):
            raise e.fail(name, "must be a table: { value = ..., source = ..., tag = ... }")
        thresholds[name] = _threshold(e.table(name), r, scale, name)
    response = Response(
        rule=rule,
        thresholds=thresholds,
        indications=e.texts("indications"),
        counts=counts,
        window=window,
    )
    if rule is ResponseRule.NO_DEFINITION:
        response = dataclasses.replace(response, why=e.text("why"), cite=r.citation(e))
    elif rule in _WORDED_RULES:
        response = dataclasses.replace(
            response,
            verdicts=_verdict_pair(e),
            says=_template(e, "says", thresholds),
            unmet_says=_template(e, "unmet_says", thresholds, required=False),
            shows=e.choice("shows", ("change", "follow-up"), default="change"),
        )
    if rule is ResponseRule.FALL_PCT:
        substantial = "substantial_fall_pct" in thresholds
        response = dataclasses.replace(
            response,
            substantial_says=_template(e, "substantial_says", thresholds, required=substantial),
            zero_baseline=e.text("zero_baseline", ""),
        )
        if response.substantial_says and not substantial:
            raise e.fail("substantial_says", "quotes no substantial_fall_pct")
    if response.indications:
        r.response_indications.append((e, scale.code, response.indications))
    e.done()
    return response


def _threshold(t: _Entry, r: _Reader, scale: Scale, name: str) -> Threshold:
    value: Decimal | str
    if scale.kind == "ordinal" and name == "at_least":
        value = t.choice("value", scale.levels)
    elif name in WHOLE_THRESHOLDS:
        value = Decimal(t.integer("value"))
        if value == 0:
            raise t.fail("value", "must be a whole number greater than 0")
    else:
        value = t.number("value", positive=name not in ("at_most", "at_least"))
        if name in PERCENT_THRESHOLDS and value > 100:
            raise t.fail("value", "a percentage must not be above 100")
        outside = (scale.minimum is not None and value < scale.minimum) or (
            scale.maximum is not None and value > scale.maximum
        )
        if name in ("at_most", "at_least") and outside:
            raise t.fail("value", f"{value} is outside the scale's range")
    threshold = Threshold(value=value, cite=r.citation(t), note=t.text("note", ""))
    t.done()
    return threshold


def _verdict_pair(e: _Entry) -> tuple[str, str]:
    words = e.texts("verdicts")
    if not words:
        raise e.fail("verdicts", "is required")
    if tuple(words) not in VERDICT_PAIRS:
        pairs = "; ".join(" / ".join(pair) for pair in VERDICT_PAIRS)
        raise e.fail("verdicts", f"must be one of the pairs of codes.md ({pairs})")
    return words[0], words[1]


def _template(
    e: _Entry, field: str, thresholds: Mapping[str, Threshold], required: bool = True
) -> str:
    """A reason's words, whose ``{name}`` placeholders quote the entry's own thresholds."""
    text = e.text(field) if required else e.text(field, "")
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as error:
        raise e.fail(field, f"unbalanced braces: {error}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in thresholds:
            known = ", ".join(thresholds) or "none"
            raise e.fail(field, f"{{{name}}} is not one of its thresholds ({known})")
        if spec or conversion:
            raise e.fail(field, f"{{{name}}} takes no format: the data's figure is quoted as is")
    return text


def _product(e: _Entry, r: _Reader) -> Product:
    code = e.text("code")
    vial_sizes = tuple(Decimal(v) for v in _numbers(e, "vial_sizes"))
    dilutions = []
    for d in e.tables("dilutions"):
        vial = d.number("vial", positive=True)
        if vial not in vial_sizes:
            raise d.fail("vial", f"{vial} U is not one of the product's vial sizes")
        computed = d.flag("computed", False)
        cite = r.citation(d)
        if computed and cite.tag is Tag.LABEL:
            raise d.fail("tag", "a computed dilution no label lists is never [L] (B.36)")
        dilutions.append(Dilution(vial, d.number("diluent_ml", positive=True), cite, computed))
        d.done()
    ingredients = []
    for i in e.tables("ingredients"):
        ingredients.append(
            Ingredient(i.choice("code", ("human-albumin", "cow-milk-protein")), r.citation(i))
        )
        i.done()
    product = Product(
        code=code,
        name=e.text("name"),
        brands=e.texts("brands"),
        manufacturer=e.text("manufacturer"),
        serotype=e.text("serotype"),
        form=e.choice("form", ("powder", "solution")),
        vial_sizes=vial_sizes,
        vial_cite=r.citation(e.table("vial_cite")),
        in_use_hours=e.number("in_use_hours", positive=True),
        in_use_cite=r.citation(e.table("in_use_cite")),
        dilutions=tuple(dilutions),
        ingredients=tuple(ingredients),
        hypersensitivity_to_any_bont=e.flag("hypersensitivity_to_any_bont"),
        hypersensitivity_cite=r.citation(e.table("hypersensitivity_cite")),
        infection_cite=r.citation(e.table("infection_cite")),
        solution_units_per_ml=e.optional_number("solution_units_per_ml", positive=True),
    )
    if product.form == "solution" and product.solution_units_per_ml is None:
        raise e.fail("solution_units_per_ml", "is required for a ready-to-use solution")
    e.done()
    return product


def _numbers(e: _Entry, field: str) -> list[Decimal]:
    value = e._get(field, True)
    if not isinstance(value, list) or not value:
        raise e.fail(field, "must be a non-empty list of numbers")
    return [e._decimal(field, v, True) for v in value]


def _indication(
    e: _Entry,
    r: _Reader,
    products: Mapping[str, Product],
    sites: Mapping[str, Site],
    scales: Mapping[str, Scale],
    routes: tuple[str, ...],
) -> Indication:
    icd = []
    for c in e.tables("icd10"):
        icd.append(
            IcdCode(c.text("code"), c.text("display"), Tag(c.choice("tag", [t.value for t in Tag])))
        )
        c.done()
    labels = []
    for lab in e.tables("labels"):
        use = LabelUse(
            product=lab.choice("product", products),
            min_age=lab.integer("min_age"),
            max_age=lab.optional_integer("max_age"),
            cite=r.citation(lab),
        )
        if use.max_age is not None and use.max_age <= use.min_age:
            raise lab.fail("max_age", "must be greater than min_age")
        labels.append(use)
        lab.done()
    views = []
    for v in e.tables("photo_views"):
        views.append(PhotoView(code=v.text("code"), name=v.text("name")))
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", views[-1].code):
            raise v.fail("code", "must be lowercase words joined by hyphens")
        v.done()
    if len({v.code for v in views}) != len(views):
        raise e.fail("photo_views", "a view code is listed twice")
    indication = Indication(
        code=e.text("code"),
        name=e.text("name"),
        route=e.choice("route", routes),
        cosmetic=e.flag("cosmetic"),
        icd10=tuple(icd),
        sites=e.texts("sites", sites),
        scales=e.texts("scales", scales),
        labels=tuple(labels),
        photo_views=tuple(views),
    )
    e.done()
    return indication


def _protocol(
    e: _Entry,
    r: _Reader,
    products: Mapping[str, Product],
    indications: Mapping[str, Indication],
    sites: Mapping[str, Site],
    routes: tuple[str, ...],
) -> Protocol:
    product = e.choice("product", products)
    points: list[ProtocolPoint] = []
    for p in e.tables("points"):
        site = sites.get(p.choice("site", sites))
        assert site is not None
        side = p.choice("side", site.sides)
        units = p.number("units", positive=True)
        units_max = p.optional_number("units_max", positive=True)
        if units_max is not None and units_max < units:
            raise p.fail("units_max", "must not be below units")
        route = p.choice("route", routes, default=site.default_route)
        points.extend(
            ProtocolPoint(site.code, side, units, route, units_max)
            for _ in range(p.integer("count", 1))
        )
        p.done()
    if not points:
        raise e.fail("points", "a protocol needs at least one point")
    protocol = Protocol(
        id=e.text("id"),
        name=e.text("name"),
        product=product,
        indications=e.texts("indications", indications),
        points=tuple(points),
        cite=r.citation(e),
        description=e.text("description", ""),
    )
    if not protocol.indications:
        raise e.fail("indications", "a protocol needs at least one indication")
    e.done()
    return protocol


def _limit(
    e: _Entry,
    r: _Reader,
    products: Mapping[str, Product],
    indications: Mapping[str, Indication],
    sites: Mapping[str, Site],
) -> Limit:
    limit = Limit(
        id=e.text("id"),
        rule=e.choice("rule", RULE_IDS),
        product=e.choice("product", products),
        measure=Measure(e.choice("measure", [m.value for m in Measure])),
        population=Population(e.choice("population", [p.value for p in Population])),
        severity=Severity(e.choice("severity", [s.value for s in Severity])),
        description=e.text("description"),
        cite=r.citation(e),
        indications=e.texts("indications", indications),
        sites=e.texts("sites", sites),
        regions=e.texts("regions", REGIONS),
        window_days=e.optional_integer("window_days"),
        max_units=e.optional_number("max_units", positive=True),
        max_units_per_kg=e.optional_number("max_units_per_kg", positive=True),
        max_ml=e.optional_number("max_ml", positive=True),
    )
    if limit.severity is Severity.BLOCK and not limit.cite.tag.may_block:
        raise e.fail("severity", f"a [{limit.cite.tag.value}] fact never blocks (B.24)")
    if (limit.measure is Measure.WINDOW) != (limit.window_days is not None):
        raise e.fail("window_days", "is required for a window limit and only for one")
    if limit.max_units is None and limit.max_units_per_kg is None and limit.max_ml is None:
        raise e.fail("max_units", "a limit needs max_units, max_units_per_kg or max_ml")
    if limit.max_ml is not None and limit.measure is not Measure.POINT:
        raise e.fail("max_ml", "a volume limit applies to one injection point")
    if limit.max_units_per_kg is not None and limit.population is not Population.CHILD:
        raise e.fail("max_units_per_kg", "weight-based limits are for children (B.9)")
    if limit.measure in (Measure.LIMB, Measure.REGION) and not limit.regions:
        raise e.fail("regions", "a limb or region limit names its regions")
    e.done()
    return limit


def _muscle_doses(
    e: _Entry,
    r: _Reader,
    products: Mapping[str, Product],
    indications: Mapping[str, Indication],
    sites: Mapping[str, Site],
) -> list[MuscleDose]:
    product = e.choice("product", products)
    chosen = e.texts("indications", indications)
    population = Population(e.choice("population", [p.value for p in Population]))
    cite = r.citation(e)
    doses = []
    for row in e.tables("ranges"):
        dose = MuscleDose(
            product=product,
            indications=chosen,
            population=population,
            site=row.choice("site", sites),
            cite=cite,
            units_min=row.optional_number("units_min"),
            units_max=row.optional_number("units_max", positive=True),
            per_kg_min=row.optional_number("per_kg_min"),
            per_kg_max=row.optional_number("per_kg_max", positive=True),
            points=row.text("points", ""),
        )
        if (dose.units_max is None) == (dose.per_kg_max is None):
            raise row.fail("units_max", "give either units_max or per_kg_max")
        if dose.per_kg_max is not None and population is not Population.CHILD:
            raise row.fail("per_kg_max", "per-kg ranges are children's guidance")
        row.done()
        doses.append(dose)
    e.done()
    return doses


def _interval(
    e: _Entry, r: _Reader, products: Mapping[str, Product], indications: Mapping[str, Indication]
) -> Interval:
    product = e.choice("product", ["*", *products])
    interval = Interval(
        product=product,
        indications=e.texts("indications", indications),
        except_indications=e.texts("except_indications", indications),
        days=e.integer("days"),
        words=e.text("words"),
        cite=r.citation(e),
    )
    if interval.days <= 0:
        raise e.fail("days", "must be greater than 0")
    e.done()
    return interval


def _packaged_texts() -> dict[str, str]:
    folder = resources.files("bontrack.domain.catalog") / "data"
    return {name: (folder / name).read_text(encoding="utf-8") for name in LOCKED_FILES}


def content_hash(texts: Mapping[str, str]) -> str:
    """SHA-256 over the data files' names and contents, in a fixed order."""
    digest = hashlib.sha256()
    for name in LOCKED_FILES:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(texts[name].encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def packaged_texts() -> dict[str, str]:
    return _packaged_texts()


def read_lock() -> dict[str, str]:
    folder = resources.files("bontrack.domain.catalog") / "data"
    lock = tomllib.loads((folder / LOCK_FILE).read_text(encoding="utf-8"))
    return {"version": str(lock["version"]), "sha256": str(lock["sha256"])}


@cache
def catalog() -> Catalog:
    """The packaged catalog, validated once per process."""
    return parse_catalog(_packaged_texts())

"""The billing catalog: ``catalog/data/billing.toml`` validated into frozen objects.

It holds what a claim line needs beyond the signed record (billing.md sections 1-5): the HCPCS code
and billing unit of each product, the NDC of each vial size, the CPT codes of each indication with
how they are counted, ICD-10-CM suggestions with their validity dates, the guidance add-ons and the
JW/JZ parameters. Every entry carries the tag and source keys billing.md gives it; an entry tagged
[R] or [U], or one whose convention billing.md section 6 leaves open (``confirm``), surfaces as a
"to confirm" item wherever it is used (billing.md 7.8).

The file is read once per process by the catalog's loader, whose lock covers it with the clinical
data files, and checked against the clinical catalog (product, indication and site codes); an
invalid file fails naming the entry and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.load import packaged_texts
from bontrack.domain.catalog.model import Catalog
from bontrack.domain.catalog.tables import TomlTable

BILLING_FILE = "billing.toml"
VERSION_PATTERN = re.compile(r"^\d{4}\.(0[1-9]|1[0-2])\.\d+$")
HCPCS_PATTERN = re.compile(r"^[A-Z]\d{4}$")
CPT_PATTERN = re.compile(r"^\d{5}$")
NDC_PATTERN = re.compile(r"^\d{5}-\d{4}-\d{2}$")
ICD_PATTERN = re.compile(r"^[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?$")
LIMB_REGIONS = ("upper-limb", "lower-limb")
GUIDANCE_KINDS = ("emg", "electrical-stimulation", "ultrasound")


class BillingCatalogError(ValueError):
    """billing.toml is invalid: names the entry and the field."""


class BillingTag(StrEnum):
    """billing.md section A: how sure a billing fact is, plus ``derived`` arithmetic."""

    LABEL = "L"
    SECONDARY = "S"
    RECALLED = "R"
    UNCERTAIN = "U"
    DERIVED = "derived"

    @property
    def to_confirm(self) -> bool:
        """[R] is advisory only and [U] goes to human review: both are shown "to confirm"."""
        return self in (BillingTag.RECALLED, BillingTag.UNCERTAIN)


class Counting(StrEnum):
    """How an indication's procedure codes are counted on one visit (billing.md section 4)."""

    ONCE = "once"  # one line per session whatever the number of sites
    PER_SIDE = "per-side"  # one side per code; both sides take the bilateral modifier
    EXTREMITY = "extremity"  # a primary code for one limb, add-ons for each further limb
    BOTH_AXILLAE = "both-axillae"  # one code covers both sides
    UNLISTED = "unlisted"  # no listed code: the unlisted code, described by the clinic
    NONE = "none"  # no CPT code found: the clinic fills it
    COSMETIC = "cosmetic"  # never claimed (billing.md 7.3)


@dataclass(frozen=True, slots=True)
class NdcEntry:
    """One package of a product: its vial size and NDC (11 digits, 5-4-2 with hyphens).

    ``vial_units`` is None where billing.md does not say which size the NDC is (BOTOX Cosmetic's
    two packages); ``ndc`` is None where the size exists but its NDC was not found.
    """

    vial_units: Decimal | None
    ndc: str | None
    cosmetic: bool
    tag: BillingTag
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BillingProduct:
    product: str
    brand: str
    hcpcs: str | None  # None: no HCPCS code found; the product cannot be claimed
    units_per_billing_unit: Decimal  # 0 when there is no HCPCS code
    cosmetic_only: bool  # labelled for cosmetic use only
    ndcs: tuple[NdcEntry, ...]
    tag: BillingTag
    refs: tuple[str, ...]
    confirm: str  # what billing.md section 6 leaves open about the code, or ""

    @property
    def medical_vial_sizes(self) -> tuple[Decimal, ...]:
        """The vial sizes a medical claim is judged by (billing.md 3.9, 7.6), smallest first."""
        sizes = {e.vial_units for e in self.ndcs if not e.cosmetic and e.vial_units is not None}
        return tuple(sorted(sizes))

    def ndc_entry(self, ndc: str) -> NdcEntry | None:
        return next((e for e in self.ndcs if e.ndc == ndc), None)

    def ndcs_for(self, vial_units: Decimal) -> tuple[NdcEntry, ...]:
        """The catalog's NDCs for a vial size (a lot's NDC is chosen from these, billing.md 7.5)."""
        return tuple(e for e in self.ndcs if e.ndc is not None and e.vial_units == vial_units)


@dataclass(frozen=True, slots=True)
class ProcedureCode:
    code: str
    description: str  # bontrack's own paraphrase (billing.md 7.10), never CPT text
    add_on: bool
    min_muscles: int
    max_muscles: int | None
    tag: BillingTag
    refs: tuple[str, ...]

    def fits(self, muscles: int) -> bool:
        return muscles >= self.min_muscles and (
            self.max_muscles is None or muscles <= self.max_muscles
        )


@dataclass(frozen=True, slots=True)
class BilateralModifier:
    modifier: str
    tag: BillingTag
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProcedureRule:
    indication: str
    counting: Counting
    codes: tuple[ProcedureCode, ...]
    bilateral: BilateralModifier | None
    counting_tag: BillingTag | None  # None: how the code is counted was not found
    counting_refs: tuple[str, ...]
    confirm: str  # what billing.md section 6 leaves open about the codes or their counting, or ""

    @property
    def needs_confirming(self) -> bool:
        return bool(self.confirm) or self.counting_tag is None or self.counting_tag.to_confirm


@dataclass(frozen=True, slots=True)
class IcdSuggestion:
    code: str
    display: str
    tag: BillingTag
    refs: tuple[str, ...]
    valid_from: date | None = None
    valid_to: date | None = None  # the last date of service the code is valid for

    def valid_on(self, on: date) -> bool:
        return (self.valid_from is None or on >= self.valid_from) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class GuidanceAddOn:
    guidance: str  # a session's structured guidance: emg, electrical-stimulation, ultrasound
    code: str | None  # None: no code found; the session's guidance is a to-confirm item
    description: str
    units_per_day: int
    included_in: tuple[str, ...]  # procedure codes whose descriptor already includes it
    tag: BillingTag
    refs: tuple[str, ...]
    confirm: str


@dataclass(frozen=True, slots=True)
class WasteRules:
    """The JW/JZ parameters (billing.md 2 and 3)."""

    jw_from: date
    jz_from: date
    jw_minimum_billing_units: int
    tag: BillingTag
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BillingSource:
    key: str
    title: str
    url: str  # "" where billing.md did not record the full address


@dataclass(frozen=True)
class BillingCatalog:
    version: str
    products: Mapping[str, BillingProduct]
    procedures: Mapping[str, ProcedureRule]
    icd: Mapping[str, tuple[IcdSuggestion, ...]]
    guidance: Mapping[str, GuidanceAddOn]
    waste: WasteRules
    sources: Mapping[str, BillingSource]
    # From the clinical catalog: the region of each site, to count extremities.
    site_regions: Mapping[str, str]

    def product(self, code: str) -> BillingProduct | None:
        return self.products.get(code)

    def procedure(self, indication: str) -> ProcedureRule | None:
        return self.procedures.get(indication)

    def icd_suggestions(self, indication: str, on: date) -> tuple[IcdSuggestion, ...]:
        """The indication's ICD-10-CM suggestions valid on a date of service."""
        return tuple(s for s in self.icd.get(indication, ()) if s.valid_on(on))

    def icd_code(self, code: str) -> IcdSuggestion | None:
        """A code as the catalog knows it under any indication, with its validity dates."""
        for suggestions in self.icd.values():
            for suggestion in suggestions:
                if suggestion.code == code:
                    return suggestion
        return None


class _Entry(TomlTable):
    """One table of billing.toml, read field by field with errors that say where."""

    error = BillingCatalogError

    def __init__(self, where: str, data: Any, sources: Mapping[str, BillingSource]) -> None:
        super().__init__(BILLING_FILE, where, data)
        self.sources = sources

    def text(self, field: str) -> str:
        value = self._get(field, True)
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

    def matching(self, field: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.optional_text(field)
        if value is not None and not pattern.match(value):
            raise self.fail(field, f"{value!r} is not {what}")
        return value

    def flag(self, field: str, default: bool) -> bool:
        value = self._get(field, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def positive(self, field: str) -> Decimal | None:
        value = self._get(field, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(field, "must be a number")
        number = Decimal(value)
        if not number.is_finite() or number <= 0:
            raise self.fail(field, "must be greater than 0")
        return number

    def whole(self, field: str, default: int | None = None) -> int | None:
        value = self._get(field, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(field, "must be a whole number, 1 or more")
        return value

    def day(self, field: str, required: bool = False) -> date | None:
        value = self._get(field, required)
        if value is None:
            return None
        if not isinstance(value, date):
            raise self.fail(field, "must be a date (YYYY-MM-DD)")
        return value

    def texts(self, field: str) -> tuple[str, ...]:
        value = self._get(field, False)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(field, "must be a string or a list of strings")
        return tuple(value)

    def choice(self, field: str, allowed: tuple[str, ...]) -> str:
        value = self.text(field)
        if value not in allowed:
            raise self.fail(field, f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def cite(
        self, source_field: str = "source", tag_field: str = "tag"
    ) -> tuple[BillingTag, tuple[str, ...]]:
        """The entry's tag and source keys; a ``derived`` entry may rest on arithmetic alone."""
        tag = BillingTag(self.choice(tag_field, tuple(t.value for t in BillingTag)))
        refs = self.texts(source_field)
        if not refs and tag is not BillingTag.DERIVED:
            raise self.fail(source_field, "is required")
        for ref in refs:
            if ref not in self.sources:
                raise self.fail(source_field, f"unknown source key {ref!r}")
        return tag, refs

    def tables(self, field: str, required: bool = False) -> list[_Entry]:
        value = self._get(field, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(field, "must be a list of tables")
        return [_Entry(f"{self.where}: {field}[{i}]", v, self.sources) for i, v in enumerate(value)]

    def table(self, field: str, required: bool = True) -> _Entry | None:
        value = self._get(field, required)
        if value is None:
            return None
        return _Entry(f"{self.where}: {field}", value, self.sources)


def _array(
    doc: dict[str, Any], key: str, name_field: str, sources: Mapping[str, BillingSource]
) -> list[_Entry]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise BillingCatalogError(f"{BILLING_FILE}: {key}: must be an array of tables")
    entries = []
    for i, item in enumerate(items):
        label = item.get(name_field) if isinstance(item, dict) else None
        entries.append(_Entry(f"{key} {label!r}" if label else f"{key}[{i}]", item, sources))
    return entries


def _product(e: _Entry, clinical: Catalog) -> BillingProduct:
    code = e.text("product")
    if code not in clinical.products:
        raise e.fail("product", f"unknown product code {code!r}")
    hcpcs = e.matching("hcpcs", HCPCS_PATTERN, "an HCPCS code (a letter and four digits)")
    per_unit = e.positive("units_per_billing_unit")
    if hcpcs is not None and per_unit is None:
        raise e.fail("units_per_billing_unit", "is required with an HCPCS code")
    if hcpcs is None and per_unit is not None:
        raise e.fail("units_per_billing_unit", "needs an HCPCS code")
    tag, refs = e.cite()
    ndcs = []
    for v in e.tables("vials"):
        ndc = v.matching("ndc", NDC_PATTERN, "an 11-digit NDC in 5-4-2 form (00023-3921-02)")
        size = v.positive("units")
        if ndc is None and size is None:
            raise v.fail("units", "a package names its vial size, its NDC or both")
        v_tag, v_refs = v.cite()
        ndcs.append(NdcEntry(size, ndc, v.flag("cosmetic", False), v_tag, v_refs))
        v.done()
    seen = [n.ndc for n in ndcs if n.ndc is not None]
    if len(seen) != len(set(seen)):
        raise e.fail("vials", "an NDC is listed twice")
    product = BillingProduct(
        product=code,
        brand=e.text("brand"),
        hcpcs=hcpcs,
        units_per_billing_unit=per_unit or Decimal(0),
        cosmetic_only=e.flag("cosmetic_only", False),
        ndcs=tuple(ndcs),
        tag=tag,
        refs=refs,
        confirm=e.optional_text("confirm") or "",
    )
    if product.hcpcs is not None and product.cosmetic_only:
        raise e.fail("cosmetic_only", "a cosmetic-only product has no HCPCS code")
    e.done()
    return product


def _procedure(e: _Entry, clinical: Catalog) -> ProcedureRule:
    indication = e.text("indication")
    if indication not in clinical.indications:
        raise e.fail("indication", f"unknown indication code {indication!r}")
    counting = Counting(e.choice("counting", tuple(c.value for c in Counting)))
    codes = []
    for c in e.tables("codes"):
        code = c.matching("code", CPT_PATTERN, "a five-digit CPT code")
        if code is None:
            raise c.fail("code", "is required")
        c_tag, c_refs = c.cite()
        minimum = c.whole("min_muscles", 1) or 1
        maximum = c.whole("max_muscles")
        if maximum is not None and maximum < minimum:
            raise c.fail("max_muscles", "must not be less than min_muscles")
        codes.append(
            ProcedureCode(
                code=code,
                description=c.text("description"),
                add_on=c.flag("add_on", False),
                min_muscles=minimum,
                max_muscles=maximum,
                tag=c_tag,
                refs=c_refs,
            )
        )
        c.done()
    bilateral = None
    b = e.table("bilateral", required=False)
    if b is not None:
        b_tag, b_refs = b.cite()
        bilateral = BilateralModifier(b.text("modifier"), b_tag, b_refs)
        b.done()
    counting_tag: BillingTag | None = None
    counting_refs: tuple[str, ...] = ()
    if "counting_tag" in e.data:
        counting_tag, counting_refs = e.cite("counting_source", "counting_tag")
    else:
        e.used.update({"counting_tag", "counting_source"})
    rule = ProcedureRule(
        indication=indication,
        counting=counting,
        codes=tuple(codes),
        bilateral=bilateral,
        counting_tag=counting_tag,
        counting_refs=counting_refs,
        confirm=e.optional_text("confirm") or "",
    )
    _check_procedure(e, rule, clinical)
    e.done()
    return rule


def _check_procedure(e: _Entry, rule: ProcedureRule, clinical: Catalog) -> None:
    cosmetic = clinical.indications[rule.indication].cosmetic
    if cosmetic != (rule.counting is Counting.COSMETIC):
        raise e.fail("counting", "cosmetic indications, and only they, are counted 'cosmetic'")
    coded = rule.counting not in (Counting.NONE, Counting.COSMETIC)
    if coded != bool(rule.codes):
        raise e.fail(
            "codes", f"'{rule.counting.value}' counting {'needs' if coded else 'takes no'} codes"
        )
    if rule.counting is Counting.EXTREMITY:
        for add_on in (False, True):
            group = [c for c in rule.codes if c.add_on is add_on]
            for muscles in range(1, 40):
                if sum(c.fits(muscles) for c in group) != 1:
                    kind = "add-on" if add_on else "primary"
                    raise e.fail("codes", f"no single {kind} code for {muscles} muscles")
    elif len(rule.codes) > 1 or any(c.add_on for c in rule.codes):
        raise e.fail("codes", f"'{rule.counting.value}' counting takes one code, not an add-on")
    if (rule.bilateral is not None) != (rule.counting is Counting.PER_SIDE):
        raise e.fail("bilateral", "a bilateral modifier goes with 'per-side' counting only")


def _icd(e: _Entry, clinical: Catalog) -> tuple[str, tuple[IcdSuggestion, ...]]:
    indication = e.text("indication")
    if indication not in clinical.indications:
        raise e.fail("indication", f"unknown indication code {indication!r}")
    suggestions = []
    for c in e.tables("codes", required=True):
        code = c.matching("code", ICD_PATTERN, "an ICD-10-CM code")
        if code is None:
            raise c.fail("code", "is required")
        tag, refs = c.cite()
        valid_from, valid_to = c.day("valid_from"), c.day("valid_to")
        if valid_from and valid_to and valid_to < valid_from:
            raise c.fail("valid_to", "is before valid_from")
        suggestions.append(IcdSuggestion(code, c.text("display"), tag, refs, valid_from, valid_to))
        c.done()
    codes = [s.code for s in suggestions]
    if len(codes) != len(set(codes)):
        raise e.fail("codes", "a code is listed twice")
    e.done()
    return indication, tuple(suggestions)


def _guidance(e: _Entry) -> GuidanceAddOn:
    guidance = e.choice("guidance", GUIDANCE_KINDS)
    code = e.matching("code", CPT_PATTERN, "a five-digit CPT code")
    tag, refs = e.cite()
    add_on = GuidanceAddOn(
        guidance=guidance,
        code=code,
        description=e.text("description"),
        units_per_day=e.whole("units_per_day", 1) or 1,
        included_in=e.texts("included_in"),
        tag=tag,
        refs=refs,
        confirm=e.optional_text("confirm") or "",
    )
    if code is None and not add_on.confirm:
        raise e.fail("confirm", "a guidance without a code says what the clinic confirms")
    e.done()
    return add_on


def _waste(e: _Entry) -> WasteRules:
    jw_from, jz_from = e.day("jw_from", True), e.day("jz_from", True)
    assert jw_from is not None
    assert jz_from is not None
    tag, refs = e.cite()
    rules = WasteRules(jw_from, jz_from, e.whole("jw_minimum_billing_units", 1) or 1, tag, refs)
    e.done()
    return rules


def parse_billing_catalog(text: str, clinical: Catalog) -> BillingCatalog:
    """Validate billing.toml's text against the clinical catalog's codes."""
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise BillingCatalogError(f"{BILLING_FILE}: not valid TOML: {error}") from None
    unexpected = sorted(
        set(doc) - {"version", "sources", "product", "procedure", "icd", "guidance", "waste"}
    )
    if unexpected:
        raise BillingCatalogError(f"{BILLING_FILE}: {unexpected[0]}: unknown top-level table")
    head = _Entry("billing", {"version": doc.get("version"), "sources": doc.get("sources")}, {})
    version = head.text("version")
    if not VERSION_PATTERN.match(version):
        raise head.fail("version", f"must look like YYYY.MM.N, not {version!r}")
    listed = head.table("sources")
    assert listed is not None
    sources: dict[str, BillingSource] = {}
    for key in listed.data:
        src = listed.table(key)
        assert src is not None
        sources[key] = BillingSource(key, src.text("title"), src.optional_text("url") or "")
        src.done()

    products: dict[str, BillingProduct] = {}
    for e in _array(doc, "product", "product", sources):
        product = _product(e, clinical)
        if product.product in products:
            raise e.fail("product", "defined twice")
        products[product.product] = product
    missing = sorted(set(clinical.products) - set(products))
    if missing:
        raise BillingCatalogError(f"{BILLING_FILE}: product {missing[0]!r}: missing")

    procedures: dict[str, ProcedureRule] = {}
    for e in _array(doc, "procedure", "indication", sources):
        rule = _procedure(e, clinical)
        if rule.indication in procedures:
            raise e.fail("indication", "defined twice")
        procedures[rule.indication] = rule
    missing = sorted(set(clinical.indications) - set(procedures))
    if missing:
        raise BillingCatalogError(f"{BILLING_FILE}: procedure {missing[0]!r}: missing")

    icd: dict[str, tuple[IcdSuggestion, ...]] = {}
    for e in _array(doc, "icd", "indication", sources):
        indication, suggestions = _icd(e, clinical)
        if indication in icd:
            raise e.fail("indication", "defined twice")
        icd[indication] = suggestions

    guidance: dict[str, GuidanceAddOn] = {}
    for e in _array(doc, "guidance", "guidance", sources):
        add_on = _guidance(e)
        if add_on.guidance in guidance:
            raise e.fail("guidance", "defined twice")
        guidance[add_on.guidance] = add_on

    waste_doc = doc.get("waste")
    if waste_doc is None:
        raise BillingCatalogError(f"{BILLING_FILE}: waste: is required")
    waste = _waste(_Entry("waste", waste_doc, sources))

    return BillingCatalog(
        version=version,
        products=products,
        procedures=procedures,
        icd=icd,
        guidance=guidance,
        waste=waste,
        sources=sources,
        site_regions={code: site.region for code, site in clinical.sites.items()},
    )


def billing_text() -> str:
    """The packaged billing.toml, read by the catalog's loader with the files it locks."""
    return packaged_texts()[BILLING_FILE]


@cache
def billing_catalog() -> BillingCatalog:
    """The packaged billing catalog, validated once per process."""
    return parse_billing_catalog(billing_text(), catalog())

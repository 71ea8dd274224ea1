"""Frozen objects the catalog's TOML files are validated into.

Each fact that carries a clinical number also carries a ``Citation``: where it comes from, how sure
we are of it (facts.md section A tags) and which bontrack policy readings (facts.md section B) it
rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Tag(StrEnum):
    """Confidence tags of facts.md section A."""

    LABEL = "L"
    SECONDARY = "S"
    RECALLED = "R"
    UNCERTAIN = "U"
    OFF_LABEL = "OFF"

    @property
    def may_block(self) -> bool:
        """B.24: [L], [S] and [R] facts may block; [U] and [OFF] never do."""
        return self in (Tag.LABEL, Tag.SECONDARY, Tag.RECALLED)


class Severity(StrEnum):
    BLOCK = "block"
    WARN = "warn"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"block": 0, "warn": 1, "info": 2}[self.value]


class Population(StrEnum):
    ADULT = "adult"
    CHILD = "child"
    ANY = "any"


class Measure(StrEnum):
    """What a limit adds up before comparing it with its figure."""

    POINT = "point"  # each injection point on its own
    MUSCLE = "muscle"  # one site code on one side (B.14, B.26)
    MUSCLE_BOTH_SIDES = "muscle-both-sides"  # one site code, both sides together (B.14)
    LIMB = "limb"  # one region (upper or lower limb) on one side
    REGION = "region"  # one region, both sides together
    PLAN = "plan"  # the planned session's own total
    VISIT = "visit"  # every dose of the product on the plan date (B.13)
    WINDOW = "window"  # every dose of the product in a rolling window of days (B.1, B.2)


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a fact comes from: source keys with sections, its tag, and the policies it rests on."""

    refs: tuple[str, ...]
    tag: Tag
    policies: tuple[str, ...] = ()

    @property
    def confirm(self) -> bool:
        """[R] facts are kept but still to be confirmed against the current label."""
        return self.tag is Tag.RECALLED

    def text(self) -> str:
        parts = "; ".join(self.refs) + f" [{self.tag.value}]"
        if self.tag is Tag.SECONDARY:
            parts += " (verify against current PI)"
        if self.confirm:
            parts += " (label text still to be confirmed)"
        if self.policies:
            parts += "; bontrack policy " + ", ".join(self.policies)
        return parts


@dataclass(frozen=True, slots=True)
class Point:
    """A site on one side with a place on a body-map view."""

    view: str
    x: Decimal
    y: Decimal


@dataclass(frozen=True, slots=True)
class Site:
    code: str
    name: str
    region: str
    sides: tuple[str, ...]
    default_route: str
    description: str
    points: dict[str, Point]
    snomed: str | None = None
    snomed_source: str | None = None


@dataclass(frozen=True, slots=True)
class Dilution:
    """A labelled (vial size, saline) combination and the concentration it gives."""

    vial_units: Decimal
    diluent_ml: Decimal
    cite: Citation


@dataclass(frozen=True, slots=True)
class Ingredient:
    code: str
    cite: Citation


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    name: str
    brands: tuple[str, ...]
    manufacturer: str
    serotype: str
    form: str  # "powder" (reconstituted) or "solution" (ready to use, may be diluted)
    vial_sizes: tuple[Decimal, ...]
    vial_cite: Citation
    in_use_hours: Decimal
    in_use_cite: Citation
    dilutions: tuple[Dilution, ...]
    ingredients: tuple[Ingredient, ...]
    # Every label but Myobloc's contraindicates hypersensitivity to any BoNT preparation (3.2).
    hypersensitivity_to_any_bont: bool
    hypersensitivity_cite: Citation
    infection_cite: Citation
    solution_units_per_ml: Decimal | None = None

    def contains(self, ingredient: str) -> Ingredient | None:
        return next((i for i in self.ingredients if i.code == ingredient), None)


@dataclass(frozen=True, slots=True)
class IcdCode:
    code: str
    display: str
    tag: Tag


@dataclass(frozen=True, slots=True)
class LabelUse:
    """A product's labelled use for an indication, with the labelled ages (min inclusive,
    max exclusive, in years)."""

    product: str
    min_age: int
    max_age: int | None
    cite: Citation


@dataclass(frozen=True, slots=True)
class PhotoView:
    """A standard view for clinical photographs of an indication (e.g. "at maximal frown"): the
    same view at two visits is what a comparison puts side by side."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Indication:
    code: str
    name: str
    route: str
    cosmetic: bool
    icd10: tuple[IcdCode, ...]
    sites: tuple[str, ...]
    scales: tuple[str, ...]
    labels: tuple[LabelUse, ...]
    photo_views: tuple[PhotoView, ...] = ()

    def label_for(self, product: str) -> LabelUse | None:
        return next((use for use in self.labels if use.product == product), None)


@dataclass(frozen=True, slots=True)
class ProtocolPoint:
    site: str
    side: str
    units: Decimal
    route: str
    units_max: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Protocol:
    id: str
    name: str
    product: str
    indications: tuple[str, ...]
    points: tuple[ProtocolPoint, ...]
    cite: Citation
    description: str = ""

    @property
    def total(self) -> Decimal:
        return sum((p.units for p in self.points), Decimal(0))


@dataclass(frozen=True, slots=True)
class Interval:
    """A retreatment interval for one product and indication (B.3, B.17): always a warning."""

    product: str  # "*" for every product
    indications: tuple[str, ...]  # empty: every indication except those excluded
    except_indications: tuple[str, ...]
    days: int
    words: str
    cite: Citation


@dataclass(frozen=True, slots=True)
class Limit:
    """A dose figure: the rule id it feeds, what it adds up, and what it allows."""

    id: str
    rule: str
    product: str
    measure: Measure
    population: Population
    severity: Severity
    description: str
    cite: Citation
    indications: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    window_days: int | None = None
    max_units: Decimal | None = None
    max_units_per_kg: Decimal | None = None
    max_ml: Decimal | None = None

    @property
    def weight_based(self) -> bool:
        return self.max_units_per_kg is not None


@dataclass(frozen=True, slots=True)
class MuscleDose:
    """A recommended dose range for one muscle (per side) under some indications.

    Above the range's top is a ``muscle-range`` warning (B.26, B.27); below it, nothing (B.16).
    Ranges per kg are children's guidance."""

    product: str
    indications: tuple[str, ...]
    population: Population
    site: str
    cite: Citation
    units_min: Decimal | None = None
    units_max: Decimal | None = None
    per_kg_min: Decimal | None = None
    per_kg_max: Decimal | None = None
    points: str = ""


@dataclass(frozen=True, slots=True)
class PatientFactor:
    """A condition, drug class or state the precaution and contraindication rules read."""

    code: str
    kind: str  # condition, drug, state, allergy
    name: str
    message: str
    cite: Citation


@dataclass(frozen=True, slots=True)
class Scale:
    code: str
    name: str
    kind: str  # "numeric" or "ordinal"
    minimum: Decimal | None
    maximum: Decimal | None
    step: Decimal | None
    levels: tuple[str, ...]
    cite: Citation


@dataclass(frozen=True, slots=True)
class Credential:
    code: str
    name: str
    can_prescribe: bool


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Citations for rule families whose source is not a dose figure."""

    rule: str
    topic: str
    cite: Citation


@dataclass(frozen=True, slots=True)
class AdverseEventTerm:
    code: str
    name: str
    indications: tuple[str, ...]
    cite: Citation
    # The products whose labels report it for those indications; empty: not tied to a product.
    products: tuple[str, ...] = ()

    def reported_for(self, indication: str, product: str) -> bool:
        """Whether a consent form for this indication and product lists it as a risk: a term of
        every treatment (no indications), or of this indication, and of this product (or of no
        product in particular)."""
        if self.indications and indication not in self.indications:
            return False
        return not self.products or product in self.products


@dataclass(frozen=True, slots=True)
class Catalog:
    version: str
    policies: dict[str, str]
    sources: dict[str, Source]
    products: dict[str, Product]
    indications: dict[str, Indication]
    protocols: dict[str, Protocol]
    sites: dict[str, Site]
    limits: tuple[Limit, ...]
    muscle_doses: tuple[MuscleDose, ...]
    intervals: tuple[Interval, ...]
    factors: dict[str, PatientFactor]
    scales: dict[str, Scale]
    credentials: dict[str, Credential]
    routes: tuple[str, ...]
    rule_sources: dict[str, RuleSource] = field(default_factory=dict)
    adverse_event_terms: dict[str, AdverseEventTerm] = field(default_factory=dict)

    def factor(self, kind: str, code: str) -> PatientFactor | None:
        return self.factors.get(f"{kind}:{code}")

    def codes_of(self, kind: str) -> tuple[str, ...]:
        return tuple(f.code for f in self.factors.values() if f.kind == kind)

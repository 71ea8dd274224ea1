"""Frozen objects the catalog's TOML files are validated into.

Each fact that carries a clinical number also carries a ``Citation``: where it comes from, how sure
we are of it (facts.md section A tags) and which bontrack policy readings (facts.md section B) it
rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from bontrack.domain.units import format_decimal


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

    refs: tuple[str, ...]  # empty only for a rule resting on bontrack policy alone
    tag: Tag
    policies: tuple[str, ...] = ()
    # The readings' numbers in facts.md section B ("B.17"), one per policy, as a finding cites them.
    policy_numbers: tuple[str, ...] = ()
    # B.36: the figure is bontrack's own reading (basis = "policy"), not the label's: the policy
    # is cited first and the references only for what they say.
    policy_first: bool = False

    @property
    def confirm(self) -> bool:
        """[R] facts are kept but still to be confirmed against the current label."""
        return self.tag is Tag.RECALLED

    def policy_text(self) -> str:
        """'bontrack policy B.17 interval-warns, B.3 interval-days'."""
        numbers = self.policy_numbers or ("",) * len(self.policies)
        named = [f"{n} {p}" if n else p for n, p in zip(numbers, self.policies, strict=True)]
        return "bontrack policy " + ", ".join(named)

    def text(self) -> str:
        if not self.refs:
            return self.policy_text()
        parts = "; ".join(self.refs) + f" [{self.tag.value}]"
        if self.tag is Tag.SECONDARY:
            parts += " (verify against current PI)"
        if self.confirm:
            parts += " (label text still to be confirmed)"
        if not self.policies:
            return parts
        if self.policy_first:
            return f"{self.policy_text()}; {parts}"
        return f"{parts}; {self.policy_text()}"


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
    # A combination no label lists, worked out from a labelled concentration (Daxxify 100 U +
    # 1.25 mL for 8 U per 0.1 mL): accepted, but never tagged [L] nor called the label's (B.36).
    computed: bool = False


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


class ResponseRule(StrEnum):
    """How a follow-up result is judged (DESIGN 3.8); the numbers each rule reads are data."""

    NICE_TA260 = "nice-ta260"  # headache days: the fall after N cycles, and the episodic test
    FALL_POINTS = "fall-points"  # the value fell by at least N points
    FALL_PCT = "fall-pct"  # the value fell by at least N % of the baseline
    FALL_GRADES = "fall-grades"  # at least N grades better (ordinal or graded scales)
    AT_MOST = "at-most"  # the follow-up value is N or less
    AT_LEAST = "at-least"  # the follow-up value is N or more, or the level or a better one
    NO_DEFINITION = "no-definition"  # the facts give no responder definition


# The thresholds each rule reads: (required, optional). NICE TA260's second group is the episodic
# test's: required on a scale of headache days, refused on one of migraine days. Whole-number
# thresholds are listed in WHOLE_THRESHOLDS, percentages in PERCENT_THRESHOLDS.
RESPONSE_THRESHOLDS: dict[ResponseRule, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ResponseRule.NICE_TA260: (
        ("cycles", "min_fall_pct", "responder_fall_pct", "episodic_below", "episodic_months"),
        ("episodic_days", "episodic_gap_days"),
    ),
    ResponseRule.FALL_POINTS: (("min_fall",), ()),
    ResponseRule.FALL_PCT: (("min_fall_pct",), ("substantial_fall_pct",)),
    ResponseRule.FALL_GRADES: (("min_grades",), ()),
    ResponseRule.AT_MOST: (("at_most",), ()),
    ResponseRule.AT_LEAST: (("at_least",), ()),
    ResponseRule.NO_DEFINITION: ((), ()),
}
WHOLE_THRESHOLDS = frozenset(
    {"cycles", "episodic_months", "episodic_days", "episodic_gap_days", "min_grades"}
)
PERCENT_THRESHOLDS = frozenset({"min_fall_pct", "responder_fall_pct", "substantial_fall_pct"})
# The verdict words of codes.md a rule gives: (when the definition is met, when it is not).
VERDICT_PAIRS = (
    ("meaningful", "not-meaningful"),
    ("responder", "non-responder"),
    ("goals-met", "goals-not-met"),
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """One figure of a response rule: a number, or on an ordinal scale a level's name.

    ``note`` says plainly what is missing when facts.md has no entry for the figure."""

    value: Decimal | str
    cite: Citation
    note: str = ""

    @property
    def text(self) -> str:
        """As a reason quotes it: 30, 0.7, improved."""
        return self.value if isinstance(self.value, str) else format_decimal(self.value)


@dataclass(frozen=True, slots=True)
class Response:
    """How a scale's follow-up is judged: the rule, its thresholds and the words of its reasons.

    ``says`` states the definition with the thresholds as ``{name}`` placeholders (``quote`` fills
    them in); ``unmet_says`` replaces it when the definition is not met, ``substantial_says``
    states a second, higher tier. A response with ``indications`` applies to those only."""

    rule: ResponseRule
    thresholds: dict[str, Threshold]
    verdicts: tuple[str, str] = ("", "")
    indications: tuple[str, ...] = ()
    says: str = ""
    unmet_says: str = ""
    substantial_says: str = ""
    zero_baseline: str = ""  # fall-pct: how the reason states a baseline of 0
    shows: str = "change"  # "change" (baseline to follow-up) or "follow-up" (its value alone)
    counts: str = ""  # nice-ta260: "headache-days" or "migraine-days"
    window: str = ""  # nice-ta260: what one count covers, "28-days" or "calendar-month"
    why: str = ""  # no-definition: why the facts give none
    cite: Citation | None = None  # no-definition: where that is said

    def number(self, name: str) -> Decimal:
        value = self.thresholds[name].value
        if not isinstance(value, Decimal):
            raise TypeError(f"threshold {name} is the level {value!r}, not a number")
        return value

    def whole(self, name: str) -> int:
        return int(self.number(name))

    def has(self, name: str) -> bool:
        return name in self.thresholds

    def quote(self, template: str) -> str:
        """The template with each ``{threshold}`` as the data gives it: 30, 0.7, improved."""
        return template.format_map({name: t.text for name, t in self.thresholds.items()})

    def applies_to(self, indication: str | None) -> bool:
        return not self.indications or indication in self.indications


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
    responses: tuple[Response, ...] = ()
    short_name: str = ""  # how a verdict's reason names the scale; its name when empty
    unit: str = ""  # the words after a value in a reason ("mg per 5 min")
    graded: bool = False  # a numeric scale whose steps are grades (HDSS, Facial Wrinkle Scale)
    per_muscle_group: bool = False  # results are recorded per muscle group (Modified Ashworth)

    @property
    def label(self) -> str:
        return self.short_name or self.name

    def response_for(self, indication: str | None) -> Response | None:
        """The rule for this indication: the one naming it, else the one for every indication;
        None when the scale's rules all name other indications."""
        named = [r for r in self.responses if r.indications and indication in r.indications]
        general = [r for r in self.responses if not r.indications]
        found = named or general
        return found[0] if found else None


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

    def response_for(self, scale: str, indication: str | None = None) -> Response | None:
        """How a follow-up on ``scale`` is judged for ``indication`` (None: no definition)."""
        found = self.scales.get(scale)
        return None if found is None else found.response_for(indication)

    def scales_judged_by(self, rule: ResponseRule) -> tuple[str, ...]:
        """The scales with a response of this rule, in catalog order."""
        return tuple(
            code for code, s in self.scales.items() if any(r.rule is rule for r in s.responses)
        )

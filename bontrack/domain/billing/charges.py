"""Derive the charge set of one visit: the claim lines its signed record supports, and why not.

Sources are billing.md sections 2-5 and the readings of its section 7:

- 7.1 charge capture never blocks: a set that cannot be claimed still lists the lines it can
  build, and ``refusals`` say why it cannot be claimed.
- 7.3 a cosmetic indication is ``invoice_only`` with no lines; a product with no HCPCS code, or a
  lot whose NDC is a cosmetic package, is refused on a medical claim.
- 7.4 per product: ``admin = ceil(Σ units given ÷ units per billing unit)``; ``jw = Σ billing
  units of the vials opened − admin``; a JW line when ``jw`` reaches the catalog's minimum (one),
  else JZ on the drug line (only for dates of service from the JZ date; before it, no modifier).
  A dose under one billing unit is one unit with JZ, no JW line, and a claim item to confirm.
- 7.6 when the vials opened hold more than the smallest combination of the product's vial sizes
  that supplies the dose, a claim item names that combination; the JW units stay what was
  really discarded.
- 5.5 every line points at the visit's diagnosis as "A"; no diagnosis, or a code the catalog
  knows to be invalid on the date of service (G35 from 2025-10-01), is a refusal.
- 4 and 6: an indication with no CPT code found (bruxism, TMD) is a refusal ("no-cpt-code"), not an
  item to confirm: there is nothing to confirm, only a code the clinic must fill in; the drug lines
  are still listed.
- NDC: the drug line carries the lots' NDC (5-4-2 with hyphens; ``ndc_for_claim`` gives the
  N4-qualified claim form). Whether the JW line repeats it is open (billing.md 6), so the JW line
  carries it too and the set lists the catalog item "ndc-on-waste-line": a clinic whose payer wants
  the NDC only on the drug line says so once, and its export leaves it off.

Items to confirm are of two kinds (billing.md 7.8). Catalog items (``CATALOG_ITEM_CODES``) depend
only on catalog entries, so their code and message are the same on every claim of one catalog
version and a clinic confirms each once; claim items are confirmed per claim.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from bontrack.domain.billing.catalog import (
    LIMB_REGIONS,
    BillingCatalog,
    BillingProduct,
    Counting,
    ProcedureRule,
)
from bontrack.domain.planning import vial_combinations, vials_needed
from bontrack.domain.units import Units, format_decimal, total

LineKind = Literal["procedure", "drug", "waste"]
LINE_KINDS: tuple[LineKind, ...] = ("procedure", "drug", "waste")
JW = "JW"
JZ = "JZ"
DIAGNOSIS_POINTER = "A"

# Items a clinic confirms once in its billing settings (billing.md 7.8); every other to-confirm
# item is confirmed claim by claim.
CATALOG_ITEM_CODES = frozenset(
    {
        "hcpcs-to-confirm",
        "procedure-to-confirm",
        "bilateral-modifier",
        "guidance-to-confirm",
        "diagnosis-to-confirm",
        "ndc-on-waste-line",
    }
)
# "rendering-provider" (billing.md 7.9) is added where the session's injector is known, outside
# the derivation.
CLAIM_ITEM_CODES = frozenset(
    {"under-one-billing-unit", "smallest-vial", "ndc-to-confirm", "rendering-provider"}
)
REFUSAL_CODES = frozenset(
    {
        "cosmetic-indication",
        "no-hcpcs",
        "cosmetic-ndc",
        "no-cpt-code",
        "no-procedure-line",
        "no-diagnosis",
        "diagnosis-not-valid",
        "no-dose",
        "no-vials",
        "vials-short",
    }
)


@dataclass(frozen=True)
class VisitPoint:
    site: str
    side: str
    units: Units


@dataclass(frozen=True)
class VisitVial:
    """One vial opened for the visit: its size and what of it was discarded (size minus all
    draws), in the session product's units, and its lot's NDC (5-4-2 with hyphens) or None."""

    size: Units
    discarded: Units
    ndc: str | None
    ndc_cosmetic: bool


@dataclass(frozen=True)
class Visit:
    product: str
    indication: str
    date_of_service: date
    points: tuple[VisitPoint, ...]
    vials: tuple[VisitVial, ...]
    guidance: str
    diagnosis: str | None
    place_of_service: str = "11"


@dataclass(frozen=True)
class ChargeLine:
    kind: LineKind
    code: str
    modifiers: tuple[str, ...]
    billing_units: int
    ndc: str | None
    diagnosis_pointer: str | None
    description: str
    tag: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class ClaimItem:
    code: str
    message: str


@dataclass(frozen=True)
class ChargeSet:
    claimable: bool
    invoice_only: bool
    lines: tuple[ChargeLine, ...]
    to_confirm: tuple[ClaimItem, ...]
    refusals: tuple[ClaimItem, ...]
    administered_billing_units: int
    discarded_billing_units: int
    catalog_version: str


@dataclass
class _Items:
    """Items to confirm and refusals, each listed once in the order first met."""

    to_confirm: list[ClaimItem] = field(default_factory=list)
    refusals: list[ClaimItem] = field(default_factory=list)

    def confirm(self, code: str, message: str) -> None:
        item = ClaimItem(code, message)
        if item not in self.to_confirm:
            self.to_confirm.append(item)

    def refuse(self, code: str, message: str) -> None:
        item = ClaimItem(code, message)
        if item not in self.refusals:
            self.refusals.append(item)


def _cited(tag: str, refs: Iterable[str]) -> str:
    keys = ", ".join(refs)
    return f"[{tag} {keys}]" if keys else f"[{tag}]"


def derive_charges(visit: Visit, catalog: BillingCatalog) -> ChargeSet:
    """The charge set of one visit (see the module docstring for its rules)."""
    items = _Items()
    rule = catalog.procedure(visit.indication)
    if rule is not None and rule.counting is Counting.COSMETIC:
        items.refuse(
            "cosmetic-indication",
            f"{visit.indication} is cosmetic: it is invoiced, never claimed",
        )
        return ChargeSet(
            claimable=False,
            invoice_only=True,
            lines=(),
            to_confirm=(),
            refusals=tuple(items.refusals),
            administered_billing_units=0,
            discarded_billing_units=0,
            catalog_version=catalog.version,
        )
    pointer = _diagnosis(visit, catalog, items)
    procedures = _procedure_lines(visit, rule, catalog, pointer, items)
    guidance = _guidance_lines(visit, catalog, procedures, pointer, items)
    drugs, administered, discarded = _drug_lines(visit, catalog, pointer, items)
    return ChargeSet(
        claimable=not items.refusals,
        invoice_only=False,
        lines=(*procedures, *guidance, *drugs),
        to_confirm=tuple(items.to_confirm),
        refusals=tuple(items.refusals),
        administered_billing_units=administered,
        discarded_billing_units=discarded,
        catalog_version=catalog.version,
    )


def _diagnosis(visit: Visit, catalog: BillingCatalog, items: _Items) -> str | None:
    code = (visit.diagnosis or "").strip()
    if not code:
        items.refuse(
            "no-diagnosis",
            f"no ICD-10-CM diagnosis is chosen for {visit.indication}: choose the patient's code",
        )
        return None
    known = catalog.icd_code(code)
    if known is not None and not known.valid_on(visit.date_of_service):
        window = []
        if known.valid_from is not None:
            window.append(f"from {known.valid_from.isoformat()}")
        if known.valid_to is not None:
            window.append(f"to {known.valid_to.isoformat()}")
        items.refuse(
            "diagnosis-not-valid",
            f"{code} is not valid on {visit.date_of_service.isoformat()} (valid "
            f"{' '.join(window)}): choose a current code",
        )
    if known is not None and known.tag.to_confirm:
        items.confirm(
            "diagnosis-to-confirm",
            f"{code} as a diagnosis rests on {_cited(known.tag, known.refs)}: confirm it",
        )
    return DIAGNOSIS_POINTER


def _procedure_lines(
    visit: Visit,
    rule: ProcedureRule | None,
    catalog: BillingCatalog,
    pointer: str | None,
    items: _Items,
) -> list[ChargeLine]:
    if rule is None or rule.counting is Counting.NONE:
        items.refuse(
            "no-cpt-code",
            f"no CPT code found for {visit.indication}: the clinic fills it",
        )
        return []
    if rule.counting is Counting.EXTREMITY:
        return _extremity_lines(visit, rule, catalog, pointer, items)
    code = rule.codes[0]
    modifiers: tuple[str, ...] = ()
    if rule.counting is Counting.PER_SIDE and rule.bilateral is not None:
        sides = {p.side for p in visit.points}
        if {"left", "right"} <= sides:
            bilateral = rule.bilateral
            modifiers = (bilateral.modifier,)
            items.confirm(
                "bilateral-modifier",
                f"modifier {bilateral.modifier} on {code.code} for both sides rests on "
                f"{_cited(bilateral.tag, bilateral.refs)}; the bilateral indicator was not found: "
                "confirm the payer's convention (50, or RT and LT lines)",
            )
    if rule.needs_confirming:
        items.confirm("procedure-to-confirm", _procedure_confirm_text(rule))
    line = ChargeLine(
        kind="procedure",
        code=code.code,
        modifiers=modifiers,
        billing_units=1,
        ndc=None,
        diagnosis_pointer=pointer,
        description=code.description,
        tag=code.tag.value,
        refs=code.refs,
    )
    return [line]


def _procedure_confirm_text(rule: ProcedureRule) -> str:
    codes = ", ".join(c.code for c in rule.codes)
    if rule.confirm:
        return f"{codes} for {rule.indication}: {rule.confirm}"
    if rule.counting_tag is None:
        return f"how {codes} is counted for {rule.indication} was not found: confirm"
    return (
        f"{codes} counted '{rule.counting.value}' for {rule.indication} rests on "
        f"{_cited(rule.counting_tag, rule.counting_refs)}: confirm"
    )


def _extremity_lines(
    visit: Visit,
    rule: ProcedureRule,
    catalog: BillingCatalog,
    pointer: str | None,
    items: _Items,
) -> list[ChargeLine]:
    """billing.md 4: one extremity is one limb on one side; its muscles are its distinct sites.
    The primary code goes on the extremity with the most muscles, each further one an add-on."""
    muscles: dict[tuple[str, str], set[str]] = {}
    for point in visit.points:
        region = catalog.site_regions.get(point.site)
        if region in LIMB_REGIONS and point.side in ("left", "right"):
            muscles.setdefault((region, point.side), set()).add(point.site)
    if not muscles:
        items.refuse(
            "no-procedure-line",
            f"no limb muscle is recorded for {visit.indication}: the extremity codes cannot be "
            "counted",
        )
        return []
    counts = sorted((len(sites) for sites in muscles.values()), reverse=True)
    if len(counts) > 1 and rule.confirm:
        items.confirm("procedure-to-confirm", _procedure_confirm_text(rule))
    lines: list[ChargeLine] = []
    for index, count in enumerate(counts):
        add_on = index > 0
        code = next(c for c in rule.codes if c.add_on is add_on and c.fits(count))
        same = next((i for i, line in enumerate(lines) if line.code == code.code), None)
        if same is not None:
            line = lines[same]
            lines[same] = ChargeLine(
                kind=line.kind,
                code=line.code,
                modifiers=line.modifiers,
                billing_units=line.billing_units + 1,
                ndc=line.ndc,
                diagnosis_pointer=line.diagnosis_pointer,
                description=line.description,
                tag=line.tag,
                refs=line.refs,
            )
            continue
        lines.append(
            ChargeLine(
                kind="procedure",
                code=code.code,
                modifiers=(),
                billing_units=1,
                ndc=None,
                diagnosis_pointer=pointer,
                description=code.description,
                tag=code.tag.value,
                refs=code.refs,
            )
        )
    return lines


def _guidance_lines(
    visit: Visit,
    catalog: BillingCatalog,
    procedures: list[ChargeLine],
    pointer: str | None,
    items: _Items,
) -> list[ChargeLine]:
    """billing.md 4: +95873 and +95874 at most once per day of chemodenervation; ultrasound has
    no code found; 64617 already includes needle EMG."""
    if visit.guidance in ("", "none") or not procedures:
        return []
    add_on = catalog.guidance.get(visit.guidance)
    if add_on is None:
        items.confirm(
            "guidance-to-confirm",
            f"no code for {visit.guidance} guidance is in the billing catalog: the clinic fills it",
        )
        return []
    if add_on.code is None:
        items.confirm("guidance-to-confirm", f"{visit.guidance} guidance: {add_on.confirm}")
        return []
    if any(line.code in add_on.included_in for line in procedures):
        return []
    if add_on.confirm:
        items.confirm("guidance-to-confirm", f"+{add_on.code}: {add_on.confirm}")
    line = ChargeLine(
        kind="procedure",
        code=add_on.code,
        modifiers=(),
        billing_units=add_on.units_per_day,
        ndc=None,
        diagnosis_pointer=pointer,
        description=add_on.description,
        tag=add_on.tag.value,
        refs=add_on.refs,
    )
    return [line]


def _drug_lines(
    visit: Visit, catalog: BillingCatalog, pointer: str | None, items: _Items
) -> tuple[list[ChargeLine], int, int]:
    product = catalog.product(visit.product)
    dose = total(visit.product, (p.units for p in visit.points))
    opened = total(visit.product, (v.size for v in visit.vials))
    # Discards are documentation (billing.md 3.8); adding them checks they are this product's.
    total(visit.product, (v.discarded for v in visit.vials))
    if product is None or product.hcpcs is None:
        items.refuse(
            "no-hcpcs",
            f"no HCPCS code found for {visit.product}: it cannot be claimed",
        )
        return [], 0, 0
    if product.confirm:
        items.confirm("hcpcs-to-confirm", f"{product.hcpcs}: {product.confirm}")
    if product.tag.to_confirm:
        items.confirm(
            "hcpcs-to-confirm",
            f"{product.hcpcs} for {product.product} rests on {_cited(product.tag, product.refs)}: "
            "confirm",
        )
    if dose.amount <= 0:
        items.refuse("no-dose", "no units are recorded as given: there is no drug line")
        return [], 0, 0
    ndc = _line_ndc(visit, product, items)
    per_unit = product.units_per_billing_unit
    administered = math.ceil(dose.amount / per_unit)
    vial_billing_units = opened.amount / per_unit
    under_one = dose.amount < per_unit
    if under_one:
        items.confirm(
            "under-one-billing-unit",
            f"{dose.text} U is under one billing unit of {product.hcpcs} "
            f"({format_decimal(per_unit)} U): billed as 1 unit with JZ and no JW line; confirm "
            "with the payer",
        )
    waste = 0
    if not visit.vials:
        items.refuse(
            "no-vials",
            "no vial is recorded for the visit: the discarded units (JW or JZ) cannot be derived",
        )
    elif vial_billing_units < administered:
        items.refuse(
            "vials-short",
            f"{dose.text} U given is more than the vials opened hold ({opened.text} U)",
        )
    else:
        _smallest_vial(dose, opened, product, items)
        if not under_one:
            waste = math.floor(vial_billing_units - administered)
    rules = catalog.waste
    on = visit.date_of_service
    waste_line = waste >= rules.jw_minimum_billing_units and on >= rules.jw_from
    zero_waste = bool(visit.vials) and vial_billing_units >= administered and not waste_line
    modifiers = (JZ,) if zero_waste and on >= rules.jz_from else ()
    name = f"{product.brand} ({product.product})"
    per_unit_text = format_decimal(per_unit)
    lines = [
        ChargeLine(
            kind="drug",
            code=product.hcpcs,
            modifiers=modifiers,
            billing_units=administered,
            ndc=ndc,
            diagnosis_pointer=pointer,
            description=f"{name} given: {dose.text} U, {per_unit_text} U per billing unit",
            tag=product.tag.value,
            refs=product.refs,
        )
    ]
    if not waste_line:
        return lines, administered, 0
    if ndc is not None:
        items.confirm(
            "ndc-on-waste-line",
            "whether the JW line repeats the drug line's NDC was not found: the JW line carries "
            "it; confirm the payer's convention",
        )
    lines.append(
        ChargeLine(
            kind="waste",
            code=product.hcpcs,
            modifiers=(JW,),
            billing_units=waste,
            ndc=ndc,
            diagnosis_pointer=pointer,
            description=f"{name} discarded from single-dose vials opened for the visit",
            tag=rules.tag.value,
            refs=rules.refs,
        )
    )
    return lines, administered, waste


def _line_ndc(visit: Visit, product: BillingProduct, items: _Items) -> str | None:
    """The lots' NDC for the drug line: one NDC when the vials share it; otherwise none, with a
    claim item saying what the clinic chooses."""
    found: list[str] = []
    for vial in visit.vials:
        entry = product.ndc_entry(vial.ndc) if vial.ndc else None
        if vial.ndc_cosmetic or (entry is not None and entry.cosmetic):
            items.refuse(
                "cosmetic-ndc",
                f"a vial's lot has the cosmetic NDC {vial.ndc or '(not recorded)'}: a cosmetic "
                "package is never billed on a medical claim",
            )
        if vial.ndc is None:
            items.confirm("ndc-to-confirm", "a vial's lot has no NDC recorded: the clinic fills it")
            continue
        if entry is None:
            items.confirm(
                "ndc-to-confirm",
                f"the lot's NDC {vial.ndc} is not in the billing catalog for {product.product}: "
                "confirm it",
            )
        if vial.ndc not in found:
            found.append(vial.ndc)
    if len(found) > 1:
        items.confirm(
            "ndc-to-confirm",
            f"vials of {len(found)} NDCs were opened ({', '.join(found)}): the clinic chooses "
            "the drug line's NDC",
        )
        return None
    return found[0] if found else None


def _smallest_vial(dose: Units, opened: Units, product: BillingProduct, items: _Items) -> None:
    sizes = [Units(dose.product, s) for s in product.medical_vial_sizes]
    if not sizes:
        return
    stock = {size: vials_needed(dose, size) for size in sizes}
    combinations = vial_combinations(dose, stock)
    if not combinations:
        return
    best = combinations[0]
    smallest = dose.amount + best.leftover.amount
    if opened.amount <= smallest:
        return
    named = " and ".join(f"{n} × {size.text} U" for size, n in best.vials)
    items.confirm(
        "smallest-vial",
        f"the vials opened hold {opened.text} U; {named} ({format_decimal(smallest)} U) would "
        f"supply {dose.text} U: the JW units are what was really discarded, confirm the reason",
    )


NDC_FORMS = (
    (re.compile(r"^(\d{4})-(\d{4})-(\d{2})$"), ("0{}", "{}", "{}")),
    (re.compile(r"^(\d{5})-(\d{3})-(\d{2})$"), ("{}", "0{}", "{}")),
    (re.compile(r"^(\d{5})-(\d{4})-(\d{1})$"), ("{}", "{}", "0{}")),
    (re.compile(r"^(\d{5})-(\d{4})-(\d{2})$"), ("{}", "{}", "{}")),
    (re.compile(r"^(\d{5})(\d{4})(\d{2})$"), ("{}", "{}", "{}")),
)


def normalize_ndc(text: str) -> str | None:
    """An NDC in 11-digit 5-4-2 form with hyphens, the short segment padded with a leading zero
    (billing.md 5.2: 15054-0530-6 → 15054-0530-06); None when the text is no NDC form."""
    cleaned = text.strip()
    for pattern, forms in NDC_FORMS:
        found = pattern.match(cleaned)
        if found:
            return "-".join(f.format(g) for f, g in zip(forms, found.groups(), strict=True))
    return None


def ndc_for_claim(ndc: str) -> str:
    """The claim form of an NDC (billing.md 5.1): qualifier N4 then 11 digits, no hyphens."""
    return "N4" + ndc.replace("-", "")


def charge_set_json(charges: ChargeSet) -> dict[str, Any]:
    """The charge set as stable JSON for storage (``charge_set_from_json`` reads it back)."""
    return {
        "claimable": charges.claimable,
        "invoice_only": charges.invoice_only,
        "lines": [
            {
                "kind": line.kind,
                "code": line.code,
                "modifiers": list(line.modifiers),
                "billing_units": line.billing_units,
                "ndc": line.ndc,
                "diagnosis_pointer": line.diagnosis_pointer,
                "description": line.description,
                "tag": line.tag,
                "refs": list(line.refs),
            }
            for line in charges.lines
        ],
        "to_confirm": [{"code": i.code, "message": i.message} for i in charges.to_confirm],
        "refusals": [{"code": i.code, "message": i.message} for i in charges.refusals],
        "administered_billing_units": charges.administered_billing_units,
        "discarded_billing_units": charges.discarded_billing_units,
        "catalog_version": charges.catalog_version,
    }


def _items(data: Any) -> tuple[ClaimItem, ...]:
    return tuple(ClaimItem(str(i["code"]), str(i["message"])) for i in data)


def charge_set_from_json(data: Mapping[str, Any]) -> ChargeSet:
    """Read a stored charge set; a malformed one raises ValueError."""
    try:
        lines = []
        for d in data["lines"]:
            kind = d["kind"]
            if kind not in LINE_KINDS:
                raise ValueError(f"unknown charge line kind {kind!r}")
            lines.append(
                ChargeLine(
                    kind=kind,
                    code=str(d["code"]),
                    modifiers=tuple(str(m) for m in d["modifiers"]),
                    billing_units=int(d["billing_units"]),
                    ndc=None if d["ndc"] is None else str(d["ndc"]),
                    diagnosis_pointer=(
                        None if d["diagnosis_pointer"] is None else str(d["diagnosis_pointer"])
                    ),
                    description=str(d["description"]),
                    tag=str(d["tag"]),
                    refs=tuple(str(r) for r in d["refs"]),
                )
            )
        return ChargeSet(
            claimable=bool(data["claimable"]),
            invoice_only=bool(data["invoice_only"]),
            lines=tuple(lines),
            to_confirm=_items(data["to_confirm"]),
            refusals=_items(data["refusals"]),
            administered_billing_units=int(data["administered_billing_units"]),
            discarded_billing_units=int(data["discarded_billing_units"]),
            catalog_version=str(data["catalog_version"]),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a stored charge set: {error}") from None

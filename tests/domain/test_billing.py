"""Golden charge sets (issue 19), each figure derived here from billing.md's rules, not the code's.

billing.md section 1 gives each product's HCPCS code and product units per billing unit; section 2
rounds the administered units up (``admin = ceil(dose ÷ units per billing unit)``) and bills the
rest of the vials opened as JW (``jw = vials' billing units − admin``) when it reaches one unit;
section 3 puts JZ on the drug line otherwise, from 2023-07-01.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bontrack.domain.billing import (
    BillingCatalogError,
    ChargeLine,
    Visit,
    VisitPoint,
    VisitVial,
    billing_catalog,
    charge_set_from_json,
    charge_set_json,
    derive_charges,
    ndc_for_claim,
    normalize_ndc,
    parse_billing_catalog,
)
from bontrack.domain.billing.catalog import billing_text
from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.load import content_hash, packaged_texts
from bontrack.domain.planning import expand_protocol
from bontrack.domain.units import Units

ONA, ABO, INCO, RIMA, PRA = (
    "onabotulinumtoxinA",
    "abobotulinumtoxinA",
    "incobotulinumtoxinA",
    "rimabotulinumtoxinB",
    "prabotulinumtoxinA",
)
# billing.md section 1: HCPCS code and product units per billing unit.
HCPCS = {ONA: "J0585", ABO: "J0586", RIMA: "J0587", INCO: "J0588"}
PER_BILLING_UNIT = {ONA: Decimal(1), ABO: Decimal(5), RIMA: Decimal(100), INCO: Decimal(1)}
# billing.md section 1: NDCs in 5-4-2 form.
BOTOX_100, BOTOX_200 = "00023-1145-01", "00023-3921-02"
DYSPORT_300, DYSPORT_500 = "15054-0530-06", "15054-0500-01"
BOTOX_COSMETIC = "00023-9232-01"
JZ_FROM = date(2023, 7, 1)  # billing.md 3.2
SERVICE = date(2026, 11, 25)


def admin_units(product: str, dose: Decimal) -> int:
    """billing.md 2.3."""
    return math.ceil(dose / PER_BILLING_UNIT[product])


def jw_units(product: str, dose: Decimal, vial_sizes: list[Decimal]) -> int:
    """billing.md 2.4 and 7.4."""
    return int(sum(vial_sizes) / PER_BILLING_UNIT[product]) - admin_units(product, dose)


def u(product: str, amount: str | int | Decimal) -> Units:
    return Units(product, Decimal(amount))


def vial(product: str, size: int, given: Decimal, ndc: str | None, cosmetic: bool = False):
    return VisitVial(u(product, size), u(product, Decimal(size) - given), ndc, cosmetic)


def visit(
    product: str,
    indication: str,
    points: list[tuple[str, str, str | int]],
    vials: list[VisitVial],
    *,
    diagnosis: str | None = "G43.709",
    guidance: str = "none",
    on: date = SERVICE,
) -> Visit:
    return Visit(
        product=product,
        indication=indication,
        date_of_service=on,
        points=tuple(VisitPoint(site, side, u(product, units)) for site, side, units in points),
        vials=tuple(vials),
        guidance=guidance,
        diagnosis=diagnosis,
    )


def lines_of(charges, kind: str) -> list[ChargeLine]:
    return [line for line in charges.lines if line.kind == kind]


def codes(charges) -> list[tuple[str, tuple[str, ...], int]]:
    return [(line.code, line.modifiers, line.billing_units) for line in charges.lines]


def item_codes(items) -> list[str]:
    return [item.code for item in items]


def preempt_155() -> Visit:
    injections = expand_protocol(catalog().protocols["preempt-155"], ONA)
    dose = sum(i.units.amount for i in injections)
    assert dose == 155
    return Visit(
        product=ONA,
        indication="chronic-migraine",
        date_of_service=SERVICE,
        points=tuple(VisitPoint(i.site, i.side, i.units) for i in injections),
        vials=(vial(ONA, 200, dose, BOTOX_200),),
        guidance="none",
        diagnosis="G43.709",
    )


def test_preempt_155_units_from_a_200_unit_vial_bills_155_and_45_discarded():
    charges = derive_charges(preempt_155(), billing_catalog())
    dose = Decimal(155)
    assert codes(charges) == [
        ("64615", (), 1),  # billing.md 4: once per session whatever the number of sites
        (HCPCS[ONA], (), admin_units(ONA, dose)),
        (HCPCS[ONA], ("JW",), jw_units(ONA, dose, [Decimal(200)])),
    ]
    assert admin_units(ONA, dose) == 155
    assert jw_units(ONA, dose, [Decimal(200)]) == 45
    assert charges.claimable
    assert not charges.invoice_only
    assert charges.refusals == ()
    assert (charges.administered_billing_units, charges.discarded_billing_units) == (155, 45)
    # billing.md 5.5: one pointer letter per line, to the visit's diagnosis.
    assert {line.diagnosis_pointer for line in charges.lines} == {"A"}
    drug, waste = lines_of(charges, "drug")[0], lines_of(charges, "waste")[0]
    assert drug.ndc == BOTOX_200
    # billing.md 6 leaves open whether the JW line repeats the NDC: it does, as a catalog item.
    assert waste.ndc == BOTOX_200
    assert "ndc-on-waste-line" in item_codes(charges.to_confirm)
    assert charges.catalog_version == billing_catalog().version


def test_axillary_100_units_from_a_100_unit_vial_takes_jz_and_no_waste_line():
    charges = derive_charges(
        visit(
            ONA,
            "axillary-hyperhidrosis",
            [("axilla", "left", 50), ("axilla", "right", 50)],
            [vial(ONA, 100, Decimal(100), BOTOX_100)],
            diagnosis="L74.510",
        ),
        billing_catalog(),
    )
    assert jw_units(ONA, Decimal(100), [Decimal(100)]) == 0
    assert codes(charges) == [("64650", (), 1), (HCPCS[ONA], ("JZ",), 100)]
    assert charges.discarded_billing_units == 0
    assert charges.claimable


def test_dysport_500_units_bills_100_billing_units():
    dose = Decimal(500)
    charges = derive_charges(
        visit(
            ABO,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 250), ("splenius-capitis", "right", 250)],
            [vial(ABO, 500, dose, DYSPORT_500)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert admin_units(ABO, dose) == 100  # 500 ÷ 5
    drug = lines_of(charges, "drug")[0]
    assert (drug.code, drug.billing_units, drug.modifiers) == (HCPCS[ABO], 100, ("JZ",))
    assert lines_of(charges, "waste") == []


def test_myobloc_5000_units_bills_50_billing_units_and_asks_for_the_missing_ndc():
    dose = Decimal(5000)
    charges = derive_charges(
        visit(
            RIMA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 2500), ("splenius-capitis", "left", 2500)],
            # billing.md 6: the 5,000 U vial's NDC was not found, so the lot has none.
            [vial(RIMA, 5000, dose, None)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert admin_units(RIMA, dose) == 50  # 5,000 ÷ 100
    drug = lines_of(charges, "drug")[0]
    assert (drug.code, drug.billing_units, drug.modifiers, drug.ndc) == (
        HCPCS[RIMA],
        50,
        ("JZ",),
        None,
    )
    assert "ndc-to-confirm" in item_codes(charges.to_confirm)


def test_dysport_252_units_from_a_300_unit_vial_rounds_up_and_bills_the_rest_as_jw():
    dose = Decimal(252)
    charges = derive_charges(
        visit(
            ABO,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 126), ("splenius-capitis", "left", 126)],
            [vial(ABO, 300, dose, DYSPORT_300)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    # 252 ÷ 5 = 50.4, not a whole billing unit: rounded up (billing.md 2.2).
    assert dose / PER_BILLING_UNIT[ABO] == Decimal("50.4")
    assert admin_units(ABO, dose) == 51
    assert jw_units(ABO, dose, [Decimal(300)]) == 9  # 60 − 51
    assert codes(charges)[1:] == [(HCPCS[ABO], (), 51), (HCPCS[ABO], ("JW",), 9)]


def test_a_dose_that_rounds_up_to_the_whole_vial_leaves_no_jw_line():
    dose = Decimal(2450)
    charges = derive_charges(
        visit(
            RIMA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 2450)],
            [vial(RIMA, 2500, dose, "10454-0710-10")],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert admin_units(RIMA, dose) == 25  # 24.5 rounded up
    assert jw_units(RIMA, dose, [Decimal(2500)]) == 0
    assert codes(charges)[1:] == [(HCPCS[RIMA], ("JZ",), 25)]


def test_waste_below_one_billing_unit_is_no_jw_line_but_jz():
    dose = Decimal("99.5")
    charges = derive_charges(
        visit(
            ONA,
            "blepharospasm",
            [("orbicularis-oculi", "left", "49.75"), ("orbicularis-oculi", "right", "49.75")],
            [vial(ONA, 100, dose, BOTOX_100)],
            diagnosis="G24.5",
        ),
        billing_catalog(),
    )
    # 0.5 U discarded is under one billing unit (billing.md 3.7): no JW line, JZ instead.
    assert admin_units(ONA, dose) == 100
    assert jw_units(ONA, dose, [Decimal(100)]) == 0
    assert lines_of(charges, "waste") == []
    assert lines_of(charges, "drug")[0].modifiers == ("JZ",)


def test_a_dose_under_one_billing_unit_is_one_unit_with_jz_and_a_claim_item():
    dose = Decimal(3)
    charges = derive_charges(
        visit(
            ABO,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 3)],
            [vial(ABO, 300, dose, DYSPORT_300)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert admin_units(ABO, dose) == 1  # 0.6 rounded up
    # billing.md 2.6 and 7.4: one unit with JZ and no JW line, even though 59 units were left.
    assert codes(charges)[1:] == [(HCPCS[ABO], ("JZ",), 1)]
    assert "under-one-billing-unit" in item_codes(charges.to_confirm)
    assert charges.claimable


def test_a_cosmetic_session_is_invoiced_never_claimed():
    charges = derive_charges(
        visit(
            ONA,
            "glabellar-lines",
            [("procerus", "midline", 4), ("corrugator", "left", 8), ("corrugator", "right", 8)],
            [vial(ONA, 100, Decimal(20), BOTOX_COSMETIC, cosmetic=True)],
            diagnosis=None,
        ),
        billing_catalog(),
    )
    assert charges.invoice_only
    assert not charges.claimable
    assert charges.lines == ()
    assert item_codes(charges.refusals) == ["cosmetic-indication"]


def upper_limb(muscles: list[tuple[str, str]]) -> Visit:
    return visit(
        INCO,
        "upper-limb-spasticity",
        [(site, side, 20) for site, side in muscles],
        [vial(INCO, 200, Decimal(20 * len(muscles)), "00259-1620-01")],
        diagnosis="G81.11",
    )


RIGHT_ARM = [
    ("biceps-brachii", "right"),
    ("brachialis", "right"),
    ("brachioradialis", "right"),
    ("flexor-carpi-radialis", "right"),
    ("flexor-carpi-ulnaris", "right"),
]


def test_two_extremities_with_five_and_two_muscles_bill_64644_and_add_on_64643():
    # The right arm has 5 distinct muscles (two points in one muscle count once); the left 2.
    muscles = [
        *RIGHT_ARM,
        ("biceps-brachii", "right"),
        ("biceps-brachii", "left"),
        ("brachialis", "left"),
    ]
    charges = derive_charges(upper_limb(muscles), billing_catalog())
    assert [(c, n) for c, _, n in codes(charges) if c.startswith("646")] == [
        ("64644", 1),  # one extremity, 5 or more muscles
        ("64643", 1),  # each further extremity, 1 to 4 muscles
    ]
    # billing.md 4: the primary on the extremity with most muscles rests on a weak source only.
    assert "procedure-to-confirm" in item_codes(charges.to_confirm)


def test_further_extremities_of_one_kind_share_one_add_on_line():
    muscles = [
        ("biceps-brachii", "right"),
        ("biceps-brachii", "left"),
        ("soleus", "left"),
        ("gastrocnemius-medial", "left"),
    ]
    charges = derive_charges(upper_limb(muscles), billing_catalog())
    # Three extremities (right arm 1, left arm 1, left leg 2): 64642 then 64643 twice.
    assert [(c, n) for c, _, n in codes(charges) if c.startswith("646")] == [
        ("64642", 1),
        ("64643", 2),
    ]


def test_one_extremity_needs_no_primary_choice():
    charges = derive_charges(upper_limb(RIGHT_ARM[:3]), billing_catalog())
    assert codes(charges)[0] == ("64642", (), 1)
    assert "procedure-to-confirm" not in item_codes(charges.to_confirm)


def test_a_product_without_an_hcpcs_code_is_refused_on_a_medical_claim():
    charges = derive_charges(
        visit(
            PRA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 50)],
            [vial(PRA, 100, Decimal(50), "72301-0595-10")],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert not charges.claimable
    assert "no-hcpcs" in item_codes(charges.refusals)
    assert lines_of(charges, "drug") == []
    assert lines_of(charges, "waste") == []


@pytest.mark.parametrize(
    ("on", "modifiers"),
    [(date(2023, 6, 30), ()), (JZ_FROM, ("JZ",))],
)
def test_jz_starts_on_its_date(on, modifiers):
    charges = derive_charges(
        visit(
            ONA,
            "axillary-hyperhidrosis",
            [("axilla", "left", 50), ("axilla", "right", 50)],
            [vial(ONA, 100, Decimal(100), BOTOX_100)],
            diagnosis="L74.510",
            on=on,
        ),
        billing_catalog(),
    )
    assert lines_of(charges, "drug")[0].modifiers == modifiers


def test_a_cosmetic_ndc_on_a_medical_claim_is_refused():
    charges = derive_charges(
        visit(
            ONA,
            "chronic-migraine",
            [("procerus", "midline", 5)],
            [vial(ONA, 100, Decimal(5), BOTOX_COSMETIC)],
        ),
        billing_catalog(),
    )
    assert "cosmetic-ndc" in item_codes(charges.refusals)
    assert not charges.claimable


def test_no_diagnosis_is_refused_and_no_line_points_anywhere():
    charges = derive_charges(
        visit(
            ONA,
            "chronic-migraine",
            [("procerus", "midline", 5)],
            [vial(ONA, 100, Decimal(5), BOTOX_100)],
            diagnosis=None,
        ),
        billing_catalog(),
    )
    assert item_codes(charges.refusals) == ["no-diagnosis"]
    assert {line.diagnosis_pointer for line in charges.lines} == {None}


@pytest.mark.parametrize(
    ("on", "valid"),
    [(date(2025, 9, 30), True), (date(2025, 10, 1), False)],
)
def test_g35_is_not_a_valid_diagnosis_from_2025_10_01(on, valid):
    charges = derive_charges(
        replace(upper_limb(RIGHT_ARM[:2]), diagnosis="G35", date_of_service=on),
        billing_catalog(),
    )
    assert ("diagnosis-not-valid" not in item_codes(charges.refusals)) is valid


def test_icd_suggestions_follow_the_date_of_service():
    cat = billing_catalog()
    before = {s.code for s in cat.icd_suggestions("chronic-migraine", date(2023, 9, 30))}
    after = {s.code for s in cat.icd_suggestions("chronic-migraine", date(2023, 10, 1))}
    assert "G43.E01" not in before
    assert "G43.E01" in after
    spasticity = {s.code for s in cat.icd_suggestions("upper-limb-spasticity", date(2025, 10, 1))}
    assert "G35" not in spasticity
    assert "G35.A" in spasticity


def test_both_sides_of_a_per_side_code_take_modifier_50_to_confirm():
    both = derive_charges(
        visit(
            ONA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 50), ("sternocleidomastoid", "right", 50)],
            [vial(ONA, 100, Decimal(100), BOTOX_100)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    one = derive_charges(
        visit(
            ONA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 50)],
            [vial(ONA, 100, Decimal(50), BOTOX_100)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert codes(both)[0] == ("64616", ("50",), 1)
    assert "bilateral-modifier" in item_codes(both.to_confirm)
    assert codes(one)[0] == ("64616", (), 1)
    assert "bilateral-modifier" not in item_codes(one.to_confirm)


def test_guidance_add_ons():
    def with_guidance(indication: str, guidance: str, diagnosis: str):
        return derive_charges(
            visit(
                ONA,
                indication,
                [("sternocleidomastoid", "left", 10)],
                [vial(ONA, 100, Decimal(10), BOTOX_100)],
                guidance=guidance,
                diagnosis=diagnosis,
            ),
            billing_catalog(),
        )

    emg = with_guidance("cervical-dystonia", "emg", "G24.3")
    assert ("95874", (), 1) in codes(emg)
    stim = with_guidance("cervical-dystonia", "electrical-stimulation", "G24.3")
    assert ("95873", (), 1) in codes(stim)
    # 64617 already includes needle EMG guidance (billing.md 4).
    larynx = with_guidance("spasmodic-dysphonia", "emg", "J38.5")
    assert [c for c, _, _ in codes(larynx)] == ["64617", "J0585", "J0585"]
    assert "diagnosis-to-confirm" in item_codes(larynx.to_confirm)  # J38.5 is [U]
    # No ultrasound guidance code was found: no line, an item to confirm.
    ultrasound = with_guidance("cervical-dystonia", "ultrasound", "G24.3")
    assert [c for c, _, _ in codes(ultrasound) if c.startswith(("9", "7"))] == []
    assert "guidance-to-confirm" in item_codes(ultrasound.to_confirm)


@pytest.mark.parametrize("indication", ["bruxism", "temporomandibular-disorder"])
def test_no_cpt_code_found_is_left_for_the_clinic(indication):
    charges = derive_charges(
        visit(
            ONA,
            indication,
            [("masseter", "left", 25), ("masseter", "right", 25)],
            [vial(ONA, 100, Decimal(50), BOTOX_100)],
            diagnosis="G47.63",
        ),
        billing_catalog(),
    )
    assert [(i.code, i.message) for i in charges.refusals] == [
        ("no-cpt-code", f"no CPT code found for {indication}: the clinic fills it")
    ]
    assert lines_of(charges, "procedure") == []
    assert [line.code for line in lines_of(charges, "drug")] == ["J0585"]


def test_palmar_hyperhidrosis_goes_to_the_unlisted_code_to_confirm():
    charges = derive_charges(
        visit(
            ONA,
            "palmar-hyperhidrosis",
            [("palm", "left", 50)],
            [vial(ONA, 100, Decimal(50), BOTOX_100)],
            diagnosis="L74.512",
        ),
        billing_catalog(),
    )
    assert codes(charges)[0] == ("64999", (), 1)
    assert "procedure-to-confirm" in item_codes(charges.to_confirm)


def test_a_larger_vial_than_needed_is_flagged_but_jw_is_what_was_discarded():
    dose = Decimal(80)
    charges = derive_charges(
        visit(
            ONA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 80)],
            [vial(ONA, 200, dose, BOTOX_200)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert lines_of(charges, "waste")[0].billing_units == jw_units(ONA, dose, [Decimal(200)])
    flagged = [i for i in charges.to_confirm if i.code == "smallest-vial"]
    assert len(flagged) == 1
    assert "1 × 100 U" in flagged[0].message
    # The smallest vial holding the dose raises nothing.
    smallest = derive_charges(
        visit(
            ONA,
            "cervical-dystonia",
            [("sternocleidomastoid", "left", 80)],
            [vial(ONA, 100, dose, BOTOX_100)],
            diagnosis="G24.3",
        ),
        billing_catalog(),
    )
    assert "smallest-vial" not in item_codes(smallest.to_confirm)


def test_no_vial_recorded_is_refused_without_a_modifier():
    charges = derive_charges(
        visit(ONA, "chronic-migraine", [("procerus", "midline", 5)], []),
        billing_catalog(),
    )
    assert "no-vials" in item_codes(charges.refusals)
    assert lines_of(charges, "drug")[0].modifiers == ()


def test_the_json_form_round_trips_exactly():
    charges = derive_charges(preempt_155(), billing_catalog())
    stored = charge_set_json(charges)
    assert charge_set_from_json(stored) == charges
    assert stored["lines"][2] == {
        "kind": "waste",
        "code": "J0585",
        "modifiers": ["JW"],
        "billing_units": 45,
        "ndc": BOTOX_200,
        "diagnosis_pointer": "A",
        "description": stored["lines"][2]["description"],
        "tag": "L",
        "refs": stored["lines"][2]["refs"],
    }
    with pytest.raises(ValueError, match="not a stored charge set"):
        charge_set_from_json({"lines": []})


def test_ndc_forms():
    # billing.md 5.2: pad the short segment; Dysport's zero goes in the 10th position.
    assert normalize_ndc("15054-0530-6") == DYSPORT_300
    assert normalize_ndc("10454-710-10") == "10454-0710-10"
    assert normalize_ndc("0023-9232-01") == "00023-9232-01"
    assert normalize_ndc("00023392102") == BOTOX_200
    assert normalize_ndc("not an ndc") is None
    # billing.md 5 illustrative layout: N4 then the 11 digits without hyphens.
    assert ndc_for_claim(BOTOX_200) == "N400023392102"


def test_the_catalog_matches_billing_md_section_1():
    cat = billing_catalog()
    for product, code in HCPCS.items():
        entry = cat.product(product)
        assert entry is not None
        assert (entry.hcpcs, entry.units_per_billing_unit) == (code, PER_BILLING_UNIT[product])
    assert set(cat.products) == set(catalog().products)
    for product in (PRA, "letibotulinumtoxinA"):
        entry = cat.product(product)
        assert entry is not None
        assert entry.hcpcs is None
        assert entry.cosmetic_only
    botox = cat.product(ONA)
    assert botox is not None
    cosmetic = [e for e in botox.ndcs if e.cosmetic]
    assert {e.ndc for e in cosmetic} == {"00023-9232-01", "00023-9232-02"}
    assert {e.vial_units for e in cosmetic} == {None}  # which size each is: not found
    assert botox.medical_vial_sizes == (Decimal(100), Decimal(200))
    myobloc = cat.product(RIMA)
    assert myobloc is not None
    assert [(e.vial_units, e.ndc) for e in myobloc.ndcs] == [
        (Decimal(2500), "10454-0710-10"),
        (Decimal(5000), None),
        (Decimal(10000), None),
    ]
    assert myobloc.ndcs_for(Decimal(2500))[0].ndc == "10454-0710-10"
    assert (cat.waste.jw_from, cat.waste.jz_from) == (date(2017, 1, 1), JZ_FROM)


def test_every_entry_cites_a_listed_source():
    cat = billing_catalog()
    cited = [p.refs for p in cat.products.values()]
    cited += [e.refs for p in cat.products.values() for e in p.ndcs]
    cited += [c.refs for r in cat.procedures.values() for c in r.codes]
    cited += [s.refs for group in cat.icd.values() for s in group]
    cited += [g.refs for g in cat.guidance.values()] + [cat.waste.refs]
    for refs in cited:
        assert refs
        assert set(refs) <= set(cat.sources)


def test_the_catalog_lock_covers_billing_toml():
    texts = packaged_texts()
    changed = dict(texts, **{"billing.toml": texts["billing.toml"].replace("J0585", "J0599", 1)})
    assert content_hash(changed) != content_hash(texts)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('hcpcs = "J0585"', 'hcpcs = "585"', "product 'onabotulinumtoxinA': hcpcs: '585' is not"),
        (
            'ndc = "00023-1145-01"',
            'ndc = "0023-1145-01"',
            "product 'onabotulinumtoxinA': vials[0]: ndc: '0023-1145-01' is not",
        ),
        (
            'product = "rimabotulinumtoxinB"',
            'product = "myobloc"',
            "product 'myobloc': product: unknown product code 'myobloc'",
        ),
        (
            'indication = "bruxism"\ncounting = "none"',
            'indication = "bruxism"\ncounting = "none"\nfavourite = true',
            "procedure 'bruxism': favourite: unknown field",
        ),
        (
            'source = "TRANSCURE"',
            'source = "NOWHERE"',
            "procedure 'chronic-migraine': counting_source: unknown source key 'NOWHERE'",
        ),
        (
            'indication = "glabellar-lines"\ncounting = "cosmetic"',
            'indication = "glabellar-lines"\ncounting = "once"',
            "procedure 'glabellar-lines': counting: cosmetic indications",
        ),
        ("jz_from = 2023-07-01", 'jz_from = "July"', "waste: jz_from: must be a date"),
    ],
)
def test_an_invalid_billing_file_names_the_entry_and_the_field(old, new, expected):
    text = billing_text()
    assert old in text
    with pytest.raises(BillingCatalogError) as error:
        parse_billing_catalog(text.replace(old, new, 1), catalog())
    assert str(error.value).startswith("billing.toml: ")
    assert expected in str(error.value)

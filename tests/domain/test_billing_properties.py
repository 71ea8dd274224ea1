"""Invariants of every charge set, on random visits (issue 19; billing.md 2.5, 3.5, 7.4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.billing import (
    Visit,
    VisitPoint,
    VisitVial,
    billing_catalog,
    charge_set_from_json,
    charge_set_json,
    derive_charges,
)
from bontrack.domain.catalog import catalog
from bontrack.domain.units import IncompatibleUnitsError, Units

CATALOG = billing_catalog()
BILLABLE = sorted(code for code, p in CATALOG.products.items() if p.hcpcs is not None)
MEDICAL = sorted(code for code, i in catalog().indications.items() if not i.cosmetic)
SITES = sorted(catalog().sites)
SIDES = ("left", "right", "midline")
GUIDANCE = ("none", "emg", "electrical-stimulation", "ultrasound", "")


@st.composite
def visits(draw, products=BILLABLE, indications=MEDICAL) -> Visit:
    product = draw(st.sampled_from(products))
    sizes = catalog().products[product].vial_sizes
    vial_sizes = draw(st.lists(st.sampled_from(sizes), min_size=1, max_size=3))
    # Tenths of a unit, never more in all than the vials hold (one vial, one patient: 7.2).
    room = int(sum(vial_sizes) * 10)
    count = draw(st.integers(min_value=1, max_value=6))
    tenths = draw(
        st.lists(
            st.integers(min_value=1, max_value=max(1, room // count)),
            min_size=count,
            max_size=count,
        )
    )
    points = tuple(
        VisitPoint(
            draw(st.sampled_from(SITES)),
            draw(st.sampled_from(SIDES)),
            Units(product, Decimal(t) / 10),
        )
        for t in tenths
    )
    given_total = sum((p.units.amount for p in points), Decimal(0))
    vials = []
    left = given_total
    for size in vial_sizes:
        drawn = min(Decimal(size), left)
        left -= drawn
        ndc_entries = CATALOG.products[product].ndcs_for(Decimal(size))
        vials.append(
            VisitVial(
                size=Units(product, Decimal(size)),
                discarded=Units(product, Decimal(size) - drawn),
                ndc=ndc_entries[0].ndc if ndc_entries else None,
                ndc_cosmetic=False,
            )
        )
    return Visit(
        product=product,
        indication=draw(st.sampled_from(indications)),
        date_of_service=draw(st.dates(min_value=date(2016, 1, 1), max_value=date(2027, 12, 31))),
        points=points,
        vials=tuple(vials),
        guidance=draw(st.sampled_from(GUIDANCE)),
        diagnosis=draw(st.sampled_from([None, "G43.709", "G24.3", "G35", "R49.0"])),
    )


def vial_billing_units(visit: Visit) -> Decimal:
    per_unit = CATALOG.products[visit.product].units_per_billing_unit
    return sum((v.size.amount for v in visit.vials), Decimal(0)) / per_unit


@given(visits())
def test_billed_units_never_exceed_the_vials_and_never_mix_products(visit):
    charges = derive_charges(visit, CATALOG)
    hcpcs = CATALOG.products[visit.product].hcpcs
    drug_lines = [line for line in charges.lines if line.kind in ("drug", "waste")]
    billed = sum(line.billing_units for line in drug_lines)
    assert billed <= vial_billing_units(visit)
    assert billed == charges.administered_billing_units + charges.discarded_billing_units
    # Every drug and waste line carries the visit product's own code (billing.md 1).
    assert {line.code for line in drug_lines} <= {hcpcs}
    assert [line.kind for line in drug_lines] in (["drug"], ["drug", "waste"])


@given(visits())
def test_jw_and_jz_never_share_a_line_and_jz_only_without_a_jw_line(visit):
    charges = derive_charges(visit, CATALOG)
    for line in charges.lines:
        assert not {"JW", "JZ"} <= set(line.modifiers)
        assert line.billing_units >= 1
    modifiers = {m for line in charges.lines for m in line.modifiers}
    if "JW" in modifiers:
        assert "JZ" not in modifiers
        assert charges.discarded_billing_units >= CATALOG.waste.jw_minimum_billing_units
    if visit.date_of_service < CATALOG.waste.jz_from:
        assert "JZ" not in modifiers


@given(visits())
def test_every_line_points_at_the_diagnosis_when_there_is_one(visit):
    charges = derive_charges(visit, CATALOG)
    pointers = {line.diagnosis_pointer for line in charges.lines}
    assert pointers <= ({"A"} if visit.diagnosis else {None})
    assert charges.claimable == (not charges.refusals and not charges.invoice_only)


@given(visits(indications=sorted(i for i, x in catalog().indications.items() if x.cosmetic)))
def test_cosmetic_indications_never_produce_a_claim_line(visit):
    charges = derive_charges(visit, CATALOG)
    assert charges.invoice_only
    assert not charges.claimable
    assert charges.lines == ()


@given(visits(products=sorted(CATALOG.products), indications=[*MEDICAL, "glabellar-lines"]))
def test_the_json_form_round_trips(visit):
    charges = derive_charges(visit, CATALOG)
    assert charge_set_from_json(charge_set_json(charges)) == charges


def test_a_vial_of_another_product_cannot_enter_a_visit():
    ona, abo = "onabotulinumtoxinA", "abobotulinumtoxinA"
    visit = Visit(
        product=ona,
        indication="chronic-migraine",
        date_of_service=date(2026, 11, 25),
        points=(VisitPoint("procerus", "midline", Units(ona, Decimal(5))),),
        vials=(VisitVial(Units(abo, Decimal(300)), Units(abo, Decimal(295)), None, False),),
        guidance="none",
        diagnosis="G43.709",
    )
    with pytest.raises(IncompatibleUnitsError):
        derive_charges(visit, CATALOG)

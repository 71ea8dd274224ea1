"""What the patient brings: contraindications and precautions (facts 3.2–3.5; B.7, B.8, B.28,
codes.md "Patient factors")."""

import pytest

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.model import Severity
from bontrack.domain.treatment import InfectedSite
from tests.domain.factories import (
    ABO,
    PRODUCTS,
    RIMA,
    check,
    glabellar_plan,
    of_rule,
    only,
    patient,
    plan,
    point,
    sites_of,
)

CONDITIONS = (
    "myasthenia-gravis",
    "lambert-eaton-syndrome",
    "amyotrophic-lateral-sclerosis",
    "motor-neuropathy",
    "dysphagia",
    "respiratory-compromise",
)
DRUGS = (
    "aminoglycosides",
    "neuromuscular-blockers",
    "magnesium-sulfate",
    "anticholinergics",
    "muscle-relaxants",
)


def left_neck():
    """Cervical dystonia, left sternocleidomastoid and left splenius capitis only."""
    return plan(
        indication="cervical-dystonia",
        injections=[
            point("sternocleidomastoid", "left", 40),
            point("splenius-capitis", "left", 40),
        ],
    )


def contraindications(result):
    return of_rule(result, "contraindication")


# --- B.8: infection per site and side -------------------------------------------------------


def test_infection_at_a_planned_site_and_side_blocks():
    """B.8 per-site-infection, facts 3.2 (infection at the proposed injection site): a
    contraindication block, never overridable (B.7), naming the site."""
    result = check(left_neck(), patient(infected_sites=[("sternocleidomastoid", "left")]))
    finding = only(result, "contraindication")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert sites_of(finding) == {("sternocleidomastoid", "left")}
    assert "sternocleidomastoid left" in finding.message
    assert result.verdict == "block"


def test_infection_on_the_other_side_gives_nothing():
    """B.8: an infection elsewhere produces nothing (right side, not planned)."""
    result = check(left_neck(), patient(infected_sites=[("sternocleidomastoid", "right")]))
    assert result.findings == ()


def test_infection_at_another_site_gives_nothing():
    """B.8: an infection at an unplanned site produces nothing."""
    result = check(left_neck(), patient(infected_sites=["axilla", ("trapezius", "left")]))
    assert result.findings == ()


def test_a_site_without_a_side_covers_every_side():
    """codes.md: an infected site given as a site code alone means that site, every side."""
    result = check(left_neck(), patient(infected_sites=[InfectedSite("sternocleidomastoid")]))
    finding = only(result, "contraindication")
    assert finding.severity is Severity.BLOCK
    assert sites_of(finding) == {("sternocleidomastoid", "left")}


def test_one_infection_finding_names_every_infected_planned_site():
    """DESIGN 3.2: one finding per cause, naming every site it concerns."""
    result = check(plan(), patient(infected_sites=["temporalis", ("corrugator", "right")]))
    finding = only(result, "contraindication")
    assert sites_of(finding) == {
        ("temporalis", "left"),
        ("temporalis", "right"),
        ("corrugator", "right"),
    }


# --- hypersensitivity (facts 3.2, codes.md) -------------------------------------------------


@pytest.mark.parametrize("planned", [p for p in PRODUCTS if p != RIMA])
@pytest.mark.parametrize("allergy", PRODUCTS)
def test_allergy_to_any_product_blocks_every_product_but_myobloc(planned, allergy):
    """Facts 3.2, codes.md: every label but Myobloc's contraindicates hypersensitivity to any
    botulinum toxin preparation: a contraindication block, not overridable."""
    result = check(glabellar_plan(planned), patient(allergies=[allergy]))
    finding = only(result, "contraindication")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert allergy in finding.message


@pytest.mark.parametrize("allergy", [p for p in PRODUCTS if p != RIMA])
def test_allergy_to_another_product_does_not_block_myobloc(allergy):
    """Codes.md, facts 3.2: Myobloc's label names hypersensitivity to itself only."""
    result = check(glabellar_plan(RIMA), patient(allergies=[allergy]))
    assert contraindications(result) == []


def test_allergy_to_myobloc_blocks_myobloc():
    """Codes.md: an allergy to rimabotulinumtoxinB blocks rimabotulinumtoxinB."""
    finding = only(check(glabellar_plan(RIMA), patient(allergies=[RIMA])), "contraindication")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False


def test_human_albumin_allergy_blocks_myobloc():
    """Codes.md, facts 3.3 (albumin listed for Myobloc [S]): human-albumin blocks it."""
    result = check(glabellar_plan(RIMA), patient(allergies=["human-albumin"]))
    finding = only(result, "contraindication")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False


@pytest.mark.parametrize("planned", PRODUCTS)
def test_cow_milk_protein_allergy_blocks_dysport_only(planned):
    """Facts 3.2 (Dysport: allergy to cow's milk protein): a block for Dysport, nothing for any
    other product."""
    result = check(glabellar_plan(planned), patient(allergies=["cow-milk-protein"]))
    found = contraindications(result)
    if planned == ABO:
        assert len(found) == 1
        assert found[0].severity is Severity.BLOCK
        assert found[0].overridable is False
    else:
        assert found == []


def test_human_albumin_allergy_gives_nothing_for_daxxify():
    """Facts 3.3: Daxxify lists no human albumin."""
    result = check(glabellar_plan("daxibotulinumtoxinA"), patient(allergies=["human-albumin"]))
    assert contraindications(result) == []


# --- B.28: precautions ------------------------------------------------------------------------


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_listed_condition_gives_one_precaution_warning(condition):
    """B.28 precautions, facts 3.3: a listed condition warns once, naming it and its source."""
    result = check(plan(), patient(conditions=[condition]))
    finding = only(result, "precaution")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert catalog().factor("condition", condition).name in finding.message
    assert finding.source
    assert result.verdict == "warn"


@pytest.mark.parametrize("drug", DRUGS)
def test_each_drug_class_gives_one_precaution_warning(drug):
    """B.28, facts 3.4: every drug class in codes.md warns once."""
    finding = only(check(plan(), patient(medications=[drug])), "precaution")
    assert finding.severity is Severity.WARN
    assert catalog().factor("drug", drug).name in finding.message


def test_pregnancy_gives_one_precaution_warning():
    """B.28, facts 3.5: pregnancy warns."""
    finding = only(check(plan(), patient(pregnant=True)), "precaution")
    assert finding.severity is Severity.WARN
    assert "Pregnancy" in finding.message


def test_breastfeeding_gives_one_precaution_warning():
    """B.28, facts 3.5: breastfeeding warns."""
    finding = only(check(plan(), patient(breastfeeding=True)), "precaution")
    assert finding.severity is Severity.WARN
    assert "Breastfeeding" in finding.message


def test_every_cause_gives_its_own_warning_and_nothing_blocks():
    """B.28: one precaution warning per cause: 6 conditions + 5 drug classes + pregnancy +
    breastfeeding = 13 warnings, for every indication (here a cosmetic one)."""
    someone = patient(conditions=CONDITIONS, medications=DRUGS, pregnant=True, breastfeeding=True)
    result = check(glabellar_plan("prabotulinumtoxinA"), someone)
    found = of_rule(result, "precaution")
    assert len(found) == 13
    assert len({f.message for f in found}) == 13
    assert result.verdict == "warn"


def test_a_cause_listed_twice_warns_once():
    """B.28: one warning per cause."""
    result = check(plan(), patient(conditions=["dysphagia", "dysphagia"]))
    assert len(of_rule(result, "precaution")) == 1

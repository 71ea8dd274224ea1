"""Off-label: indication, age, protocol, site and dose outside the label (facts 1.4, 2.2, 2.4;
B.6, B.11, B.16, B.19)."""

import pytest

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    ABO,
    INCO,
    LETI,
    ONA,
    PRABO,
    check,
    child,
    glabellar_plan,
    of_rule,
    only,
    patient,
    plan,
    point,
    points,
    sites_of,
)


def test_preempt_195_is_an_off_label_dose_warning_not_a_block():
    """B.11 follow-the-pain, facts 2.2: 195 U is a trial protocol: an off-label warning about
    the dose, within the 400 U limit; nothing blocks."""
    result = check(plan(protocol="preempt-195"), patient())
    finding = only(result, "off-label")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "195 U" in finding.message
    assert "155 U" in finding.message
    assert "dose" in finding.message
    assert result.verdict == "warn"
    assert [f.rule for f in result.findings] == ["off-label"]


def test_preempt_155_is_on_label():
    """Facts 2.2: PREEMPT 155 U for an adult with chronic migraine: nothing to say."""
    result = check(plan(), patient())
    assert result.findings == ()
    assert result.verdict == "ok"


def test_botox_for_bruxism_is_off_label_indication():
    """Facts 1.4 ("none of the labels covers bruxism"), B.6: an off-label indication warns."""
    result = check(plan(indication="bruxism", protocol="masseter-bruxism"), patient())
    finding = only(result, "off-label")
    assert finding.severity is Severity.WARN
    assert "bruxism" in finding.message
    assert "not labelled" in finding.message
    assert result.verdict == "warn"


def test_dysport_glabellar_at_68_is_off_label_age():
    """B.19 age-indication, facts 1.4 (Dysport glabellar: adults < 65): a 68-year-old gets an
    off-label warning naming the labelled ages."""
    result = check(glabellar_plan(ABO), patient(age_years=68))
    finding = only(result, "off-label")
    assert finding.severity is Severity.WARN
    assert "68" in finding.message
    assert "18 to 64 years" in finding.message


def test_dysport_glabellar_at_64_is_on_label():
    """Facts 1.4: 64 is under 65."""
    assert of_rule(check(glabellar_plan(ABO), patient(age_years=64)), "off-label") == []


def test_a_child_under_an_adult_code_is_off_label_age():
    """B.19: a 15-year-old under chronic-migraine (adults) is off-label for age; the per-kg
    rules still apply (B.9, B.15), so a weight is given."""
    result = check(plan(), child(age_years=15, weight=55))
    finding = only(result, "off-label")
    assert "15" in finding.message
    assert "18 years and older" in finding.message


def test_an_adult_under_a_pediatric_code_is_off_label_age():
    """B.19: an adult under a `pediatric-*` code is off-label for age (labelled 2 to 17)."""
    arm = plan(
        indication="pediatric-upper-limb-spasticity",
        injections=points("biceps-brachii", "left", 30, 2),
    )
    finding = only(check(arm, patient(age_years=30)), "off-label")
    assert "30" in finding.message
    assert "2 to 17 years" in finding.message


def test_a_one_year_old_for_pediatric_spasticity_is_off_label_age():
    """B.19: "a one-year-old for pediatric spasticity" is off-label (labelled from 2)."""
    leg = plan(
        indication="pediatric-lower-limb-spasticity",
        injections=[point("gastrocnemius-medial", "left", 10)],
    )
    finding = only(check(leg, child(age_years=1, weight=10)), "off-label")
    assert "2 to 17 years" in finding.message


def test_a_site_outside_the_indication_is_off_label_naming_it():
    """B.19: a site outside the indication's labelled muscles warns, naming the site."""
    migraine = plan(injections=[*plan().injections[:-1], point("masseter", "left", 5)])
    result = check(migraine, patient())
    finding = only(result, "off-label")  # 155 U in all: no dose finding
    assert finding.severity is Severity.WARN
    assert "masseter" in finding.message
    assert sites_of(finding) == {("masseter", "left")}


def test_a_protocol_under_an_indication_it_does_not_list_is_off_label_naming_both():
    """codes.md, B.19: masseter-bruxism used for chronic-migraine is an off-label warning naming
    the protocol and the indication (and masseter is not a migraine site)."""
    result = check(plan(indication="chronic-migraine", protocol="masseter-bruxism"), patient())
    found = of_rule(result, "off-label")
    (protocol,) = [f for f in found if "masseter-bruxism" in f.message]
    assert "chronic-migraine" in protocol.message
    assert protocol.severity is Severity.WARN
    assert any("masseter" in f.message and f.sites for f in found)
    assert result.verdict == "warn"


def test_axilla_above_50_units_per_axilla_is_an_off_label_dose():
    """B.16 dose-words, facts 2.4 (50 U per axilla, intradermal): 55 U in the left axilla is an
    off-label dose warning for that axilla; 50 U in the right is not."""
    axillae = plan(
        indication="axillary-hyperhidrosis",
        injections=[*points("axilla", "left", 5, 11), *points("axilla", "right", 5, 10)],
    )
    result = check(axillae, patient())
    finding = only(result, "off-label")
    assert finding.severity is Severity.WARN
    assert "55 U" in finding.message
    assert sites_of(finding) == {("axilla", "left")}


def test_the_axillary_protocol_is_on_label():
    """Facts 2.4: 50 U per axilla intradermally is the labelled dose."""
    result = check(plan(indication="axillary-hyperhidrosis", protocol="axillary-hyperhidrosis-100"))
    assert result.findings == ()


def test_an_intramuscular_axilla_is_an_off_label_route():
    """DESIGN 3.2 (off-label route), facts 2.4: axillary hyperhidrosis is intradermal."""
    axillae = plan(
        indication="axillary-hyperhidrosis",
        injections=[point("axilla", "left", 50, ONA, route="intramuscular")],
    )
    finding = only(check(axillae), "off-label")
    assert "route" in finding.message


@pytest.mark.parametrize(
    ("product", "labelled"),
    [(ONA, 20), (ABO, 50), (INCO, 20), (PRABO, 20), (LETI, 20)],
)
def test_above_a_labelled_glabellar_dose_is_an_off_label_dose(product, labelled):
    """B.16 dose-words, facts 2.12: the glabellar dose is fixed (no maximum stated), so one unit
    more is an off-label dose warning, never a block; the labelled dose itself is on label."""
    base = glabellar_plan(product)
    assert check(base).findings == ()
    more = plan(
        product=product,
        indication="glabellar-lines",
        injections=[*base.injections, point("procerus", "midline", 1, product)],
    )
    result = check(more)
    finding = only(result, "off-label")
    assert finding.severity is Severity.WARN
    assert f"{labelled + 1} U" in finding.message
    assert result.verdict == "warn"

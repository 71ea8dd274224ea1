"""B.36 source honesty: a finding cites what it rests on. bontrack's own readings cite
"bontrack policy B.n" first; its own intervals are never "the label's"; a computed dilution is
never tagged [L]."""

from decimal import Decimal

import pytest

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.load import CatalogError, packaged_texts, parse_catalog
from bontrack.domain.catalog.model import Tag
from tests.domain.factories import (
    DAXI,
    LETI,
    check,
    history,
    injector,
    only,
    plan,
    point,
    vial,
)


def cervical_dystonia_plan():
    return plan(
        indication="cervical-dystonia",
        injections=[
            point("sternocleidomastoid", "left", 50),
            point("splenius-capitis", "right", 50),
        ],
    )


def test_the_70_day_interval_is_bontracks_not_the_labels():
    result = check(
        cervical_dystonia_plan(), the_history=[history(60, indication="cervical-dystonia")]
    )
    finding = only(result, "retreatment-interval")
    assert "the label's interval" not in finding.message
    assert "bontrack's interval is 70 days" in finding.message
    assert finding.source.startswith("bontrack policy B.17")


def test_the_21_day_touch_up_interval_is_bontracks_not_the_labels():
    the_plan = plan(indication="axillary-hyperhidrosis", protocol="axillary-hyperhidrosis-100")
    earlier = history(10, indication="axillary-hyperhidrosis", amount=100)
    finding = only(check(the_plan, the_history=[earlier]), "retreatment-interval")
    assert "the label's interval" not in finding.message
    assert "bontrack's interval is 21 days" in finding.message
    assert finding.source.startswith("bontrack policy B.17")


def test_a_labelled_interval_is_still_called_the_labels():
    finding = only(check(plan(), the_history=[history(60)]), "retreatment-interval")
    assert "the label's interval is 84 days" in finding.message
    assert finding.source.startswith("SKY-ONA")


def test_injector_scope_cites_the_clinics_privileges_policy_not_a_label():
    finding = only(
        check(plan(), None, (), injector(indications=["glabellar-lines"])), "injector-scope"
    )
    assert finding.source == "bontrack policy B.21 injector-scope"


def test_a_computed_dilution_is_never_tagged_label():
    for product in catalog().products.values():
        for dilution in product.dilutions:
            if dilution.computed:
                assert dilution.cite.tag is not Tag.LABEL


def test_daxxify_125_ml_is_computed_and_accepted_but_not_called_the_labels():
    daxxify = catalog().products[DAXI]
    computed = next(d for d in daxxify.dilutions if d.diluent_ml == Decimal("1.25"))
    assert computed.computed
    assert "[L]" not in computed.cite.text()
    the_plan = plan(product=DAXI, indication="glabellar-lines", protocol="glabellar-daxxify-40")
    accepted = plan(
        product=DAXI,
        indication="glabellar-lines",
        injections=the_plan.injections,
        vials=[vial(100, DAXI, diluent_ml="1.25")],
    )
    assert [f for f in check(accepted).findings if f.rule == "reconstitution"] == []


def test_a_dilution_warning_names_what_the_label_lists_and_what_is_arithmetic():
    the_plan = plan(
        product=DAXI,
        indication="glabellar-lines",
        protocol="glabellar-daxxify-40",
        vials=[vial(100, DAXI, diluent_ml=2)],
    )
    finding = only(check(the_plan), "reconstitution")
    assert "the label lists 1.2 mL for this vial size" in finding.message
    assert "1.25 mL gives the label's concentration by arithmetic" in finding.message
    assert "[L]" not in finding.source
    assert "1.25 mL by arithmetic" not in finding.source


def test_letybos_100_u_vial_has_no_listed_combination():
    the_plan = plan(
        product=LETI,
        indication="glabellar-lines",
        protocol="glabellar-letybo-20",
        vials=[vial(100, LETI, diluent_ml=2)],
    )
    finding = only(check(the_plan), "reconstitution")
    assert "no label lists a combination for this vial size" in finding.message


def test_a_policy_based_rule_source_starts_with_the_policy():
    for key in ("injector-scope", "supply", "repeat-visit", "response"):
        text = catalog().rule_sources[key].cite.text()
        assert text.startswith("bontrack policy B."), (key, text)


def test_the_catalog_refuses_a_computed_dilution_tagged_label():
    texts = packaged_texts()
    texts["products.toml"] = texts["products.toml"].replace(
        'computed = true, source = "DAX-PI 2 (8 U per 0.1 mL; 1.25 mL by arithmetic)", tag = "U"',
        'computed = true, source = "DAX-PI 2", tag = "L"',
    )
    with pytest.raises(CatalogError, match="never \\[L\\]"):
        parse_catalog(texts)


def test_no_finding_source_calls_a_bontrack_policy_a_label():
    """Every rule source resting on policy alone has no tag to misread."""
    for source in catalog().rule_sources.values():
        if not source.cite.refs:
            assert source.cite.policy_first

"""Facts 2.3, 2.5, 3.7 re-read (B.16, B.27): Myobloc and Xeomin cervical dystonia ranges, Xeomin
blepharospasm's maxima and the Xeomin cervical dystonia interval, each with its source key."""

import pytest

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.model import Severity
from tests.domain.factories import INCO, RIMA, check, history, of_rule, only, plan, point, rules


def myobloc_cd(total):
    half = total // 2
    return plan(
        product=RIMA,
        indication="cervical-dystonia",
        injections=[
            point("sternocleidomastoid", "left", half, RIMA),
            point("splenius-capitis", "right", total - half, RIMA),
        ],
    )


def xeomin(indication, *doses):
    return plan(product=INCO, indication=indication, injections=list(doses))


def test_myobloc_cervical_dystonia_above_5000_u_is_an_off_label_dose():
    """Issue scenario 5: 25,000 U was `ok`."""
    finding = only(check(myobloc_cd(25000)), "off-label")
    assert finding.severity is Severity.WARN
    assert "5000 U" in finding.message
    assert "MYO-PI" in finding.source


def test_myobloc_cervical_dystonia_at_5000_u_gives_nothing():
    assert "off-label" not in rules(check(myobloc_cd(5000)))


@pytest.mark.parametrize(("total", "warns"), [(120, False), (121, True), (390, True)])
def test_xeomin_cervical_dystonia_above_120_u_is_an_off_label_dose(total, warns):
    the_plan = xeomin(
        "cervical-dystonia",
        point("sternocleidomastoid", "left", total // 2, INCO),
        point("splenius-capitis", "right", total - total // 2, INCO),
    )
    found = of_rule(check(the_plan), "off-label")
    assert bool(found) is warns
    if warns:
        assert "XEO-ML 2.4" in found[0].source


def blepharospasm(left, right):
    return xeomin(
        "blepharospasm",
        point("orbicularis-oculi", "left", left, INCO),
        point("orbicularis-oculi", "right", right, INCO),
    )


def test_xeomin_blepharospasm_150_u_blocks():
    """Issue scenario 5: 150 U was silent; 100 U per session and 50 U per eye are maxima."""
    result = check(blepharospasm(75, 75))
    total = only(result, "session-total")
    assert total.severity is Severity.BLOCK
    assert total.overridable is True
    assert "XEO-ML 2.5 [L]" in total.source
    eyes = of_rule(result, "muscle-range")
    assert len(eyes) == 2
    assert all(f.severity is Severity.BLOCK and "XEO-ML 2.5" in f.source for f in eyes)


def test_xeomin_blepharospasm_at_100_u_and_50_u_per_eye_passes():
    assert check(blepharospasm(50, 50)).findings == ()


def test_xeomin_blepharospasm_51_u_in_one_eye_blocks_that_eye():
    finding = only(check(blepharospasm(51, 40)), "muscle-range")
    assert "orbicularis-oculi left" in finding.message


def test_the_xeomin_cervical_dystonia_interval_is_the_current_labels():
    the_plan = xeomin(
        "cervical-dystonia",
        point("sternocleidomastoid", "left", 60, INCO),
        point("splenius-capitis", "right", 60, INCO),
    )
    earlier = history(60, product=INCO, indication="cervical-dystonia", amount=120)
    finding = only(check(the_plan, the_history=[earlier]), "retreatment-interval")
    assert "generally no more frequent than every 12 weeks" in finding.message
    assert finding.source.startswith("XEO-ML 2.4 [L]")


def test_every_reread_source_key_is_in_the_catalog():
    for key in ("XEO-ML", "XEO-BLEPH-OLD", "MYO-OLDPI", "MYO-HCP", "DYS-AULS-EFF", "DYS-MG"):
        assert key in catalog().sources


def test_the_catalog_version_was_bumped_for_the_rereads():
    assert catalog().version >= "2026.12.1"

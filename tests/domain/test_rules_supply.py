"""What goes into the syringe, and who holds it: lots, reconstitution, product mismatch and
injector scope (facts 1.1, 1.2; B.7, B.10, B.21, B.23, B.24)."""

import datetime as dt

import pytest

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    ABO,
    DAXI,
    DAY,
    NOW,
    ONA,
    PRABO,
    RIMA,
    check,
    glabellar_plan,
    injector,
    of_rule,
    only,
    patient,
    plan,
    point,
    vial,
)

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def with_vial(the_vial, product=ONA):
    """A plan of ``product`` using one vial: PREEMPT for onabotulinumtoxinA, else the product's
    glabellar protocol (Myobloc: cervical dystonia)."""
    base = plan() if product == ONA else glabellar_plan(product)
    return plan(
        product=base.product,
        indication=base.indication,
        injections=base.injections,
        protocol=base.protocol,
        vials=[the_vial],
    )


# --- lots (B.7, B.23) ---------------------------------------------------------------------


def test_a_lot_that_expired_the_day_before_the_plan_date_blocks():
    """B.23 ("usable through its expiry date, judged on the plan date"), B.7: an expired lot
    blocks and is never overridable."""
    expired = vial(200, lot="C1234", lot_expires=DAY - dt.timedelta(days=1))
    result = check(with_vial(expired))
    finding = only(result, "lot")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "C1234" in finding.message
    assert "2026-11-24" in finding.message
    assert result.verdict == "block"


def test_a_lot_expiring_on_the_plan_date_is_usable():
    """B.23: a lot is usable through its expiry date."""
    assert check(with_vial(vial(200, lot="C1234", lot_expires=DAY))).findings == ()


def test_lot_expiry_is_judged_on_the_plan_date_not_now():
    """B.23, DESIGN 3.3: a plan dated after `now` is judged on its own date."""
    later = plan(day=DAY + dt.timedelta(days=10), vials=[vial(200, lot_expires=DAY)])
    assert only(check(later), "lot").severity is Severity.BLOCK


def test_a_recalled_lot_blocks():
    """B.7: a recalled lot blocks, never overridable."""
    finding = only(check(with_vial(vial(200, lot="R9", recalled=True))), "lot")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False


def test_a_lot_not_recalled_gives_nothing():
    assert check(with_vial(vial(200, lot="R9", recalled=False))).findings == ()


# --- in-use time (B.23) -------------------------------------------------------------------


def test_a_vial_reconstituted_more_than_24_hours_before_now_blocks():
    """B.23 in-use-time, facts 1.1 (use within 24 h): measured at `now`; B.7 not overridable."""
    old = vial(200, diluent_ml=4, reconstituted_at=NOW - 24 * HOUR - MINUTE)
    result = check(with_vial(old))
    finding = only(result, "reconstitution")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "24 hours" in finding.message
    assert result.verdict == "block"


def test_a_vial_reconstituted_exactly_24_hours_before_now_is_usable():
    """B.23: within 24 h includes exactly 24 h."""
    assert (
        check(with_vial(vial(200, diluent_ml=4, reconstituted_at=NOW - 24 * HOUR))).findings == ()
    )


def test_the_vial_age_is_measured_at_now_not_the_plan_date():
    """DESIGN 3.3: `now` is when the needle goes in; the plan date does not age a vial."""
    fresh = vial(200, diluent_ml=4, reconstituted_at=NOW - HOUR)
    later = plan(day=DAY + dt.timedelta(days=3), vials=[fresh])
    assert of_rule(check(later), "reconstitution") == []


def test_daxxify_may_be_used_for_72_hours():
    """B.23, facts 1.1 (Daxxify 72 h [S]): 72 h is usable, 72 h and a minute blocks."""
    on_time = vial(100, DAXI, diluent_ml="1.25", reconstituted_at=NOW - 72 * HOUR)
    assert of_rule(check(with_vial(on_time, DAXI)), "reconstitution") == []
    late = vial(100, DAXI, diluent_ml="1.25", reconstituted_at=NOW - 72 * HOUR - MINUTE)
    finding = only(check(with_vial(late, DAXI)), "reconstitution")
    assert finding.severity is Severity.BLOCK
    assert "72 hours" in finding.message


def test_diluted_myobloc_must_be_used_within_4_hours_to_be_confirmed():
    """B.23, B.24, facts 1.1 (Myobloc 4 h after dilution [R]): past 4 h blocks, and the finding
    says the label text is still to be confirmed."""
    on_time = vial(2500, RIMA, diluent_ml="0.5", reconstituted_at=NOW - 4 * HOUR)
    assert of_rule(check(with_vial(on_time, RIMA)), "reconstitution") == []
    late = vial(2500, RIMA, diluent_ml="0.5", reconstituted_at=NOW - 4 * HOUR - MINUTE)
    finding = only(check(with_vial(late, RIMA)), "reconstitution")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "label text still to be confirmed" in finding.message


# --- dilution (B.23) ----------------------------------------------------------------------


def test_a_dilution_outside_the_listed_range_warns():
    """B.23: BOTOX 200 U + 10 mL matches no listed combination and lies outside 1–8 mL:
    a reconstitution warning naming the listed volumes."""
    result = check(with_vial(vial(200, diluent_ml=10)))
    finding = only(result, "reconstitution")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "10 mL" in finding.message
    assert "8 mL" in finding.message
    assert result.verdict == "warn"


@pytest.mark.parametrize("saline", ["1", "2", "3", "4", "8"])
def test_a_dilution_listed_or_inside_the_range_gives_nothing(saline):
    """B.23: a listed combination is always accepted; so is one inside the listed range."""
    assert of_rule(check(with_vial(vial(100, diluent_ml=saline))), "reconstitution") == []


def test_a_single_listed_combination_makes_any_other_warn():
    """B.23: Jeuveau lists 100 U + 2.5 mL only; 2 mL warns."""
    result = check(with_vial(vial(100, PRABO, diluent_ml=2), PRABO))
    assert only(result, "reconstitution").severity is Severity.WARN


def test_daxxify_listed_dilution_is_accepted():
    """B.23: "a listed combination is always accepted (Daxxify 100 U + 1.2 mL)"."""
    result = check(with_vial(vial(100, DAXI, diluent_ml="1.2"), DAXI))
    assert of_rule(result, "reconstitution") == []


@pytest.mark.parametrize("saline", ["0", "0.5", "2", "10"])
def test_myobloc_never_gets_a_dilution_finding(saline):
    """B.23: Myobloc, a solution that "may be diluted", gets no dilution finding."""
    result = check(with_vial(vial(2500, RIMA, diluent_ml=saline), RIMA))
    assert of_rule(result, "reconstitution") == []


# --- product mismatch (B.10, DESIGN 3.2) ----------------------------------------------------


def test_a_protocol_of_another_product_is_a_product_mismatch():
    """B.10 protocol-product: PREEMPT carries onabotulinumtoxinA units; with Dysport it is a
    product-mismatch block, never overridable."""
    result = check(plan(product=ABO, protocol="preempt-155"))
    finding = only(result, "product-mismatch")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert result.verdict == "block"


def test_a_vial_of_another_product_is_a_product_mismatch():
    """DESIGN 3.2 (product-mismatch: "a vial of one product used with another product"):
    a BOTOX vial in a Dysport plan blocks."""
    result = check(with_vial(vial(100, ONA), ABO))
    finding = only(result, "product-mismatch")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False


def test_a_reconstituted_vial_of_another_product_is_a_product_mismatch():
    """DESIGN 3.2, B.5: a BOTOX vial reconstituted with 2 mL in a Dysport plan is the same
    mismatch; its concentration is never applied to Dysport units (no conversion), and the
    check reports the block rather than failing."""
    result = check(with_vial(vial(100, ONA, diluent_ml=2), ABO))
    finding = only(result, "product-mismatch")
    assert finding.severity is Severity.BLOCK
    assert result.verdict == "block"


def test_an_injection_row_of_another_product_is_a_product_mismatch_and_adds_nothing():
    """B.5, DESIGN 3.2: a row in another product's units blocks and is not added to the total."""
    rows = [*plan().injections, point("trapezius", "left", 10, ABO)]
    result = check(plan(injections=rows))
    finding = only(result, "product-mismatch")
    assert finding.severity is Severity.BLOCK
    assert result.total.amount == 155


# --- injector scope (B.21) ------------------------------------------------------------------


def test_an_injector_not_privileged_for_the_indication_blocks():
    """B.21 injector-scope: privileges are the clinic's data; not overridable."""
    result = check(plan(), patient(), (), injector(indications=["glabellar-lines"]))
    finding = only(result, "injector-scope")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False
    assert "chronic-migraine" in finding.message


def test_a_registered_nurse_without_a_supervisor_blocks():
    """B.21: a registered nurse (cannot prescribe) without supervised_by blocks."""
    nurse = injector(credentials=["registered-nurse"])
    finding = only(check(plan(), patient(), (), nurse), "injector-scope")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is False


def test_a_registered_nurse_with_a_supervisor_passes():
    """B.21: with supervised_by the nurse injects under a prescriber."""
    nurse = injector(credentials=["registered-nurse"], supervised_by="dr-lee")
    assert check(plan(), patient(), (), nurse).findings == ()


@pytest.mark.parametrize(
    "credential", ["physician", "nurse-practitioner", "physician-assistant", "dentist"]
)
def test_a_privileged_prescriber_passes(credential):
    """B.21: a credential that can prescribe needs no supervisor."""
    assert check(plan(), patient(), (), injector(credentials=[credential])).findings == ()


def test_without_an_injector_scope_is_not_checked():
    """DESIGN 3.3: without `injector`, injector-scope is not run."""
    assert of_rule(check(plan()), "injector-scope") == []


# --- one finding per problem, undiluted Myobloc (B.23) --------------------------------------


@pytest.mark.parametrize("made", [None, NOW - 5 * HOUR])
def test_undiluted_myobloc_gets_no_four_hour_block(made):
    """Myobloc used undiluted (0 mL) has no diluted in-use time, opened or not."""
    result = check(with_vial(vial(2500, RIMA, diluent_ml=0, reconstituted_at=made), RIMA))
    assert of_rule(result, "reconstitution") == []


def test_two_vials_with_the_same_unlisted_dilution_give_one_warning_naming_both():
    vials = [vial(200, diluent_ml=10, lot="A1"), vial(200, diluent_ml=10, lot="A2")]
    the_plan = plan(protocol="preempt-155", vials=vials)
    finding = only(check(the_plan), "reconstitution")
    assert "Vial 1 (200 U, lot A1) and vial 2 (200 U, lot A2)" in finding.message


def test_two_vials_past_their_use_by_time_together_give_one_block():
    made = NOW - 25 * HOUR
    vials = [vial(100, diluent_ml=2, reconstituted_at=made) for _ in range(2)]
    finding = only(check(plan(protocol="preempt-155", vials=vials)), "reconstitution")
    assert finding.severity is Severity.BLOCK
    assert finding.message.startswith("Vial 1 (100 U) and vial 2 (100 U) were reconstituted")
    assert "discard them" in finding.message


def test_vials_with_different_problems_give_a_finding_each():
    vials = [vial(200, diluent_ml=10), vial(200, diluent_ml=12)]
    assert len(of_rule(check(plan(protocol="preempt-155", vials=vials)), "reconstitution")) == 2


def test_a_vial_is_named_by_the_records_paths_label():
    the_vial = vial(200, diluent_ml=10, label="Vial 3 of lot C77")
    finding = only(check(with_vial(the_vial)), "reconstitution")
    assert finding.message.startswith("Vial 3 of lot C77 (200 U)")


def test_a_grouped_warning_is_the_same_whatever_the_order_the_vials_are_listed_in():
    """Signing lists a session's vials in the order it read them, the plan editor in its own: a
    warning acknowledged in one must be the same finding in the other."""
    first = vial(50, diluent_ml=4, lot="L0", label="38e8aa43")
    second = vial(50, diluent_ml=4, lot="L1", label="3425d3a0")
    messages = {
        only(check(plan(protocol="preempt-155", vials=vials)), "reconstitution").message
        for vials in ([first, second], [second, first])
    }
    assert len(messages) == 1

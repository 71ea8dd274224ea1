"""What `bontrack check --json` answers for valid plans (DESIGN 3.2, 3.3), in process."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from tests.cli.support import NOW, PLAN_DATE, example_plan, glabellar_plan

SEVERITY_ORDER = {"block": 0, "warn": 1, "info": 2}


def _points(*rows: tuple[str, str, int]) -> list[dict[str, Any]]:
    """(site, side, count) rows at 5 U each, as codes.md lists preempt-155's default points."""
    return [
        {"site": site, "side": side, "units": 5} for site, side, count in rows for _ in range(count)
    ]


# codes.md, preempt-155: 31 × 5 U, written out by hand from the vocabulary (not from the catalog).
PREEMPT_155_POINTS = _points(
    ("corrugator", "left", 1),
    ("corrugator", "right", 1),
    ("procerus", "midline", 1),
    ("frontalis", "left", 2),
    ("frontalis", "right", 2),
    ("temporalis", "left", 4),
    ("temporalis", "right", 4),
    ("occipitalis", "left", 3),
    ("occipitalis", "right", 3),
    ("cervical-paraspinal", "left", 2),
    ("cervical-paraspinal", "right", 2),
    ("trapezius", "left", 3),
    ("trapezius", "right", 3),
)


def _busy_preempt_plan() -> dict[str, Any]:
    """The worked example with an infected temporalis, a drug precaution and another product, so
    that the protocol's points meet several rules (cumulative dose, per-site infection, ...)."""
    document = example_plan()
    document["patient"]["infected_sites"] = [{"site": "temporalis", "side": "left"}]
    document["patient"]["medications"] = ["aminoglycosides"]
    document["history"].append(
        {"date": "2026-09-01", "product": "abobotulinumtoxinA", "indication": "other", "units": 500}
    )
    return document


def test_the_example_has_31_points_of_5_units():
    assert len(PREEMPT_155_POINTS) == 31
    assert sum(p["units"] for p in PREEMPT_155_POINTS) == 155


def test_a_protocol_alone_is_checked_exactly_as_its_points_listed(check_file):
    """DESIGN 3.3: a protocol alone expands to its default points and is checked exactly as if
    they had been listed (same findings, same sites, same total)."""
    by_protocol = _busy_preempt_plan()
    listed = copy.deepcopy(by_protocol)
    del listed["plan"]["protocol"]
    listed["plan"]["injections"] = PREEMPT_155_POINTS

    run_protocol = check_file(by_protocol)
    run_listed = check_file(listed)
    assert run_protocol.code == run_listed.code == 1
    assert run_protocol.data == run_listed.data
    assert run_protocol.data["total_units"] == "155"
    rules = [f["rule"] for f in run_protocol.data["findings"]]
    assert {"cumulative-dose", "contraindication", "mixed-products", "precaution"} <= set(rules)
    [infection] = [f for f in run_protocol.data["findings"] if f["rule"] == "contraindication"]
    assert infection["sites"] == [{"site": "temporalis", "side": "left"}]  # B.8: per side


def test_protocol_and_injections_check_the_listed_injections(check_file):
    """DESIGN 3.3 "both": the listed injections are what is planned; the protocol names it."""
    document = example_plan()
    del document["history"]
    document["plan"]["injections"] = [
        {"site": "procerus", "side": "midline", "units": 5},
        {"site": "masseter", "side": "left", "units": 10},
    ]
    run = check_file(document)
    assert run.code == 0, run.out
    assert run.data["total_units"] == "15"
    # masseter is not a chronic-migraine site: an off-label site warning naming it (B.19).
    off_label_sites = [
        s for f in run.data["findings"] if f["rule"] == "off-label" for s in f["sites"]
    ]
    assert {"site": "masseter", "side": "left"} in off_label_sites
    assert {"site": "procerus", "side": "midline"} not in off_label_sites


def test_both_with_the_full_history_counts_only_the_listed_units(check_file):
    """300 U earlier + 15 U listed stays under 400 U: the protocol's 155 U is not added."""
    document = example_plan()
    document["plan"]["injections"] = [{"site": "procerus", "side": "midline", "units": 5}]
    run = check_file(document)
    assert run.code == 0, run.out
    assert "cumulative-dose" not in [f["rule"] for f in run.data["findings"]]


def test_a_protocol_of_another_product_is_a_product_mismatch_that_cannot_be_overridden(
    check_file,
):
    """B.10, B.7, codes.md: glabellar-20 carries onabotulinumtoxinA units."""
    document = glabellar_plan()
    document["plan"]["product"] = "abobotulinumtoxinA"
    run = check_file(document)
    assert run.code == 1
    assert run.data["verdict"] == "block"
    mismatches = [f for f in run.data["findings"] if f["rule"] == "product-mismatch"]
    assert len(mismatches) == 1
    assert mismatches[0]["severity"] == "block"
    assert mismatches[0]["overridable"] is False
    assert "glabellar-20" in mismatches[0]["message"]


def test_a_protocol_of_another_product_with_listed_injections_is_still_a_mismatch(check_file):
    """DESIGN 3.3 "both": a protocol of another product is still a product-mismatch."""
    document = glabellar_plan()
    document["plan"]["product"] = "abobotulinumtoxinA"
    document["plan"]["injections"] = [
        {"site": "procerus", "side": "midline", "units": 10},
        {"site": "corrugator", "side": "left", "units": 10},
    ]
    run = check_file(document)
    assert run.code == 1
    [mismatch] = [f for f in run.data["findings"] if f["rule"] == "product-mismatch"]
    assert mismatch["overridable"] is False


def test_findings_are_sorted_block_warn_info_then_by_rule_id(check_file):
    """DESIGN 3.2: one finding per cause, sorted block, warn, info, then by rule id."""
    document = _busy_preempt_plan()
    document["patient"]["pregnant"] = True
    document["plan"]["vial"]["lot_expires"] = "2026-01-31"
    document["plan"]["vial"]["reconstituted_at"] = "2026-11-23T09:00:00+00:00"
    document["history"].append(
        {
            "date": "2026-11-10",
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "units": 20,
        }
    )
    document["injector"] = {"credentials": ["registered-nurse"], "indications": ["bruxism"]}
    run = check_file(document)
    assert run.code == 1
    findings = run.data["findings"]
    keys = [(SEVERITY_ORDER[f["severity"]], f["rule"]) for f in findings]
    assert keys == sorted(keys)
    blocks = {f["rule"] for f in findings if f["severity"] == "block"}
    warns = {f["rule"] for f in findings if f["severity"] == "warn"}
    # enough distinct rules on each side for the order to mean something
    assert {"contraindication", "cumulative-dose", "injector-scope", "lot"} <= blocks
    assert {"mixed-products", "precaution", "retreatment-interval"} <= warns
    # B.28: one precaution per cause; B.21: one injector-scope per cause
    assert sum(f["rule"] == "precaution" for f in findings) == 2
    assert sum(f["rule"] == "injector-scope" for f in findings) == 2
    # B.7: overridable only for dose and window limits, never for a warning
    for finding in findings:
        expected = finding["severity"] == "block" and finding["rule"] == "cumulative-dose"
        assert finding["overridable"] is expected, finding


def test_a_warning_alone_gives_verdict_warn_and_exit_0(check_file):
    """DESIGN 3.3: exit 0 when nothing blocks; B.28: pregnancy is a precaution (warn)."""
    document = glabellar_plan()
    document["patient"]["pregnant"] = True
    run = check_file(document)
    assert run.code == 0
    assert run.data["verdict"] == "warn"
    assert [f["rule"] for f in run.data["findings"]] == ["precaution"]
    assert run.data["findings"][0]["overridable"] is False


def test_nothing_to_report_gives_verdict_ok_and_no_findings(check_file):
    """DESIGN 3.2: a rule that passes emits nothing, not even info."""
    run = check_file(glabellar_plan())
    assert run.code == 0
    assert run.data["verdict"] == "ok"
    assert run.data["findings"] == []
    assert run.data["total_units"] == "20"
    assert run.data["product"] == "onabotulinumtoxinA"


def test_total_units_is_the_sum_of_the_points(check_file):
    units = [Decimal("2.5"), Decimal("2.5"), Decimal("3.125"), Decimal("4"), Decimal("0.875")]
    sides = ["left", "right", "left", "right", "left"]
    document = glabellar_plan()
    del document["plan"]["protocol"]
    document["plan"]["injections"] = [
        {"site": "corrugator", "side": side, "units": amount}
        for side, amount in zip(sides, units, strict=True)
    ]
    run = check_file(document)
    assert run.code == 0, run.out
    assert run.data["total_units"] == "13"
    assert Decimal(run.data["total_units"]) == sum(units)


def test_a_blepharospasm_plan_of_1_25_unit_points_totals_7_5(check_file):
    """DESIGN 3.3: units stay exact decimals and are written as strings ("7.5", not 7.499…)."""
    document = glabellar_plan()
    document["plan"]["indication"] = "blepharospasm"
    del document["plan"]["protocol"]
    document["plan"]["injections"] = [
        {"site": "orbicularis-oculi", "side": side, "units": Decimal("1.25")}
        for side in ("left", "right")
        for _ in range(3)
    ]
    run = check_file(document)
    assert run.code == 0, run.out
    assert run.data["total_units"] == "7.5"
    by_protocol = glabellar_plan()
    by_protocol["plan"]["indication"] = "blepharospasm"
    by_protocol["plan"]["protocol"] = "blepharospasm-initial"
    assert check_file(by_protocol).data == run.data


def test_units_in_exponent_notation_are_written_plainly(check_file):
    """DESIGN 3.3: `format(d.normalize(), "f")`: "200", never "2E+2"."""
    document = glabellar_plan()
    del document["plan"]["protocol"]
    document["plan"]["injections"] = [
        {"site": "corrugator", "side": "left", "units": Decimal("1.0E+1")},
        {"site": "corrugator", "side": "right", "units": Decimal("1E+1")},
    ]
    run = check_file(document)
    assert run.data["total_units"] == "20"
    assert "E+" not in run.out


def test_a_listed_route_replaces_the_sites_default(check_file):
    """DESIGN 3.3: route defaults to the site's (intradermal for axilla); another one is
    off-label (B.16, B.19)."""
    document = glabellar_plan()
    document["plan"]["indication"] = "axillary-hyperhidrosis"
    del document["plan"]["protocol"]
    document["plan"]["injections"] = [
        {"site": "axilla", "side": "left", "units": 5},
        {"site": "axilla", "side": "right", "units": 5, "route": "intramuscular"},
    ]
    run = check_file(document)
    assert run.code == 0, run.out
    route_sites = [
        s
        for f in run.data["findings"]
        if f["rule"] == "off-label" and "route" in f["message"]
        for s in f["sites"]
    ]
    assert route_sites == [{"site": "axilla", "side": "right"}]


def test_a_vial_older_than_its_in_use_time_at_now_blocks(check_file):
    """B.23: a vial's age is measured at `now`; 24 h for onabotulinumtoxinA; not overridable."""
    document = example_plan()
    del document["history"]
    document["plan"]["vial"]["reconstituted_at"] = "2026-11-24T09:29:00+00:00"
    run = check_file(document)
    assert run.code == 1
    [finding] = [f for f in run.data["findings"] if f["rule"] == "reconstitution"]
    assert finding["severity"] == "block"
    assert finding["overridable"] is False
    # the lot is an identifier: the message keeps it exactly as written
    assert "C7421A" in finding["message"]
    assert "200 U" in finding["message"]


def test_a_vial_within_its_in_use_time_passes(check_file):
    document = example_plan()
    del document["history"]
    document["plan"]["vial"]["reconstituted_at"] = "2026-11-24T09:31:00+00:00"
    run = check_file(document)
    assert run.code == 0
    assert "reconstitution" not in [f["rule"] for f in run.data["findings"]]


def test_an_unlisted_dilution_warning_keeps_the_unit_symbol_and_lot(check_file):
    document = example_plan()
    del document["history"]
    document["plan"]["vial"]["diluent_ml"] = Decimal("0.5")
    run = check_file(document)
    [finding] = [f for f in run.data["findings"] if f["rule"] == "reconstitution"]
    assert finding["severity"] == "warn"
    assert "200 U" in finding["message"]
    assert "C7421A" in finding["message"]


def test_the_text_output_lists_the_same_findings(check_file):
    document = glabellar_plan()
    document["patient"]["pregnant"] = True
    run = check_file(document, as_json=False)
    assert run.code == 0
    assert "WARN" in run.out
    assert "precaution" in run.out
    assert run.err == ""


def test_the_plan_date_may_be_after_now(check_file):
    """DESIGN 3.3: planning ahead; the vial's age is still measured at `now`."""
    document = glabellar_plan()
    document["plan"]["date"] = "2027-01-15"
    assert document["now"] == NOW
    assert document["plan"]["date"] > PLAN_DATE
    run = check_file(document)
    assert run.code == 0, run.out


def _child_glabellar(measured_on: str) -> dict[str, Any]:
    document = glabellar_plan()
    document["patient"].update(
        birth_date="2018-06-01", weight_kg=28, weight_measured_on=measured_on
    )
    return document


def test_a_childs_weight_older_than_90_days_asks_for_a_current_one(check_file):
    """DESIGN 3.3: weight measured more than 90 days before the plan date → weight-based-dose
    warning (2026-08-26 is 91 days before 2026-11-25)."""
    run = check_file(_child_glabellar("2026-08-26"))
    assert run.code == 0, run.out
    [stale] = [f for f in run.data["findings"] if f["rule"] == "weight-based-dose"]
    assert stale["severity"] == "warn"
    assert stale["overridable"] is False


def test_a_childs_weight_of_exactly_90_days_is_current(check_file):
    run = check_file(_child_glabellar("2026-08-27"))
    assert run.code == 0, run.out
    assert "weight-based-dose" not in [f["rule"] for f in run.data["findings"]]

"""`bontrack check` input validation (DESIGN 3.3): every invalid input exits 2 naming its field.

In process: `bontrack.cli.main` on a plan file written to tmp_path, --json, stdout and stderr
captured.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.cli.support import Raw, dumps, example_plan, glabellar_plan

Document = dict[str, Any]


def _set(path: str, value: Any) -> Callable[[Document], None]:
    """A mutation that sets a dotted path (`plan.vial.size_units`, `plan.injections.0.units`)."""

    def mutate(document: Document) -> None:
        *parents, last = path.split(".")
        here: Any = document
        for part in parents:
            here = here[int(part)] if part.isdigit() else here[part]
        if last.isdigit():
            here[int(last)] = value
        else:
            here[last] = value

    return mutate


def _drop(path: str) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        *parents, last = path.split(".")
        here: Any = document
        for part in parents:
            here = here[part]
        del here[last]

    return mutate


def _listed(units: Any, site: str = "procerus", side: str = "midline") -> Callable[..., None]:
    """Replace the protocol with one listed injection of ``units``."""

    def mutate(document: Document) -> None:
        document["plan"].pop("protocol", None)
        document["plan"]["injections"] = [{"site": site, "side": side, "units": units}]

    return mutate


def _child(birth_date: str = "2018-06-01") -> Callable[[Document], None]:
    """An 8-year-old on the plan date (2026-11-25)."""
    return _set("patient.birth_date", birth_date)


def _both(*mutations: Callable[[Document], None]) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        for mutation in mutations:
            mutation(document)

    return mutate


def _on(base: Callable[[], Document], mutate: Callable[[Document], None]) -> Document:
    document = copy.deepcopy(base())
    mutate(document)
    return document


# (id, document after the mutation, the field the error must name)
INVALID: list[tuple[str, Any, str | None]] = [
    ("top-level-array", "[]", None),
    ("top-level-string", '"a plan"', None),
    ("unknown-key-top-level", _on(glabellar_plan, _set("notes", "x")), "notes"),
    ("unknown-key-in-plan", _on(glabellar_plan, _set("plan.dose", 20)), "plan.dose"),
    (
        "unknown-key-in-injection",
        _on(
            glabellar_plan,
            _both(_listed(5), _set("plan.injections.0.depth_mm", 3)),
        ),
        "plan.injections[0].depth_mm",
    ),
    ("units-as-string", _on(glabellar_plan, _listed("5")), "plan.injections[0].units"),
    ("units-as-boolean", _on(glabellar_plan, _listed(True)), "plan.injections[0].units"),
    ("units-nan", _on(glabellar_plan, _listed(Raw("NaN"))), "plan.injections[0].units"),
    ("units-infinity", _on(glabellar_plan, _listed(Raw("Infinity"))), "plan.injections[0].units"),
    ("units-zero", _on(glabellar_plan, _listed(0)), "plan.injections[0].units"),
    ("units-negative", _on(glabellar_plan, _listed(-5)), "plan.injections[0].units"),
    (
        "units-four-decimals",
        _on(glabellar_plan, _listed(Decimal("2.0001"))),
        "plan.injections[0].units",
    ),
    ("now-naive", _on(glabellar_plan, _set("now", "2026-11-25T09:30:00")), "now"),
    ("now-date-only", _on(glabellar_plan, _set("now", "2026-11-25")), "now"),
    ("now-missing", _on(glabellar_plan, _drop("now")), "now"),
    ("now-null", _on(glabellar_plan, _set("now", None)), "now"),
    ("plan-product-null", _on(glabellar_plan, _set("plan.product", None)), "plan.product"),
    ("birth-date-missing", _on(glabellar_plan, _drop("patient.birth_date")), "patient.birth_date"),
    ("plan-date-not-a-date", _on(glabellar_plan, _set("plan.date", "2026-02-30")), "plan.date"),
    (
        "unknown-product",
        _on(glabellar_plan, _set("plan.product", "botulinumtoxinZ")),
        "plan.product",
    ),
    (
        "unknown-indication",
        _on(glabellar_plan, _set("plan.indication", "wrinkles")),
        "plan.indication",
    ),
    (
        "unknown-protocol",
        _on(glabellar_plan, _set("plan.protocol", "glabellar-99")),
        "plan.protocol",
    ),
    ("unknown-site", _on(glabellar_plan, _listed(4, site="nose")), "plan.injections[0].site"),
    (
        "side-the-site-does-not-have",
        _on(glabellar_plan, _listed(4, site="procerus", side="left")),
        "plan.injections[0].side",
    ),
    (
        "side-not-a-side",
        _on(glabellar_plan, _listed(4, site="corrugator", side="both")),
        "plan.injections[0].side",
    ),
    (
        "unknown-route",
        _on(
            glabellar_plan,
            _both(_listed(4), _set("plan.injections.0.route", "intravenous")),
        ),
        "plan.injections[0].route",
    ),
    ("neither-protocol-nor-injections", _on(glabellar_plan, _drop("plan.protocol")), "plan"),
    (
        "history-after-the-plan-date",
        _on(example_plan, _set("history.0.date", "2026-11-26")),
        "history[0].date",
    ),
    (
        "history-unknown-product",
        _on(example_plan, _set("history.0.product", "botox")),
        "history[0].product",
    ),
    ("history-units-zero", _on(example_plan, _set("history.0.units", 0)), "history[0].units"),
    (
        "birth-date-after-plan-date",
        _on(glabellar_plan, _set("patient.birth_date", "2026-11-26")),
        "patient.birth_date",
    ),
    (
        "vial-size-not-listed",
        _on(glabellar_plan, _set("plan.vials", [{"size_units": 150}])),
        "plan.vials[0].size_units",
    ),
    (
        "vial-shorthand-size-not-listed",
        _on(example_plan, _set("plan.vial.size_units", 300)),
        "plan.vial.size_units",
    ),
    (
        "vial-without-size",
        _on(glabellar_plan, _set("plan.vials", [{"diluent_ml": 2.5}])),
        "plan.vials[0].size_units",
    ),
    (
        "reconstituted-after-now",
        _on(example_plan, _set("plan.vial.reconstituted_at", "2026-11-25T09:31:00+00:00")),
        "plan.vial.reconstituted_at",
    ),
    (
        "reconstituted-at-naive",
        _on(example_plan, _set("plan.vial.reconstituted_at", "2026-11-25T08:45:00")),
        "plan.vial.reconstituted_at",
    ),
    (
        "diluent-zero-for-a-powder",
        _on(example_plan, _set("plan.vial.diluent_ml", 0)),
        "plan.vial.diluent_ml",
    ),
    (
        "lot-expires-not-a-date",
        _on(example_plan, _set("plan.vial.lot_expires", "June 2027")),
        "plan.vial.lot_expires",
    ),
    (
        "recalled-not-a-boolean",
        _on(example_plan, _set("plan.vial.recalled", "no")),
        "plan.vial.recalled",
    ),
    (
        "child-on-onabotulinumtoxinA-without-weight",  # B.9, B.15
        _on(glabellar_plan, _child()),
        "patient.weight_kg",
    ),
    ("weight-zero", _on(glabellar_plan, _set("patient.weight_kg", 0)), "patient.weight_kg"),
    ("weight-as-string", _on(glabellar_plan, _set("patient.weight_kg", "25")), "patient.weight_kg"),
    ("sex-unknown-word", _on(glabellar_plan, _set("patient.sex", "f")), "patient.sex"),
    (
        "pregnant-not-a-boolean",
        _on(glabellar_plan, _set("patient.pregnant", 1)),
        "patient.pregnant",
    ),
    (
        "infected-site-unknown",
        _on(glabellar_plan, _set("patient.infected_sites", ["masseter", "nose"])),
        "patient.infected_sites[1].site",
    ),
    (
        "infected-site-side-it-does-not-have",
        _on(glabellar_plan, _set("patient.infected_sites", [{"site": "procerus", "side": "left"}])),
        "patient.infected_sites[0].side",
    ),
    (
        "infected-site-unknown-key",
        _on(glabellar_plan, _set("patient.infected_sites", [{"site": "masseter", "area": 1}])),
        "patient.infected_sites[0].area",
    ),
    (
        "unknown-condition",
        _on(glabellar_plan, _set("patient.conditions", ["dysphagia", "flu"])),
        "patient.conditions[1]",
    ),
    (
        "unknown-medication",
        _on(glabellar_plan, _set("patient.medications", ["aspirin"])),
        "patient.medications[0]",
    ),
    (
        "unknown-allergy",
        _on(glabellar_plan, _set("patient.allergies", ["peanuts"])),
        "patient.allergies[0]",
    ),
    (
        "conditions-not-a-list",
        _on(glabellar_plan, _set("patient.conditions", "dysphagia")),
        "patient.conditions",
    ),
    (
        "injector-credential-unknown",
        _on(
            glabellar_plan,
            _set("injector", {"credentials": ["wizard"], "indications": ["glabellar-lines"]}),
        ),
        "injector.credentials[0]",
    ),
    (
        "injector-indication-unknown",
        _on(
            glabellar_plan,
            _set("injector", {"credentials": ["physician"], "indications": ["wrinkles"]}),
        ),
        "injector.indications[0]",
    ),
]


@pytest.mark.parametrize(("document", "field"), [pytest.param(d, f, id=i) for i, d, f in INVALID])
def test_invalid_input_exits_2_naming_the_field(check_file, document, field):
    """DESIGN 3.3: exit 2; stderr `path: message`; --json stdout {"errors": [{field, message}]}."""
    run = check_file(document)
    assert run.code == 2, run.out
    assert "Traceback" not in run.err
    shape = json.loads(run.out)
    assert set(shape) == {"errors"}
    assert shape["errors"], "at least one error"
    for error in shape["errors"]:
        assert set(error) == {"field", "message"}
        assert isinstance(error["message"], str)
        assert error["message"]
    assert field in run.fields, run.fields
    shown = field or "input"
    assert any(line.startswith(f"{shown}: ") for line in run.err.splitlines()), run.err


def test_malformed_json_exits_2_without_a_field(check_file):
    run = check_file('{"now": "2026-11-25T09:30:00+00:00", ')
    assert run.code == 2
    assert run.fields == [None]
    assert "not valid JSON" in run.errors[0]["message"]
    assert run.err.startswith("input: not valid JSON")


def test_a_missing_file_exits_2(tmp_path, capsys):
    from bontrack.cli import main

    code = main(["check", "--json", str(tmp_path / "absent.json")])
    captured = capsys.readouterr()
    assert code == 2
    assert "no such file" in json.loads(captured.out)["errors"][0]["message"]


def test_a_duplicate_top_level_key_exits_2_naming_the_key(check_file):
    text = dumps(glabellar_plan())
    run = check_file(text[:-1] + ', "now": "2026-11-25T10:00:00+00:00"}')
    assert run.code == 2
    assert "duplicate" in run.errors[0]["message"]
    assert "now" in run.errors[0]["message"]


def test_a_duplicate_key_inside_the_plan_names_its_path(check_file):
    """DESIGN 3.3: standard error names the field by its path (here `plan.product`)."""
    text = dumps(glabellar_plan()).replace(
        '"product": "onabotulinumtoxinA"',
        '"product": "onabotulinumtoxinA", "product": "abobotulinumtoxinA"',
    )
    run = check_file(text)
    assert run.code == 2
    assert run.fields == ["plan.product"], run.errors


def test_every_problem_is_reported_not_only_the_first(check_file):
    document = glabellar_plan()
    document["plan"]["indication"] = "wrinkles"
    document["patient"]["conditions"] = ["flu"]
    run = check_file(document)
    assert run.code == 2
    assert {"plan.indication", "patient.conditions[0]"} <= set(run.fields)


def test_without_json_an_invalid_plan_prints_errors_on_stderr_only(check_file):
    run = check_file(_on(glabellar_plan, _listed(0)), as_json=False)
    assert run.code == 2
    assert run.out == ""
    assert run.err.splitlines() == ["plan.injections[0].units: must be greater than 0"]


# ---------------------------------------------------------------------------------------------
# What is valid: the other side of the table above.


def test_trailing_zeros_do_not_count_as_decimals(check_file):
    """DESIGN 3.3: "at most 3 decimals" is judged on the normalised value (2.5000 is fine)."""
    run = check_file(_on(glabellar_plan, _listed(Decimal("2.5000"))))
    assert run.code == 0, run.errors
    assert run.data["total_units"] == "2.5"


def test_three_decimals_are_accepted(check_file):
    run = check_file(_on(glabellar_plan, _listed(Decimal("1.125"))))
    assert run.code == 0, run.out
    assert run.data["total_units"] == "1.125"


def test_units_with_more_than_3_decimals_are_invalid_however_many_digits(check_file):
    """DESIGN 3.3: units have at most 3 decimals. 5.000…001 (29 decimals) has 29, not 0: it must
    not be rounded to 5 by the 28-digit decimal context before it is judged."""
    run = check_file(_on(glabellar_plan, _listed(Decimal("5.00000000000000000000000000001"))))
    assert run.code == 2, run.out
    assert run.fields == ["plan.injections[0].units"]


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(_set("plan.vial", None), id="plan.vial"),
        pytest.param(_set("patient.weight_measured_on", None), id="patient.weight_measured_on"),
        pytest.param(_set("patient.sex", None), id="patient.sex"),
        pytest.param(_set("patient.conditions", None), id="patient.conditions"),
        pytest.param(_set("history", None), id="history"),
        pytest.param(_set("injector", None), id="injector"),
        pytest.param(_set("plan.vials", None), id="plan.vials"),
    ],
)
def test_null_for_an_optional_field_counts_as_absent(check_file, mutation):
    """DESIGN 3.3: a `null` optional field counts as absent (a `null` required one is invalid)."""
    document = glabellar_plan()
    mutation(document)
    run = check_file(document)
    assert run.code == 0, run.out
    assert run.data == check_file(glabellar_plan()).data


def test_null_vial_beside_vials_is_not_both(check_file):
    document = glabellar_plan()
    document["plan"]["vial"] = None
    document["plan"]["vials"] = [{"size_units": 100, "diluent_ml": Decimal("2.5")}]
    run = check_file(document)
    assert run.code == 0, run.out


def test_null_lot_and_route_count_as_absent(check_file):
    document = example_plan()
    del document["history"]
    document["plan"]["vial"]["lot"] = None
    document["plan"]["vial"]["recalled"] = None
    run = check_file(document)
    assert run.code == 0, run.out
    listed = _on(glabellar_plan, _listed(4))
    listed["plan"]["injections"][0]["route"] = None
    assert check_file(listed).code == 0


def test_a_child_with_a_weight_is_valid(check_file):
    """B.9: the weight was the only thing missing."""
    document = _on(glabellar_plan, _both(_child(), _set("patient.weight_kg", 28)))
    run = check_file(document)
    assert run.code in (0, 1), run.out
    assert set(run.data) >= {"verdict", "findings"}


def test_a_child_on_jeuveau_for_glabellar_lines_needs_no_weight(check_file):
    """B.9: a weight is required only where a weight-based rule applies; none does here."""
    document = glabellar_plan()
    document["patient"]["birth_date"] = "2018-06-01"
    document["plan"]["product"] = "prabotulinumtoxinA"
    document["plan"]["protocol"] = "glabellar-jeuveau-20"
    run = check_file(document)
    assert run.code == 0, run.out
    assert run.data["total_units"] == "20"
    # B.19: the age is off-label, not invalid.
    assert [f["rule"] for f in run.data["findings"]] == ["off-label"]


def test_infected_sites_take_a_code_or_a_site_and_side(check_file):
    """codes.md: each infected site is a site code (every side) or {"site", "side"}."""
    document = glabellar_plan()
    document["patient"]["infected_sites"] = ["masseter", {"site": "masseter", "side": "left"}]
    run = check_file(document)
    assert run.code == 0, run.out
    assert run.data["findings"] == []  # B.8: an infection elsewhere produces nothing


def test_an_adult_needs_no_weight(check_file):
    assert check_file(glabellar_plan()).code == 0


def test_zulu_and_other_offsets_are_accepted(check_file):
    document = glabellar_plan()
    document["now"] = "2026-11-25T10:30:00+01:00"
    assert check_file(document).code == 0
    document["now"] = "2026-11-25T09:30:00Z"
    assert check_file(document).code == 0


def test_history_may_name_other_for_an_indication_outside_the_catalog(check_file):
    """DESIGN 3.3: `other` counts toward the cumulative window (here 300 + 155 > 400)."""
    document = example_plan()
    document["history"][0]["indication"] = "other"
    run = check_file(document)
    assert run.code == 1
    assert [f["rule"] for f in run.data["findings"]] == ["cumulative-dose"]

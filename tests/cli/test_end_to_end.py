"""`bontrack` as a user runs it: a real process, real files, real standard streams (DESIGN 3.3).

Few runs on purpose (each starts an interpreter); the detailed contract is tested in process.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.cli.support import (
    CODES_MD,
    EXAMPLE,
    FINDING_KEYS,
    REPO,
    RESULT_KEYS,
    dumps,
    example_plan,
)

SCRIPT = shutil.which("bontrack", path=str(Path(sys.executable).parent)) or shutil.which("bontrack")
MODULE = [sys.executable, "-m", "bontrack.cli"]


def bontrack(
    *args: str, stdin: str | None = None, script: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [SCRIPT] if script else MODULE
    if script and SCRIPT is None:
        pytest.fail("the bontrack console script is not installed next to the interpreter")
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def no_numbers(text: str) -> Any:
    """Parse JSON output, failing on any JSON number: units are strings (DESIGN 3.3)."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"a JSON number {token!r} in the output; units must be strings")

    return json.loads(text, parse_float=refuse, parse_int=refuse, parse_constant=refuse)


def test_worked_example_blocks_on_the_cumulative_dose_with_its_label_section():
    """README and DESIGN 3.3: 300 U six weeks ago + PREEMPT 155 U = 455 U > 400 U; exit 1."""
    run = bontrack("check", str(EXAMPLE), script=True)
    assert run.returncode == 1, run.stderr
    assert run.stderr == ""
    assert "BLOCK" in run.stdout
    assert "cumulative-dose" in run.stdout
    text = " ".join(run.stdout.split())  # the table wraps long lines
    assert "455 U" in text
    assert "400 U" in text
    assert "BOTOX-PI 2.1" in text
    assert "Traceback" not in run.stdout + run.stderr


def test_worked_example_as_json_has_exactly_the_contract_keys_and_string_units():
    """DESIGN 3.3 output and 3.2 findings: exact key sets; units never JSON numbers."""
    run = bontrack("check", "--json", str(EXAMPLE))
    assert run.returncode == 1, run.stderr
    result = no_numbers(run.stdout)
    assert set(result) == RESULT_KEYS
    assert result["verdict"] == "block"
    assert result["product"] == "onabotulinumtoxinA"
    assert result["total_units"] == "155"
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d+", result["catalog_version"])
    assert result["findings"], "the example must report the cumulative dose"
    for finding in result["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["severity"] in ("block", "warn", "info")
        assert isinstance(finding["overridable"], bool)
        assert isinstance(finding["sites"], list)
        for site in finding["sites"]:
            assert set(site) == {"site", "side"}
    [cumulative] = [f for f in result["findings"] if f["rule"] == "cumulative-dose"]
    assert cumulative["severity"] == "block"
    assert cumulative["overridable"] is True  # B.7: a dose limit may be overridden
    assert "455 U" in cumulative["message"]
    assert "400 U" in cumulative["message"]
    assert "BOTOX-PI 2.1" in cumulative["source"]


def test_the_example_without_its_history_exits_0_reading_standard_input():
    """`-` reads standard input; without the 300 U of six weeks ago nothing blocks."""
    document = example_plan()
    del document["history"]
    run = bontrack("check", "--json", "-", stdin=dumps(document))
    assert run.returncode == 0, run.stderr
    result = no_numbers(run.stdout)
    assert result["verdict"] in ("ok", "warn")
    assert all(f["severity"] != "block" for f in result["findings"])
    assert result["total_units"] == "155"


def test_standard_input_gives_the_same_answer_as_the_file():
    by_file = bontrack("check", str(EXAMPLE))
    by_stdin = bontrack("check", "-", stdin=EXAMPLE.read_text(encoding="utf-8"))
    assert by_stdin.returncode == by_file.returncode == 1
    assert by_stdin.stdout == by_file.stdout


def test_invalid_input_exits_2_naming_the_field_on_stderr_without_a_traceback():
    """DESIGN 3.3: `plan.injections[2].units: must be greater than 0`; --json: the error shape."""
    document = example_plan()
    document["plan"]["injections"] = [
        {"site": "procerus", "side": "midline", "units": 5},
        {"site": "corrugator", "side": "left", "units": 5},
        {"site": "corrugator", "side": "right", "units": 0},
    ]
    text = dumps(document)
    plain = bontrack("check", "-", stdin=text)
    assert plain.returncode == 2
    assert "plan.injections[2].units: must be greater than 0" in plain.stderr.splitlines()
    assert "Traceback" not in plain.stderr + plain.stdout

    as_json = bontrack("check", "--json", "-", stdin=text)
    assert as_json.returncode == 2
    assert "Traceback" not in as_json.stderr + as_json.stdout
    shape = json.loads(as_json.stdout)
    assert set(shape) == {"errors"}
    assert shape["errors"] == [
        {"field": "plan.injections[2].units", "message": "must be greater than 0"}
    ]


def test_reconstitute_preempt_in_a_200_u_vial_with_4_ml():
    """README: 5 U per 0.1 mL, 0.1 mL per point, 1 vial, use by 24 h after reconstitution."""
    args = [
        "reconstitute",
        "--product",
        "onabotulinumtoxinA",
        "--vial",
        "200",
        "--diluent",
        "4",
        "--protocol",
        "preempt-155",
        "--reconstituted-at",
        "2026-11-25T09:00:00+00:00",
    ]
    text = bontrack(*args)
    assert text.returncode == 0, text.stderr
    assert "5 U per 0.1 mL" in text.stdout
    assert "31 × 5 U = 0.1 mL per point" in text.stdout
    assert "Vials needed: 1 × 200 U" in text.stdout
    assert "45 U left over" in text.stdout
    assert "Use by: 2026-11-26T09:00:00+00:00" in text.stdout

    as_json = bontrack(*args, "--json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout, parse_float=Decimal)
    assert answer["units_per_0_1_ml"] == "5"
    assert answer["per_point"] == [{"units": "5", "ml": "0.1", "count": 31}]
    assert answer["points"] == 31
    assert answer["total_units"] == "155"
    assert answer["total_ml"] == "3.1"
    assert answer["vials_needed"] == 1
    assert answer["units_left_over"] == "45"
    assert answer["use_by"] == "2026-11-26T09:00:00+00:00"


def _codes(section: str, stop: str = "\n## ") -> set[str]:
    body = CODES_MD.split(section, 1)[1].split(stop, 1)[0]
    return set(re.findall(r"`([a-zA-Z0-9][a-zA-Z0-9+-]*)`", body))


def test_catalog_json_lists_every_code_of_the_vocabulary():
    """DESIGN 3.3: `bontrack catalog` lists all codes, credentials and routes included."""
    run = bontrack("catalog", "--json")
    assert run.returncode == 0, run.stderr
    listed = json.loads(run.stdout)

    products = _codes("## Products")
    indications = set(
        re.findall(
            r"^\| `([a-z-]+)` \|",
            CODES_MD.split("## Indications", 1)[1].split("\n## ", 1)[0],
            re.M,
        )
    )
    protocols = _codes("## Protocols (ids)", "Each protocol belongs") - {"product-mismatch"}
    sites = _codes("## Sites") - {"left", "right", "midline"}
    credentials = _codes("Credentials:", "Roles")
    routes = _codes("## Routes", "(default")
    conditions = _codes("- Conditions:", "- Drugs")
    drugs = _codes("- Drugs (classes):", "- Allergies")

    assert len(products) == 7
    assert len(indications) == 18
    assert len(protocols) == 13
    assert len(sites) == 42  # codes.md; the catalog may add more
    assert credentials == {
        "physician",
        "nurse-practitioner",
        "physician-assistant",
        "registered-nurse",
        "dentist",
    }
    assert routes == {"intramuscular", "intradermal", "subcutaneous"}

    assert products <= {p["code"] for p in listed["products"]}
    assert indications <= {i["code"] for i in listed["indications"]}
    assert protocols <= {p["id"] for p in listed["protocols"]}
    assert sites <= {s["code"] for s in listed["sites"]}
    assert credentials <= set(listed["credentials"])
    assert routes <= set(listed["routes"])
    assert conditions <= set(listed["conditions"])
    assert drugs <= set(listed["drugs"])
    assert {"cow-milk-protein", "human-albumin"} | products <= set(listed["allergies"])

"""Golden files: what /fhir answers for the demo-like patient with a PREEMPT history
(tests/interop/world.py, built on a fixed clock), one file per resource type, plus the
CapabilityStatement.

Ids are random UUIDs and the digests cover them, so both are replaced, in order of first
appearance, by ``<uuid-N>`` and ``<sha256-N>`` before comparing; dates and times are the fixed
clock's. After an intended change, rewrite the files with
``BONTRACK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/interop/test_fhir_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.interop.support import EMITTED

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("BONTRACK_UPDATE_GOLDEN", "") == "1"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")
# meta.versionId digests the content, ids included: the ids change every run.
_VERSION = re.compile(r'"versionId": "[0-9a-f]{20}"')


class Normaliser:
    """The same placeholder for the same id or digest, across every file of one run."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, kind: str, found: re.Match[str]) -> str:
        text = found.group(0)
        if text not in self.names:
            count = sum(1 for n in self.names.values() if n.startswith(f"<{kind}-"))
            self.names[text] = f"<{kind}-{count + 1}>"
        return self.names[text]

    def __call__(self, value: Any) -> Any:
        text = json.dumps(value, ensure_ascii=False)
        text = _VERSION.sub('"versionId": "<version>"', text)
        text = _DIGEST.sub(lambda m: self._name("sha256", m), text)
        text = _UUID.sub(lambda m: self._name("uuid", m), text)
        return json.loads(text)


def compare(name: str, value: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with BONTRACK_UPDATE_GOLDEN=1 to write it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert value == expected, f"{name}: differs from {path} (BONTRACK_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.postgres(sqlite=True)
def test_everything_for_the_demo_patient_matches_the_golden_files(world):
    normalise = Normaliser()
    response = world.get("a-physician", f"/Patient/{world.maria.id}/$everything")
    assert response.status_code == 200
    bundle = normalise(response.json())
    by_type: dict[str, list[Any]] = {t: [] for t in EMITTED}
    for entry in bundle["entry"]:
        by_type[entry["resource"]["resourceType"]].append(entry["resource"])
    compare(
        "everything",
        {
            "resourceType": bundle["resourceType"],
            "type": bundle["type"],
            "total": bundle["total"],
            "link": bundle["link"],
            "entry": [e["fullUrl"] for e in bundle["entry"]],
        },
    )
    for resource_type, found in by_type.items():
        assert found, resource_type
        compare(resource_type, found)


def test_the_capability_statement_matches_its_golden_file(world):
    compare("CapabilityStatement", world.client.get("/fhir/metadata").json())

"""Helpers of the FHIR tests: validation against fhir.resources' R4B models, and walks over the
JSON that find every Quantity and Coding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

# Every resource type /fhir emits.
EMITTED = (
    "Patient",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Condition",
    "Consent",
    "Medication",
    "Procedure",
    "MedicationAdministration",
    "Observation",
    "AdverseEvent",
    "Provenance",
)


def validate(resource: dict[str, Any]) -> None:
    """Raises when the resource is not valid R4 (R4B's models: the same for these types)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", [])]


def of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in resources(bundle) if r["resourceType"] == resource_type]


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) of a JSON value, depth first."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from walk(item, f"{path}[{n}]")


def quantities(resource: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every Quantity-shaped object (it has a value and a unit or code)."""
    return [
        (path, v)
        for path, v in walk(resource)
        if isinstance(v, dict) and "value" in v and ("unit" in v or "code" in v)
    ]


def codings(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c.get("system") == system]


def extension(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in element.get("extension", []) if e["url"] == url]

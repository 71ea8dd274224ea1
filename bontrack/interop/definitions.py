"""bontrack's own terminology, published at its canonical URLs under the FHIR base.

Every code system (``CodeSystem/{name}``: the catalog's sites, indications, products, scales and
their levels, adverse-event terms, routes, credentials, roles, the procedure), every extension
(``StructureDefinition/{name}``) and every search parameter of bontrack's own
(``SearchParameter/bontrack-{type}-{name}``) that a resource names is served here, public like
the CapabilityStatement: they hold terminology, never patient data.
"""

from __future__ import annotations

from typing import Any

from bontrack.accounts.permissions import Role
from bontrack.domain.catalog import catalog
from bontrack.interop import fhir
from bontrack.interop.fhir_search import SEARCHES, own_parameter_id

PUBLISHER = "bontrack"


def _concepts(name: str) -> list[tuple[str, str]] | None:
    cat = catalog()
    if name.startswith("scale/"):
        scale = cat.scales.get(name.removeprefix("scale/"))
        if scale is None or not scale.levels:
            return None
        return [(level, level) for level in scale.levels]
    listed: dict[str, Any] = {
        "site": cat.sites,
        "indication": cat.indications,
        "product": cat.products,
        "scale": cat.scales,
        "adverse-event-term": cat.adverse_event_terms,
        "credential": cat.credentials,
    }
    if name in listed:
        return [(code, item.name) for code, item in listed[name].items()]
    if name == "route":
        return [(route, route) for route in cat.routes]
    if name == "role":
        return [(role.value, role.value) for role in Role]
    if name == "procedure":
        return [("botulinum-toxin-injection", "Botulinum toxin injection")]
    return None


def code_system(name: str) -> fhir.Resource | None:
    """``CodeSystem/{name}`` (``scale/{scale}`` for an ordinal scale's levels), complete."""
    concepts = _concepts(name)
    if concepts is None:
        return None
    return {
        "resourceType": "CodeSystem",
        "id": name.replace("/", "-"),
        "url": f"{fhir.BONTRACK_URI}/CodeSystem/{name}",
        "version": catalog().version,
        "name": "Bontrack" + "".join(p.capitalize() for p in name.replace("/", "-").split("-")),
        "title": f"bontrack {name.replace('/', ' ')} codes",
        "status": "active",
        "publisher": PUBLISHER,
        "description": "The codes of bontrack's catalog (they never change meaning).",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": [{"code": code, "display": display} for code, display in concepts],
    }


# Each extension: the element it extends, its value type, and what it says.
EXTENSIONS: dict[str, tuple[str, str, str]] = {
    "sha256-digest": ("Signature", "string", "The signed record's SHA-256 digest (hex)."),
    "prior-sha256-digest": (
        "Signature",
        "string",
        "The digest of the record this signature amends or co-signs.",
    ),
    "possible-lot": (
        "MedicationAdministration",
        "Reference",
        "A lot the dose may have been drawn from (the session used several, the dose names none).",
    ),
    "lot-recalled-at": ("Medication", "dateTime", "When the lot was recalled."),
    "assessment-timepoint": ("Observation", "code", "The result's timepoint (baseline, ...)."),
    "assessment-follows-procedure": (
        "Observation",
        "Reference",
        "The treatment session the result follows.",
    ),
    "given-elsewhere": ("Procedure", "string", "Where a dose given in another clinic was given."),
}


def structure_definition(name: str) -> fhir.Resource | None:
    if name not in EXTENSIONS:
        return None
    context, value_type, description = EXTENSIONS[name]
    url = f"{fhir.BONTRACK_URI}/StructureDefinition/{name}"
    return {
        "resourceType": "StructureDefinition",
        "id": name,
        "url": url,
        "name": "".join(p.capitalize() for p in name.split("-")),
        "status": "active",
        "publisher": PUBLISHER,
        "description": description,
        "fhirVersion": fhir.FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": context}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Extension", "path": "Extension", "short": description, "max": "*"},
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                {
                    "id": "Extension.value[x]",
                    "path": "Extension.value[x]",
                    "min": 1,
                    "type": [{"code": value_type}],
                },
            ]
        },
    }


def search_parameter(parameter_id: str) -> fhir.Resource | None:
    """bontrack's own search parameters (a synonym R4 does not define), with their meaning."""
    for resource_type, params in SEARCHES.items():
        for p in params:
            if p.r4 or own_parameter_id(resource_type, p.name) != parameter_id:
                continue
            return {
                "resourceType": "SearchParameter",
                "id": parameter_id,
                "url": f"{fhir.BONTRACK_URI}/SearchParameter/{parameter_id}",
                "name": p.name,
                "status": "active",
                "publisher": PUBLISHER,
                "description": p.documentation,
                "code": p.name,
                "base": [resource_type],
                "type": p.type,
                "expression": p.expression,
            }
    return None


def definition(kind: str, name: str) -> fhir.Resource | None:
    return {
        "CodeSystem": code_system,
        "StructureDefinition": structure_definition,
        "SearchParameter": search_parameter,
    }[kind](name)

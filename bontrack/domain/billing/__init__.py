"""Billing: the claim lines a signed session supports, from its record and a versioned catalog.

``catalog.py`` validates ``catalog/data/billing.toml`` (HCPCS codes, billing units, NDCs, CPT
codes per indication, ICD-10-CM suggestions, JW/JZ parameters) into frozen objects; ``charges.py``
turns one visit into a charge set. Pure: no Django, no clock, no I/O beyond the packaged data.
"""

from bontrack.domain.billing.catalog import (
    BillingCatalog,
    BillingCatalogError,
    BillingProduct,
    BillingTag,
    Counting,
    GuidanceAddOn,
    IcdSuggestion,
    NdcEntry,
    ProcedureCode,
    ProcedureRule,
    WasteRules,
    billing_catalog,
    parse_billing_catalog,
)
from bontrack.domain.billing.charges import (
    CATALOG_ITEM_CODES,
    CLAIM_ITEM_CODES,
    REFUSAL_CODES,
    ChargeLine,
    ChargeSet,
    ClaimItem,
    Visit,
    VisitPoint,
    VisitVial,
    charge_set_from_json,
    charge_set_json,
    derive_charges,
    ndc_for_claim,
    normalize_ndc,
)

__all__ = [
    "CATALOG_ITEM_CODES",
    "CLAIM_ITEM_CODES",
    "REFUSAL_CODES",
    "BillingCatalog",
    "BillingCatalogError",
    "BillingProduct",
    "BillingTag",
    "ChargeLine",
    "ChargeSet",
    "ClaimItem",
    "Counting",
    "GuidanceAddOn",
    "IcdSuggestion",
    "NdcEntry",
    "ProcedureCode",
    "ProcedureRule",
    "Visit",
    "VisitPoint",
    "VisitVial",
    "WasteRules",
    "billing_catalog",
    "charge_set_from_json",
    "charge_set_json",
    "derive_charges",
    "ndc_for_claim",
    "normalize_ndc",
    "parse_billing_catalog",
]

"""The catalog items a clinic confirms once in its billing settings (billing.md 7.8, first kind):
every one the current billing catalog can raise on a claim, and whether the clinic confirmed it.

A catalog item is the domain's ``ClaimItem(code, message)`` for a code in
``CATALOG_ITEM_CODES``; its message depends only on the catalog entry it is about, so the pair
names the entry. A confirmation holds while the billing catalog's version is the one it names: a
new catalog version re-opens every item, whether or not that entry's words changed.

Reads only: ``bontrack/billing/services.py`` checks who may confirm and writes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from bontrack.billing.models import CatalogConfirmation
from bontrack.domain.billing import (
    BillingCatalog,
    BillingTag,
    ClaimItem,
    Counting,
    ProcedureRule,
    billing_catalog,
)
from bontrack.domain.billing.catalog import GUIDANCE_KINDS

NDC_ON_WASTE_LINE = ClaimItem(
    "ndc-on-waste-line",
    "whether the JW line repeats the drug line's NDC was not found: the JW line carries it; "
    "confirm the payer's convention",
)
CONFIRM_IN_SETTINGS = "to be confirmed once for the clinic in Billing settings"


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A catalog item with whether, by whom and when the clinic confirmed it under the current
    catalog version."""

    code: str
    message: str
    catalog_version: str
    confirmed: bool
    confirmed_by: str = ""
    confirmed_at: datetime | None = None
    note: str = ""


# The wording below is the derivation's (``bontrack/domain/billing/charges.py``) word for word:
# an item is matched on its message. tests/billing/test_catalog_confirmations.py derives a visit
# of every kind and checks the list equals what the claims carry.


def _cited(tag: BillingTag, refs: Iterable[str]) -> str:
    keys = ", ".join(refs)
    return f"[{tag} {keys}]" if keys else f"[{tag}]"


def _procedure_words(rule: ProcedureRule) -> str:
    codes = ", ".join(c.code for c in rule.codes)
    if rule.confirm:
        return f"{codes} for {rule.indication}: {rule.confirm}"
    if rule.counting_tag is None:
        return f"how {codes} is counted for {rule.indication} was not found: confirm"
    return (
        f"{codes} counted '{rule.counting.value}' for {rule.indication} rests on "
        f"{_cited(rule.counting_tag, rule.counting_refs)}: confirm"
    )


def raisable_items(billing: BillingCatalog) -> tuple[ClaimItem, ...]:
    """Every catalog item a claim can carry under this catalog, in the catalog's order: the
    products' HCPCS codes, the procedures (counting and bilateral modifier), the guidance
    add-ons, the diagnoses, and the NDC on the JW line."""
    found: list[ClaimItem] = []

    def add(code: str, message: str) -> None:
        item = ClaimItem(code, message)
        if item not in found:
            found.append(item)

    for product in billing.products.values():
        if product.hcpcs is None:
            continue
        if product.confirm:
            add("hcpcs-to-confirm", f"{product.hcpcs}: {product.confirm}")
        if product.tag.to_confirm:
            add(
                "hcpcs-to-confirm",
                f"{product.hcpcs} for {product.product} rests on "
                f"{_cited(product.tag, product.refs)}: confirm",
            )
    for rule in billing.procedures.values():
        if rule.counting in (Counting.NONE, Counting.COSMETIC) or not rule.codes:
            continue
        if rule.counting is Counting.PER_SIDE and rule.bilateral is not None:
            bilateral = rule.bilateral
            add(
                "bilateral-modifier",
                f"modifier {bilateral.modifier} on {rule.codes[0].code} for both sides rests on "
                f"{_cited(bilateral.tag, bilateral.refs)}; the bilateral indicator was not "
                "found: confirm the payer's convention (50, or RT and LT lines)",
            )
        # Extremity counting raises its item only when two or more extremities are treated, and
        # then only for what the catalog leaves open.
        extremity = rule.counting is Counting.EXTREMITY
        if rule.confirm if extremity else rule.needs_confirming:
            add("procedure-to-confirm", _procedure_words(rule))
    for kind in GUIDANCE_KINDS:
        add_on = billing.guidance.get(kind)
        if add_on is None:
            add(
                "guidance-to-confirm",
                f"no code for {kind} guidance is in the billing catalog: the clinic fills it",
            )
        elif add_on.code is None:
            add("guidance-to-confirm", f"{kind} guidance: {add_on.confirm}")
        elif add_on.confirm:
            add("guidance-to-confirm", f"+{add_on.code}: {add_on.confirm}")
    for suggestions in billing.icd.values():
        for suggestion in suggestions:
            if suggestion.tag.to_confirm:
                add(
                    "diagnosis-to-confirm",
                    f"{suggestion.code} as a diagnosis rests on "
                    f"{_cited(suggestion.tag, suggestion.refs)}: confirm it",
                )
    if any(p.hcpcs is not None for p in billing.products.values()):
        add(NDC_ON_WASTE_LINE.code, NDC_ON_WASTE_LINE.message)
    return tuple(found)


def confirmations_of(clinic_id: UUID, version: str) -> dict[tuple[str, str], CatalogConfirmation]:
    """The clinic's confirmations that hold under a catalog version, by (code, message)."""
    rows = (
        CatalogConfirmation.objects.filter(clinic_id=clinic_id, catalog_version=version)
        .select_related("confirmed_by__user")
        .order_by("confirmed_at", "id")
    )
    found: dict[tuple[str, str], CatalogConfirmation] = {}
    for row in rows:
        found.setdefault((row.item_code, row.message), row)
    return found


def with_confirmations(
    items: Iterable[ClaimItem],
    confirmations: Mapping[tuple[str, str], CatalogConfirmation],
    version: str,
) -> tuple[CatalogItem, ...]:
    out = []
    for item in items:
        found = confirmations.get((item.code, item.message))
        out.append(
            CatalogItem(
                code=item.code,
                message=item.message,
                catalog_version=version,
                confirmed=found is not None,
                confirmed_by=found.confirmed_by.display_name if found else "",
                confirmed_at=found.confirmed_at if found else None,
                note=found.note if found else "",
            )
        )
    return tuple(out)


def clinic_catalog_items(clinic_id: UUID) -> tuple[CatalogItem, ...]:
    """Every item the current catalog can raise, with the clinic's confirmation of each."""
    billing = billing_catalog()
    return with_confirmations(
        raisable_items(billing), confirmations_of(clinic_id, billing.version), billing.version
    )


def left_out_words(item: CatalogItem) -> str:
    """Why an unconfirmed catalog item keeps a claim out of the claims file."""
    return f"{item.message}: {CONFIRM_IN_SETTINGS}"

"""The identifiers a claim carries, checked as typed: a provider's NPI and a lot's NDC.

- **NPI**: 10 digits whose last is a Luhn check digit computed over the card issuer prefix
  80840 followed by the first nine digits (CMS, "Requirements for the NPI check digit").
- **NDC**: the 11-digit 5-4-2 form a claim needs (billing.md 5.2), written with hyphens for
  reading (``00023-3921-02``); a 10-digit form (4-4-2, 5-3-2, 5-4-1) is refused with how to pad
  it, since which segment is short cannot be guessed from the digits alone.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bontrack.domain.billing import billing_catalog

NPI_PREFIX = "80840"
_NDC_HYPHENATED = re.compile(r"^(\d{5})-(\d{4})-(\d{2})$")
_NDC_DIGITS = re.compile(r"^\d{11}$")


def luhn_valid(digits: str) -> bool:
    """Whether the last digit of ``digits`` is the Luhn check digit of the others."""
    total = 0
    for n, char in enumerate(reversed(digits)):
        value = int(char)
        if n % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def npi_problem(npi: str) -> str:
    """What is wrong with a typed NPI, or "" (blank is allowed: no NPI recorded yet)."""
    if npi == "":
        return ""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return "an NPI is 10 digits"
    if not luhn_valid(NPI_PREFIX + npi):
        return "not a valid NPI: its check digit does not match (check for a mistyped digit)"
    return ""


def normal_ndc(typed: str) -> str:
    """A typed NDC in its 5-4-2 hyphenated form; ``ValueError`` saying why when it is not one."""
    text = typed.strip()
    found = _NDC_HYPHENATED.match(text)
    if found:
        return text
    if _NDC_DIGITS.match(text):
        return f"{text[:5]}-{text[5:9]}-{text[9:]}"
    digits = text.replace("-", "")
    if digits.isascii() and digits.isdigit() and len(digits) == 10:
        raise ValueError(
            "give the 11-digit 5-4-2 form: pad the short segment with a leading zero "
            "(e.g. 10454-710-10 is 10454-0710-10)"
        )
    raise ValueError("an NDC is 11 digits in the 5-4-2 form, e.g. 00023-3921-02")


def lot_ndc(product: str, vial_units: Decimal, typed: str | None) -> tuple[str, bool]:
    """The NDC a lot records when it is received, and whether it is to confirm (billing.md 7.5).

    Typed: checked as an 11-digit 5-4-2 NDC (``ValueError`` naming why not); one of the billing
    catalog's NDCs for the product and vial size stands as chosen, any other is to confirm. Not
    typed: the catalog's NDC for the product and size when there is exactly one that is not a
    cosmetic package, else none."""
    found = billing_catalog().product(product)
    known = found.ndcs_for(vial_units) if found is not None else ()
    if typed is None or not typed.strip():
        medical = [e.ndc for e in known if not e.cosmetic and e.ndc is not None]
        return (medical[0], False) if len(medical) == 1 else ("", False)
    ndc = normal_ndc(typed)
    return ndc, ndc not in {e.ndc for e in known}

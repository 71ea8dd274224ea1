"""How a signed session becomes an invoice's lines: which price applies, and the arithmetic.

Nothing here is typed by anyone: the product, the units given and the protocol come from the
signed record, the amounts from the clinic's prices valid on the day of treatment. No Django, no
clock, no database: the services hand in the record's values and the prices they read.

Amounts are exact decimals rounded to the cent, half up, on each line: a line's amount is its
quantity times its unit price, its tax that amount times the price's rate; the invoice's
subtotal, tax and total are the sums of its lines. Prices are net of tax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from bontrack.domain.catalog import catalog
from bontrack.domain.units import Units, format_decimal

CENT = Decimal("0.01")
# The largest amount a column of 12 digits with 2 places holds.
MAX_AMOUNT = Decimal("9999999999.99")


class PriceKind(StrEnum):
    """What one price is for: each unit of a product given, an area (a protocol of the catalog)
    treated, or a whole session."""

    PER_UNIT = "per-unit"
    PER_AREA = "per-area"
    PER_SESSION = "per-session"


# Which price a session takes when the caller does not say: the most specific one the clinic set.
PRECEDENCE = (PriceKind.PER_AREA, PriceKind.PER_UNIT, PriceKind.PER_SESSION)


def money(value: Decimal) -> Decimal:
    """To the cent, half up (0.125 is 0.13)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(value: Decimal) -> str:
    """An amount as the API and the files write it: always two places ("240.00")."""
    return f"{money(value):.2f}"


@dataclass(frozen=True, slots=True)
class Price:
    """One version of a price, as the price list holds it."""

    id: str
    product: str
    kind: str
    area: str
    indication: str
    amount: Decimal
    currency: str
    tax_rate: Decimal
    valid_from: date


@dataclass(frozen=True, slots=True)
class Treated:
    """What an invoice may show of a signed session: product, units given and area, nothing
    clinical beyond them."""

    product: str
    indication: str
    protocol: str  # "" when the session was not planned from a protocol
    units: Units


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    detail: str
    quantity: Decimal
    unit: str  # "U", "area", "session"
    unit_price: Decimal
    tax_rate: Decimal
    amount: Decimal
    tax: Decimal
    price_id: str

    def stored(self) -> dict[str, str]:
        """The line as an invoice keeps it: every number a decimal string."""
        return {
            "description": self.description,
            "detail": self.detail,
            "quantity": format_decimal(self.quantity),
            "unit": self.unit,
            "unit_price": money_text(self.unit_price),
            "tax_rate": format_decimal(self.tax_rate),
            "amount": money_text(self.amount),
            "tax": money_text(self.tax),
            "price_id": self.price_id,
        }

    @classmethod
    def from_stored(cls, row: dict[str, str]) -> Line:
        return cls(
            description=row["description"],
            detail=row["detail"],
            quantity=Decimal(row["quantity"]),
            unit=row["unit"],
            unit_price=Decimal(row["unit_price"]),
            tax_rate=Decimal(row["tax_rate"]),
            amount=Decimal(row["amount"]),
            tax=Decimal(row["tax"]),
            price_id=row["price_id"],
        )


@dataclass(frozen=True, slots=True)
class Priced:
    """A session's invoice before it is issued: its lines and totals in one currency."""

    kind: str
    lines: tuple[Line, ...]
    currency: str

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def price_ids(self) -> tuple[str, ...]:
        return tuple(line.price_id for line in self.lines)


class PricingError(Exception):
    """The session cannot be priced; the message names what to price."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def is_cosmetic(indication: str) -> bool:
    """A cosmetic indication is invoiced, never claimed (billing.md 7.3)."""
    found = catalog().indications.get(indication)
    return found is not None and found.cosmetic


def product_words(code: str) -> str:
    product = catalog().products.get(code)
    if product is None or not product.brands:
        return code
    return f"{product.brands[0]} ({product.code})"


def area_words(protocol: str) -> str:
    found = catalog().protocols.get(protocol)
    return found.name if found is not None else protocol


def current_prices(prices: Iterable[Price], on: date) -> list[Price]:
    """The price list on a day: per (product, kind, area, indication), the version valid that
    day that came last (the latest ``valid_from``; of two from the same day, the later one in
    ``prices``, which the caller gives in the order they were recorded)."""
    chosen: dict[tuple[str, str, str, str], Price] = {}
    for price in prices:
        if price.valid_from > on:
            continue
        key = (price.product, price.kind, price.area, price.indication)
        held = chosen.get(key)
        if held is None or price.valid_from >= held.valid_from:
            chosen[key] = price
    return sorted(chosen.values(), key=lambda p: (p.product, p.kind, p.area, p.indication))


def _price_of(prices: Iterable[Price], treated: Treated, kind: str) -> Price | None:
    """The price of this kind for the session's product (and area): the one set for its
    indication wins over the one for every indication."""
    area = treated.protocol if kind == PriceKind.PER_AREA else ""
    if kind == PriceKind.PER_AREA and not area:
        return None
    fitting = [
        p
        for p in prices
        if p.product == treated.units.product
        and p.kind == kind
        and p.area == area
        and p.indication in (treated.indication, "")
    ]
    chosen = [p for p in fitting if p.indication == treated.indication] or fitting
    return chosen[0] if chosen else None


def _line(treated: Treated, price: Price) -> Line:
    units = treated.units
    given = f"{product_words(units.product)}, {units.text} U given"
    if price.kind == PriceKind.PER_UNIT:
        description, detail, quantity, unit = product_words(units.product), "", units.amount, "U"
    elif price.kind == PriceKind.PER_AREA:
        description, detail, quantity, unit = area_words(price.area), given, Decimal(1), "area"
    else:
        description, detail, quantity, unit = "Treatment session", given, Decimal(1), "session"
    amount = money(quantity * price.amount)
    return Line(
        description=description,
        detail=detail,
        quantity=quantity,
        unit=unit,
        unit_price=price.amount,
        tax_rate=price.tax_rate,
        amount=amount,
        tax=money(amount * price.tax_rate / 100),
        price_id=price.id,
    )


def _what_to_price(treated: Treated, kind: str | None) -> str:
    product = product_words(treated.units.product)
    if kind == PriceKind.PER_UNIT:
        return f"set a per-unit price for {product}"
    if kind == PriceKind.PER_AREA:
        return f"set a per-area price for {area_words(treated.protocol)} ({product})"
    if kind == PriceKind.PER_SESSION:
        return f"set a per-session price for {product}"
    options = [f"a per-unit price for {product}"]
    if treated.protocol:
        options.insert(0, f"a per-area price for {area_words(treated.protocol)}")
    options.append(f"a per-session price for {product}")
    return "set " + ", or ".join(options)


def price_session(treated: Treated, prices: Iterable[Price], kind: str | None = None) -> Priced:
    """The invoice's lines for a session at the prices valid on its day (``prices``: the price
    list of that day). ``kind`` chooses how it is priced; without it, the most specific kind
    the clinic priced (an area, then units, then the session). A missing price is refused,
    naming what to price."""
    listed = list(prices)
    if kind is not None and kind not in PRECEDENCE:
        raise PricingError("kind", f"must be one of {', '.join(PRECEDENCE)}")
    if kind == PriceKind.PER_AREA and not treated.protocol:
        raise PricingError(
            "kind", "this session was not planned from a protocol: it has no area to price"
        )
    for candidate in (kind,) if kind is not None else PRECEDENCE:
        price = _price_of(listed, treated, candidate)
        if price is not None:
            return Priced(candidate, (_line(treated, price),), price.currency)
    raise PricingError(
        "kind" if kind is not None else None,
        f"no price for this session: {_what_to_price(treated, kind)} (Prices page)",
    )

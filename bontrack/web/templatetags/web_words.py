"""How the pages write stored values: ``{{ lot.vial_size_units|amount }}`` (units, mL, kg without
trailing zeros: "2.5", never "2.500", which Django's ``floatformat:"-3"`` pads a fraction to) and
``{{ membership.role|role_words }}`` ("nurse injector", not the code "nurse-injector") and
``{{ consent.indication|indication_words }}`` ("chronic migraine": the catalog's name, not the
code)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from bontrack.web import present

register = template.Library()


@register.filter
def amount(value: Decimal | str | int | None) -> str:
    return present.units(value)


@register.filter
def role_words(code: str) -> str:
    return present.role_words(code)


@register.filter
def indication_words(code: str) -> str:
    return present.indication_name(code).lower()

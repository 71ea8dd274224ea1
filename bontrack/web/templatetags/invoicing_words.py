"""``{% if session.indication|cosmetic %}``: whether a session's indication is cosmetic, so that
the session page offers its invoice (a medical one is claimed, and invoiced only as self-pay)."""

from __future__ import annotations

from django import template

from bontrack.invoicing.pricing import is_cosmetic

register = template.Library()


@register.filter
def cosmetic(indication: str) -> bool:
    return is_cosmetic(indication)

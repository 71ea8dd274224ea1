"""``{% if request.actor|can:"chart.read" %}``: whether the signed-in member holds a permission
(the navigation shows only the pages the role may open; the views check it again)."""

from __future__ import annotations

from django import template

from bontrack.accounts.permissions import Perm

register = template.Library()


@register.filter
def can(actor: object, perm: str) -> bool:
    membership = getattr(actor, "membership", None)
    return membership is not None and bool(membership.can(Perm(perm)))

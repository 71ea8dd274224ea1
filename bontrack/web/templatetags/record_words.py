"""How the pages word a stored finding: ``{{ finding.severity|severity_words }}`` ("Warning",
not the code "warn") and ``{{ finding.sites|site_labels|join:", " }}`` ("Biceps brachii (left)",
the catalog's name and the side)."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from bontrack.treatments.reads import FindingSite
from bontrack.web import bodymap, present

register = template.Library()


@register.filter
def severity_words(code: str) -> str:
    return present.SEVERITY_WORDS.get(code, code)


@register.filter
def site_labels(sites: Iterable[FindingSite]) -> list[str]:
    return [bodymap.site_label(s.site, s.side) for s in sites]

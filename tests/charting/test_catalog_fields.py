"""The catalog's new fields are validated like the others: photo views per indication, and the
products an adverse-event term is tied to."""

from __future__ import annotations

import pytest

from bontrack.domain.catalog import catalog
from bontrack.domain.catalog.load import CatalogError, packaged_texts, parse_catalog


def _with(file: str, old: str, new: str) -> dict[str, str]:
    texts = packaged_texts()
    assert old in texts[file]
    texts[file] = texts[file].replace(old, new, 1)
    return texts


def test_every_cosmetic_and_movement_indication_names_its_photo_views():
    cat = catalog()
    assert [v.name for v in cat.indications["glabellar-lines"].photo_views] == [
        "At rest",
        "At maximal frown",
    ]
    for code in ("blepharospasm", "cervical-dystonia", "lateral-canthal-lines", "forehead-lines"):
        assert len(cat.indications[code].photo_views) >= 2, code
    assert cat.indications["chronic-migraine"].photo_views == ()


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            '{ code = "at-rest", name = "At rest" }',
            '{ code = "At Rest", name = "At rest" }',
            "code",
        ),
        (
            '{ code = "maximal-frown", name = "At maximal frown" }',
            '{ code = "at-rest", name = "At maximal frown" }',
            "listed twice",
        ),
        ('{ code = "at-rest", name = "At rest" }', '{ code = "at-rest" }', "name: is required"),
        (
            '{ code = "at-rest", name = "At rest" }',
            '{ code = "at-rest", name = "At rest", angle = 45 }',
            "unknown field",
        ),
    ],
)
def test_a_bad_photo_view_stops_the_catalog_naming_the_field(old, new, problem):
    with pytest.raises(CatalogError) as refused:
        parse_catalog(_with("indications.toml", old, new))
    assert "indications.toml" in str(refused.value)
    assert problem in str(refused.value)


def test_a_term_tied_to_an_unknown_product_stops_the_catalog():
    texts = _with(
        "adverse_events.toml", 'products = ["daxibotulinumtoxinA"]', 'products = ["botox"]'
    )
    with pytest.raises(CatalogError, match="products: unknown code 'botox'"):
        parse_catalog(texts)


def test_terms_are_reported_for_their_indication_and_product():
    terms = catalog().adverse_event_terms
    assert terms["facial-paresis"].reported_for("glabellar-lines", "daxibotulinumtoxinA")
    assert not terms["facial-paresis"].reported_for("glabellar-lines", "onabotulinumtoxinA")
    assert terms["distant-spread"].reported_for("strabismus", "onabotulinumtoxinA")
    assert not terms["eyelid-ptosis"].reported_for("cervical-dystonia", "onabotulinumtoxinA")

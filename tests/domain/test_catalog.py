"""The catalog's data: complete against the vocabulary, validated at load, version-locked."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bontrack.domain.catalog import CatalogError, catalog
from bontrack.domain.catalog.load import content_hash, packaged_texts, parse_catalog, read_lock
from bontrack.domain.catalog.model import Severity, Tag

CODES_MD = (Path(__file__).parent.parent / "data" / "codes.md").read_text(encoding="utf-8")


def _codes_in_section(title: str) -> set[str]:
    section = CODES_MD.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([a-z0-9][a-z0-9+-]*)`", section))


def test_every_product_code_of_the_vocabulary_is_in_the_catalog():
    section = CODES_MD.split("## Products", 1)[1].split("\n## ", 1)[0]
    products = set(re.findall(r"`([a-zA-Z]+)`", section))
    assert len(products) == 7
    assert products == set(catalog().products)


def test_every_indication_code_is_in_the_catalog():
    section = CODES_MD.split("## Indications", 1)[1].split("\n## ", 1)[0]
    indications = set(re.findall(r"^\| `([a-z-]+)` \|", section, re.M))
    assert len(indications) == 18
    assert indications == set(catalog().indications)


def test_every_protocol_id_is_in_the_catalog():
    section = CODES_MD.split("## Protocols (ids)", 1)[1].split("Each protocol belongs", 1)[0]
    protocols = set(re.findall(r"`([a-z0-9-]+-\d+|[a-z]+-[a-z-]+)`", section))
    protocols = {p for p in protocols if p != "product-mismatch"}
    assert len(protocols) == 13
    assert protocols == set(catalog().protocols)


def test_every_site_code_is_in_the_catalog():
    section = CODES_MD.split("## Sites", 1)[1].split("\n## ", 1)[0]
    sites = set(re.findall(r"`([a-z-]+)`", section)) - {"left", "right", "midline"}
    assert sites == set(catalog().sites)


def test_patient_factor_and_credential_codes_are_in_the_catalog():
    cat = catalog()
    section = CODES_MD.split("## Patient factors", 1)[1].split("\n## ", 1)[0]
    conditions = section.split("- Conditions:", 1)[1].split("- Drugs", 1)[0]
    drugs = section.split("- Drugs (classes):", 1)[1].split("- Allergies", 1)[0]
    assert set(re.findall(r"`([a-z-]+)`", conditions)) == set(cat.codes_of("condition"))
    assert set(re.findall(r"`([a-z-]+)`", drugs)) == set(cat.codes_of("drug"))
    assert {"cow-milk-protein", "human-albumin"} == set(cat.codes_of("allergy"))
    creds = CODES_MD.split("Credentials:", 1)[1].split("Roles", 1)[0]
    assert set(re.findall(r"`([a-z-]+)`", creds)) == set(cat.credentials)
    assert set(cat.routes) == {"intramuscular", "intradermal", "subcutaneous"}


def test_every_scale_code_is_in_the_catalog():
    section = CODES_MD.split("## Outcome scales", 1)[1].split("\n## ", 1)[0]
    scales = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M))
    assert scales == set(catalog().scales)


def test_protocols_expand_to_the_points_codes_md_lists():
    cat = catalog()
    assert len(cat.protocols["preempt-155"].points) == 31
    assert cat.protocols["preempt-155"].total == 155
    assert len(cat.protocols["preempt-195"].points) == 39
    assert cat.protocols["preempt-195"].total == 195
    assert cat.protocols["axillary-hyperhidrosis-100"].total == 100
    assert {p.route for p in cat.protocols["axillary-hyperhidrosis-100"].points} == {"intradermal"}
    assert cat.protocols["glabellar-dysport-50"].product == "abobotulinumtoxinA"
    assert cat.protocols["glabellar-daxxify-40"].total == 40
    bleph = cat.protocols["blepharospasm-initial"].points
    assert {(p.units, p.units_max) for p in bleph} == {(Decimal("1.25"), Decimal("2.5"))}
    assert cat.protocols["masseter-bruxism"].indications == (
        "bruxism",
        "temporomandibular-disorder",
    )


def test_uncertain_and_off_label_facts_never_block():
    for limit in catalog().limits:
        if limit.cite.tag in (Tag.UNCERTAIN, Tag.OFF_LABEL):
            assert limit.severity is not Severity.BLOCK, limit.id


def test_every_clinical_number_cites_a_known_source():
    cat = catalog()
    cites = [limit.cite for limit in cat.limits] + [i.cite for i in cat.intervals]
    cites += [d.cite for d in cat.muscle_doses] + [p.cite for p in cat.protocols.values()]
    for cite in cites:
        assert cite.refs
        for ref in cite.refs:
            assert ref.split()[0] in cat.sources


def test_the_lock_matches_the_data_and_its_version():
    texts = packaged_texts()
    lock = read_lock()
    assert lock["sha256"] == content_hash(texts), (
        "the catalog data changed: bump `version` in catalog.toml and run `make catalog-lock`"
    )
    assert lock["version"] == catalog().version


def test_a_data_change_changes_the_hash():
    texts = packaged_texts()
    changed = dict(
        texts,
        **{"limits.toml": texts["limits.toml"].replace("max_units = 400", "max_units = 401", 1)},
    )
    assert content_hash(changed) != content_hash(texts)


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "limits.toml",
            'severity = "warn"\ndescription = "maximum cumulative dose of 400 U per treatment',
            'severity = "block"\ndescription = "maximum cumulative dose of 400 U per treatment',
            "limit 'xeomin-400-per-session': severity: a [U] fact never blocks",
        ),
        (
            "protocols.toml",
            '{ site = "procerus", side = "midline", units = 5 }',
            '{ site = "procerus", side = "left", units = 5 }',
            "protocol 'preempt-155': points[2]: side: must be one of midline",
        ),
        (
            "products.toml",
            "in_use_hours = 72",
            'in_use_hours = "72"',
            "product 'daxibotulinumtoxinA': in_use_hours: must be a number",
        ),
        (
            "limits.toml",
            'source = "B1-STRAB"',
            'source = "NOWHERE 1"',
            "limit 'ona-strabismus-25-per-muscle': source: unknown source key 'NOWHERE'",
        ),
        (
            "indications.toml",
            'code = "bruxism"\n',
            'code = "bruxism"\nfavourite = true\n',
            "indication 'bruxism': favourite: unknown field",
        ),
        (
            "catalog.toml",
            'version = "2026.',
            'version = "next.',
            "catalog.toml: catalog: version: must look like YYYY.MM.N",
        ),
    ],
)
def test_an_invalid_file_names_the_file_the_entry_and_the_field(file, old, new, expected):
    texts = packaged_texts()
    assert old in texts[file]
    broken = dict(texts, **{file: texts[file].replace(old, new, 1)})
    with pytest.raises(CatalogError) as error:
        parse_catalog(broken)
    assert str(error.value).startswith(file)
    assert expected in str(error.value)

"""The price list: appended versions, the latest valid today per product, kind, area and
indication; what a price must name; who may set one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ForbiddenError, ServiceError
from bontrack.invoicing import services as invoicing
from bontrack.invoicing.models import PriceEntry
from tests import builders
from tests.invoicing.support import set_price

pytestmark = pytest.mark.django_db


def test_a_new_price_is_a_version_that_names_the_one_it_follows():
    s = builders.staff()
    first = set_price(s, amount="12.00")
    second = set_price(s, amount="13.50", valid_from=timezone.localdate())
    assert second.replaces == first
    assert PriceEntry.objects.filter(clinic=s.clinic).count() == 2
    listed = invoicing.price_list(s.actor("nurse"))
    assert [(p.product, p.kind, p.amount) for p in listed.current] == [
        ("onabotulinumtoxinA", "per-unit", Decimal("13.50"))
    ]
    # The version in force before today is still the price of yesterday.
    yesterday = invoicing.price_list(s.actor("nurse"), timezone.localdate() - timedelta(days=1))
    assert [p.amount for p in yesterday.current] == [Decimal("12.00")]


def test_a_price_recorded_to_start_later_waits_for_its_day():
    s = builders.staff()
    set_price(s, amount="12.00")
    later = set_price(s, amount="15.00", valid_from=timezone.localdate() + timedelta(days=7))
    listed = invoicing.price_list(s.actor("front_desk"))
    assert [p.amount for p in listed.current] == [Decimal("12.00")]
    assert list(listed.upcoming) == [later]
    on_the_day = invoicing.price_list(s.actor("front_desk"), later.valid_from)
    assert [p.amount for p in on_the_day.current] == [Decimal("15.00")]


def test_prices_per_unit_are_per_product_and_kinds_and_areas_are_kept_apart():
    s = builders.staff()
    set_price(s, amount="12.00")
    set_price(s, product="abobotulinumtoxinA", amount="4.00")
    set_price(s, kind="per-area", area="glabellar-20", amount="250.00")
    set_price(s, kind="per-area", area="lateral-canthal-24", amount="300.00")
    set_price(s, kind="per-session", amount="80.00", indication="chronic-migraine")
    listed = invoicing.price_list(s.actor("physician"))
    assert sorted((p.product, p.kind, p.area, p.indication, p.amount) for p in listed.current) == [
        ("abobotulinumtoxinA", "per-unit", "", "", Decimal("4.00")),
        ("onabotulinumtoxinA", "per-area", "glabellar-20", "", Decimal("250.00")),
        ("onabotulinumtoxinA", "per-area", "lateral-canthal-24", "", Decimal("300.00")),
        ("onabotulinumtoxinA", "per-session", "", "chronic-migraine", Decimal("80.00")),
        ("onabotulinumtoxinA", "per-unit", "", "", Decimal("12.00")),
    ]


def test_a_new_price_takes_the_clinics_currency_when_none_is_given():
    s = builders.staff()
    with pytest.raises(ServiceError) as refused:
        set_price(s, currency=None)
    assert refused.value.field == "currency"
    set_price(s, currency="eur")
    assert set_price(s, currency=None, amount="13.00").currency == "EUR"


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"product": "no-such-toxin"}, "product", "unknown product code"),
        ({"kind": "per-vial"}, "kind", "must be one of per-unit, per-area, per-session"),
        ({"kind": "per-area"}, "area", "names its area"),
        ({"kind": "per-area", "area": "glabellar-dysport-50"}, "area", "a protocol of Dysport"),
        ({"area": "glabellar-20"}, "area", "only a per-area price"),
        ({"indication": "wrinkles"}, "indication", "unknown indication code"),
        ({"amount": "-1"}, "amount", "must not be negative"),
        ({"amount": "12.345"}, "amount", "at most 2 decimals"),
        ({"amount": "99999999999"}, "amount", "must be at most"),
        ({"tax_rate": "120"}, "tax_rate", "from 0 to 100"),
        ({"tax_rate": "8.8755"}, "tax_rate", "at most 3 decimals"),
        ({"currency": "US$"}, "currency", "ISO 4217"),
    ],
)
def test_what_a_price_must_be(values: dict[str, str], field: str, words: str):
    s = builders.staff()
    with pytest.raises(ServiceError) as refused:
        set_price(s, **values)
    assert refused.value.field == field
    assert words in refused.value.message
    assert not PriceEntry.objects.exists()


def test_setting_a_price_is_audited_and_needs_billing_write():
    s = builders.staff()
    entry = set_price(s, amount="12.00", tax_rate="8.875")
    written = AuditEntry.objects.filter(clinic=s.clinic, object_type="price").get()
    assert (written.action, written.object_id) == ("create", str(entry.id))
    assert written.detail["amount"] == "12.00"
    assert written.detail["tax_rate"] == "8.875"
    for role in ("nurse", "auditor"):
        with pytest.raises(ForbiddenError):
            set_price(s, role=role)
    assert PriceEntry.objects.count() == 1

"""Saved plans and repeat last: both make normal, checked plans; repeat last never crosses
products, and shows what changed since the repeated session first."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.charting.models import PlanOrigin
from bontrack.charting.services import plans
from bontrack.core.errors import ForbiddenError, ServiceError
from bontrack.patients.services import update_patient
from bontrack.treatments.records import current_points, total_units
from tests import builders
from tests.charting import support

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    s = builders.staff()
    p = builders.patient(
        s, weight_kg=Decimal(60), weight_measured_on=timezone.localdate() - timedelta(days=300)
    )
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=300))
    return s, p


def test_repeat_last_never_crosses_products(world):
    s, p = world
    botox = support.glabellar_session(s, p, support.days_ago(200))
    # Later, Dysport for the same indication, in Dysport's units.
    dysport = support.glabellar_session(
        s, p, support.days_ago(100), product="abobotulinumtoxinA", size=300, units=Decimal(10)
    )
    again = plans.repeat_last(
        s.actor("nurse"),
        p.id,
        indication="glabellar-lines",
        product="onabotulinumtoxinA",
        plan_date=timezone.localdate(),
    )
    assert again.product == "onabotulinumtoxinA"
    assert total_units(current_points(again)) == Decimal(20)  # BOTOX's 20 U, not Dysport's 50
    assert PlanOrigin.objects.get(session=again).source_session_id == botox.id
    assert again.check_result["verdict"] in ("ok", "warn", "block")  # checked like any plan
    dys = plans.repeat_last(
        s.actor("nurse"),
        p.id,
        indication="glabellar-lines",
        product="abobotulinumtoxinA",
        plan_date=timezone.localdate(),
    )
    assert PlanOrigin.objects.get(session=dys).source_session_id == dysport.id
    assert total_units(current_points(dys)) == Decimal(50)
    with pytest.raises(ServiceError) as refused:
        plans.repeat_last(
            s.actor("nurse"),
            p.id,
            indication="glabellar-lines",
            product="incobotulinumtoxinA",
            plan_date=timezone.localdate(),
        )
    assert "never repeated across products" in refused.value.message


def test_what_changed_since_comes_with_the_repeated_plan(world):
    s, p = world
    support.glabellar_session(s, p, support.days_ago(120))
    update_patient(
        s.actor("physician"),
        p.id,
        timezone.localdate(),
        weight_kg=Decimal(64),
        weight_measured_on=timezone.localdate() - timedelta(days=3),
        medications=["aminoglycosides"],
    )
    again = plans.repeat_last(
        s.actor("nurse"),
        p.id,
        indication="glabellar-lines",
        product="onabotulinumtoxinA",
        plan_date=timezone.localdate(),
    )
    again.refresh_from_db()
    changes = plans.changes_since(again)
    assert changes is not None
    kinds = [i["kind"] for i in changes.items]
    texts = " | ".join(i["text"] for i in changes.items)
    assert kinds[0] == "weight"
    assert "64 kg" in texts
    assert "Medicines changed" in texts
    assert "New finding (warn, precaution)" in texts


def test_saved_plans_are_named_patterns_used_as_normal_plans(world):
    s, p = world
    source = support.glabellar_session(s, p, support.days_ago(50), units=Decimal(4))
    mine = plans.save_plan(s.actor("nurse"), name="my glabellar 20 U", session_id=source.id)
    shared = plans.save_plan(
        s.actor("physician"), name="clinic glabellar", session_id=source.id, shared=True
    )
    assert plans.saved_total(mine) == Decimal(20)
    assert {x.id for x in plans.list_saved_plans(s.actor("nurse"))} == {mine.id, shared.id}
    assert {x.id for x in plans.list_saved_plans(s.actor("physician"))} == {shared.id}
    other = builders.patient(s, record="P-2")
    made = plans.plan_from_saved(
        s.actor("nurse"), other.id, mine.id, plan_date=timezone.localdate()
    )
    assert made.patient_id == other.id
    assert made.product == "onabotulinumtoxinA"
    assert [(x.site, x.units) for x in current_points(made)] == [
        (x.site, Decimal(4)) for x in support.GLABELLAR
    ]
    assert made.check_result["findings"] is not None
    with pytest.raises(ForbiddenError):
        plans.plan_from_saved(
            s.actor("physician"), other.id, mine.id, plan_date=timezone.localdate()
        )
    with pytest.raises(ForbiddenError):
        plans.save_plan(s.actor("front_desk"), name="x", session_id=source.id)

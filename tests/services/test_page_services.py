"""The service functions the pages added: the day's plans, the cumulative-dose series, usable
vials, recalled lots with their exposure counts, loading a protocol into a plan, reading a session
(and printing it), and which findings still refuse a signature. (Who is due is the follow-up's
due list: tests/services/test_due_list.py.)"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.domain.treatment import HistoryEntry
from bontrack.domain.units import Units
from bontrack.inventory import services as inventory
from bontrack.treatments import services
from bontrack.treatments.cumulative import cumulative_series
from bontrack.treatments.schedule import day_plans
from tests import builders

TODAY = date(2026, 11, 25)


def test_cumulative_series_counts_the_window_per_product_and_never_mixes():
    ona, abo = "onabotulinumtoxinA", "abobotulinumtoxinA"
    history = [
        HistoryEntry(
            TODAY - timedelta(days=100), ona, "chronic-migraine", Units(ona, Decimal(155))
        ),
        HistoryEntry(TODAY - timedelta(days=42), ona, "upper-limb-spasticity", Units(ona, 300)),
        HistoryEntry(TODAY - timedelta(days=10), abo, "cervical-dystonia", Units(abo, 500)),
    ]
    series = cumulative_series(history, TODAY, catalog())
    assert [s.product for s in series] == [abo, ona]
    botox = series[1]
    assert botox.limit == Decimal(400)
    assert botox.window_days == 84
    assert [b.window_total for b in botox.bars] == [Decimal(155), Decimal(455)]
    assert botox.today_total == Decimal(300)  # the 155 U left the window on day 84
    assert (TODAY - timedelta(days=16), Decimal(300)) in botox.steps
    assert series[0].today_total == Decimal(500)


def test_cumulative_series_of_a_child_uses_the_weight_bound():
    ona = "onabotulinumtoxinA"
    history = [HistoryEntry(TODAY - timedelta(days=5), ona, "x", Units(ona, Decimal(60)))]
    (child,) = cumulative_series(history, TODAY, catalog(), child=True, weight=Decimal(24))
    assert child.limit == Decimal(240)  # 10 U/kg × 24 kg, under the 340 U cap
    (unknown,) = cumulative_series(history, TODAY, catalog(), child=True, weight=None)
    assert unknown.limit is None
    assert "no weight" in unknown.limit_words


@pytest.mark.django_db
def test_usable_vials_leave_out_what_must_not_be_picked():
    s = builders.staff()
    p = builders.patient(s)
    q = builders.patient(s, record="P-2")
    good = builders.lot(s, number="GOOD", vials=3)
    builders.lot(s, number="OLD", vials=1, expires_in=-1)
    recalled = builders.lot(s, number="RECALLED", vials=1)
    inventory.recall_lot(s.actor("physician"), recalled.id, reason="notice")
    stale = builders.open_vial(s, good, at=timezone.now() - timedelta(hours=30))
    fresh = builders.open_vial(s, good)
    other_patients = good.vials.filter(reconstituted_at__isnull=True).first()
    other_patients.patient = q
    other_patients.save()
    found = inventory.usable_vials(
        s.actor("front_desk"),
        product="onabotulinumtoxinA",
        patient_id=p.id,
        today=timezone.localdate(),
        now=timezone.now(),
    )
    assert [v.id for v in found] == [fresh.id]
    assert stale.id not in {v.id for v in found}
    with pytest.raises(ServiceError):
        inventory.usable_vials(
            s.actor("physician"),
            product="nope",
            patient_id=p.id,
            today=timezone.localdate(),
            now=timezone.now(),
        )


@pytest.mark.django_db
def test_recalled_lots_count_the_patients_exposed_without_disclosing_them():
    s = builders.staff()
    p = builders.patient(s)
    builders.consent(s, p, "chronic-migraine", timezone.localdate() - timedelta(days=100))
    stock = builders.lot(s)
    at = timezone.now() - timedelta(days=90)
    builders.signed_session(s, p, at, builders.open_vial(s, stock, at=at - timedelta(hours=1)))
    inventory.recall_lot(s.actor("physician"), stock.id, reason="notice")
    disclosures = AuditEntry.objects.filter(action="disclose").count()
    assert [(lot.id, n) for lot, n in inventory.recalled_lots(s.actor("front_desk"))] == [
        (stock.id, 1)
    ]
    assert AuditEntry.objects.filter(action="disclose").count() == disclosures


@pytest.mark.django_db
def test_load_protocol_replaces_the_points_and_names_the_plan():
    s = builders.staff()
    p = builders.patient(s)
    plan = services.plan_session(
        s.actor("nurse"),
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        injections=[services.PointInput("procerus", "midline", Decimal(5))],
    )
    services.load_protocol(s.actor("nurse"), plan.id, protocol="preempt-195")
    plan.refresh_from_db()
    assert plan.protocol == "preempt-195"
    assert plan.injections.count() == 39
    assert plan.check_result["total_units"] == "195"
    with pytest.raises(ServiceError):
        services.load_protocol(s.actor("nurse"), plan.id, protocol="nope")
    with pytest.raises(ServiceError) as refused:
        services.load_protocol(s.actor("front_desk"), plan.id, protocol="preempt-155")
    assert refused.value.status == 403


@pytest.mark.django_db
def test_read_session_writes_a_read_or_print_entry():
    s = builders.staff()
    p = builders.patient(s)
    plan = services.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    services.read_session(s.actor("auditor"), plan.id)
    services.read_session(s.actor("auditor"), plan.id, action="print")
    actions = list(
        AuditEntry.objects.filter(object_id=str(plan.id), object_type="session")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["read", "print"]
    with pytest.raises(ServiceError):
        services.read_session(s.actor("auditor"), plan.id, action="delete")


@pytest.mark.django_db
def test_unresolved_findings_name_what_still_refuses_the_signature():
    s = builders.staff()
    p = builders.patient(s, weight_kg=Decimal(70))
    builders.consent(s, p, "chronic-migraine", timezone.localdate() - timedelta(days=100))
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=100))
    stock = builders.lot(s)
    at = timezone.now() - timedelta(days=40)
    builders.signed_session(
        s,
        p,
        at,
        builders.open_vial(s, stock, at=at - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[services.PointInput("biceps-brachii", "left", Decimal(50))] * 6,
    )
    plan = services.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    findings = plan.check_result["findings"]
    block = next(f for f in findings if f["rule"] == "cumulative-dose")
    assert (
        "prescriber overrides" in services.unresolved_findings(plan, findings)[block["fingerprint"]]
    )
    services.decide(
        s.actor("physician"),
        plan.id,
        fingerprint_=block["fingerprint"],
        kind="override",
        reason="Reviewed: migraine is disabling.",
    )
    assert block["fingerprint"] not in services.unresolved_findings(plan, findings)


@pytest.mark.django_db
def test_day_plans_list_the_days_plans_with_one_read_entry_each():
    s = builders.staff()
    p = builders.patient(s)
    q = builders.patient(s, record="P-2")
    plans = [
        services.plan_session(
            s.actor("physician"),
            who.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
        )
        for who in (p, q, p)
    ]
    services.cancel_plan(s.actor("physician"), plans[2].id, reason="rebooked")
    services.plan_session(
        s.actor("physician"),
        q.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate() + timedelta(days=1),
        protocol="preempt-155",
    )
    before = AuditEntry.objects.filter(object_type="today-list").count()
    found = day_plans(s.actor("front_desk"), timezone.localdate())
    assert [x.id for x in found] == [plans[0].id, plans[1].id]
    assert AuditEntry.objects.filter(object_type="today-list").count() == before + 2

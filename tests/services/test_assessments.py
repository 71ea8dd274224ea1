"""Outcome assessments and wear-off reports through the services, and the response verdicts built
from what is stored (DESIGN 3.8)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.outcomes import services as followup
from bontrack.outcomes.models import Assessment, WearOffReport
from bontrack.outcomes.verdicts import patient_verdicts
from bontrack.treatments import services as sessions
from tests import builders
from tests.services.followup import NECK, migraine_patient, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    s = builders.staff()
    return s, builders.lot(s, vials=30)


def record(s, p, role="physician", **values):
    values.setdefault("indication", "chronic-migraine")
    values.setdefault("scale", "hit-6")
    values.setdefault("value", Decimal(60))
    values.setdefault("timepoint", "baseline")
    if "period" not in values:
        values.setdefault("assessed_on", timezone.localdate() - timedelta(days=3))
    return followup.record_assessment(s.actor(role), p.id, **values)


def refused(s, p, field, message, **values):
    with pytest.raises(ServiceError) as caught:
        record(s, p, **values)
    assert (caught.value.field, caught.value.message) == (field, message)


# --- assessments ------------------------------------------------------------------------------


@pytest.mark.postgres(sqlite=True)
def test_values_are_stored_exactly_a_decimal_or_a_level(world):
    s, _ = world
    p = builders.patient(s)
    bsdi = record(s, p, indication="blepharospasm", scale="bsdi", value=Decimal("2.25"))
    mas = record(
        s,
        p,
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        value="1+",
        muscle_group="elbow flexors",
    )
    bsdi.refresh_from_db()
    mas.refresh_from_db()
    assert (bsdi.value_number, bsdi.value_level, bsdi.value) == (
        Decimal("2.25"),
        "",
        Decimal("2.25"),
    )
    assert (mas.value_number, mas.value_level, mas.muscle_group) == (None, "1+", "elbow flexors")
    entry = AuditEntry.objects.filter(object_type="assessment").order_by("-seq").first()
    assert (entry.action, entry.patient_id, entry.object_id) == ("create", p.id, str(mas.id))


def test_values_are_checked_against_the_scale_as_the_outcome_input_is(world):
    s, _ = world
    p = builders.patient(s)
    today = timezone.localdate()
    refused(s, p, "value", "must be between 36 and 78", value=Decimal(30))
    refused(s, p, "value", "must be a whole number", value=Decimal("60.5"))
    refused(s, p, "value", "must be a number", value="60")
    refused(
        s,
        p,
        "value",
        "must be one of the levels 0, 1, 1+, 2, 3, 4",
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        value="5",
    )
    refused(
        s,
        p,
        "value",
        "must be one of the levels 0, 1, 1+, 2, 3, 4 (a string)",
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        value=Decimal(1),
    )
    refused(
        s, p, "scale", "unknown scale code 'hit-7' (`bontrack catalog` lists them)", scale="hit-7"
    )
    refused(
        s,
        p,
        "indication",
        "hdss is not a scale of chronic-migraine (its scales: headache-days-28d, "
        "headache-days-month, migraine-days-28d, hit-6, midas, pain-nrs)",
        scale="hdss",
        value=Decimal(3),
    )
    refused(
        s,
        p,
        "timepoint",
        "must be one of baseline, peak-effect, before-reinjection, follow-up",
        timepoint="week-4",
    )
    refused(
        s,
        p,
        "assessed_on",
        f"ends in the future ({(today + timedelta(days=1)).isoformat()})",
        assessed_on=today + timedelta(days=1),
    )
    refused(
        s,
        p,
        "assessed_on",
        "is before the patient was born",
        assessed_on=p.birth_date - timedelta(days=1),
    )


def test_a_diary_count_covers_its_window_and_no_more_days_than_it_has(world):
    s, _ = world
    p = builders.patient(s)
    start = timezone.localdate().replace(day=1) - timedelta(days=400)
    start = start.replace(day=1)
    refused(
        s,
        p,
        "period",
        "headache-days-28d counts 28 days; this period has 30",
        scale="headache-days-28d",
        value=Decimal(12),
        period=(start, start + timedelta(days=29)),
    )
    refused(
        s,
        p,
        "period",
        "headache-days-month counts one calendar month: from its first day to its last",
        scale="headache-days-month",
        value=Decimal(12),
        period=(start + timedelta(days=1), start + timedelta(days=30)),
    )
    april = start.replace(month=4)
    refused(
        s,
        p,
        "value",
        "counts 31 days in a period of 30",
        scale="headache-days-month",
        value=Decimal(31),
        period=(april, april.replace(day=30)),
    )
    refused(
        s,
        p,
        "period",
        f"ends ({start.isoformat()}) before it starts ({(start + timedelta(days=3)).isoformat()})",
        scale="headache-days-28d",
        value=Decimal(12),
        period=(start + timedelta(days=3), start),
    )


def test_one_result_per_scale_and_day_or_period(world):
    s, _ = world
    p = builders.patient(s)
    record(s, p)
    with pytest.raises(ConflictError):
        record(s, p, value=Decimal(55))
    record(
        s,
        p,
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        value="2",
        muscle_group="wrist",
    )
    record(
        s,
        p,
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        value="3",
        muscle_group="elbow",
    )
    assert Assessment.objects.filter(patient=p).count() == 3


def test_only_clinicians_record_and_chart_readers_list(world):
    s, _ = world
    p = builders.patient(s)
    for role in ("front_desk", "auditor", "admin"):
        with pytest.raises(ForbiddenError):
            record(s, p, role=role)
    record(s, p, role="nurse")
    assert [a.scale for a in followup.list_assessments(s.actor("auditor"), p.id)] == ["hit-6"]
    with pytest.raises(ForbiddenError):
        followup.list_assessments(s.actor("front_desk"), p.id)


def test_a_linked_session_is_the_patients_of_the_indication_and_signed(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    other = builders.patient(s, "P-2")
    day = m.cycles[0].plan_date
    with pytest.raises(ServiceError, match="another patient"):
        record(s, other, session_id=m.cycles[0].id, timepoint="follow-up", assessed_on=day)
    with pytest.raises(ServiceError, match="comes before the session"):
        record(s, m.patient, session_id=m.cycles[0].id, assessed_on=day + timedelta(days=1))
    with pytest.raises(ServiceError, match="follows the session"):
        record(
            s,
            m.patient,
            session_id=m.cycles[0].id,
            timepoint="peak-effect",
            assessed_on=day - timedelta(days=1),
        )
    with pytest.raises(ServiceError, match="treated chronic-migraine, not blepharospasm"):
        record(
            s,
            m.patient,
            indication="blepharospasm",
            scale="bsdi",
            value=Decimal(2),
            timepoint="follow-up",
            session_id=m.cycles[0].id,
            assessed_on=day,
        )
    linked = record(
        s,
        m.patient,
        session_id=m.cycles[0].id,
        timepoint="peak-effect",
        assessed_on=day + timedelta(days=28),
    )
    assert linked.session_id == m.cycles[0].id


# --- wear-off reports ---------------------------------------------------------------------


def test_a_wear_off_report_follows_its_signed_session_once(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    session = m.cycles[0]
    doctor = s.actor("physician")
    with pytest.raises(ServiceError, match="is before the session"):
        followup.record_wear_off(
            doctor, session.id, wore_off_on=session.plan_date - timedelta(days=1)
        )
    with pytest.raises(ServiceError, match="after the day it was reported"):
        followup.record_wear_off(
            doctor,
            session.id,
            wore_off_on=session.plan_date + timedelta(days=60),
            reported_on=session.plan_date + timedelta(days=50),
        )
    report = followup.record_wear_off(
        doctor, session.id, wore_off_on=session.plan_date + timedelta(days=70)
    )
    assert (report.patient_id, report.reported_on) == (m.patient.id, timezone.localdate())
    with pytest.raises(ConflictError):
        followup.record_wear_off(
            doctor, session.id, wore_off_on=session.plan_date + timedelta(days=71)
        )
    assert [r.id for r in followup.list_wear_off(s.actor("auditor"), m.patient.id)] == [report.id]


def test_a_session_entered_in_error_or_a_plan_does_not_wear_off(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    sessions.mark_entered_in_error(
        s.actor("physician"), m.cycles[0].id, reason="Wrong patient.", toxin_given=True
    )
    with pytest.raises(ConflictError, match="entered-in-error"):
        followup.record_wear_off(
            s.actor("physician"), m.cycles[0].id, wore_off_on=timezone.localdate()
        )
    plan = sessions.plan_session(
        s.actor("physician"),
        m.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    with pytest.raises(ConflictError, match="plan"):
        followup.record_wear_off(s.actor("physician"), plan.id, wore_off_on=timezone.localdate())
    assert WearOffReport.objects.count() == 0


# --- verdicts from stored data -------------------------------------------------------------------


@pytest.mark.postgres(sqlite=True)
def test_the_demo_like_migraine_patient_is_a_50_percent_responder_after_2_cycles(world):
    """Headache days 25 at baseline, 18 after cycle 1, 12 after cycle 2 (the 28 days before
    cycle 3): -52 %, continue, a 50 % responder."""
    s, lot = world
    m = migraine_patient(s, lot, "BT-0001", days=(25, 18, 12))
    found = patient_verdicts(s.actor("physician"), m.patient.id, "chronic-migraine")
    [series] = found.verdicts
    v = series.verdict
    assert (v.scale, v.verdict, v.change, v.change_pct) == (
        "headache-days-28d",
        "continue",
        Decimal(-13),
        Decimal("-52.0"),
    )
    assert v.responder_50 is True
    assert v.cycles == 2
    assert "after 2 cycles" in v.reason
    assert series.results == 3
    assert [c.n for c in found.cycles["chronic-migraine"]] == [1, 2, 3]
    assert found.without_baseline == []


def test_a_non_responder_after_2_cycles_stops_by_nice(world):
    s, lot = world
    m = migraine_patient(s, lot, "BT-0006", weeks_ago=(24, 12), days=(22, 20, 18))
    [series] = patient_verdicts(s.actor("nurse"), m.patient.id).verdicts
    v = series.verdict
    assert (v.verdict, v.change_pct, v.responder_50) == ("stop", Decimal("-18.2"), False)
    assert "NICE TA260" in v.source
    assert "less than the 30 % fall NICE TA260 requires" in v.reason


def test_a_cycle_entered_in_error_is_not_a_cycle(world):
    """Two sessions, the second entered in error: the follow-up comes after 1 cycle only."""
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(24, 12), days=(22, 15, 10))
    sessions.mark_entered_in_error(
        s.actor("physician"), m.cycles[1].id, reason="Charted twice.", toxin_given=False
    )
    found = patient_verdicts(s.actor("physician"), m.patient.id)
    v = found.verdicts[0].verdict
    assert [c.date for c in found.cycles["chronic-migraine"]] == [m.cycles[0].plan_date]
    assert v.verdict == "no-verdict-yet"
    assert v.cycles == 1


def test_each_muscle_group_is_its_own_series_and_a_series_needs_a_baseline(world):
    s, lot = world
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=200))
    day = timezone.localdate() - timedelta(weeks=10)
    arm = [sessions.PointInput("biceps-brachii", "left", Decimal(50))]
    session = signed(s, p, lot, day, indication="upper-limb-spasticity", injections=arm)
    for group, before, after in (("elbow flexors", "2", "1"), ("wrist flexors", "3", "3")):
        record(
            s,
            p,
            indication="upper-limb-spasticity",
            scale="modified-ashworth",
            value=before,
            muscle_group=group,
            assessed_on=day - timedelta(days=7),
        )
        record(
            s,
            p,
            indication="upper-limb-spasticity",
            scale="modified-ashworth",
            value=after,
            muscle_group=group,
            timepoint="peak-effect",
            session_id=session.id,
            assessed_on=day + timedelta(days=42),
        )
    record(
        s,
        p,
        indication="upper-limb-spasticity",
        scale="gas-t-score",
        value=Decimal(52),
        timepoint="follow-up",
        assessed_on=day + timedelta(days=42),
    )
    found = patient_verdicts(s.actor("physician"), p.id)
    verdicts = {v.verdict.muscle_group: v.verdict for v in found.verdicts}
    assert verdicts["elbow flexors"].verdict == "responder"
    assert verdicts["elbow flexors"].change_grades == -2  # 2 -> 1+ -> 1
    assert verdicts["elbow flexors"].latest.after_cycle == 1
    assert verdicts["wrist flexors"].verdict == "non-responder"
    [missing] = found.without_baseline
    assert (missing.scale, missing.results) == ("gas-t-score", 1)


def test_the_baseline_is_the_last_one_before_the_first_cycle(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(24, 12), days=(20, 12, 9))
    first = m.cycles[0].plan_date
    # An older baseline, and one recorded after treatment began: neither is used.
    record(
        s,
        m.patient,
        scale="headache-days-28d",
        value=Decimal(28),
        period=(first - timedelta(days=90), first - timedelta(days=63)),
    )
    record(
        s,
        m.patient,
        scale="headache-days-28d",
        value=Decimal(5),
        period=(first + timedelta(days=1), first + timedelta(days=28)),
    )
    v = patient_verdicts(s.actor("physician"), m.patient.id).verdicts[0].verdict
    assert v.baseline.value == Decimal(20)
    assert v.change_pct == Decimal("-55.0")


def test_reading_verdicts_writes_one_read_entry(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(12,), days=(20,))
    last = AuditEntry.objects.order_by("-seq").first().seq
    patient_verdicts(s.actor("auditor"), m.patient.id)
    written = list(AuditEntry.objects.filter(seq__gt=last))
    assert [(e.action, e.object_type, e.patient_id) for e in written] == [
        ("read", "outcome-verdicts", m.patient.id)
    ]
    with pytest.raises(ForbiddenError):
        patient_verdicts(s.actor("front_desk"), m.patient.id)


def test_neck_sessions_are_not_migraine_cycles(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(24,), days=(20, 9))
    builders.consent(s, m.patient, "cervical-dystonia", timezone.localdate() - timedelta(days=100))
    signed(
        s,
        m.patient,
        lot,
        timezone.localdate() - timedelta(weeks=8),
        indication="cervical-dystonia",
        injections=NECK,
    )
    found = patient_verdicts(s.actor("physician"), m.patient.id, "chronic-migraine")
    assert found.verdicts[0].verdict.verdict == "no-verdict-yet"
    assert set(found.cycles) == {"chronic-migraine"}

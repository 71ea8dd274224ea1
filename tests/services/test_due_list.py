"""Who is due for retreatment: per patient and clinic-wide, with the audit entries of what is
shown or exported, and a constant number of SQL queries whatever the clinic's size."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ForbiddenError, NotFoundError, ServiceError
from bontrack.outcomes import services as followup
from bontrack.outcomes.due import due_list, export_due_list, patient_due
from bontrack.patients.services import update_patient
from bontrack.treatments import services as sessions
from tests import builders
from tests.builders import signed_session
from tests.services.followup import NECK, at, migraine_patient, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    s = builders.staff()
    return s, builders.lot(s, vials=60)


def today():
    return timezone.localdate()


def neck_patient(s, lot, record, weeks_ago, who="physician"):
    """Cervical dystonia (onabotulinumtoxinA: 70 days) signed ``weeks_ago``, by ``who``."""
    p = builders.patient(s, record)
    day = today() - timedelta(weeks=weeks_ago)
    builders.consent(s, p, "cervical-dystonia", day - timedelta(days=5))
    if who == "physician":
        session = signed(s, p, lot, day, indication="cervical-dystonia", injections=NECK)
    else:
        nurse = s.actor("nurse")
        plan = sessions.plan_session(
            nurse,
            p.id,
            product="onabotulinumtoxinA",
            indication="cervical-dystonia",
            plan_date=day,
            injections=NECK,
            vial_ids=[builders.open_vial(s, lot, at=at(day, 9)).id],
        )
        for f in sessions.stored_result_at(plan, at(day))["findings"]:
            sessions.decide(nurse, plan.id, fingerprint_=f["fingerprint"], kind="acknowledge")
        session = sessions.sign_session(nurse, plan.id, administered_at=at(day))
    return p, session


def test_a_patient_is_due_per_indication_from_the_label_and_their_wear_off_history(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(30, 18))
    first, last = m.cycles
    followup.record_wear_off(
        s.actor("physician"), first.id, wore_off_on=first.plan_date + timedelta(days=100)
    )
    _, found = patient_due(s.actor("auditor"), m.patient.id)
    [due] = found
    assert due.last_session == last.plan_date
    assert due.earliest == last.plan_date + timedelta(days=84)
    assert due.wear_off_date == last.plan_date + timedelta(days=100)
    assert (due.due, due.basis) == (due.wear_off_date, "both")
    assert AuditEntry.objects.order_by("-seq").first().object_type == "due"


@pytest.mark.postgres(sqlite=True)
def test_the_due_list_shows_who_is_due_soonest_first_with_one_read_entry_each(world):
    s, lot = world
    maria = migraine_patient(s, lot, "P-1", weeks_ago=(24, 12))  # due today (84 days)
    early, _ = neck_patient(s, lot, "P-2", weeks_ago=9)  # 70 days: due in 7 days
    late, _ = neck_patient(s, lot, "P-3", weeks_ago=2)  # due in 8 weeks: not yet
    gone, _ = neck_patient(s, lot, "P-4", weeks_ago=40)  # overdue for 30 weeks: dropped
    last = AuditEntry.objects.order_by("-seq").first().seq
    found = due_list(s.actor("nurse"), weeks=4)
    assert [(r.record_number, r.due.due, r.status) for r in found.rows] == [
        ("P-1", today(), "due"),
        ("P-2", today() + timedelta(days=7), "due"),
    ]
    assert found.total == 2
    written = AuditEntry.objects.filter(seq__gt=last)
    assert sorted((e.action, e.patient_id) for e in written) == sorted(
        [("read", maria.patient.id), ("read", early.id)]
    )
    assert {late.id, gone.id}.isdisjoint(r.patient_id for r in found.rows)
    wider = due_list(s.actor("nurse"), weeks=10, overdue_weeks=40)
    assert [r.record_number for r in wider.rows] == ["P-4", "P-1", "P-2", "P-3"]
    assert wider.rows[0].status == "overdue"


@pytest.mark.postgres(sqlite=True)
def test_filters_by_indication_and_by_the_last_sessions_injector(world):
    s, lot = world
    migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    neck_patient(s, lot, "P-2", weeks_ago=10)
    neck_patient(s, lot, "P-3", weeks_ago=10, who="nurse")
    by_indication = due_list(s.actor("physician"), indication="cervical-dystonia")
    assert [r.record_number for r in by_indication.rows] == ["P-2", "P-3"]
    by_nurse = due_list(s.actor("physician"), injector_id=s.nurse.id)
    assert [(r.record_number, r.injector) for r in by_nurse.rows] == [("P-3", "a-nurse")]
    with pytest.raises(ServiceError, match="unknown indication"):
        due_list(s.actor("physician"), indication="hiccups")
    with pytest.raises(ServiceError, match="between 1 and 104"):
        due_list(s.actor("physician"), weeks=0)
    other = builders.staff("Clinic B", prefix="b")
    with pytest.raises(NotFoundError):
        due_list(s.actor("physician"), injector_id=other.nurse.id)
    with pytest.raises(ForbiddenError):
        due_list(s.actor("front_desk"))


@pytest.mark.postgres(sqlite=True)
def test_a_session_entered_in_error_is_left_out_in_sql(world):
    """The latest session is entered in error: the one before it decides (overdue), and its
    wear-off report does not count."""
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(20, 6))
    wrong = m.cycles[1]
    followup.record_wear_off(
        s.actor("physician"), wrong.id, wore_off_on=wrong.plan_date + timedelta(days=10)
    )
    before = due_list(s.actor("physician"), weeks=12)
    assert [r.due.last_session for r in before.rows] == [wrong.plan_date]
    assert before.rows[0].due.wear_off_reports == 1
    sessions.mark_entered_in_error(
        s.actor("physician"), wrong.id, reason="Wrong patient.", toxin_given=True
    )
    after = due_list(s.actor("physician"), weeks=12)
    [row] = after.rows
    assert row.due.last_session == m.cycles[0].plan_date
    assert row.last_session_id == m.cycles[0].id
    assert row.due.wear_off_reports == 0
    assert row.status == "overdue"


@pytest.mark.postgres(sqlite=True)
def test_a_restricted_patient_is_listed_for_their_care_team_only(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    update_patient(s.actor("physician"), m.patient.id, today(), restricted=True)
    assert [r.record_number for r in due_list(s.actor("physician")).rows] == ["P-1"]
    assert due_list(s.actor("nurse")).rows == []


def test_a_booked_plan_is_shown_and_contact_details_only_with_agreement(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    update_patient(
        s.actor("physician"),
        m.patient.id,
        today(),
        phone="+44 20 7946 0100",
        contact_agreed=False,
        contact_method="phone",
    )
    [row] = due_list(s.actor("physician")).rows
    assert (row.phone, row.contact_method, row.booked_on) == ("", "none", None)
    update_patient(s.actor("physician"), m.patient.id, today(), contact_agreed=True)
    sessions.plan_session(
        s.actor("physician"),
        m.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=today() + timedelta(days=3),
        protocol="preempt-155",
    )
    [row] = due_list(s.actor("physician")).rows
    assert (row.phone, row.contact_method) == ("+44 20 7946 0100", "phone")
    assert row.booked_on == today() + timedelta(days=3)


def test_the_export_discloses_each_patient_once(world):
    s, lot = world
    a = migraine_patient(s, lot, "P-1", weeks_ago=(12,))
    b, _ = neck_patient(s, lot, "P-2", weeks_ago=9)
    last = AuditEntry.objects.order_by("-seq").first().seq
    found = export_due_list(s.actor("auditor"))
    assert len(found.rows) == 2
    written = AuditEntry.objects.filter(seq__gt=last)
    assert sorted((e.action, e.object_type, e.patient_id) for e in written) == sorted(
        [
            ("disclose", "due-list-export", a.patient.id),
            ("disclose", "due-list-export", b.id),
        ]
    )


def test_the_limit_bounds_what_is_shown_and_read(world):
    s, lot = world
    for n in range(3):
        neck_patient(s, lot, f"P-{n}", weeks_ago=10)
    last = AuditEntry.objects.order_by("-seq").first().seq
    found = due_list(s.actor("physician"), limit=2)
    assert (len(found.rows), found.total) == (2, 3)
    assert AuditEntry.objects.filter(seq__gt=last).count() == 2


def _clinic_of(s, lot, first, count):
    """``count`` patients: neck sessions 9 weeks ago (due within 4 weeks), every third with a
    wear-off report, every fifth with its latest session entered in error."""
    for n in range(first, first + count):
        p, session = neck_patient(s, lot, f"Q-{n}", weeks_ago=9)
        if n % 3 == 0:
            followup.record_wear_off(
                s.actor("physician"), session.id, wore_off_on=today() - timedelta(days=5)
            )
        if n % 5 == 0:
            later = signed_session(
                s,
                p,
                timezone.now() - timedelta(days=3),
                builders.open_vial(s, lot),
                indication="cervical-dystonia",
                injections=NECK,
            )
            sessions.mark_entered_in_error(
                s.actor("physician"), later.id, reason="Wrong chart.", toxin_given=True
            )


@pytest.mark.postgres(sqlite=True)
def test_the_due_list_costs_the_same_queries_for_5_and_for_50_patients(world):
    s, _ = world
    lot = builders.lot(s, number="L-BIG", vials=70)
    counts = {}
    _clinic_of(s, lot, 0, 5)
    for size in (5, 50):
        if size == 50:
            _clinic_of(s, lot, 5, 45)
        with CaptureQueriesContext(connection) as ctx:
            found = due_list(s.actor("physician"), weeks=4)
        assert found.total == size
        counts[size] = (len(ctx.captured_queries), [q["sql"][:160] for q in ctx.captured_queries])
    assert counts[5][0] == counts[50][0], counts[50][1]
    # latest sessions, wear-off reports, booked plans, the assessments whose verdicts may hold a
    # patient apart (B.32); the audit chain's lock, head and insert; the transaction's
    # savepoints. Never one per patient.
    assert counts[50][0] <= 9, counts[50][1]


def test_the_export_costs_the_same_queries_for_5_and_for_50_patients(world):
    s, _ = world
    lot = builders.lot(s, number="L-BIG", vials=70)
    counts = {}
    _clinic_of(s, lot, 0, 5)
    for size in (5, 50):
        if size == 50:
            _clinic_of(s, lot, 5, 45)
        with CaptureQueriesContext(connection) as ctx:
            found = export_due_list(s.actor("physician"), weeks=4)
        assert len(found.rows) == size
        counts[size] = len(ctx.captured_queries)
    assert counts[5] == counts[50]


def test_wear_off_reports_change_the_due_date_in_the_list(world):
    """Neck 16 weeks ago: the label (70 days) made it due 6 weeks ago, beyond a 4-week overdue
    window; the patient's effect lasted 100 days, which makes it due 12 days ago."""
    s, lot = world
    p, session = neck_patient(s, lot, "P-1", weeks_ago=16)
    assert due_list(s.actor("physician"), weeks=4, overdue_weeks=4).rows == []
    followup.record_wear_off(
        s.actor("physician"), session.id, wore_off_on=session.plan_date + timedelta(days=100)
    )
    [row] = due_list(s.actor("physician"), weeks=4, overdue_weeks=4).rows
    assert row.due.due == session.plan_date + timedelta(days=100)
    assert (row.due.basis, row.status) == ("both", "overdue")
    assert row.patient_id == p.id


def test_strabismus_is_listed_only_from_the_patients_wear_off_history(world):
    """No interval for strabismus (B.3): without a wear-off report there is no due date."""
    s, lot = world
    p = builders.patient(s, "P-1")
    day = today() - timedelta(days=200)
    builders.consent(s, p, "strabismus", day - timedelta(days=3))
    eye = [sessions.PointInput("medial-rectus", "left", Decimal(5))]
    session = signed(s, p, lot, day, indication="strabismus", injections=eye)
    assert due_list(s.actor("physician"), weeks=52, overdue_weeks=104).rows == []
    followup.record_wear_off(
        s.actor("physician"), session.id, wore_off_on=day + timedelta(days=190)
    )
    [row] = due_list(s.actor("physician"), weeks=4).rows
    assert row.due.earliest is None
    assert row.due.due == day + timedelta(days=190)
    assert "No earliest date for strabismus" in row.due.reason
    assert row.due.wear_off_median_days == 190

"""Headache diary import (bad rows reported, good rows kept, idempotent) and adverse-event
reports (counts, the per-event export, disclosures)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.core.errors import ForbiddenError, ServiceError
from bontrack.outcomes import services as followup
from bontrack.outcomes.models import Assessment
from bontrack.outcomes.reports import adverse_event_export, adverse_event_report, pseudonym
from bontrack.outcomes.services import record_adverse_event
from bontrack.outcomes.verdicts import patient_verdicts
from bontrack.treatments import services as sessions
from tests import builders
from tests.services.followup import NECK, migraine_patient, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    s = builders.staff()
    return s, builders.lot(s, vials=40)


def today():
    return timezone.localdate()


def diary_csv(start, end, headache=lambda d: d.day % 2 == 0, migraine=lambda d: d.day % 4 == 0):
    lines = ["date,headache,migraine,hours,acute_medication"]
    day = start
    while day <= end:
        h, m = headache(day), migraine(day)
        lines.append(
            f"{day.isoformat()},{'yes' if h else 'no'},{'yes' if m else 'no'},"
            f"{'3' if h else ''},{'yes' if m else 'no'}"
        )
        day += timedelta(days=1)
    return ("\n".join(lines) + "\n").encode()


def month_start(months_back):
    first = today().replace(day=1)
    for _ in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


# --- diary ------------------------------------------------------------------------------------


def test_a_diary_becomes_monthly_counts_and_28_day_windows_before_each_session(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(16, 4))
    start, end = month_start(5), today() - timedelta(days=1)
    result = followup.import_diary(s.actor("nurse"), m.patient.id, diary_csv(start, end))
    assert result.errors == []
    assert result.rows == result.rows_kept == (end - start).days + 1
    months = {mo.month: mo for mo in result.months}
    complete = [mo for mo in result.months if not mo.skipped]
    # The current month is not over: it is reported, not counted.
    assert months[today().strftime("%Y-%m")].skipped.startswith("incomplete")
    assert len(complete) == 5
    stored = Assessment.objects.filter(patient=m.patient, source="diary")
    by_scale = {}
    for a in stored:
        by_scale.setdefault(a.scale, []).append(a)
    assert len(by_scale["headache-days-month"]) == 5
    first_cycle, second_cycle = m.cycles
    windows = sorted(by_scale["headache-days-28d"], key=lambda a: a.period_start)
    assert [(w.timepoint, w.period_end, w.session_id) for w in windows] == [
        ("baseline", first_cycle.plan_date - timedelta(days=1), None),
        ("before-reinjection", second_cycle.plan_date - timedelta(days=1), first_cycle.id),
    ]
    assert len(by_scale["migraine-days-28d"]) == 2
    for month in by_scale["headache-days-month"]:
        expected = "baseline" if month.period_end < first_cycle.plan_date else "follow-up"
        assert month.timepoint == expected
        days = (month.period_end - month.period_start).days + 1
        assert month.value_number == Decimal(days // 2)
    assert result.count("created") == len(stored)


@pytest.mark.postgres(sqlite=True)
def test_importing_the_same_file_twice_adds_nothing(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(8,))
    content = diary_csv(month_start(3), today() - timedelta(days=1))
    first = followup.import_diary(s.actor("physician"), m.patient.id, content)
    count = Assessment.objects.count()
    last = AuditEntry.objects.order_by("-seq").first().seq
    again = followup.import_diary(s.actor("physician"), m.patient.id, content)
    assert Assessment.objects.count() == count
    assert again.count("created") == again.count("updated") == 0
    assert again.count("unchanged") == first.count("created") > 0
    written = AuditEntry.objects.filter(seq__gt=last)
    assert [(e.action, e.object_type) for e in written] == [("read", "diary-import")]


def test_a_corrected_diary_updates_the_counts_of_its_periods(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(8,))
    start, end = month_start(2), today() - timedelta(days=1)
    followup.import_diary(s.actor("physician"), m.patient.id, diary_csv(start, end))
    fixed = diary_csv(start, end, headache=lambda d: True, migraine=lambda d: False)
    result = followup.import_diary(s.actor("physician"), m.patient.id, fixed)
    assert result.count("created") == 0
    assert result.count("updated") > 0
    month = Assessment.objects.get(
        patient=m.patient, scale="headache-days-month", period_start=start
    )
    assert month.value_number == (month.period_end - month.period_start).days + 1


def test_a_dry_run_stores_nothing(world):
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(8,))
    content = diary_csv(month_start(2), today() - timedelta(days=1))
    result = followup.import_diary(s.actor("physician"), m.patient.id, content, dry_run=True)
    assert result.count("created") > 0
    assert Assessment.objects.count() == 0
    entry = AuditEntry.objects.order_by("-seq").first()
    assert (entry.action, entry.object_type, entry.detail["dry_run"]) == (
        "read",
        "diary-import",
        True,
    )


BAD = """date,headache,migraine,hours,acute_medication
2026-02-30,yes,no,2,no
yesterday,yes,no,2,no
2026-03-01,maybe,no,2,no
2026-03-02,no,yes,,no
2026-03-03,no,no,4,no
2026-03-04,yes,no,25,no
2026-03-05,yes,no,two,no
2026-03-06,yes,no,2,sometimes
2026-03-07,yes,no
2026-03-08,yes,no,2,no,extra
2999-01-01,yes,no,2,no
2026-03-09,yes,no,1.255,no
2026-03-10,yes,yes,3,yes
2026-03-10,no,no,,no
"""


def test_a_file_full_of_bad_rows_reports_each_by_line_column_and_reason(world):
    s, _ = world
    p = builders.patient(s)
    result = followup.import_diary(
        s.actor("physician"), p.id, BAD.encode(), today=date(2026, 11, 25)
    )
    found = [(e.line, e.column, e.message) for e in result.errors]
    assert found == [
        (2, "date", "is not a real date: 2026-02-30"),
        (3, "date", "must be a date written YYYY-MM-DD, not 'yesterday'"),
        (4, "headache", "must be yes or no, not 'maybe'"),
        (5, "migraine", "a migraine day is a headache day: headache is no"),
        (6, "hours", "gives headache hours on a day without headache"),
        (7, "hours", "must be between 0 and 24 hours"),
        (8, "hours", "must be a number of hours, not 'two'"),
        (9, "acute_medication", "must be yes or no, not 'sometimes'"),
        (10, "hours", "is missing: the row is shorter than the header"),
        (10, "acute_medication", "is missing: the row is shorter than the header"),
        (11, None, "has 6 fields; the header has 5"),
        (12, "date", "is in the future (2999-01-01)"),
        (13, "hours", "must have at most 2 decimals"),
        (15, "date", "2026-03-10 is already given on line 14"),
    ]
    # The one good row is kept; a month with one recorded day is not counted.
    assert (result.rows, result.rows_kept) == (14, 1)
    [month] = result.months
    assert (month.month, month.recorded_days, month.headache_days) == ("2026-03", 1, 1)
    assert month.skipped.startswith("incomplete: 1 of 31 days")
    assert result.periods == []
    assert Assessment.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: a header row and one row per day"),
        (b"\xff\xfe\x00d", "is not UTF-8 text: save the diary as CSV (UTF-8)"),
        (
            b"day,headache\n2026-01-01,yes\n",
            (
                "the header lacks date, migraine, hours, acute_medication: it needs date, "
                "headache, migraine, hours, acute_medication"
            ),
        ),
    ],
)
def test_a_file_that_is_not_a_diary_is_refused_whole(world, content, message):
    s, _ = world
    p = builders.patient(s)
    with pytest.raises(ServiceError) as caught:
        followup.import_diary(s.actor("physician"), p.id, content)
    assert (caught.value.field, caught.value.message) == ("file", message)


def test_header_names_ignore_case_spaces_and_hyphens_and_extra_columns(world):
    s, _ = world
    p = builders.patient(s)
    content = (
        "\ufeffDate,Headache,Migraine,Hours,Acute Medication,Notes\n2026-02-01,Y,N,1.5,Yes,stress\n"
    ).encode()
    result = followup.import_diary(s.actor("physician"), p.id, content, today=date(2026, 3, 1))
    assert result.errors == []
    assert result.rows_kept == 1


def test_only_clinicians_import(world):
    s, _ = world
    p = builders.patient(s)
    with pytest.raises(ForbiddenError):
        followup.import_diary(s.actor("auditor"), p.id, diary_csv(month_start(1), today()))


def test_diary_counts_give_the_verdict(world):
    """25 headache days a month at baseline, then 16 after two cycles (a 36 % fall, still
    chronic): continue, not a 50 % responder."""
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(20, 8))
    first = m.cycles[0].plan_date

    def headache(day):
        limit = 25 if day < first else 16
        return day.day <= limit

    start = (first - timedelta(days=40)).replace(day=1)
    followup.import_diary(
        s.actor("physician"),
        m.patient.id,
        diary_csv(start, today() - timedelta(days=1), headache=headache, migraine=lambda d: False),
    )
    verdicts = {
        v.verdict.scale: v.verdict
        for v in patient_verdicts(s.actor("physician"), m.patient.id).verdicts
    }
    month = verdicts["headache-days-month"]
    assert month.verdict == "continue"
    assert month.baseline.value == Decimal(25)
    assert month.latest.value == Decimal(16)
    assert month.responder_50 is False


# --- adverse-event reports ------------------------------------------------------------------


@pytest.fixture
def events(world):
    """Three patients' events: two migraine (one serious), one neck, and one of a session later
    entered in error."""
    s, lot = world
    day = today() - timedelta(weeks=10)
    doctor = s.actor("physician")
    a = migraine_patient(s, lot, "P-1", weeks_ago=(10,))
    b = migraine_patient(s, lot, "P-2", weeks_ago=(10,))
    c = builders.patient(s, "P-3", born=date(1950, 1, 1), sex="female")
    builders.consent(s, c, "cervical-dystonia", day - timedelta(days=3))
    neck = signed(s, c, lot, day, indication="cervical-dystonia", injections=NECK)
    wrong = signed(
        s, c, lot, day + timedelta(days=30), indication="cervical-dystonia", injections=NECK
    )

    def event(session, term, severity, serious=False, days=3, notes=""):
        return record_adverse_event(
            doctor,
            session.id,
            term=term,
            onset_date=session.plan_date + timedelta(days=days),
            severity=severity,
            serious=serious,
            relatedness="possible",
            outcome="recovering",
            notes=notes,
        )

    made = [
        event(a.cycles[0], "neck-pain", "mild"),
        event(a.cycles[0], "eyelid-ptosis", "moderate", days=6, notes='=HYPERLINK("x")'),
        event(b.cycles[0], "neck-pain", "severe", serious=True),
        event(neck, "dysphagia", "moderate"),
        event(wrong, "dysphagia", "severe"),
    ]
    sessions.mark_entered_in_error(
        doctor, wrong.id, reason="Charted on the wrong day.", toxin_given=True
    )
    return s, (a, b, c), made


@pytest.mark.postgres(sqlite=True)
def test_the_report_counts_by_product_indication_term_and_severity(events):
    s, _, _ = events
    report = adverse_event_report(s.actor("auditor"))
    assert report["events"] == 4
    groups = {(g["product"], g["indication"]): g for g in report["groups"]}
    migraine = groups[("onabotulinumtoxinA", "chronic-migraine")]
    assert (migraine["events"], migraine["serious"], migraine["sessions"]) == (3, 1, 2)
    terms = {t["term"]: t for t in migraine["terms"]}
    assert terms["neck-pain"]["events"] == 2
    assert terms["neck-pain"]["by_severity"] == {
        "mild": 1,
        "moderate": 0,
        "severe": 1,
        "life-threatening": 0,
    }
    assert terms["neck-pain"]["serious"] == 1
    assert [t["term"] for t in migraine["terms"]] == ["neck-pain", "eyelid-ptosis"]
    neck = groups[("onabotulinumtoxinA", "cervical-dystonia")]
    # The entered-in-error session's event and the session itself are left out.
    assert (neck["events"], neck["sessions"]) == (1, 1)
    only_neck = adverse_event_report(s.actor("auditor"), indication="cervical-dystonia")
    assert only_neck["events"] == 1
    entry = AuditEntry.objects.order_by("-seq").first()
    assert (entry.action, entry.object_type, entry.patient_id) == (
        "read",
        "adverse-event-report",
        None,
    )


def test_the_report_period_is_checked(events):
    s, _, _ = events
    none = adverse_event_report(s.actor("auditor"), start=today() - timedelta(days=5), end=today())
    assert (none["events"], none["groups"]) == (0, [])
    with pytest.raises(ServiceError, match="before the start"):
        adverse_event_report(s.actor("auditor"), start=today(), end=today() - timedelta(days=1))
    with pytest.raises(ServiceError, match="unknown product"):
        adverse_event_report(s.actor("auditor"), product="botox")
    with pytest.raises(ForbiddenError):
        adverse_event_report(s.actor("front_desk"))


@pytest.mark.postgres(sqlite=True)
def test_the_export_has_a_row_per_event_with_what_pharmacovigilance_asks(events):
    s, (a, b, c), made = events
    last = AuditEntry.objects.order_by("-seq").first().seq
    rows = adverse_event_export(s.actor("physician"), identify="record-number")
    assert len(rows) == 4
    first = next(r for r in rows if r["event_id"] == str(made[0].id))
    session = a.cycles[0]
    assert first == {
        "event_id": str(made[0].id),
        "patient": "P-1",
        "age_at_onset": str(
            (made[0].onset_date.year - 1980)
            - ((made[0].onset_date.month, made[0].onset_date.day) < (5, 1))
        ),
        "sex": "unknown",
        "product": "onabotulinumtoxinA",
        "brands": "BOTOX / BOTOX Cosmetic",
        "lot_numbers": "L1",
        "dose_units": "155",
        "indication": "chronic-migraine",
        "session_date": session.plan_date.isoformat(),
        "onset_date": (session.plan_date + timedelta(days=3)).isoformat(),
        "days_to_onset": "3",
        "term": "neck-pain",
        "term_name": first["term_name"],
        "severity": "mild",
        "serious": "no",
        "relatedness": "possible",
        "outcome": "recovering",
        "description": "",
        "reporter": "Pat Physician",
        "reporter_role": "prescriber",
        "reported_on": today().isoformat(),
    }
    assert first["term_name"]
    written = AuditEntry.objects.filter(seq__gt=last)
    assert sorted((e.action, e.patient_id, e.detail["events"]) for e in written) == sorted(
        [("disclose", a.patient.id, 2), ("disclose", b.patient.id, 1), ("disclose", c.id, 1)]
    )


def test_the_export_names_patients_by_a_stable_pseudonym_by_default(events):
    s, (a, _, _), _ = events
    rows = adverse_event_export(s.actor("auditor"))
    mine = [r for r in rows if r["patient"] == pseudonym(s.clinic.id, a.patient.id)]
    assert len(mine) == 2
    assert all(r["patient"].startswith("PV-") and "P-" not in r["patient"] for r in rows)
    assert adverse_event_export(s.actor("auditor"))[0]["patient"] == rows[0]["patient"]
    with pytest.raises(ServiceError, match="pseudonym, record-number"):
        adverse_event_export(s.actor("auditor"), identify="name")


def test_the_export_costs_a_constant_number_of_queries(events, world):
    s, lot = world
    with CaptureQueriesContext(connection) as small:
        adverse_event_export(s.actor("physician"))
    extra = migraine_patient(s, lot, "P-9", weeks_ago=(6,))
    for term in ("neck-pain", "eyelid-ptosis", "injection-site-pain"):
        record_adverse_event(
            s.actor("physician"),
            extra.cycles[0].id,
            term=term,
            onset_date=extra.cycles[0].plan_date + timedelta(days=2),
            severity="mild",
            serious=False,
            relatedness="possible",
            outcome="recovered",
        )
    with CaptureQueriesContext(connection) as large:
        rows = adverse_event_export(s.actor("physician"))
    assert len(rows) == 7
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.mark.postgres(sqlite=True)
def test_a_corrected_diary_appends_newer_readings_and_keeps_the_earlier_ones(world):
    """DESIGN 3.4: a re-import replaces nothing; the newest reading of a period counts."""
    s, lot = world
    m = migraine_patient(s, lot, "P-1", weeks_ago=(8,))
    start, end = month_start(2), today() - timedelta(days=1)
    followup.import_diary(s.actor("physician"), m.patient.id, diary_csv(start, end))
    earlier = {
        a.id: (a.value_number, a.recorded_at) for a in Assessment.readings.filter(patient=m.patient)
    }
    fixed = diary_csv(start, end, headache=lambda d: True, migraine=lambda d: False)
    result = followup.import_diary(s.actor("physician"), m.patient.id, fixed)
    updated = result.count("updated")
    assert updated > 0
    every = Assessment.readings.filter(patient=m.patient)
    assert every.count() == len(earlier) + updated
    for reading in every.filter(id__in=earlier):
        assert (reading.value_number, reading.recorded_at) == earlier[reading.id]
    current = Assessment.objects.filter(patient=m.patient)
    assert current.count() == len(earlier)
    month = current.get(scale="headache-days-month", period_start=start)
    assert month.value_number == (month.period_end - month.period_start).days + 1
    assert month.supersedes is not None
    assert month.supersedes.value_number != month.value_number

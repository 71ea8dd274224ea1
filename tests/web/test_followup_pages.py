"""The follow-up pages: outcome charts and verdicts on the patient page, the result, wear-off and
diary forms, the Due page (the due list service, as the Today page uses it) with its CSV, and the
adverse-event report with its export. Who sees what follows DESIGN 3.4: the front desk sees the
schedule and demographics, no chart, no due list, no report; another clinic's ids answer 404."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.audit.services import Actor
from bontrack.ops.demo import build_demo
from bontrack.outcomes import services as followup
from bontrack.outcomes.due import due_list
from bontrack.outcomes.models import Assessment, WearOffReport
from bontrack.patients.models import Patient
from tests import builders
from tests.services.followup import migraine_patient
from tests.web.conftest import Pages

pytestmark = pytest.mark.django_db

ROLES = builders.CLINIC_A_PERSONAS
READERS = {"physician", "nurse_injector", "auditor", "clinic_admin"}
RECORDERS = {"physician", "nurse_injector"}


def _paths(pages: Pages) -> dict[str, tuple[str, set[str]]]:
    return {
        "due": ("/due/", READERS),
        "due_csv": ("/due/export.csv", READERS),
        "report": ("/reports/adverse-events/", READERS),
        "report_csv": ("/reports/adverse-events/export.csv", READERS),
        "value_field": ("/outcomes/value-field?scale=modified-ashworth&prefix=x", RECORDERS),
        "diary": (f"/patients/{pages.patient.id}/diary", RECORDERS),
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_follow_up_pages_open_for_the_roles_allowed_and_403_for_the_others(pages, role):
    client = pages.client(role)
    for name, (path, allowed) in _paths(pages).items():
        response = client.get(path)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (role, name, response.status_code)
    nav = client.get("/").content.decode()
    assert ('href="/due/"' in nav) is (role in READERS)
    assert ('href="/reports/adverse-events/"' in nav) is (role in READERS)


def _mas(pages: Pages, muscles: str, value: str, day, timepoint: str, **extra: str) -> None:
    followup.record_assessment(
        pages.staff.actor("physician"),
        pages.patient.id,
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        value=value,
        timepoint=timepoint,
        assessed_on=day,
        muscle_group=muscles,
        **extra,
    )


def test_front_desk_sees_no_outcomes_no_due_list_and_cannot_record(pages):
    _mas(pages, "elbow flexors", "3", pages.signed.plan_date, "baseline")
    client = pages.client("front_desk")
    patient = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert "Demographics and contact" in patient
    assert "Outcomes and follow-up" not in patient
    assert "Modified Ashworth" not in patient
    assert "<svg" not in patient
    today = client.get("/").content.decode()
    assert "Who is due is clinical detail" in today
    assert 'href="/due/"' not in today
    day = timezone.localdate().isoformat()
    for path, data in (
        (
            f"/patients/{pages.patient.id}/assessments",
            {"indication": "upper-limb-spasticity", "scale": "modified-ashworth", "value": "2"},
        ),
        (f"/sessions/{pages.signed.id}/wear-off", {"wore_off_on": day}),
        (f"/patients/{pages.patient.id}/diary", {"mode": "dry-run"}),
    ):
        assert client.post(path, data).status_code == 403, path
    assert Assessment.objects.filter(patient=pages.patient).count() == 1
    assert not WearOffReport.objects.exists()


def test_another_clinics_ids_answer_404_on_every_follow_up_page(pages):
    client = pages.client("physician")
    day = timezone.localdate().isoformat()
    other = pages.other_patient.id
    for path, data in (
        (
            f"/patients/{other}/assessments",
            {
                "indication": "upper-limb-spasticity",
                "scale": "modified-ashworth",
                "timepoint": "baseline",
                "value": "2",
                "assessed_on": day,
                "muscle_group": "elbow flexors",
            },
        ),
        (f"/sessions/{pages.other_signed.id}/wear-off", {"wore_off_on": day}),
        (
            f"/patients/{other}/diary",
            {"mode": "dry-run", "file": SimpleUploadedFile("d.csv", b"date\n")},
        ),
    ):
        response = client.post(path, data)
        assert response.status_code == 404, path
        assert pages.other_patient.family_name not in response.content.decode()
    assert client.get(f"/patients/{other}/diary").status_code == 404
    injector = pages.other.physician.id
    assert client.get(f"/due/?injector={injector}").status_code == 404
    assert client.get(f"/due/export.csv?injector={injector}").status_code == 404
    assert not Assessment.objects.exists()
    assert not WearOffReport.objects.exists()


def test_results_recorded_on_the_page_chart_by_rank_per_muscle_group_with_the_verdict(pages):
    client = pages.client("nurse_injector")
    session_day = pages.signed.plan_date
    base = {"indication": "upper-limb-spasticity", "scale": "modified-ashworth"}
    for muscles, before, after in (("elbow flexors", "3", "1+"), ("wrist flexors", "2", "2")):
        response = client.post(
            f"/patients/{pages.patient.id}/assessments",
            {
                **base,
                "timepoint": "baseline",
                "assessed_on": session_day.isoformat(),
                "value": before,
                "muscle_group": muscles,
            },
        )
        assert response.status_code == 302
        assert response["Location"].endswith("#outcomes-upper-limb-spasticity")
        client.post(
            f"/patients/{pages.patient.id}/assessments",
            {
                **base,
                "timepoint": "peak-effect",
                "assessed_on": (session_day + timedelta(weeks=4)).isoformat(),
                "value": after,
                "muscle_group": muscles,
                "session_id": str(pages.signed.id),
            },
        )
    assert Assessment.objects.filter(patient=pages.patient).count() == 4
    before = AuditEntry.objects.filter(patient_id=pages.patient.id, action="read").count()
    page = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert AuditEntry.objects.filter(patient_id=pages.patient.id, action="read").count() == (
        before + 1
    )
    section = page[page.index('id="outcomes-upper-limb-spasticity"') :]
    assert section.count('class="outcome-svg"') == 2  # one chart per muscle group
    assert "elbow flexors" in section
    assert "wrist flexors" in section
    # Plotted by rank: every level is an axis label, 1+ between 1 and 2.
    levels = re.findall(r'class="tick"[^>]*dominant-baseline="central">([^<]+)<', section)
    assert levels[:6] == ["0", "1", "1+", "2", "3", "4"]
    assert ">C1</text>" in section  # the session as a vertical line
    assert "responder (2 grades better)" in section
    assert "non-responder (no change)" in section
    assert "Source: SCALES [R]" in section


def test_a_refused_result_says_why_and_stores_nothing(pages):
    client = pages.client("physician")
    response = client.post(
        f"/patients/{pages.patient.id}/assessments",
        {
            "indication": "chronic-migraine",
            "scale": "headache-days-28d",
            "timepoint": "baseline",
            "assessed_on": timezone.localdate().isoformat(),
            "value": "31",
        },
    )
    assert response.status_code == 422  # the page again, the form open beside the refusal
    body = response.content.decode()
    assert 'id="value-chronic-migraine-error">must be between 0 and 28' in body
    response = client.post(
        f"/patients/{pages.patient.id}/assessments",
        {
            "indication": "chronic-migraine",
            "scale": "hit-6",
            "timepoint": "baseline",
            "assessed_on": timezone.localdate().isoformat(),
            "value": "sixty",
        },
    )
    assert "give a number, not &#x27;sixty&#x27;" in response.content.decode()
    assert not Assessment.objects.exists()


def test_the_value_field_follows_the_scale(pages):
    client = pages.client("physician")
    ordinal = client.get("/outcomes/value-field?scale=gais&prefix=g").content.decode()
    assert "<select" in ordinal
    assert ">very much improved</option>" in ordinal
    assert "muscle_group" not in ordinal
    mas = client.get("/outcomes/value-field?scale=modified-ashworth&prefix=m").content.decode()
    assert 'name="muscle_group"' in mas
    numeric = client.get("/outcomes/value-field?scale=headache-days-28d&prefix=h").content.decode()
    assert 'type="number"' in numeric
    assert 'max="28"' in numeric


def test_a_wear_off_report_on_a_signed_session_moves_the_due_date(pages):
    client = pages.client("physician")
    session = client.get(f"/sessions/{pages.signed.id}/").content.decode()
    assert 'action="/sessions/' in session
    assert "Record the wear-off" in session
    wore_off = pages.signed.plan_date + timedelta(days=30)
    response = client.post(
        f"/sessions/{pages.signed.id}/wear-off", {"wore_off_on": wore_off.isoformat()}
    )
    assert response["Location"] == f"/sessions/{pages.signed.id}/#wear-off"
    session = client.get(f"/sessions/{pages.signed.id}/").content.decode()
    assert "<strong>30 days</strong> after this session" in session
    assert "Record the wear-off" not in session
    patient = client.get(f"/patients/{pages.patient.id}/").content.decode()
    assert "(30 days)" in patient
    again = client.post(
        f"/sessions/{pages.signed.id}/wear-off", {"wore_off_on": wore_off.isoformat()}, follow=True
    )
    assert "already reported" in again.content.decode()
    assert WearOffReport.objects.count() == 1
    # The auditor reads it, but has no form.
    read = pages.client("auditor").get(f"/sessions/{pages.signed.id}/").content.decode()
    assert "<strong>30 days</strong>" in read
    assert "Record the wear-off" not in read


def _diary(lines: list[str]) -> SimpleUploadedFile:
    content = "date,headache,migraine,hours,acute_medication\n" + "\n".join(lines) + "\n"
    return SimpleUploadedFile("diary.csv", content.encode(), content_type="text/csv")


def test_a_diary_dry_run_shows_bad_rows_by_line_and_column_then_imports(pages):
    client = pages.client("physician")
    first = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    days = []
    day = first
    while day.month == first.month:
        ache = day.day % 2 == 1
        days.append(f"{day.isoformat()},{'yes' if ache else 'no'},no,{'2' if ache else ''},no")
        day += timedelta(days=1)
    days[2] = f"{first.replace(day=3).isoformat()},maybe,no,2,no"  # line 4
    days.append("2026-02-30,yes,no,1,no")
    response = client.post(
        f"/patients/{pages.patient.id}/diary", {"mode": "dry-run", "file": _diary(days)}
    )
    body = response.content.decode()
    assert "nothing was stored" in body
    errors = body[
        body.index('id="diary-errors"') : body.index("</table>", body.index("diary-errors"))
    ]
    assert re.search(r'<td class="num">4</td><td><code>headache</code></td>', errors)
    assert "is not a real date: 2026-02-30" in errors
    assert "incomplete" in body  # the month with a bad day is not counted
    assert not Assessment.objects.filter(patient=pages.patient).exists()
    good = [line.replace("maybe", "yes") for line in days[:-1]]
    done = client.post(
        f"/patients/{pages.patient.id}/diary", {"mode": "import", "file": _diary(good)}
    )
    assert "imported" in done.content.decode()
    stored = Assessment.objects.get(patient=pages.patient, source="diary")
    assert (stored.scale, stored.period_start) == ("headache-days-month", first)


def _shown(day) -> str:
    """A date as the pages write it ("3 Mar 2026")."""
    return f"{day.day} {day:%b %Y}"


def test_the_due_page_lists_what_the_service_lists_with_the_dates_that_decide(pages):
    s = pages.staff
    lot = builders.lot(s, number="DUE", vials=10)
    m = migraine_patient(s, lot, "M-1", weeks_ago=(24, 12))
    followup.record_wear_off(
        s.actor("physician"), m.cycles[0].id, wore_off_on=m.cycles[0].plan_date + timedelta(90)
    )
    client = pages.client("auditor")
    page = client.get("/due/?weeks=4").content.decode()
    listed = due_list(s.actor("auditor"), weeks=4).rows
    assert [r.record_number for r in listed] == ["M-1"]
    assert page.count("<tr>") - 1 == len(listed)  # the header row, then one per patient
    due = listed[0].due
    assert due.basis == "both"
    assert _shown(due.earliest) in page
    assert _shown(due.wear_off_date) in page
    assert "set by the wear-off history (the later of the two)" in page
    assert "median 90 days, 1 report" in page
    # Filters: another indication lists nobody; a bad number says so.
    assert "Nobody is due" in client.get("/due/?indication=cervical-dystonia").content.decode()
    assert "weeks: must be between 1 and 104" in client.get("/due/?weeks=500").content.decode()
    assert "weeks: give a whole number" in client.get("/due/?weeks=x").content.decode()
    # The CSV: every row, one disclosure entry per patient.
    before = AuditEntry.objects.filter(action="disclose", object_type="due-list-export").count()
    response = client.get("/due/export.csv?weeks=4")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["due", "status", "record_number"]
    assert [r[2] for r in rows[1:]] == ["M-1"]
    after = AuditEntry.objects.filter(action="disclose", object_type="due-list-export").count()
    assert after == before + 1
    # Today's due section is the same service, two weeks ahead.
    today = pages.client("physician").get("/").content.decode()
    two_weeks = due_list(s.actor("physician"), weeks=2).rows
    for row in two_weeks:
        assert row.record_number in today
    assert ("M-1" in today) is any(r.record_number == "M-1" for r in two_weeks)


def test_the_adverse_event_report_counts_by_term_and_severity_and_exports(pages):
    actor = pages.staff.actor("physician")
    onset = pages.signed.plan_date + timedelta(days=3)
    for severity in ("mild", "mild", "moderate"):
        followup.record_adverse_event(
            actor,
            pages.signed.id,
            term="dysphagia",
            onset_date=onset,
            severity=severity,
            serious=severity == "moderate",
            relatedness="possible",
            outcome="recovered",
        )
    client = pages.client("auditor")
    page = client.get("/reports/adverse-events/").content.decode()
    assert "BOTOX (onabotulinumtoxinA) · Adult upper limb spasticity" in page
    row = page[page.index("<code>dysphagia</code>") :]
    cells = re.findall(r'<td class="num[^"]*">(?:<strong>)?(\d+)', row)[:5]
    assert cells == ["3", "2", "1", "0", "0"]  # events, mild, moderate, severe, life-threatening
    assert "1 serious" in page
    assert pages.patient.family_name not in page  # the counts identify nobody
    empty = client.get("/reports/adverse-events/?indication=chronic-migraine").content.decode()
    assert "No adverse event with onset in this period" in empty
    bad = client.get("/reports/adverse-events/?start=2026-13-01").content.decode()
    assert "start: give a date as YYYY-MM-DD" in bad
    before = AuditEntry.objects.filter(action="disclose").count()
    export = client.get("/reports/adverse-events/export.csv?identify=record-number")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert len(rows) == 4
    assert {r[1] for r in rows[1:]} == {"P-1"}
    assert AuditEntry.objects.filter(action="disclose").count() == before + 1
    pseudonymised = client.get("/reports/adverse-events/export.csv").content.decode()
    patients = {r[1] for r in list(csv.reader(io.StringIO(pseudonymised)))[1:]}
    assert len(patients) == 1
    assert patients.pop().startswith("PV-")


def test_the_demo_shows_maria_responding_owen_stopping_and_the_due_list():
    demo = build_demo()
    client = Client()
    client.force_login(demo.members["physician"].user)
    maria = Patient.objects.get(clinic=demo.clinic, record_number="BT-0001")
    owen = Patient.objects.get(clinic=demo.clinic, record_number="BT-0006")
    page = client.get(f"/patients/{maria.id}/").content.decode()
    assert "−52" in page
    assert "responder (−52 % after 2 cycles)" in page
    assert ">continue</span>" in page
    assert "baseline 25" in page  # the baseline, and the 30 % and 50 % lines from it
    assert "−30 %: 17.5" in page
    assert "−50 %: 12.5" in page
    page = client.get(f"/patients/{owen.id}/").content.decode()
    assert ">stop</span>" in page
    assert "stop (−18.2 % after 2 cycles)" in page
    assert "NICE TA260 stopping rule" in page
    assert "Source: NICE TA260" in page
    due = client.get("/due/?weeks=4").content.decode()
    doctor = Actor(demo.members["physician"], "127.0.0.1")
    found = due_list(doctor, weeks=4)
    listed = {r.record_number for r in found.rows}
    assert listed  # the demo has patients due
    # Owen's stop verdict holds him apart (B.32): shown, but not among the due.
    assert "BT-0006" not in listed
    assert [r.record_number for r in found.held] == ["BT-0006"]
    assert "stop recommended (NICE TA260)" in due
    shown = set(re.findall(r"<small>(BT-\d{4})", due))
    assert shown == listed | {"BT-0006"}


def test_a_stop_verdict_is_listed_apart_until_a_prescriber_continues_despite_it(pages):
    s = pages.staff
    lot = builders.lot(s, number="STOP", vials=10)
    owen = migraine_patient(s, lot, "BT-0006", weeks_ago=(24, 12), days=(22, 20, 18))
    due = pages.client("auditor").get("/due/?weeks=2").content.decode()
    assert 'id="due-held"' in due
    assert "stop recommended (NICE TA260)" in due
    assert "Nobody is due in the next 2 weeks" in due  # he is not among the due
    # Only a prescriber is offered the decision, beside the verdict.
    nurse_page = pages.client("nurse_injector").get(f"/patients/{owen.patient.id}/")
    assert "Continue despite this verdict" not in nurse_page.content.decode()
    page = pages.client("physician").get(f"/patients/{owen.patient.id}/").content.decode()
    assert "Continue despite this verdict" in page
    assert "stop recommended (NICE TA260)" in page
    assert "stop (\u221218.2 % after 2 cycles)" in page
    form = {"indication": "chronic-migraine", "scale": "headache-days-28d", "reason": ""}
    path = f"/patients/{owen.patient.id}/verdicts/continue"
    refused = pages.client("physician").post(path, form, follow=True).content.decode()
    assert "The decision was not recorded: reason:" in refused
    assert pages.client("nurse_injector").post(path, form).status_code == 403
    reason = "Fewer days in bed; one more cycle, then review."
    done = pages.client("physician").post(path, {**form, "reason": reason})
    assert done.status_code == 302
    assert done["Location"] == f"/patients/{owen.patient.id}/#outcomes-chronic-migraine"
    page = pages.client("auditor").get(f"/patients/{owen.patient.id}/").content.decode()
    assert "continued despite this verdict" in page
    assert reason in page
    assert ">stop</span>" in page  # the verdict stays as it is, with the decision beside it
    due = pages.client("auditor").get("/due/?weeks=2").content.decode()
    assert 'id="due-held"' not in due
    assert "<small>BT-0006</small>" in due


def test_the_session_page_proposes_no_next_visit_while_a_stop_verdict_stands(pages):
    s = pages.staff
    lot = builders.lot(s, number="STOP", vials=10)
    owen = migraine_patient(s, lot, "BT-0006", weeks_ago=(24, 12), days=(22, 20, 18))
    page = pages.client("physician").get(f"/sessions/{owen.cycles[-1].id}/").content.decode()
    assert "stop recommended (NICE TA260)" in page
    assert "No next visit is proposed while this verdict stands" in page
    assert "Book the next visit" not in page


def test_a_due_date_set_by_bontracks_own_interval_is_never_called_the_labels(pages):
    """B.36: BOTOX in cervical dystonia has no labelled interval; its due date rests on bontrack's
    70 days (B.17), and the Due page says so."""
    s = pages.staff
    p = builders.patient(s, record="CD-1", weight_kg=70)
    when = timezone.now() - timedelta(days=60)
    builders.consent(s, p, "cervical-dystonia", when.date() - timedelta(days=10))
    builders.signed_session(
        s,
        p,
        when,
        builders.open_vial(s, builders.lot(s, number="CD-LOT"), at=when - timedelta(hours=1)),
        indication="cervical-dystonia",
        injections=[builders.sessions.PointInput("splenius-capitis", "left", Decimal(50))],
    )
    page = html.unescape(pages.client("physician").get("/due/?weeks=4").content.decode())
    row = page[page.index("CD-1") :]
    row = row[: row.index("</tr>")]
    assert "+70 days" in row
    assert "set by bontrack's interval (policy B.17)" in row
    assert "label interval" not in row

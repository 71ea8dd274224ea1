"""A stop verdict reaches the next plan, the due list, the reminders and the next visit (B.32):
a patient whose headache days fell 18.2 % after 2 cycles (NICE TA260: stop) gets a `response`
warning on a new PREEMPT plan, is listed apart on the due list, is never e-mailed nor in the
phoning CSV, and gets no proposed next visit; a prescriber's "continue despite this verdict",
with a reason, lifts all of that until a newer follow-up changes the verdict."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.charting.services import reminders
from bontrack.charting.services.appointments import propose_next_visit
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.domain.treatment import Verdict
from bontrack.inventory.models import Lot
from bontrack.outcomes import services as followup
from bontrack.outcomes.decisions import continue_despite
from bontrack.outcomes.due import due_list, export_due_list
from bontrack.outcomes.models import ContinueDespiteVerdict
from bontrack.outcomes.verdicts import check_verdicts, patient_verdicts
from bontrack.patients.services import update_patient
from bontrack.treatments import services as sessions
from tests import builders
from tests.services.followup import Migraine, migraine_patient

pytestmark = pytest.mark.django_db

REASON = "Fewer days in bed and back at work: continue for one more cycle, then review."


def today() -> date:
    return timezone.localdate()


@dataclass
class Clinic:
    staff: builders.Staff
    lot: Lot
    owen: Migraine  # 22 headache days, 20 after cycle 1, 18 after cycle 2: -18.2 %, stop
    maria: Migraine  # 25, 18, 12: -52 %, continue


def _contactable(s: builders.Staff, m: Migraine, email: str) -> None:
    update_patient(
        s.actor("physician"),
        m.patient.id,
        today(),
        email=email,
        contact_agreed=True,
        contact_method="email",
    )


@pytest.fixture
def clinic() -> Clinic:
    s = builders.staff()
    lot = builders.lot(s, number="PREEMPT", vials=12)
    owen = migraine_patient(s, lot, "BT-0006", weeks_ago=(24, 12), days=(22, 20, 18))
    maria = migraine_patient(s, lot, "BT-0001", weeks_ago=(36, 24, 12), days=(25, 18, 12))
    _contactable(s, owen, "owen@example.org")
    _contactable(s, maria, "maria@example.org")
    return Clinic(s, lot, owen, maria)


def _plan(c: Clinic, m: Migraine):
    return sessions.plan_session(
        c.staff.actor("physician"),
        m.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=today(),
        protocol="preempt-155",
    )


def _response(result: dict) -> list[dict]:
    return [f for f in result["findings"] if f["rule"] == "response"]


def _later(c: Clinic, m: Migraine, days: int, ahead: int) -> None:
    """A headache-day count on a day ``ahead`` days from now (recorded then: the 28 days before
    it), after the last follow-up."""
    day = today() + timedelta(days=ahead)
    followup.record_assessment(
        c.staff.actor("physician"),
        m.patient.id,
        indication="chronic-migraine",
        scale="headache-days-28d",
        value=Decimal(days),
        timepoint="follow-up",
        assessed_on=day,
        today=day,
    )


def _continue(c: Clinic, role: str = "physician", **change: str) -> ContinueDespiteVerdict:
    values = {"indication": "chronic-migraine", "scale": "headache-days-28d", "reason": REASON}
    values.update(change)
    return continue_despite(c.staff.actor(role), c.owen.patient.id, **values)


# -- the verdict as the check reads it ---------------------------------------------------------


def test_the_check_is_given_the_latest_verdict_per_series_with_its_date_and_summary(clinic):
    [verdict] = check_verdicts(clinic.owen.patient, "chronic-migraine")
    assert verdict == Verdict(
        indication="chronic-migraine",
        scale="headache-days-28d",
        verdict="stop",
        as_of=today(),
        summary="\u221218.2 % after 2 cycles",
        source=verdict.source,
        muscle_group=None,
    )
    assert "NICE TA260" in verdict.source
    [maria] = check_verdicts(clinic.maria.patient, "chronic-migraine")
    assert (maria.verdict, maria.summary) == ("continue", "\u221252 % after 2 cycles")
    assert check_verdicts(clinic.owen.patient, "cervical-dystonia") == ()


def test_a_new_preempt_plan_gets_one_response_warning_citing_nice_ta260(clinic):
    plan = _plan(clinic, clinic.owen)
    [warning] = _response(plan.check_result)
    assert warning["severity"] == "warn"
    assert warning["overridable"] is False
    assert "\u221218.2 %" in warning["message"]
    assert "NICE TA260" in warning["message"] + warning["source"]
    assert _response(_plan(clinic, clinic.maria).check_result) == []


def test_the_verdicts_cost_the_same_queries_for_3_and_for_12_results(clinic):
    counts = []
    for m, extra in ((clinic.maria, 0), (clinic.owen, 9)):
        for n in range(extra):
            end = m.cycles[-1].plan_date + timedelta(days=1 + n)
            followup.record_assessment(
                clinic.staff.actor("physician"),
                m.patient.id,
                indication="chronic-migraine",
                scale="hit-6",
                value=Decimal(60 + n % 5),
                timepoint="baseline" if n == 0 else "follow-up",
                assessed_on=end,
            )
        with CaptureQueriesContext(connection) as ctx:
            check_verdicts(m.patient, "chronic-migraine")
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == 3


# -- the due list, the reminders, the CSV and the next visit -----------------------------------


def test_the_due_list_holds_the_stop_patient_apart_and_lists_the_responder(clinic):
    found = due_list(clinic.staff.actor("physician"), weeks=2)
    assert [r.record_number for r in found.rows] == ["BT-0001"]
    [held] = found.held
    assert (held.record_number, held.held_because) == (
        "BT-0006",
        "stop recommended (NICE TA260)",
    )
    exported = export_due_list(clinic.staff.actor("physician"), weeks=2)
    assert [r.record_number for r in exported.rows] == ["BT-0001"]


def test_no_reminder_is_ever_sent_to_the_stop_patient_nor_put_in_the_phoning_csv(clinic):
    actor = clinic.staff.actor("physician")
    listed = reminders.reminder_list(actor, days=14)
    assert [c.row.record_number for c in listed] == ["BT-0001"]
    report = reminders.send_reminders(actor, days=14, patient_ids={clinic.owen.patient.id})
    assert (report.sent, report.failed, report.skipped) == ([], [], [])
    report = reminders.send_reminders(actor, days=14)
    assert [m.to for m in mail.outbox] == [["maria@example.org"]]
    assert [log.patient_id for log in report.sent] == [clinic.maria.patient.id]
    rows = list(csv.reader(io.StringIO(reminders.export_csv(actor, days=14))))
    assert [r[0] for r in rows[1:]] == ["BT-0001"]


def test_no_next_visit_is_proposed_after_the_stop_patients_session(clinic):
    proposal = propose_next_visit(clinic.owen.cycles[-1], timezone.now())
    assert proposal is not None
    assert proposal.held_because == "stop recommended (NICE TA260)"
    assert proposal.suggested_at is None
    maria = propose_next_visit(clinic.maria.cycles[-1], timezone.now())
    assert maria is not None
    assert maria.suggested_at is not None
    assert maria.held_because == ""


def test_a_non_responder_is_held_apart_as_not_responding_on_its_scale(clinic):
    s = clinic.staff
    p = builders.patient(s, "SP-1", weight_kg=70)
    builders.consent(s, p, "upper-limb-spasticity", today() - timedelta(days=200))
    lot = builders.lot(s, number="SP", vials=2)
    at = timezone.now() - timedelta(days=90)
    session = builders.signed_session(
        s,
        p,
        at,
        builders.open_vial(s, lot, at=at - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[sessions.PointInput("biceps-brachii", "left", Decimal(50))],
    )
    for value, timepoint, day in (
        ("2", "baseline", session.plan_date - timedelta(days=1)),
        ("2", "follow-up", session.plan_date + timedelta(days=42)),
    ):
        followup.record_assessment(
            s.actor("physician"),
            p.id,
            indication="upper-limb-spasticity",
            scale="modified-ashworth",
            value=value,
            timepoint=timepoint,
            assessed_on=day,
            muscle_group="elbow flexors",
        )
    [verdict] = check_verdicts(p, "upper-limb-spasticity")
    assert (verdict.verdict, verdict.muscle_group, verdict.summary) == (
        "non-responder",
        "elbow flexors",
        "no change",
    )
    proposal = propose_next_visit(session, timezone.now())
    assert proposal is not None
    assert proposal.held_because == "not responding on Modified Ashworth"
    assert proposal.suggested_at is None
    [held] = due_list(s.actor("physician"), indication="upper-limb-spasticity").held
    assert (held.record_number, held.held_because) == ("SP-1", proposal.held_because)


# -- continue despite this verdict -------------------------------------------------------------


def test_continue_despite_lifts_the_warning_and_the_patient_is_due_and_reminded_again(clinic):
    plan = _plan(clinic, clinic.owen)
    assert len(_response(plan.check_result)) == 1
    decision = _continue(clinic)
    assert (decision.verdict, decision.as_of, decision.summary) == (
        "stop",
        today(),
        "\u221218.2 % after 2 cycles",
    )
    # The open plan was checked again; a new one is clean of it too.
    plan.refresh_from_db()
    assert _response(plan.check_result) == []
    assert _response(_plan(clinic, clinic.owen).check_result) == []
    assert check_verdicts(clinic.owen.patient, "chronic-migraine") == ()
    found = due_list(clinic.staff.actor("physician"), weeks=2)
    assert sorted(r.record_number for r in found.rows) == ["BT-0001", "BT-0006"]
    assert found.held == []
    [shown] = patient_verdicts(clinic.staff.actor("auditor"), clinic.owen.patient.id).verdicts
    assert shown.verdict.verdict == "stop"  # the verdict is shown as it is, with the decision
    assert shown.continued is not None
    assert shown.continued.reason == REASON
    [entry] = AuditEntry.objects.filter(object_type="continue-despite-verdict")
    assert (entry.action, entry.patient_id, entry.detail["reason"]) == (
        "create",
        clinic.owen.patient.id,
        REASON,
    )


def test_after_continue_despite_the_reminders_and_their_csv_include_the_patient(clinic):
    _continue(clinic)
    actor = clinic.staff.actor("physician")
    listed = reminders.reminder_list(actor, days=14)
    assert sorted(c.row.record_number for c in listed) == ["BT-0001", "BT-0006"]
    reminders.send_reminders(actor, days=14, patient_ids={clinic.owen.patient.id})
    assert [m.to for m in mail.outbox] == [["owen@example.org"]]
    rows = list(csv.reader(io.StringIO(reminders.export_csv(actor, days=14))))
    assert sorted(r[0] for r in rows[1:]) == ["BT-0001", "BT-0006"]


def test_a_newer_follow_up_that_is_still_a_stop_keeps_the_decision(clinic):
    _continue(clinic)
    _later(clinic, clinic.owen, 19, ahead=10)  # still under a 30 % fall from 22
    [shown] = patient_verdicts(clinic.staff.actor("physician"), clinic.owen.patient.id).verdicts
    assert (shown.verdict.verdict, shown.verdict.summary) == ("stop", "\u221213.6 % after 2 cycles")
    assert shown.continued is not None
    assert _response(_plan(clinic, clinic.owen).check_result) == []
    assert [r.record_number for r in due_list(clinic.staff.actor("physician")).held] == []


def test_a_follow_up_that_changes_the_verdict_ends_the_decision_and_a_later_stop_applies(clinic):
    _continue(clinic)
    plan = _plan(clinic, clinic.owen)
    assert _response(plan.check_result) == []
    _later(clinic, clinic.owen, 12, ahead=10)  # -45.5 %: treatment continues
    [shown] = patient_verdicts(clinic.staff.actor("physician"), clinic.owen.patient.id).verdicts
    assert (shown.verdict.verdict, shown.continued) == ("continue", None)
    _later(clinic, clinic.owen, 18, ahead=20)  # back to -18.2 %: a new stop
    [shown] = patient_verdicts(clinic.staff.actor("physician"), clinic.owen.patient.id).verdicts
    assert (shown.verdict.verdict, shown.continued) == ("stop", None)
    # Recording the result checked the open plan again: the stop warns on it once more.
    plan.refresh_from_db()
    assert len(_response(plan.check_result)) == 1
    held = due_list(clinic.staff.actor("physician"), weeks=2).held
    assert [r.record_number for r in held] == ["BT-0006"]
    # A new decision may be taken on the new stop.
    assert _continue(clinic).as_of == today() + timedelta(days=20)


def test_only_a_prescriber_records_it_with_a_reason_for_a_stop_or_non_responder(clinic):
    before = ContinueDespiteVerdict.objects.count()
    with pytest.raises(ForbiddenError):
        _continue(clinic, "nurse")
    with pytest.raises(ServiceError) as blank:
        _continue(clinic, reason="   ")
    assert blank.value.field == "reason"
    with pytest.raises(ConflictError) as responding:
        continue_despite(
            clinic.staff.actor("physician"),
            clinic.maria.patient.id,
            indication="chronic-migraine",
            scale="headache-days-28d",
            reason=REASON,
        )
    assert "the verdict on headache-days-28d is continue" in responding.value.message
    with pytest.raises(ServiceError) as unknown:
        _continue(clinic, scale="hit-6")
    assert unknown.value.field == "scale"
    assert ContinueDespiteVerdict.objects.count() == before
    _continue(clinic)
    with pytest.raises(ConflictError) as twice:
        _continue(clinic)
    assert "already stands" in twice.value.message

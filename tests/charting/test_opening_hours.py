"""Opening hours per clinic: bookings that overlap the patient's or the injector's visits, or
fall outside the hours, ask to be confirmed; the proposed next visit falls on an open day within
the hours; reminders name no treatment in the subject and come from the clinic's own address,
after a preview."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from bontrack.charting import hours
from bontrack.charting.models import Appointment, ReminderLog, ReminderTemplate
from bontrack.charting.services import appointments, reminders
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from tests import builders
from tests.charting import support
from tests.charting.test_schedule import due_world  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

WEEKDAYS = [["08:00", "12:30"], ["13:30", "18:00"]]
A_WEEK = {
    "mon": WEEKDAYS,
    "tue": WEEKDAYS,
    "wed": [["08:00", "18:00"]],
    "sat": [["09:00", "12:00"]],
}


def _next(weekday: int, at: time) -> datetime:
    """The next such weekday (0 Monday) at least two days ahead, at ``at`` in the clinic (UTC)."""
    day = timezone.localdate() + timedelta(days=2)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, at))


@pytest.fixture
def clinic():
    s = builders.staff()
    appointments.set_opening_hours(s.actor("admin"), opening_hours=A_WEEK)
    p = builders.patient(s)
    return s, p


def _book(s, p, at, minutes=30, injector=None, confirm=False, who="front_desk"):
    return appointments.book_appointment(
        s.actor(who),
        p.id,
        indication="glabellar-lines",
        starts_at=at,
        minutes=minutes,
        injector_id=injector,
        confirm=confirm,
    )


def test_hours_are_checked_day_by_day_and_a_day_left_out_is_closed():
    stored = hours.validate(A_WEEK)
    assert stored["sun"] == []
    assert stored["thu"] == []
    assert stored["mon"] == WEEKDAYS
    with pytest.raises(hours.HoursError) as refused:
        hours.validate({"mon": [["08:00", "12:00"], ["11:59", "18:00"]]})
    assert refused.value.field == "mon"
    with pytest.raises(hours.HoursError) as refused:
        hours.validate({"tue": [["18:00", "08:00"]]})
    assert refused.value.field == "tue[0]"
    with pytest.raises(hours.HoursError):
        hours.validate({"monday": []})
    with pytest.raises(hours.HoursError):
        hours.validate({"mon": [["8 am", "noon"]]})
    # Touching intervals are fine: the morning ends as the afternoon begins.
    assert hours.validate({"fri": [["08:00", "12:00"], ["12:00", "16:00"]]})["fri"][1][0] == "12:00"


def test_only_the_clinic_administrator_sets_the_hours_and_the_contact(clinic):
    s, _ = clinic
    with pytest.raises(ForbiddenError):
        appointments.set_opening_hours(s.actor("physician"), opening_hours=A_WEEK)
    with pytest.raises(ServiceError) as refused:
        appointments.set_opening_hours(s.actor("admin"), contact_email="reception at clinic")
    assert refused.value.field == "contact_email"
    with pytest.raises(ServiceError) as refused:
        appointments.set_opening_hours(s.actor("admin"), opening_hours={"wed": [["9", "x"]]})
    assert refused.value.field == "opening_hours.wed[0]"
    saved = appointments.set_opening_hours(
        s.actor("admin"), contact_email="desk@clinic.example", contact_phone="+44 20 7946 0100"
    )
    assert saved.opening_hours["mon"] == WEEKDAYS  # left as it was
    assert (saved.contact_email, saved.contact_phone) == (
        "desk@clinic.example",
        "+44 20 7946 0100",
    )


def test_a_visit_must_end_by_closing_time_or_be_confirmed(clinic):
    s, p = clinic
    assert _book(s, p, _next(2, time(17, 30))).minutes == 30  # ends exactly at 18:00
    with pytest.raises(ConflictError) as warned:
        _book(s, p, _next(2, time(17, 31)))
    assert "outside the opening hours (Wednesday: 08:00–18:00)" in warned.value.message
    with pytest.raises(ConflictError):
        _book(s, p, _next(0, time(12, 15)))  # runs into the lunch break
    with pytest.raises(ConflictError) as warned:
        _book(s, p, _next(6, time(10, 0)))
    assert "(Sunday: closed)" in warned.value.message
    sunday = _book(s, p, _next(6, time(10, 0)), confirm=True)
    assert sunday.status == "booked"


def test_the_same_patient_at_an_overlapping_time_warns_and_may_be_confirmed(clinic):
    s, p = clinic
    first = _book(s, p, _next(1, time(9, 0)))
    with pytest.raises(ConflictError) as warned:
        _book(s, p, _next(1, time(9, 29)))
    assert "Alex Doe already has a visit 09:00–09:30" in warned.value.message
    assert Appointment.objects.count() == 1
    assert _book(s, p, _next(1, time(9, 30))).id != first.id  # starts as the first ends
    again = _book(s, p, _next(1, time(9, 15)), confirm=True)
    assert Appointment.objects.filter(id=again.id).exists()


def test_the_same_injector_at_an_overlapping_time_warns_but_a_cancelled_visit_does_not(clinic):
    s, p = clinic
    other = builders.patient(s, record="R-OTHER")
    taken = _book(s, p, _next(0, time(10, 0)), minutes=60, injector=s.nurse.id)
    with pytest.raises(ConflictError) as warned:
        _book(s, other, _next(0, time(10, 45)), injector=s.nurse.id)
    assert f"{s.nurse.display_name} already sees" in warned.value.message
    # Another injector at the same time is no conflict; nor is the nurse once the visit is off.
    assert _book(s, other, _next(0, time(10, 45)), injector=s.physician.id)
    appointments.set_status(s.actor("front_desk"), taken.id, "cancelled")
    third = builders.patient(s, record="R-THIRD")
    assert _book(s, third, _next(0, time(10, 15)), injector=s.nurse.id)


def test_the_proposed_next_visit_falls_on_an_open_day_within_the_hours(clinic):
    s, p = clinic
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=100))
    # Signed at 19:00 on a day whose 90-day due date is a Sunday.
    n = next(
        n for n in range(2, 9) if (timezone.localdate() - timedelta(days=n - 90)).weekday() == 6
    )
    signed = support.glabellar_session(s, p, support.days_ago(n, hour=19))
    proposal = appointments.propose_next_visit(signed, timezone.now())
    assert proposal.due.due.weekday() == 6
    # Sunday is closed: Monday, at its opening (19:00 is after closing).
    assert proposal.suggested_at.date() == proposal.due.due + timedelta(days=1)
    assert proposal.suggested_at.time() == time(8, 0)


def test_the_proposal_keeps_the_signed_visits_time_when_the_clinic_is_open_then():
    s = builders.staff()
    p = builders.patient(s)
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=100))
    appointments.set_opening_hours(
        s.actor("admin"), opening_hours={d: [["08:00", "18:00"]] for d in hours.DAYS}
    )
    signed = support.glabellar_session(s, p, support.days_ago(3, hour=14))
    proposal = appointments.propose_next_visit(signed, timezone.now())
    assert proposal.suggested_at.date() == proposal.due.due
    assert proposal.suggested_at.time() == time(14, 0)
    # A clinic that never opens proposes no time, only the due date.
    appointments.set_opening_hours(s.actor("admin"), opening_hours={})
    signed.clinic.refresh_from_db()
    assert appointments.propose_next_visit(signed, timezone.now()).suggested_at is None


def test_the_reminder_subject_names_no_treatment(due_world):  # noqa: F811
    s, _ = due_world
    reminders.send_reminders(s.actor("nurse"), days=30, previewed=None)
    [message] = mail.outbox
    assert message.subject == "Time to book your next visit at Clinic A"
    assert "glabellar" not in message.subject.lower()
    assert "glabellar lines" in message.body
    with pytest.raises(ServiceError) as refused:
        reminders.save_template(
            s.actor("physician"),
            indication="glabellar-lines",
            subject="Your {{ indication }} is due",
            body="Hello",
        )
    assert refused.value.field == "subject"
    assert "lock screens" in refused.value.message


def test_a_subject_saved_with_the_treatment_falls_back_to_the_standard_one(due_world):  # noqa: F811
    s, _ = due_world
    ReminderTemplate.objects.create(
        clinic_id=s.clinic.id,
        indication="glabellar-lines",
        subject="Your {{ indication }} is due",
        body="Hello {{ given_name }}",
        updated_by=s.physician,
    )
    reminders.send_reminders(s.actor("nurse"), days=30)
    assert mail.outbox[0].subject == "Time to book your next visit at Clinic A"
    assert mail.outbox[0].body == "Hello Ann"


def test_reminders_come_from_the_clinics_address_and_replies_go_to_it(due_world):  # noqa: F811
    s, _ = due_world
    appointments.set_opening_hours(s.actor("admin"), contact_phone="+44 20 7946 0100")
    reminders.send_reminders(s.actor("nurse"), days=30)
    [message] = mail.outbox
    assert message.from_email == "Clinic A <desk@a.clinic.test>"
    assert message.reply_to == ["Clinic A <desk@a.clinic.test>"]
    assert "call us on +44 20 7946 0100 or write to desk@a.clinic.test" in message.body
    assert "reply" not in message.body.lower()


@override_settings(BONTRACK_EMAIL_FROM="Reminders <reminders@mail.example>")
def test_a_configured_server_sender_keeps_the_clinics_address_for_replies(due_world):  # noqa: F811
    s, _ = due_world
    reminders.send_reminders(s.actor("nurse"), days=30)
    [message] = mail.outbox
    assert message.from_email == "Reminders <reminders@mail.example>"
    assert message.reply_to == ["Clinic A <desk@a.clinic.test>"]
    # Without a telephone number the text gives the address alone.
    assert "To book a visit, write to desk@a.clinic.test." in message.body


def test_no_reminder_goes_out_without_an_address_patients_can_write_to(due_world):  # noqa: F811
    s, _ = due_world
    appointments.set_opening_hours(s.actor("admin"), contact_email="")
    with pytest.raises(ServiceError) as refused:
        reminders.send_reminders(s.actor("nurse"), days=30)
    assert refused.value.field == "sender"
    assert "set the clinic's e-mail address for patients" in refused.value.message
    assert not mail.outbox
    assert reminders.preview_reminders(s.actor("nurse"), days=30).sender is None


def test_the_preview_shows_every_email_and_sends_nothing(due_world):  # noqa: F811
    s, people = due_world
    preview = reminders.preview_reminders(s.actor("nurse"), days=30)
    assert not mail.outbox
    assert not ReminderLog.objects.exists()
    [draft] = preview.drafts
    assert draft.to == "ann@example.org"
    assert draft.subject == "Time to book your next visit at Clinic A"
    assert draft.body.startswith("Dear Ann,")
    assert {why for _, why in preview.skipped} == {"no agreement to be contacted", "prefers phone"}
    with pytest.raises(ForbiddenError):
        reminders.preview_reminders(s.actor("auditor"), days=30)
    # Sent as previewed; refused once the e-mails differ from the preview.
    reminders.save_template(
        s.actor("physician"),
        indication="glabellar-lines",
        subject="A note from {{ clinic }}",
        body="Hello {{ given_name }}",
    )
    with pytest.raises(ConflictError) as refused:
        reminders.send_reminders(s.actor("nurse"), days=30, previewed=preview.digest)
    assert "preview them again" in refused.value.message
    assert not mail.outbox
    fresh = reminders.preview_reminders(s.actor("nurse"), days=30, patient_ids={people["ann"].id})
    report = reminders.send_reminders(
        s.actor("nurse"), days=30, patient_ids={people["ann"].id}, previewed=fresh.digest
    )
    assert [log.address for log in report.sent] == ["ann@example.org"]
    assert mail.outbox[0].body == "Hello Ann"


def test_a_new_clinic_opens_monday_to_friday_eight_to_six():
    s = builders.staff()
    week = appointments.clinic_hours(s.clinic)
    assert hours.describe(week)[0] == ("Monday", "08:00–18:00")
    assert hours.describe(week)[5:] == [("Saturday", "closed"), ("Sunday", "closed")]
    assert hours.slots(week, date(2026, 12, 7))[:2] == [time(8, 0), time(8, 30)]
    assert hours.slots(week, date(2026, 12, 7))[-1] == time(17, 30)

"""Appointments, the next visit proposed at signing, reminders by e-mail (Django's locmem
backend in tests) and their CSV; stock deducted at signing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.charting.models import ReminderLog
from bontrack.charting.services import appointments, reminders
from bontrack.core.errors import ForbiddenError, ServiceError
from bontrack.inventory.services import recall_lot, usable_vials
from bontrack.patients.services import register_patient, update_patient
from bontrack.treatments.models import SessionVial
from bontrack.treatments.supply import vial_states
from tests import builders
from tests.charting import support

pytestmark = pytest.mark.django_db


def _patient(s, record, given, agreed=True, method="email", email="x@example.org"):
    return register_patient(
        s.actor("physician"),
        timezone.localdate(),
        record_number=record,
        given_name=given,
        family_name="Test",
        birth_date=timezone.localdate().replace(year=1985),
        email=email,
        phone="+44 20 7946 0000",
        contact_agreed=agreed,
        contact_method=method,
    )


@pytest.fixture
def due_world():
    """Four glabellar patients treated 80 days ago (due at 90 days, within 30 days), one of them
    booked, one who agreed to no contact, one who prefers the phone; and one treated last week."""
    s = builders.staff()
    people = {
        "ann": _patient(s, "R-1", "Ann", email="ann@example.org"),
        "bea": _patient(s, "R-2", "Bea", agreed=False, method="none"),
        "cal": _patient(s, "R-3", "Cal", email="cal@example.org"),
        "dee": _patient(s, "R-4", "Dee", method="phone"),
        "eve": _patient(s, "R-5", "Eve", email="eve@example.org"),
    }
    for n, p in enumerate(people.values()):
        builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=200))
        ago = 7 if p.given_name == "Eve" else 80
        support.glabellar_session(s, p, support.days_ago(ago), number=f"R{n}")
    appointments.book_appointment(
        s.actor("front_desk"),
        people["cal"].id,
        indication="glabellar-lines",
        starts_at=_open_hour_in(12),
    )
    return s, people


def _open_hour_in(days: int, at: time = time(10)) -> datetime:
    """``at`` on the first weekday at least ``days`` ahead: within the default opening hours
    whatever the day and the hour the test runs (clinic A's time zone is UTC)."""
    day = timezone.localdate() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=UTC)


def test_reminders_go_by_email_only_to_those_who_agreed_and_each_send_is_logged(due_world):
    s, people = due_world
    listed = reminders.reminder_list(s.actor("nurse"), days=30)
    names = {c.row.given_name: c for c in listed}
    assert set(names) == {"Ann", "Bea", "Dee"}  # Cal is booked, Eve is not due yet
    assert names["Ann"].contactable
    assert not names["Bea"].contactable
    report = reminders.send_reminders(s.actor("nurse"), days=30)
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]
    message = mail.outbox[0]
    assert "Ann" in message.body
    assert "glabellar lines" in message.body
    assert (timezone.localdate() + timedelta(days=10)).strftime("%-d %B %Y") in message.body
    assert {why for _, why in report.skipped} == {"no agreement to be contacted", "prefers phone"}
    log = ReminderLog.objects.get()
    assert (log.patient_id, log.status, log.address) == (
        people["ann"].id,
        "sent",
        "ann@example.org",
    )
    assert (
        AuditEntry.objects.filter(
            action="disclose", object_type="reminder", patient_id=people["ann"].id
        ).count()
        == 1
    )
    # Not again within a week.
    again = reminders.send_reminders(s.actor("nurse"), days=30)
    assert len(mail.outbox) == 1
    assert not again.sent
    with pytest.raises(ForbiddenError):
        reminders.send_reminders(s.actor("auditor"), days=30)


def test_a_clinic_template_per_indication(due_world):
    s, _ = due_world
    reminders.save_template(
        s.actor("physician"),
        indication="glabellar-lines",
        subject="{{ given_name }}, your frown lines are due",
        body="Hello {{ given_name }}, due {{ due_date }}. {{ clinic }}",
    )
    reminders.send_reminders(s.actor("physician"), days=30)
    assert mail.outbox[0].subject == "Ann, your frown lines are due"
    with pytest.raises(ServiceError):
        reminders.save_template(
            s.actor("physician"), indication="glabellar-lines", subject="{{ name }}", body="x"
        )


@pytest.mark.parametrize(
    "text",
    [
        "{given_name.__class__}",
        "{given_name.__class__.__mro__}",
        "{{ given_name.__class__ }}",
        "{{ given_name.upper }}",
        "{{ given_name|upper }}",
        "{% debug %}",
        "{% load static %}{% static 'x' %}",
        "{% include 'web/base.html' %}",
        "{{ settings }}",
    ],
)
def test_a_reminder_template_reads_nothing_but_its_placeholders(due_world, text):
    s, _ = due_world
    with pytest.raises(ServiceError) as refused:
        reminders.save_template(
            s.actor("physician"), indication="glabellar-lines", subject=text, body="Hello"
        )
    assert "{{ given_name }}" in refused.value.message


def test_a_name_with_markup_is_sent_as_written_in_a_text_mail(due_world):
    s, people = due_world
    update_patient(
        s.actor("physician"), people["ann"].id, timezone.localdate(), given_name="<b>O'Ann</b>"
    )
    reminders.save_template(
        s.actor("physician"),
        indication="glabellar-lines",
        subject="For {{ given_name }}",
        body="Hello {{ given_name }}",
    )
    reminders.send_reminders(s.actor("physician"), days=30)
    assert mail.outbox[0].subject == "For <b>O'Ann</b>"


def test_the_csv_lists_who_is_due_with_nothing_booked_for_clinics_that_phone(due_world):
    s, _people = due_world
    text = reminders.export_csv(s.actor("nurse"), days=30, indication="glabellar-lines")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["given_name"] for r in rows} == {"Ann", "Bea", "Dee"}
    bea = next(r for r in rows if r["given_name"] == "Bea")
    assert bea["phone"] == ""
    assert bea["contact_method"] == "none"
    dee = next(r for r in rows if r["given_name"] == "Dee")
    assert dee["phone"] == "'+44 20 7946 0000"  # a spreadsheet never runs it as a formula
    assert (
        AuditEntry.objects.filter(action="disclose", object_type="reminder-list-export").count()
        == 3
    )


def test_appointments_feed_the_book_and_the_next_visit_is_proposed_at_signing():
    s = builders.staff()
    p = builders.patient(s)
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=100))
    signed = support.glabellar_session(s, p, support.days_ago(2))
    proposal = appointments.propose_next_visit(signed, timezone.now())
    assert proposal.due.due == signed.plan_date + timedelta(days=90)  # cosmetic: 90 days (B.3)
    assert proposal.booked is None
    # The first open day from the due date (Monday to Friday until the clinic sets its hours).
    assert 0 <= (proposal.suggested_at.date() - proposal.due.due).days <= 2
    assert proposal.suggested_at.weekday() < 5
    booked = appointments.book_appointment(
        s.actor("front_desk"),
        p.id,
        indication="glabellar-lines",
        starts_at=proposal.suggested_at,
        injector_id=s.nurse.id,
        proposed_by_session_id=signed.id,
    )
    assert appointments.propose_next_visit(signed, timezone.now()).booked == booked
    day = proposal.suggested_at.date()
    assert appointments.appointments_between(s.actor("auditor"), day) == [booked]
    appointments.set_status(s.actor("front_desk"), booked.id, "arrived")
    with pytest.raises(ServiceError):
        appointments.set_status(s.actor("front_desk"), booked.id, "gone")
    with pytest.raises(ForbiddenError):
        appointments.book_appointment(
            s.actor("auditor"), p.id, indication="glabellar-lines", starts_at=timezone.now()
        )
    with pytest.raises(ServiceError):
        appointments.book_appointment(
            s.actor("physician"),
            p.id,
            indication="glabellar-lines",
            starts_at=timezone.now(),
            injector_id=s.front_desk.id,
        )


def test_signing_records_the_units_drawn_and_the_vial_closes_with_the_rest_wasted():
    s = builders.staff()
    p = builders.patient(s)
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=100))
    signed = support.glabellar_session(s, p, support.days_ago(1), number="S1")
    use = SessionVial.objects.select_related("vial__lot").get(session=signed)
    assert use.drawn_units == Decimal(20)
    figures = vial_states([use.vial], s.clinic.time_zone)[use.vial.id]
    # Opened yesterday: closed at the end of that day, what was left is wasted (B.30).
    assert figures.closed(timezone.now())
    assert (figures.used, figures.wasted(timezone.now())) == (Decimal(20), Decimal(80))
    assert use.vial.patient_id == p.id


def test_the_lot_picker_offers_only_in_date_unrecalled_stock_of_the_plans_product():
    s = builders.staff()
    good = builders.lot(s, number="OK", size=100)
    builders.lot(s, number="EXPIRED", size=100, expires_in=-1)
    recalled = builders.lot(s, number="RECALLED", size=100)
    recall_lot(s.actor("physician"), recalled.id, reason="Notice 7")
    builders.lot(s, product="abobotulinumtoxinA", number="DYS", size=300)
    found = usable_vials(
        s.actor("nurse"),
        product="onabotulinumtoxinA",
        patient_id=None,
        today=timezone.localdate(),
        now=timezone.now(),
    )
    assert {v.lot.lot_number for v in found} == {"OK"}
    assert len(found) == good.received_vials


def test_times_are_the_clinics(due_world):
    s, people = due_world
    local = _open_hour_in(3, time(9, 30))
    made = appointments.book_appointment(
        s.actor("nurse"), people["ann"].id, indication="glabellar-lines", starts_at=local
    )
    assert appointments.appointments_between(s.actor("nurse"), local.date()) == [made]


def test_signing_completes_that_days_open_appointment_for_the_indication():
    s = builders.staff()
    p = builders.patient(s)
    builders.consent(s, p, "glabellar-lines", timezone.localdate() - timedelta(days=100))
    injected = support.days_ago(1, hour=12)  # noon yesterday, in the clinic's zone (UTC)

    def book(at: datetime, indication: str = "glabellar-lines"):
        return appointments.book_appointment(
            s.actor("front_desk"), p.id, indication=indication, starts_at=at, confirm=True
        )

    morning = book(injected.replace(hour=9))
    afternoon = book(injected.replace(hour=16))
    other_indication = book(injected.replace(hour=10), "chronic-migraine")
    next_day = book(injected + timedelta(days=1))
    signed = support.glabellar_session(s, p, injected)

    for appointment in (morning, afternoon, other_indication, next_day):
        appointment.refresh_from_db()
    assert morning.status == "completed"
    assert (afternoon.status, other_indication.status, next_day.status) == (
        "booked",
        "booked",
        "booked",
    )
    entry = AuditEntry.objects.get(
        object_type="appointment", object_id=str(morning.id), action="update"
    )
    assert entry.detail == {"status": "completed", "session": str(signed.id)}
    # The completed visit is not proposed as the next one.
    assert appointments.propose_next_visit(signed, timezone.now()).booked != morning

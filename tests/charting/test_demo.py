"""The demo clinic's charting: Elena's three visits (photos of two past visits, her consent
expired, a booked appointment today), a saved 20 U pattern, and patients due next month with
nothing booked, for the reminders."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from bontrack.audit.services import Actor
from bontrack.charting.models import Appointment, Photo, SavedPlan
from bontrack.charting.services import reminders
from bontrack.ops.demo import build_demo
from bontrack.patients.models import Patient
from bontrack.treatments import services as sessions

pytestmark = pytest.mark.django_db


def test_the_demo_clinic_has_the_glabellar_patient_and_patients_to_remind(clinical_files):
    demo = build_demo()
    nurse = Actor(demo.members["nurse"], "127.0.0.1")
    elena = Patient.objects.get(clinic=demo.clinic, record_number="BT-0007")
    assert (
        Photo.objects.filter(patient=elena, view="maximal-frown", timepoint="before").count() == 2
    )
    assert Appointment.objects.filter(patient=elena, status="booked").count() == 1
    saved = SavedPlan.objects.get(owner=demo.members["nurse"])
    assert saved.name == "My glabellar 20 U"
    today = sessions.local_date(demo.clinic.time_zone, timezone.now())
    assert not any(c.valid_on(today) for c in elena.consents.all())  # she signs again today
    listed = {c.row.record_number: c for c in reminders.reminder_list(nurse, days=31)}
    assert {"BT-0008", "BT-0009"} <= set(listed)
    assert "BT-0007" not in listed  # booked today
    assert "BT-0001" not in listed  # Maria is booked this afternoon
    assert listed["BT-0008"].contactable
    assert not listed["BT-0009"].contactable
    report = reminders.send_reminders(nurse, days=31)
    sent_to = {m.to[0] for m in mail.outbox}
    assert "grace.kim@example.org" in sent_to
    assert "hugo.brandt@example.org" not in sent_to
    assert len(report.sent) == len(mail.outbox)
    assert "BT-0009" in reminders.export_csv(nurse, days=31)

"""The demo clinic's follow-up: Maria responds (-52 % after 2 cycles), Owen does not (stop)."""

from decimal import Decimal

import pytest

from bontrack.audit.services import Actor
from bontrack.ops.demo import build_demo
from bontrack.outcomes.due import due_list
from bontrack.outcomes.verdicts import patient_verdicts
from bontrack.patients.models import Patient

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_responder_a_non_responder_and_a_due_list():
    demo = build_demo()
    doctor = Actor(demo.members["physician"], "127.0.0.1")
    maria = Patient.objects.get(clinic=demo.clinic, record_number="BT-0001")
    owen = Patient.objects.get(clinic=demo.clinic, record_number="BT-0006")
    [responds] = patient_verdicts(doctor, maria.id, "chronic-migraine").verdicts
    assert (responds.verdict.verdict, responds.verdict.change_pct) == ("continue", Decimal("-52.0"))
    assert responds.verdict.responder_50 is True
    assert "after 2 cycles" in responds.verdict.reason
    [stops] = patient_verdicts(doctor, owen.id, "chronic-migraine").verdicts
    assert stops.verdict.verdict == "stop"
    assert "NICE TA260" in stops.verdict.source
    due = {r.record_number: r for r in due_list(doctor, weeks=4).rows}
    assert due["BT-0001"].due.basis == "label"
    assert due["BT-0003"].due.wear_off_reports == 1

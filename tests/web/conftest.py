"""Fixtures of the page tests: clinic A's staff with a patient, stock and a signed session, and
clinic B with its own patient, lot and session; a signed-in Django test client per persona."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.inventory.models import Lot
from bontrack.patients.models import Patient
from bontrack.treatments.models import TreatmentSession
from tests import builders


@dataclass
class Pages:
    staff: builders.Staff
    other: builders.Staff
    patient: Patient
    lot: Lot
    signed: TreatmentSession
    plan: TreatmentSession
    other_patient: Patient
    other_lot: Lot
    other_signed: TreatmentSession

    def client(self, persona: str) -> Client:
        """Signed in as the persona. Through the sign-in form itself (with the lockout and the
        second factor in front of it) in tests/web/test_sign_in.py; here, directly."""
        client = Client()
        clinic, member = builders.PERSONA_MEMBERS[persona]
        staff = self.staff if clinic == "a" else self.other
        client.force_login(getattr(staff, member).user)
        return client


def _world(s: builders.Staff, record: str) -> tuple[Patient, Lot, TreatmentSession]:
    p = builders.patient(s, record=record, weight_kg=Decimal(70))
    builders.consent(s, p, "chronic-migraine", timezone.localdate() - timedelta(days=200))
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=200))
    stock = builders.lot(s, number=f"L-{record}", vials=4)
    when = timezone.now() - timedelta(days=40)
    signed = builders.signed_session(
        s,
        p,
        when,
        builders.open_vial(s, stock, at=when - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[builders.sessions.PointInput("biceps-brachii", "left", Decimal(50))] * 6,
    )
    return p, stock, signed


@pytest.fixture
def pages(db: None) -> Pages:
    s = builders.staff()
    other = builders.staff("Clinic B", "b")
    patient, stock, signed = _world(s, "P-1")
    plan = builders.sessions.plan_session(
        s.actor("physician"),
        patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )
    other_patient, other_lot, other_signed = _world(other, "Q-1")
    return Pages(s, other, patient, stock, signed, plan, other_patient, other_lot, other_signed)

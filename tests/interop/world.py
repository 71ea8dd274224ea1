"""The FHIR tests' world, built through the services on a fixed clock (so that the golden files
hold the same dates on every run).

Clinic A: Maria Santos (BT-0001, the demo's chronic-migraine patient) with a diagnosis
(G43.709), a consent, her weight, headache-day and pain results, and a PREEMPT history of three
cycles twelve weeks apart: the first signed by the physician, the second by the nurse and
co-signed by the physician the next day, the third signed by the physician and amended (one
point was 2.5 U, not 5 U), with an injection-site pain afterwards; and the next cycle planned.
A second patient, restricted by the physician, has one signed cervical-dystonia session.
Clinic B has its own physician, patient and a lot with the same lot number as clinic A's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.inventory.models import Lot
from bontrack.inventory.services import receive_lot, reconstitute_vial
from bontrack.outcomes import services as followup
from bontrack.patients import services as patients
from bontrack.patients.models import Patient
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import current_points
from tests import builders


class Clock:
    """``django.utils.timezone.now`` for the test: whatever the test last set."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(utc("2026-01-05T09:00:00"))
    monkeypatch.setattr(timezone, "now", fixed)
    return fixed


CYCLES = ("2026-01-12", "2026-04-06", "2026-06-29")
PLANNED = "2026-09-21"
TODAY = "2026-09-14T12:00:00"  # when the tests read the world


@dataclass
class World:
    clock: Clock
    a: builders.Staff
    b: builders.Staff
    maria: Patient
    restricted: Patient
    b_patient: Patient
    lot: Lot
    b_lot: Lot
    cycles: list[TreatmentSession]
    plan: TreatmentSession
    restricted_session: TreatmentSession
    client: Client

    def __post_init__(self) -> None:
        self._tokens: dict[str, str] = {}

    def token(self, who: str) -> str:
        """A bearer token asked for over the API: ``a-physician``, ``b-physician``, ..."""
        if who not in self._tokens:
            response = self.client.post(
                "/api/v1/auth/token",
                {"username": who, "password": (self.a if who[0] == "a" else self.b).password},
                content_type="application/json",
            )
            assert response.status_code == 201, response.content
            self._tokens[who] = response.json()["token"]
        return self._tokens[who]

    def get(self, who: str | None, path: str, **query: Any) -> Any:
        """GET /fhir{path} as ``who`` (None: without credentials)."""
        headers = {} if who is None else {"HTTP_AUTHORIZATION": f"Bearer {self.token(who)}"}
        return self.client.get(f"/fhir{path}", query or None, **headers)


def _sign(
    s: builders.Staff, signer: str, session: TreatmentSession, when: datetime, lot: Lot
) -> TreatmentSession:
    """Open a vial an hour before, answer every finding (the physician overrides), sign."""
    vial = lot.vials.filter(reconstituted_at__isnull=True).order_by("created_at", "id").first()
    assert vial is not None
    reconstitute_vial(
        s.actor("physician"),
        vial.id,
        diluent_ml=Decimal(4),
        reconstituted_at=when - timedelta(hours=1),
    )
    sessions.update_plan(s.actor(signer), session.id, vial_ids=[vial.id], plan_date=when.date())
    session.refresh_from_db()  # the plan's date is the injection's
    for f in sessions.stored_result_at(session, when)["findings"]:
        sessions.decide(
            s.actor("physician"),
            session.id,
            fingerprint_=f["fingerprint"],
            kind="acknowledge" if f["severity"] == "warn" else "override",
            reason="Reviewed with the patient before treatment.",
        )
    return sessions.sign_session(s.actor(signer), session.id, administered_at=when)


def _cycle(w: Any, signer: str, day: str) -> TreatmentSession:
    when = utc(f"{day}T10:00:00")
    w.clock.at(when - timedelta(minutes=90))
    plan = sessions.plan_session(
        w.a.actor(signer),
        w.maria.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=when.date(),
        protocol="preempt-155",
    )
    w.clock.at(when + timedelta(minutes=30))
    return _sign(w.a, signer, plan, when, w.lot)


class _Building:
    """Attributes filled in as the world is built."""


def build(clock: Clock) -> World:
    w: Any = _Building()
    w.clock = clock
    clock.at(utc("2026-01-05T09:00:00"))
    w.a = builders.staff("Demo Neurology & Aesthetics Clinic", prefix="a")
    w.b = builders.staff("Clinic B", prefix="b")
    doctor = w.a.actor("physician")
    today = clock.now.date()
    clock.at(utc("2026-01-05T09:05:00"))
    w.maria = patients.register_patient(
        doctor,
        today,
        record_number="BT-0001",
        given_name="Maria",
        family_name="Santos",
        birth_date=date(1983, 6, 14),
        sex="female",
        phone="+44 20 7946 0001",
        email="maria.santos@example.org",
        contact_agreed=True,
        contact_method="email",
        weight_kg=Decimal(64),
        weight_measured_on=today,
    )
    clock.at(utc("2026-01-05T09:10:00"))
    patients.record_consent(
        doctor, w.maria.id, indication="chronic-migraine", signed_on=today, signed_by="Maria Santos"
    )
    clock.at(utc("2026-01-05T09:15:00"))
    patients.add_diagnosis(
        doctor, w.maria.id, indication="chronic-migraine", icd10="G43.709", noted_on=today
    )
    clock.at(utc("2026-01-05T09:20:00"))
    w.lot = receive_lot(
        doctor,
        product="onabotulinumtoxinA",
        lot_number="C7421A",
        vial_size_units=Decimal(200),
        expires_on=date(2027, 6, 30),
        received_vials=6,
        received_on=today,
    )
    clock.at(utc("2026-01-05T09:25:00"))
    followup.record_assessment(
        doctor,
        w.maria.id,
        indication="chronic-migraine",
        scale="headache-days-28d",
        value=Decimal(20),
        timepoint="baseline",
        period=(date(2025, 12, 8), date(2026, 1, 4)),
    )
    clock.at(utc("2026-01-05T09:30:00"))
    followup.record_assessment(
        doctor,
        w.maria.id,
        indication="chronic-migraine",
        scale="pain-nrs",
        value=Decimal(7),
        timepoint="baseline",
        assessed_on=today,
    )

    # Cycle 1: the physician. Cycle 2: the nurse, co-signed the next morning.
    w.cycles = [_cycle(w, "physician", CYCLES[0]), _cycle(w, "nurse", CYCLES[1])]
    clock.at(utc(f"{CYCLES[1]}T08:00:00") + timedelta(days=1))
    sessions.co_sign(doctor, w.cycles[1].id)
    clock.at(utc("2026-06-29T08:00:00"))
    followup.record_assessment(
        doctor,
        w.maria.id,
        indication="chronic-migraine",
        scale="headache-days-28d",
        value=Decimal(12),
        timepoint="before-reinjection",
        period=(date(2026, 6, 1), date(2026, 6, 28)),
        session_id=w.cycles[1].id,
    )
    # Cycle 3, amended that afternoon: the last trapezius point was 2.5 U.
    w.cycles.append(_cycle(w, "physician", CYCLES[2]))
    clock.at(utc(f"{CYCLES[2]}T15:00:00"))
    points = [
        sessions.PointInput(p.site, p.side, p.units, p.route) for p in current_points(w.cycles[2])
    ]
    points[-1] = sessions.PointInput(
        points[-1].site, points[-1].side, Decimal("2.5"), points[-1].route
    )
    sessions.amend(
        doctor,
        w.cycles[2].id,
        reason="The last right trapezius point was 2.5 U: the patient moved.",
        injections=points,
    )
    clock.at(utc("2026-07-01T09:00:00"))
    followup.record_adverse_event(
        doctor,
        w.cycles[2].id,
        term="injection-site-pain",
        onset_date=date(2026, 6, 30),
        severity="mild",
        serious=False,
        relatedness="possible",
        outcome="recovered",
    )
    clock.at(utc("2026-07-20T10:00:00"))
    followup.record_assessment(
        doctor,
        w.maria.id,
        indication="chronic-migraine",
        scale="pain-nrs",
        value=Decimal(4),
        timepoint="follow-up",
        assessed_on=date(2026, 7, 20),
        session_id=w.cycles[2].id,
    )
    # The next cycle, planned a week ahead.
    clock.at(utc("2026-09-14T09:00:00"))
    w.plan = sessions.plan_session(
        doctor,
        w.maria.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=date.fromisoformat(PLANNED),
        protocol="preempt-155",
    )

    # A restricted patient (cervical dystonia), and clinic B.
    clock.at(utc("2026-09-14T09:10:00"))
    w.restricted = patients.register_patient(
        doctor,
        clock.now.date(),
        record_number="BT-0009",
        given_name="Robin",
        family_name="Vale",
        birth_date=date(1970, 2, 2),
        sex="other",
    )
    patients.record_consent(
        doctor,
        w.restricted.id,
        indication="cervical-dystonia",
        signed_on=clock.now.date(),
        signed_by="Robin Vale",
    )
    when = utc("2026-09-14T10:00:00")
    clock.at(when - timedelta(minutes=30))
    neck = sessions.plan_session(
        doctor,
        w.restricted.id,
        product="onabotulinumtoxinA",
        indication="cervical-dystonia",
        plan_date=when.date(),
        injections=[sessions.PointInput("sternocleidomastoid", "left", Decimal(30))],
    )
    clock.at(when + timedelta(minutes=5))
    w.restricted_session = _sign(w.a, "physician", neck, when, w.lot)
    patients.update_patient(doctor, w.restricted.id, clock.now.date(), restricted=True)

    clock.at(utc("2026-09-14T11:00:00"))
    w.b_patient = builders.patient(w.b, "B-1")
    w.b_lot = receive_lot(
        w.b.actor("physician"),
        product="onabotulinumtoxinA",
        lot_number="C7421A",
        vial_size_units=Decimal(100),
        expires_on=date(2027, 1, 31),
        received_vials=2,
        received_on=clock.now.date(),
    )
    clock.at(utc(TODAY))
    for name in ("maria", "restricted", "lot", "plan", "restricted_session", "b_patient", "b_lot"):
        getattr(w, name).refresh_from_db()
    for c in w.cycles:
        c.refresh_from_db()
    return World(
        clock=clock,
        a=w.a,
        b=w.b,
        maria=w.maria,
        restricted=w.restricted,
        b_patient=w.b_patient,
        lot=w.lot,
        b_lot=w.b_lot,
        cycles=w.cycles,
        plan=w.plan,
        restricted_session=w.restricted_session,
        client=Client(),
    )

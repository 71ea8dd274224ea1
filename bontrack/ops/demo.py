"""`bontrack demo`: a demo clinic, with one user per role, stock, and patients with realistic
histories.

Everything is created through the services, exactly as a clinic would create it; passwords are
random and printed once. An operation on a whole installation, like backup and restore: it calls
every app's services, so it sits above all the apps and none of them imports it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from bontrack.accounts.models import Clinic, Membership
from bontrack.accounts.permissions import Role
from bontrack.accounts.services import add_member, create_clinic
from bontrack.audit.services import Actor
from bontrack.billing.services import choose_diagnosis
from bontrack.domain.planning import vials_needed
from bontrack.domain.units import Units
from bontrack.inventory.models import Lot
from bontrack.inventory.services import receive_lot, reconstitute_vial
from bontrack.invoicing.services import issue_invoice, record_payment, set_price
from bontrack.ops.demo_charting import build_charting_demo
from bontrack.outcomes.services import record_assessment, record_wear_off
from bontrack.patients.models import Patient
from bontrack.patients.services import record_consent, register_patient, update_patient
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession

ALL_INDICATIONS = [
    "chronic-migraine",
    "cervical-dystonia",
    "upper-limb-spasticity",
    "lower-limb-spasticity",
    "pediatric-upper-limb-spasticity",
    "pediatric-lower-limb-spasticity",
    "axillary-hyperhidrosis",
    "blepharospasm",
    "glabellar-lines",
    "lateral-canthal-lines",
    "forehead-lines",
    "bruxism",
    "temporomandibular-disorder",
]


@dataclass
class DemoClinic:
    clinic: Clinic
    passwords: dict[str, str]
    members: dict[str, Membership]


def demo_password() -> str:
    """A random password for one of the demo's members, printed once by ``bontrack demo``."""
    return secrets.token_urlsafe(12)


def sign_with_decisions(
    prescriber: Actor,
    signer: Actor,
    session: TreatmentSession,
    administered_at: datetime,
    vial_ids: list[str],
) -> TreatmentSession:
    """Acknowledge every warning, override every overridable block with a reason, then sign.
    For demo data only: real clinicians decide finding by finding."""
    sessions.update_plan(signer, session.id, vial_ids=vial_ids, plan_date=administered_at.date())
    session.refresh_from_db()
    # The signing re-check runs at the injection time: decide on what it will find.
    result = sessions.stored_result_at(session, administered_at)
    for finding in result["findings"]:
        if finding["severity"] == "warn":
            sessions.decide(
                signer, session.id, fingerprint_=finding["fingerprint"], kind="acknowledge"
            )
        elif finding["overridable"]:
            sessions.decide(
                prescriber,
                session.id,
                fingerprint_=finding["fingerprint"],
                kind="override",
                reason="Demo history: dose agreed with the treating physician.",
            )
    return sessions.sign_session(signer, session.id, administered_at=administered_at)


def build_demo(today: date | None = None) -> DemoClinic:
    today = today or timezone.localdate()
    clinic = create_clinic("Demo Neurology & Aesthetics Clinic", "Europe/London")
    passwords = {
        name: demo_password() for name in ("admin", "physician", "nurse", "frontdesk", "auditor")
    }
    physician = add_member(
        clinic,
        username="physician",
        password=passwords["physician"],
        role=Role.PRESCRIBER,
        full_name="Ada Okafor",
        credentials=["physician"],
        indications=ALL_INDICATIONS,
    )
    members = {
        "admin": add_member(
            clinic,
            username="admin",
            password=passwords["admin"],
            role=Role.CLINIC_ADMIN,
            full_name="Morgan Reyes",
        ),
        "physician": physician,
        "nurse": add_member(
            clinic,
            username="nurse",
            password=passwords["nurse"],
            role=Role.NURSE_INJECTOR,
            full_name="Sam Lindqvist",
            credentials=["registered-nurse"],
            indications=[
                "chronic-migraine",
                "glabellar-lines",
                "lateral-canthal-lines",
                "forehead-lines",
                "axillary-hyperhidrosis",
            ],
            supervisors=[physician],
        ),
        "frontdesk": add_member(
            clinic,
            username="frontdesk",
            password=passwords["frontdesk"],
            role=Role.FRONT_DESK,
            full_name="Jo Patel",
        ),
        "auditor": add_member(
            clinic,
            username="auditor",
            password=passwords["auditor"],
            role=Role.AUDITOR,
            full_name="Riley Chen",
        ),
    }
    doctor = Actor(physician, "127.0.0.1")
    lots = {
        "ona200": receive_lot(
            doctor,
            product="onabotulinumtoxinA",
            lot_number="C7421A",
            vial_size_units=Decimal(200),
            expires_on=today + timedelta(days=400),
            received_vials=20,
            received_on=today - timedelta(days=400),
        ),
        "ona100": receive_lot(
            doctor,
            product="onabotulinumtoxinA",
            lot_number="C7390B",
            vial_size_units=Decimal(100),
            expires_on=today + timedelta(days=45),
            received_vials=10,
            received_on=today - timedelta(days=300),
        ),
        "dysport": receive_lot(
            doctor,
            product="abobotulinumtoxinA",
            lot_number="D55012",
            vial_size_units=Decimal(300),
            expires_on=today + timedelta(days=200),
            received_vials=6,
            received_on=today - timedelta(days=200),
        ),
        "xeomin": receive_lot(
            doctor,
            product="incobotulinumtoxinA",
            lot_number="X88120",
            vial_size_units=Decimal(100),
            expires_on=today + timedelta(days=300),
            received_vials=8,
            received_on=today - timedelta(days=200),
        ),
    }
    _patients(doctor, Actor(members["nurse"], "127.0.0.1"), lots, today)
    return DemoClinic(clinic, passwords, members)


def _open_vial(actor: Actor, lot: Lot, diluent: Decimal, at: datetime) -> str:
    vial = (
        lot.vials.filter(reconstituted_at__isnull=True, patient__isnull=True)
        .order_by("created_at")
        .first()
    )
    assert vial is not None, "the demo ran out of vials"
    reconstitute_vial(actor, vial.id, diluent_ml=diluent, reconstituted_at=at)
    return str(vial.id)


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def _history(
    doctor: Actor, patient: Patient, lot: Lot, diluent: Decimal, day: date, **plan: object
) -> TreatmentSession:
    session = sessions.plan_session(doctor, patient.id, plan_date=day, **plan)  # type: ignore[arg-type]
    # As many vials as the dose needs: what is signed was in the vials (B.30).
    total = sum((i.units for i in session.injections.all()), Decimal(0))
    count = vials_needed(Units(lot.product, total), Units(lot.product, lot.vial_size_units))
    vials = [_open_vial(doctor, lot, diluent, _at(day, 9)) for _ in range(max(count, 1))]
    return sign_with_decisions(doctor, doctor, session, _at(day, 10), vials)


def _headache_days(
    doctor: Actor, patient: Patient, cycles: list[TreatmentSession], days: list[int], today: date
) -> None:
    """Headache days in the 28 days before each cycle (the first: the baseline; later ones:
    before re-injection, after the cycle before) and, when ``days`` has one more value, in the
    28 days up to yesterday."""
    ends = [c.plan_date for c in cycles] + [today]
    for n, value in enumerate(days):
        record_assessment(
            doctor,
            patient.id,
            indication="chronic-migraine",
            scale="headache-days-28d",
            value=Decimal(value),
            timepoint="baseline" if n == 0 else "before-reinjection",
            period=(ends[n] - timedelta(days=28), ends[n] - timedelta(days=1)),
            session_id=None if n == 0 else cycles[n - 1].id,
            today=today,
        )


def _patients(doctor: Actor, nurse: Actor, lots: dict[str, Lot], today: date) -> None:
    def patient(
        record: str, given: str, family: str, born: date, sex: str, **clinical: object
    ) -> Patient:
        return register_patient(
            doctor,
            today,
            record_number=record,
            given_name=given,
            family_name=family,
            birth_date=born,
            sex=sex,
            phone="+44 20 7946 0" + record[-3:],
            email=f"{given.lower()}.{family.lower()}@example.org",
            contact_agreed=True,
            contact_method="email",
            **clinical,
        )

    def consent(p: Patient, indication: str, signed: date) -> None:
        record_consent(
            doctor,
            p.id,
            indication=indication,
            signed_on=signed,
            signed_by=f"{p.given_name} {p.family_name}",
        )

    # Chronic migraine: three PREEMPT cycles, 12 weeks apart, next one due now.
    maria = patient(
        "BT-0001",
        "Maria",
        "Santos",
        date(1983, 6, 14),
        "female",
        weight_kg=Decimal(64),
        weight_measured_on=today - timedelta(days=30),
    )
    consent(maria, "chronic-migraine", today - timedelta(days=260))
    cycles = [
        _history(
            doctor,
            maria,
            lots["ona200"],
            Decimal(4),
            today - timedelta(weeks=weeks),
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            protocol="preempt-155",
        )
        for weeks in (36, 24, 12)
    ]
    # Her diary: 25 headache days before PREEMPT, 18 after the first cycle, 12 after the
    # second: -52 % after 2 cycles, a 50 % responder.
    _headache_days(doctor, maria, cycles, [25, 18, 12], today)
    # The claim's diagnosis (billing.md 4): her superbills then lack only her insurance.
    choose_diagnosis(
        doctor,
        maria.id,
        indication="chronic-migraine",
        icd10="G43.709",
        noted_on=today - timedelta(weeks=36),
    )

    # Chronic migraine that does not respond: 22 headache days, still 18 after 2 cycles
    # (-18 %): NICE TA260 says stop.
    owen = patient(
        "BT-0006",
        "Owen",
        "Gallagher",
        date(1975, 3, 8),
        "male",
        weight_kg=Decimal(88),
        weight_measured_on=today - timedelta(days=20),
    )
    consent(owen, "chronic-migraine", today - timedelta(days=200))
    owen_cycles = [
        _history(
            doctor,
            owen,
            lots["ona200"],
            Decimal(4),
            today - timedelta(weeks=weeks),
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            protocol="preempt-155",
        )
        for weeks in (24, 12)
    ]
    _headache_days(doctor, owen, owen_cycles, [22, 20, 18], today)

    # Stroke survivor: 300 U for arm spasticity six weeks ago, now asking about migraine.
    james = patient(
        "BT-0002",
        "James",
        "Whitfield",
        date(1961, 2, 3),
        "male",
        weight_kg=Decimal(82),
        weight_measured_on=today - timedelta(days=40),
        medications=["muscle-relaxants"],
    )
    consent(james, "upper-limb-spasticity", today - timedelta(days=60))
    consent(james, "chronic-migraine", today - timedelta(days=2))
    arm = [
        sessions.PointInput("biceps-brachii", "left", Decimal(50)),
        sessions.PointInput("biceps-brachii", "left", Decimal(50)),
        sessions.PointInput("brachialis", "left", Decimal(40)),
        sessions.PointInput("brachioradialis", "left", Decimal(50)),
        sessions.PointInput("flexor-carpi-radialis", "left", Decimal(40)),
        sessions.PointInput("flexor-carpi-ulnaris", "left", Decimal(30)),
        sessions.PointInput("flexor-digitorum-superficialis", "left", Decimal(40)),
    ]
    arm_session = _history(
        doctor,
        james,
        lots["ona200"],
        Decimal(4),
        today - timedelta(weeks=6),
        product="onabotulinumtoxinA",
        indication="upper-limb-spasticity",
        injections=arm,
    )
    # His arm's tone (Modified Ashworth, per muscle group) on the day and 4 weeks later: the
    # elbow flexors eased from 3 to 1+ (a responder), the wrist flexors stayed at 2 (not).
    for muscles, before, after in (
        ("elbow flexors, left", "3", "1+"),
        ("wrist flexors, left", "2", "2"),
    ):
        record_assessment(
            doctor,
            james.id,
            indication="upper-limb-spasticity",
            scale="modified-ashworth",
            value=before,
            timepoint="baseline",
            assessed_on=arm_session.plan_date,
            muscle_group=muscles,
            today=today,
        )
        record_assessment(
            doctor,
            james.id,
            indication="upper-limb-spasticity",
            scale="modified-ashworth",
            value=after,
            timepoint="peak-effect",
            assessed_on=arm_session.plan_date + timedelta(weeks=4),
            session_id=arm_session.id,
            muscle_group=muscles,
            today=today,
        )

    # Cosmetic: Dysport glabellar lines twice.
    chloe = patient("BT-0003", "Chloe", "Martin", date(1990, 9, 21), "female")
    consent(chloe, "glabellar-lines", today - timedelta(days=200))
    glabellar = [
        _history(
            doctor,
            chloe,
            lots["dysport"],
            Decimal("2.5"),
            today - timedelta(days=days),
            product="abobotulinumtoxinA",
            indication="glabellar-lines",
            protocol="glabellar-dysport-50",
        )
        for days in (190, 95)
    ]
    # She said the first treatment wore off after about 11 weeks.
    record_wear_off(
        doctor,
        glabellar[0].id,
        wore_off_on=glabellar[0].plan_date + timedelta(days=80),
        reported_on=glabellar[0].plan_date + timedelta(days=85),
        today=today,
    )

    # Self-pay: the glabellar area has a price, and her last treatment was invoiced and paid.
    set_price(
        doctor,
        product="abobotulinumtoxinA",
        kind="per-area",
        area="glabellar-dysport-50",
        amount=Decimal("250.00"),
        currency="GBP",
        valid_from=today - timedelta(days=365),
    )
    invoice = issue_invoice(doctor, glabellar[-1].id)
    record_payment(doctor, invoice.id, amount=invoice.total, method="card", reference="demo")

    # A child with cerebral palsy: weight-based dosing.
    leo = patient(
        "BT-0004",
        "Leo",
        "Novak",
        today.replace(year=today.year - 8) - timedelta(days=40),
        "male",
        # Weighed at his first visit; the weight used for a session is the latest measured on
        # or before its date (B.37), so today's is recorded after his history.
        weight_kg=Decimal(23),
        weight_measured_on=today - timedelta(weeks=14),
    )
    consent(leo, "pediatric-upper-limb-spasticity", today - timedelta(days=120))
    child_arm = [
        sessions.PointInput("biceps-brachii", "right", Decimal(30)),
        sessions.PointInput("brachialis", "right", Decimal(20)),
        sessions.PointInput("flexor-carpi-ulnaris", "right", Decimal(20)),
    ]
    _history(
        doctor,
        leo,
        lots["ona100"],
        Decimal(2),
        today - timedelta(weeks=14),
        product="onabotulinumtoxinA",
        indication="pediatric-upper-limb-spasticity",
        injections=child_arm,
    )
    update_patient(
        doctor, leo.id, today, weight_kg=Decimal(24), weight_measured_on=today - timedelta(days=20)
    )

    # Cervical dystonia with Xeomin, and myasthenia gravis to watch for.
    ruth = patient(
        "BT-0005", "Ruth", "Abrams", date(1957, 11, 30), "female", conditions=["dysphagia"]
    )
    consent(ruth, "cervical-dystonia", today - timedelta(days=150))
    neck = [
        sessions.PointInput("sternocleidomastoid", "left", Decimal(30)),
        sessions.PointInput("splenius-capitis", "right", Decimal(50)),
        sessions.PointInput("trapezius", "right", Decimal(40)),
    ]
    _history(
        doctor,
        ruth,
        lots["xeomin"],
        Decimal(2),
        today - timedelta(weeks=13),
        product="incobotulinumtoxinA",
        indication="cervical-dystonia",
        injections=neck,
    )

    # Issue 9: consent forms, a glabellar patient with three visits' photos, a saved plan,
    # appointments, and patients due next month with nothing booked (ops/demo_charting.py).
    build_charting_demo(
        doctor,
        nurse,
        doctor,
        lots,
        today,
        patient,
        lambda p, lot, diluent, day, **plan: _history(doctor, p, lot, diluent, day, **plan),
    )

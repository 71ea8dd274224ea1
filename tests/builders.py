"""Test data built through the services, as a clinic would build it (never raw rows)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from bontrack.accounts.models import Clinic, Membership
from bontrack.accounts.services import add_member, create_clinic
from bontrack.audit.services import Actor
from bontrack.inventory.models import Lot, Vial
from bontrack.inventory.services import receive_lot, reconstitute_vial
from bontrack.patients.models import Patient
from bontrack.patients.services import record_consent, register_patient
from bontrack.treatments import services as sessions
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.supply import vial_states

ALL = [
    "chronic-migraine",
    "upper-limb-spasticity",
    "cervical-dystonia",
    "glabellar-lines",
    "pediatric-upper-limb-spasticity",
    "blepharospasm",
    "strabismus",
]


# The personas every test world names (DESIGN 4, "Permissions as data, tested as a matrix"):
# clinic A's five roles, and clinic B's physician; each is a clinic ("a" or "b") and a member of
# that clinic's Staff below.
PERSONA_MEMBERS = {
    "physician": ("a", "physician"),
    "nurse_injector": ("a", "nurse"),
    "front_desk": ("a", "front_desk"),
    "auditor": ("a", "auditor"),
    "clinic_admin": ("a", "admin"),
    "other_clinic": ("b", "physician"),
}
CLINIC_A_PERSONAS = tuple(name for name, (clinic, _) in PERSONA_MEMBERS.items() if clinic == "a")
PERSONAS = tuple(PERSONA_MEMBERS)


@dataclass
class Staff:
    clinic: Clinic
    admin: Membership
    physician: Membership
    nurse: Membership
    front_desk: Membership
    auditor: Membership
    password: str

    def actor(self, role: str) -> Actor:
        return Actor(getattr(self, role), "127.0.0.1")


def staff(name: str = "Clinic A", prefix: str = "a") -> Staff:
    clinic = create_clinic(name, "UTC")
    # Reminders need a real address for patients to write to (charting/services/reminders.py).
    clinic.contact_email = f"desk@{prefix}.clinic.test"
    clinic.save(update_fields=["contact_email"])
    password = secrets.token_urlsafe(16)
    physician = add_member(
        clinic,
        username=f"{prefix}-physician",
        password=password,
        role="prescriber",
        full_name="Pat Physician",
        credentials=["physician"],
        indications=ALL,
    )
    return Staff(
        clinic=clinic,
        admin=add_member(
            clinic, username=f"{prefix}-admin", password=password, role="clinic-admin"
        ),
        physician=physician,
        nurse=add_member(
            clinic,
            username=f"{prefix}-nurse",
            password=password,
            role="nurse-injector",
            credentials=["registered-nurse"],
            indications=ALL,
            supervisors=[physician],
        ),
        front_desk=add_member(
            clinic, username=f"{prefix}-frontdesk", password=password, role="front-desk"
        ),
        auditor=add_member(clinic, username=f"{prefix}-auditor", password=password, role="auditor"),
        password=password,
    )


def another_prescriber(
    s: Staff,
    username: str = "a-physician-2",
    full_name: str = "",
    indications: list[str] | None = None,
) -> Membership:
    """A second prescriber of the clinic (the care team, co-signers, concurrent signers)."""
    return add_member(
        s.clinic,
        username=username,
        password=s.password,
        role="prescriber",
        full_name=full_name,
        credentials=["physician"],
        indications=indications or [],
    )


def patient(s: Staff, record: str = "P-1", born: date = date(1980, 5, 1), **values: Any) -> Patient:
    return register_patient(
        s.actor("physician"),
        timezone.localdate(),
        record_number=record,
        given_name="Alex",
        family_name="Doe",
        birth_date=born,
        **values,
    )


def consent(s: Staff, p: Patient, indication: str, signed_on: date | None = None) -> None:
    record_consent(
        s.actor("physician"),
        p.id,
        indication=indication,
        signed_on=signed_on or timezone.localdate() - timedelta(days=30),
        signed_by="Alex Doe",
    )


def lot(
    s: Staff,
    product: str = "onabotulinumtoxinA",
    number: str = "L1",
    size: int = 200,
    vials: int = 5,
    expires_in: int = 300,
) -> Lot:
    return receive_lot(
        s.actor("physician"),
        product=product,
        lot_number=number,
        vial_size_units=Decimal(size),
        expires_on=timezone.localdate() + timedelta(days=expires_in),
        received_vials=vials,
        received_on=timezone.localdate() - timedelta(days=10),
    )


def open_vial(s: Staff, from_lot: Lot, diluent: str = "4", at: datetime | None = None) -> Vial:
    vial = (
        from_lot.vials.filter(reconstituted_at__isnull=True, patient__isnull=True)
        .order_by("created_at")
        .first()
    )
    assert vial is not None
    return reconstitute_vial(
        s.actor("physician"),
        vial.id,
        diluent_ml=Decimal(diluent),
        reconstituted_at=at or timezone.now() - timedelta(hours=1),
    )


def enough_vials(s: Staff, session: TreatmentSession, vial: Vial) -> None:
    """A clinic opens as many vials as the dose needs (B.30): more of the first vial's lot,
    reconstituted like it, when the plan's total is more than that vial still holds."""
    total = sum((i.units for i in session.injections.all()), Decimal(0))
    held = vial_states([vial], s.clinic.time_zone)[vial.id].remaining(
        vial.reconstituted_at or timezone.now()
    )
    size = Decimal(vial.lot.vial_size_units)
    chosen = [vial.id]
    while held < total:
        more = open_vial(
            s, vial.lot, str(vial.diluent_ml or 4), at=vial.reconstituted_at or timezone.now()
        )
        chosen.append(more.id)
        held += size
    if len(chosen) > 1:
        sessions.update_plan(s.actor("physician"), session.id, vial_ids=chosen)


def signed_session(
    s: Staff, p: Patient, administered_at: datetime, vial: Vial, **plan: Any
) -> TreatmentSession:
    """Plan, decide on every finding (acknowledge warnings, override overridable blocks as the
    physician) and sign as the physician."""
    doctor = s.actor("physician")
    plan.setdefault("product", "onabotulinumtoxinA")
    plan.setdefault("indication", "chronic-migraine")
    if "injections" not in plan:
        plan.setdefault("protocol", "preempt-155")
    session = sessions.plan_session(
        doctor, p.id, plan_date=administered_at.date(), vial_ids=[vial.id], **plan
    )
    enough_vials(s, session, vial)
    result = sessions.stored_result_at(session, administered_at)
    for f in result["findings"]:
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        sessions.decide(
            doctor,
            session.id,
            fingerprint_=f["fingerprint"],
            kind=kind,
            reason="Agreed with the patient after review.",
        )
    return sessions.sign_session(doctor, session.id, administered_at=administered_at)

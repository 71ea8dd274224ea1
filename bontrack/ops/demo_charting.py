"""The demo clinic's charting (``bontrack demo``, ``demo.py``): consent forms, a glabellar
patient with three visits' photos drawn with Pillow, a saved plan, appointments, and patients
due next month with nothing booked (the reminders page and its CSV). Built through the services,
like the rest of the demo."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from PIL import Image, ImageDraw, ImageFilter

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Role
from bontrack.audit.services import Actor
from bontrack.charting.services import appointments, consent_forms, photos, plans
from bontrack.patients.models import Patient
from bontrack.patients.services import record_consent, update_patient
from bontrack.treatments.models import TreatmentSession

# A standard form for every indication the demo's patients are treated for or its nurse is
# privileged for: planning any of them leads to a form to sign, never to a dead end.
FORMS = (
    "glabellar-lines",
    "chronic-migraine",
    "cervical-dystonia",
    "blepharospasm",
    "upper-limb-spasticity",
    "pediatric-upper-limb-spasticity",
    "lateral-canthal-lines",
    "forehead-lines",
    "axillary-hyperhidrosis",
)


def face(view: str, depth: float, seed: int = 0) -> bytes:
    """A drawn face for the demo's photos: the glabellar lines' depth (0 smooth, 1 deep) is
    what treatment changes; "maximal-frown" knits the brows."""
    width, height = 720, 900
    image = Image.new("RGB", (width, height), (214, 222, 232))
    draw = ImageDraw.Draw(image)
    skin = (233, 196, 168)
    draw.ellipse((130, 90, 590, 760), fill=skin, outline=(196, 156, 128), width=4)  # face
    draw.ellipse((100, 330, 150, 470), fill=skin)  # ears
    draw.ellipse((570, 330, 620, 470), fill=skin)
    draw.pieslice((120, 40, 600, 420), 180, 360, fill=(92, 64, 51))  # hair
    frown = view == "maximal-frown"
    lift = 18 if frown else 0
    for outer, inner in ((210, 332), (510, 388)):  # brows: drawn together and down in a frown
        mid = (outer + inner) // 2
        draw.line(
            [(outer, 302), (mid, 286 + lift // 3), (inner, 298 + lift)],
            fill=(80, 56, 44),
            width=14,
        )
    for cx in (270, 450):  # eyes
        draw.ellipse(
            (cx - 42, 352, cx + 42, 392), fill=(255, 255, 255), outline=(120, 90, 70), width=3
        )
        draw.ellipse((cx - 15, 357, cx + 15, 387), fill=(70, 110, 140))
    draw.line([(360, 380), (345, 500), (372, 510)], fill=(200, 150, 125), width=5)  # nose
    draw.arc((290, 560, 430, 640), 20, 160, fill=(170, 90, 90), width=7)  # mouth
    strength = depth * (1.0 if frown else 0.45)
    if strength > 0.02:  # the "11" lines between the brows
        shade = tuple(int(c * (1 - 0.45 * strength)) for c in skin)
        for x in (342 - seed % 3, 378 + seed % 3):
            draw.line(
                [(x, 296), (x - 4, 300 + int(64 * strength))],
                fill=shade,
                width=max(2, int(7 * strength)),
            )
        if frown:
            draw.line([(300, 272), (420, 272)], fill=shade, width=max(1, int(4 * strength)))
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    label = ImageDraw.Draw(image)
    label.rectangle((0, height - 44, width, height), fill=(16, 24, 40))
    label.text((16, height - 32), f"demo photo · {view}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _photo(
    nurse: Actor,
    patient: Patient,
    day: date,
    view: str,
    depth: float,
    session: Any,
    today: date,
    timepoint: str = "before",
) -> None:
    data = face(view, depth, seed=day.toordinal())
    photos.upload_photo(
        nurse,
        patient.id,
        upload=io.BytesIO(data),
        size=len(data),
        indication="glabellar-lines",
        view=view,
        timepoint=timepoint,
        taken_on=day,
        today=today,
        session_id=session.id if session is not None else None,
    )


def build_charting_demo(
    doctor: Actor,
    nurse: Actor,
    front_desk: Actor,
    lots: dict[str, Any],
    today: date,
    patient: Any,
    history: Any,
) -> None:
    """``patient`` registers a demo patient; ``history`` plans and signs one past session."""
    admin = Membership.objects.get(clinic_id=doctor.membership.clinic_id, role=Role.CLINIC_ADMIN)
    appointments.set_opening_hours(
        Actor(admin, doctor.address),
        contact_email="reception@demo-clinic.example",
        contact_phone="+44 20 7946 0100",
    )
    for indication in FORMS:
        title, body = consent_forms.standard_wording(indication)
        consent_forms.publish_template(doctor, indication=indication, title=title, body=body)

    # Elena: glabellar lines with BOTOX Cosmetic, 20 U twice, photographed each time. Her paper
    # consent ran out last month: today she signs on screen, then the nurse repeats the 20 U.
    elena = patient("BT-0007", "Elena", "Rossi", date(1986, 4, 2), "female")
    record_consent(
        doctor,
        elena.id,
        indication="glabellar-lines",
        signed_on=today - timedelta(days=210),
        signed_by="Elena Rossi",
        expires_on=today - timedelta(days=30),
    )
    visits: list[TreatmentSession] = []
    for days_ago, depth in ((200, 1.0), (105, 0.55)):
        day = today - timedelta(days=days_ago)
        session = history(
            elena,
            lots["ona100"],
            Decimal("2.5"),
            day,
            product="onabotulinumtoxinA",
            indication="glabellar-lines",
            protocol="glabellar-20",
        )
        visits.append(session)
        for view in ("at-rest", "maximal-frown"):
            _photo(nurse, elena, day, view, depth, session, today)
        _photo(
            nurse, elena, day + timedelta(days=14), "maximal-frown", 0.08, session, today, "after"
        )
    plans.save_plan(nurse, name="My glabellar 20 U", session_id=visits[-1].id)
    appointments.book_appointment(
        front_desk,
        elena.id,
        indication="glabellar-lines",
        starts_at=_at(today, 10, 30),
        injector_id=nurse.membership.id,
        notes="Retreatment; her consent needs renewing.",
        confirm=True,  # the demo's "today" may fall on a day the clinic is closed
    )

    # Due within the next month, nothing booked: Grace (e-mails) and Hugo (phone calls only).
    for record, given, family, by_email, days_ago in (
        ("BT-0008", "Grace", "Kim", True, 70),
        ("BT-0009", "Hugo", "Brandt", False, 75),
    ):
        person = patient(record, given, family, date(1979, 8, 17), "female" if by_email else "male")
        if not by_email:
            update_patient(doctor, person.id, today, contact_method="phone")
        record_consent(
            doctor,
            person.id,
            indication="glabellar-lines",
            signed_on=today - timedelta(days=days_ago + 5),
            signed_by=f"{given} {family}",
        )
        history(
            person,
            lots["ona100"],
            Decimal("2.5"),
            today - timedelta(days=days_ago),
            product="onabotulinumtoxinA",
            indication="glabellar-lines",
            protocol="glabellar-20",
        )

    # Maria's next PREEMPT cycle is booked for this afternoon.
    maria = Patient.objects.get(clinic_id=doctor.membership.clinic_id, record_number="BT-0001")
    appointments.book_appointment(
        front_desk,
        maria.id,
        indication="chronic-migraine",
        starts_at=_at(today, 14, 0),
        injector_id=doctor.membership.id,
        confirm=True,
    )

"""The appointment book: patient, injector, indication, time, status. It feeds the Today page;
after a signing, the next visit is proposed from the due rules (the label's earliest date and the
patient's own wear-off history, ``bontrack.domain.due``)."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.utils import timezone

from bontrack.access import APPOINTMENT, MEMBER, PATIENT, SESSION, access, require
from bontrack.accounts.models import Clinic
from bontrack.accounts.permissions import INJECTOR_ROLES, Perm
from bontrack.audit.services import Actor, AuditTrail, clinical_transaction
from bontrack.charting import hours
from bontrack.charting.models import APPOINTMENT_STATUSES, Appointment, AppointmentStatus
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import in_clinic, prefetch_in_clinic, save_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.domain.due import Due, TreatedSession, due_for
from bontrack.outcomes.models import WearOffReport
from bontrack.outcomes.verdicts import stopping_of, verdicts_of
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of

OPEN = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)  # an appointment still to happen
# An appointment that took place or will not: its status no longer changes.
FINAL = (AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED)


class BookingNeedsConfirmError(ConflictError):
    """A booking the clinician may still confirm: the patient or the injector is already booked
    at an overlapping time, or the visit lies outside the clinic's opening hours."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__(
            "starts_at",
            "; ".join(warnings) + ": choose another time, or confirm to book it anyway",
        )
        self.warnings = warnings


def clinic_hours(clinic: Clinic) -> hours.Hours:
    return hours.parse(clinic.opening_hours or {})


def _span(starts: datetime, minutes: int, tz: str) -> str:
    local = starts.astimezone(zoneinfo.ZoneInfo(tz))
    ends = local + timedelta(minutes=minutes)
    return f"{local:%H:%M}–{ends:%H:%M} on {local:%A %-d %B}"


def booking_warnings(
    clinic: Clinic,
    patient: Patient,
    injector: object,
    starts_at: datetime,
    minutes: int,
) -> list[str]:
    """What a clinician should see before booking: the patient's or the injector's open
    appointments overlapping the visit, and a visit outside the opening hours."""
    tz = clinic.time_zone
    ends_at = starts_at + timedelta(minutes=minutes)
    found: list[str] = []
    nearby = (
        Appointment.objects.filter(
            clinic_id=clinic.id,
            status__in=OPEN,
            starts_at__lt=ends_at,
            starts_at__gt=starts_at - timedelta(minutes=480),
        )
        .select_related("patient", "injector__user")
        .order_by("starts_at")
    )
    for other in nearby:
        if other.starts_at + timedelta(minutes=other.minutes) <= starts_at:
            continue
        what = catalog().indications[other.indication].name.split(" (")[0].lower()
        when = _span(other.starts_at, other.minutes, tz)
        if other.patient_id == patient.id:
            found.append(
                f"{patient.given_name} {patient.family_name} already has a visit {when} ({what})"
            )
        elif injector is not None and other.injector_id == getattr(injector, "id", None):
            found.append(
                f"{other.injector.display_name} already sees "
                f"{other.patient.given_name} {other.patient.family_name} {when}"
            )
    local = starts_at.astimezone(zoneinfo.ZoneInfo(tz)).replace(tzinfo=None)
    week = clinic_hours(clinic)
    if not hours.within(week, local, minutes):
        day = dict(hours.describe(week))[f"{local:%A}"]
        found.append(
            f"{_span(starts_at, minutes, tz)} is outside the opening hours ({local:%A}: {day})"
        )
    return found


def _injector(actor: Actor, injector_id: UUID | str | None) -> object:
    if not injector_id:
        return None
    member = access(actor, MEMBER, injector_id)
    if member.role not in INJECTOR_ROLES or not member.active:
        raise ServiceError("injector_id", "the injector must be a prescriber or a nurse injector")
    return member


def book_appointment(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    starts_at: datetime,
    minutes: int = 30,
    injector_id: UUID | str | None = None,
    notes: str = "",
    proposed_by_session_id: UUID | str | None = None,
    confirm: bool = False,
) -> Appointment:
    """Book a visit. An overlap with the patient's or the injector's open appointments, or a
    time outside the opening hours, raises ``BookingNeedsConfirmError`` unless ``confirm`` says
    the clinician has seen it."""
    if indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if timezone.is_naive(starts_at):
        raise ServiceError("starts_at", "must include a UTC offset")
    if not 5 <= minutes <= 480:
        raise ServiceError("minutes", "must be between 5 and 480")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.DEMOGRAPHICS_WRITE)
        proposed = None
        if proposed_by_session_id:
            proposed = access(actor, SESSION, proposed_by_session_id, Perm.DEMOGRAPHICS_READ)
            if proposed.patient_id != patient.id:
                raise ServiceError("proposed_by_session_id", "not a session of this patient")
        injector = _injector(actor, injector_id)
        if not confirm:
            clinic = Clinic.objects.get(id=patient.clinic_id)  # the hours as now set
            warnings = booking_warnings(clinic, patient, injector, starts_at, minutes)
            if warnings:
                raise BookingNeedsConfirmError(warnings)
        appointment = Appointment.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            injector=injector,
            indication=indication,
            starts_at=starts_at,
            minutes=minutes,
            notes=notes.strip(),
            proposed_by_session=proposed,
            booked_by=actor.membership,
        )
        trail.record(
            "create",
            "appointment",
            appointment.id,
            patient.id,
            indication=indication,
            confirmed_warnings=confirm,
        )
    return appointment


def set_opening_hours(
    actor: Actor,
    *,
    opening_hours: object | None = None,
    contact_email: str | None = None,
    contact_phone: str | None = None,
) -> Clinic:
    """The clinic administrator sets the week's opening hours and where patients reach the
    clinic (the reminders' sender and the number they give); what is not given stays."""
    require(actor, Perm.USERS_MANAGE)
    changes: dict[str, object] = {}
    if opening_hours is not None:
        try:
            changes["opening_hours"] = hours.validate(opening_hours)
        except hours.HoursError as refused:
            raise ServiceError(f"opening_hours.{refused.field}", refused.message) from None
    if contact_email is not None:
        email = contact_email.strip()
        if email and not _EMAIL.fullmatch(email):
            raise ServiceError("contact_email", "not an e-mail address, e.g. desk@clinic.example")
        changes["contact_email"] = email
    if contact_phone is not None:
        phone = contact_phone.strip()
        if len(phone) > 40 or (phone and not _PHONE.fullmatch(phone)):
            raise ServiceError("contact_phone", "write the number with digits, spaces, + ( ) -")
        changes["contact_phone"] = phone
    with clinical_transaction(actor) as trail:
        clinic = Clinic.objects.select_for_update().get(id=actor.membership.clinic_id)
        for name, value in changes.items():
            setattr(clinic, name, value)
        clinic.save(update_fields=[*changes])
        trail.record("update", "clinic", clinic.id, fields=sorted(changes))
    actor.membership.clinic = clinic
    return clinic


def set_status(actor: Actor, appointment_id: UUID | str, status: str) -> Appointment:
    if status not in APPOINTMENT_STATUSES:
        raise ServiceError("status", f"must be one of {', '.join(APPOINTMENT_STATUSES)}")
    with clinical_transaction(actor) as trail:
        appointment = access(actor, APPOINTMENT, appointment_id, Perm.DEMOGRAPHICS_WRITE)
        if appointment.status in FINAL and status != appointment.status:
            raise ConflictError("status", f"this appointment is already {appointment.status}")
        appointment.status = status
        save_in_clinic(appointment, ["status", "updated_at"])
        trail.record("update", "appointment", appointment.id, appointment.patient_id, status=status)
    return appointment


_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_PHONE = re.compile(r"[0-9+() .\-/]{3,40}")


def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = zoneinfo.ZoneInfo(tz)
    start = datetime.combine(day, time(0, 0), tzinfo=zone)
    return start, start + timedelta(days=1)


def appointments_between(actor: Actor, start_day: date, days: int = 1) -> list[Appointment]:
    """The clinic's appointments from ``start_day`` for ``days`` days (the clinic's dates), by
    time; one read entry per patient shown."""
    require(actor, Perm.DEMOGRAPHICS_READ)
    start, _ = _day_bounds(start_day, actor.clinic.time_zone)
    end, _ = _day_bounds(start_day + timedelta(days=days), actor.clinic.time_zone)
    rows = list(
        in_clinic(Appointment.objects.all(), actor.membership.clinic_id, "patient")
        .filter(starts_at__gte=start, starts_at__lt=end)
        .select_related("injector__user")
        .order_by("starts_at", "patient__family_name")
    )
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(a.patient_id for a in rows):
            trail.record("read", "appointment-book", patient_id, patient_id)
    return rows


def patient_appointments(actor: Actor, patient_id: UUID | str) -> list[Appointment]:
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.DEMOGRAPHICS_READ)
        rows = list(
            in_clinic(Appointment.objects.all(), patient.clinic_id, "patient")
            .filter(patient=patient)
            .select_related("injector__user")
            .order_by("-starts_at")
        )
        trail.record("read", "appointments", patient.id, patient.id)
    return rows


def complete_on_signing(
    sender: object, *, session: TreatmentSession, trail: AuditTrail, **kwargs: object
) -> None:
    """The visit a signature records is over: the patient's open appointment for the indication
    on the clinic's day of the injection (the earliest, if several) becomes ``completed``."""
    if session.administered_at is None:  # signing always sets it; nothing to match without it
        return
    tz = session.clinic.time_zone
    day = session.administered_at.astimezone(zoneinfo.ZoneInfo(tz)).date()
    start, end = _day_bounds(day, tz)
    appointment = (
        Appointment.objects.filter(
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            indication=session.indication,
            status__in=OPEN,
            starts_at__gte=start,
            starts_at__lt=end,
        )
        .order_by("starts_at")
        .first()
    )
    if appointment is None:
        return
    appointment.status = AppointmentStatus.COMPLETED
    save_in_clinic(appointment, ["status", "updated_at"])
    trail.record(
        "update",
        "appointment",
        appointment.id,
        appointment.patient_id,
        status=AppointmentStatus.COMPLETED,
        session=str(session.id),
    )


def upcoming(patient: Patient, indication: str, after: datetime) -> Appointment | None:
    """The first open appointment of the indication after ``after`` (the visit being signed is
    not its own next visit)."""
    return (
        Appointment.objects.filter(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            status__in=OPEN,
            starts_at__gt=after,
        )
        .order_by("starts_at")
        .first()
    )


@dataclass(frozen=True)
class Proposal:
    """The next visit after a signed session: when it falls due and why, and what is booked."""

    due: Due | None
    booked: Appointment | None
    # The first open day from the due date, within the opening hours (None if it never opens).
    suggested_at: datetime | None
    # B.32: no visit is proposed while the verdict says stop or non-responder; this says why.
    held_because: str = ""


def patient_history(patient: Patient) -> list[TreatedSession]:
    """The signed sessions with their wear-off reports, as ``bontrack.domain.due`` reads them."""
    rows = (
        TreatmentSession.objects.filter(
            clinic_id=patient.clinic_id, patient=patient, signed_at__isnull=False
        )
        .select_related("signed_by")
        .prefetch_related(
            prefetch_in_clinic("events", SessionEvent, patient.clinic_id),
            prefetch_in_clinic("wear_off_reports", WearOffReport, patient.clinic_id),
        )
    )
    history = []
    for s in rows:
        reports = list(s.wear_off_reports.all())
        history.append(
            TreatedSession(
                s.plan_date,
                s.product,
                s.indication,
                wore_off_on=reports[0].wore_off_on if reports else None,
                entered_in_error=not counts_toward_limits(status_of(s, s.events.all())),
                key=str(s.id),
            )
        )
    return history


def propose_next_visit(session: TreatmentSession, now: datetime) -> Proposal | None:
    """For a signed session (already opened through the funnel): the next visit of its
    indication from the due rules, and any appointment already booked; none is suggested while
    a stop or non-responder verdict of the indication stands (B.32)."""
    if not session.is_signed:
        return None
    patient = session.patient
    due = due_for(patient_history(patient), session.indication)
    booked = upcoming(patient, session.indication, max(session.administered_at or now, now))
    stopping = stopping_of(verdicts_of(patient, session.indication).verdicts, session.indication)
    held_because = stopping.label if stopping is not None else ""
    suggested = None
    if due is not None and due.due is not None and not held_because:
        tz = zoneinfo.ZoneInfo(session.clinic.time_zone)
        local = (session.administered_at or now).astimezone(tz)
        # The signed visit's time of day (to the half hour) when the clinic is open then, else
        # the first open day's opening: never a closed day or an hour nobody is there.
        preferred = time(local.hour, 30 if local.minute >= 30 else 0)
        found = hours.first_open(clinic_hours(session.clinic), due.due, preferred, 30)
        suggested = found.replace(tzinfo=tz) if found is not None else None
    return Proposal(due, booked, suggested, held_because)

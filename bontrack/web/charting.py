"""What the patient, session, plan and Today pages show of the charting app (photos, consent
forms, saved plans, repeat last, appointments, the next visit, the injectors one books with).
Each function given a patient is called by a page that has already opened the patient through
the funnel and written its read entry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db.models import Count

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import INJECTOR_ROLES, Perm
from bontrack.audit.services import Actor
from bontrack.charting.models import Appointment, AppointmentStatus, Photo, SignedConsentForm
from bontrack.charting.services import appointments as book
from bontrack.charting.services import plans
from bontrack.charting.services.photos import view_name
from bontrack.domain.catalog import catalog
from bontrack.patients.models import Consent, ConsentWithdrawal, Patient
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.reads import PatientHistory, patient_history
from bontrack.treatments.records import counts_toward_limits, total_units
from bontrack.web import present


def injectors(actor: Actor) -> list[Membership]:
    """The clinic's active members who inject (prescribers and nurse injectors), by name: whom an
    appointment may be booked with and the Due list filters by, on every page that offers them."""
    return list(
        Membership.objects.select_related("user")
        .filter(clinic_id=actor.membership.clinic_id, active=True, role__in=INJECTOR_ROLES)
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def wall(moment: datetime | None, tz: str) -> datetime | None:
    """The clinic's wall-clock time, naive: Django's ``date`` filter would turn an aware value
    back into the server's time zone (UTC)."""
    local = present.local(moment, tz)
    return local.replace(tzinfo=None) if local is not None else None


def patient_consents(patient: Patient) -> list[Consent]:
    """The patient's consents, latest signed first, each with its withdrawal and its signed
    form (with the form's template) attached: three queries, so that neither the page nor its
    template reads one more per consent."""
    clinic_id = patient.clinic_id
    consents = list(
        Consent.objects.filter(clinic_id=clinic_id, patient_id=patient.pk).order_by("-signed_on")
    )
    of_patient = {"clinic_id": clinic_id, "consent__clinic_id": clinic_id}
    of_patient["consent__patient_id"] = patient.pk
    withdrawals = {w.consent_id: w for w in ConsentWithdrawal.objects.filter(**of_patient)}
    forms = {
        f.consent_id: f
        for f in SignedConsentForm.objects.filter(
            clinic_id=clinic_id, patient_id=patient.pk, template__clinic_id=clinic_id
        ).select_related("template")
    }
    withdrawal_of = Consent._meta.get_field("withdrawal")
    form_of = Consent._meta.get_field("signed_form")
    for c in consents:
        withdrawal_of.set_cached_value(c, withdrawals.get(c.id))  # type: ignore[union-attr]
        form_of.set_cached_value(c, forms.get(c.id))  # type: ignore[union-attr]
        for row in (withdrawals.get(c.id), forms.get(c.id)):
            if row is not None:
                type(row)._meta.get_field("consent").set_cached_value(row, c)  # type: ignore[union-attr]
    return consents


def signed_form_of(consent: Consent) -> SignedConsentForm | None:
    """The consent's form signed on screen, if any (a paper consent has none)."""
    return getattr(consent, "signed_form", None)


def patient_charting(
    actor: Actor,
    patient: Patient,
    day: date,
    history: PatientHistory | None = None,
    consents: list[Consent] | None = None,
) -> dict[str, Any]:
    """The patient page's card: appointments for everyone at the desk; photos, consent forms,
    repeat last and saved plans for clinicians. ``history`` and ``consents``: what the page
    already read (``treatments.reads.patient_history``, ``patient_consents``); a clinician's
    card needs both."""
    m = actor.membership
    tz = actor.clinic.time_zone
    appointments = [
        {
            "a": a,
            "time": wall(a.starts_at, tz),
            "indication": present.indication_short(a.indication),
            "injector": a.injector.display_name if a.injector else "",
        }
        for a in Appointment.objects.filter(clinic_id=patient.clinic_id, patient=patient)
        .select_related("injector__user")
        .order_by("-starts_at")[:10]
    ]
    if history is not None:
        treated = list(dict.fromkeys(s.indication for s in history.sessions))
    else:
        treated = list(
            TreatmentSession.objects.filter(clinic_id=patient.clinic_id, patient_id=patient.pk)
            .values_list("indication", flat=True)
            .distinct()
        )
    cat = catalog()
    context: dict[str, Any] = {
        "appointments": appointments,
        "can_book": m.can(Perm.DEMOGRAPHICS_WRITE),
        "book_indications": [(c, cat.indications[c].name) for c in treated if c in cat.indications]
        + [(i.code, i.name) for i in cat.indications.values() if i.code not in treated],
        "injectors": injectors(actor),
        "statuses": (
            AppointmentStatus.ARRIVED,
            AppointmentStatus.COMPLETED,
            AppointmentStatus.NO_SHOW,
            AppointmentStatus.CANCELLED,
        ),
    }
    if not m.can(Perm.CHART_READ):
        return {"charting": context}
    if history is None:
        history = patient_history(patient, actor.clinic.time_zone)
    if consents is None:
        consents = patient_consents(patient)
    photos = (
        Photo.objects.filter(clinic_id=patient.clinic_id, patient=patient)
        .values("indication", "view")
        .annotate(n=Count("id"), visits=Count("taken_on", distinct=True))
        .order_by("indication", "view")
    )
    signed_forms = sorted(
        (form for c in consents if (form := signed_form_of(c)) is not None),
        key=lambda f: f.signed_at,
        reverse=True,
    )
    forms = [
        {
            "f": f,
            "indication": present.indication_short(f.template.indication),
            "product": present.brand(f.product),
            "valid": f.consent.valid_on(day),
        }
        for f in signed_forms
    ]
    repeatable: dict[tuple[str, str], dict[str, Any]] = {}
    signed = sorted(
        (s for s in history.sessions if s.is_signed and not s.external),
        key=lambda s: (s.plan_date, s.administered_at or datetime.min.replace(tzinfo=UTC)),
        reverse=True,
    )
    for s in signed:
        key = (s.indication, s.product)
        if key in repeatable or not counts_toward_limits(history.statuses[s.id]):
            continue
        repeatable[key] = {
            "indication": s.indication,
            "product": s.product,
            "label": f"{present.indication_short(s.indication)} · {present.brand(s.product)} "
            f"{present.units(total_units(history.points[s.id]))} U",
            "day": s.plan_date,
        }
    context.update(
        clinical=True,
        photos=[
            {
                **row,
                "indication_name": present.indication_short(row["indication"]),
                "view_name": view_name(row["indication"], row["view"]),
            }
            for row in photos
        ],
        forms=forms,
        unsigned_consents=[c for c in consents if signed_form_of(c) is None],
        can_plan=m.can(Perm.PLAN_WRITE),
        repeatable=list(repeatable.values()),
        saved_plans=[
            {
                "saved": s,
                "label": f"{s.name} ({present.indication_short(s.indication)}, "
                f"{present.brand(s.product)} {present.units(plans.saved_total(s))} U)",
            }
            for s in plans.list_saved_plans(actor)
        ]
        if m.can(Perm.PLAN_WRITE)
        else [],
        today=day,
    )
    return {"charting": context}


def session_charting(actor: Actor, session: TreatmentSession, now: datetime) -> dict[str, Any]:
    """A signed session's page: the next visit proposed from the due rules, saving its points as
    a pattern, and its photos."""
    tz = session.clinic.time_zone
    proposal = book.propose_next_visit(session, now) if session.is_signed else None
    booked = None
    if proposal is not None and proposal.booked is not None:
        booked = wall(proposal.booked.starts_at, tz)
    photos = list(
        Photo.objects.filter(clinic_id=session.clinic_id, session_id=session.pk).order_by(
            "taken_on", "created_at"
        )
    )
    return {
        "next_visit": {
            "proposal": proposal,
            "booked_at": booked,
            "suggested_input": proposal.suggested_at.strftime("%Y-%m-%dT%H:%M")
            if proposal is not None and proposal.suggested_at is not None
            else "",
            "can_book": actor.membership.can(Perm.DEMOGRAPHICS_WRITE),
            "can_plan": actor.membership.can(Perm.PLAN_WRITE),
            "photos": [{"p": p, "view_name": view_name(p.indication, p.view)} for p in photos],
            "photo_views": bool(catalog().indications[session.indication].photo_views)
            if session.indication in catalog().indications
            else False,
        }
    }


def plan_changes(session: TreatmentSession) -> dict[str, Any]:
    """A plan made by repeat last: what changed since the session it repeats, shown first."""
    return {"changes": plans.changes_since(session)}


def today_appointments(actor: Actor, day: date) -> dict[str, Any]:
    rows = book.appointments_between(actor, day, 1)
    tz = actor.clinic.time_zone
    return {
        "appointments_today": [
            {
                "a": a,
                "time": wall(a.starts_at, tz),
                "indication": present.indication_short(a.indication),
                "injector": a.injector.display_name if a.injector else "",
            }
            for a in rows
        ]
    }

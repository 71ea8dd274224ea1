"""Reminders: the patients due for retreatment within N days who have no appointment (nor plan)
booked, by indication and injector; e-mails through Django's mail framework to those who agreed
to be contacted by e-mail, each send logged; a template per indication; the list as CSV for the
clinics that phone instead.

The due dates are the follow-up due list's (``outcomes.due.compute_due_list``: the label's
earliest date and the patient's wear-off history). Every patient listed writes a read entry,
every patient e-mailed or exported a disclosure entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import formataddr
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMessage
from django.template import Context, Engine, Template, TemplateSyntaxError, Variable
from django.template.base import TextNode, VariableNode
from django.utils import timezone

from bontrack.access import MEMBER, access, require
from bontrack.accounts.models import Clinic
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.charting.models import Appointment, ReminderLog, ReminderStatus, ReminderTemplate
from bontrack.charting.services.appointments import OPEN
from bontrack.core import csvfiles
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes.due import DueRow, compute_due_list
from bontrack.outcomes.services import clinic_today

MAX_DAYS = 365
OVERDUE_WEEKS = 12  # overdue patients are listed too, up to this long
RESEND_AFTER_DAYS = 7  # a patient reminded for an indication is not reminded again sooner

# The subject shows on lock screens and in shared inboxes: it names the clinic, never the
# treatment. The text says how to book through the clinic's own address and number.
DEFAULT_SUBJECT = "Time to book your next visit at {{ clinic }}"
DEFAULT_BODY = (
    "Dear {{ given_name }},\n\n"
    "Your next {{ indication }} treatment at {{ clinic }} is due from {{ due_date }}. To book a "
    "visit, call us on {{ clinic_phone }} or write to {{ clinic_email }}.\n\n"
    "If you no longer wish to receive reminders, tell us and we will stop.\n\n"
    "{{ clinic }}"
)
# Without a clinic telephone number the standard text gives the address alone.
DEFAULT_BODY_NO_PHONE = DEFAULT_BODY.replace(
    "call us on {{ clinic_phone }} or write to", "write to"
)
PLACEHOLDERS = (
    "given_name",
    "family_name",
    "indication",
    "due_date",
    "clinic",
    "clinic_phone",
    "clinic_email",
)
# Placeholders a subject may not carry: what the patient is treated for.
CLINICAL_PLACEHOLDERS = ("indication",)


@dataclass(frozen=True)
class Candidate:
    row: DueRow
    indication_name: str
    contactable: bool  # agreed to be contacted by e-mail, with an address
    why_not: str
    last_reminded: date | None


def _validate(actor: Actor, days: int, indication: str | None, injector_id: UUID | None) -> None:
    require(actor, Perm.CHART_READ)
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError("days", f"must be between 1 and {MAX_DAYS}")
    if indication and indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if injector_id is not None:
        access(actor, MEMBER, injector_id)


def _candidates(
    actor: Actor,
    *,
    days: int,
    indication: str | None,
    injector_id: UUID | None,
    today: date,
) -> list[Candidate]:
    _validate(actor, days, indication, injector_id)
    found = compute_due_list(
        actor.membership,
        today=today,
        weeks=max(1, math.ceil(days / 7)),
        overdue_weeks=OVERDUE_WEEKS,
        indication=indication,
        injector_id=injector_id,
    )
    horizon = today + timedelta(days=days)
    rows = [
        r
        for r in found.rows
        if r.due.due is not None and r.due.due <= horizon and r.booked_on is None
    ]
    if not rows:
        return []
    booked = set(
        Appointment.objects.filter(
            clinic_id=actor.membership.clinic_id,
            patient_id__in=[r.patient_id for r in rows],
            status__in=OPEN,
            starts_at__date__gte=today - timedelta(days=1),
        ).values_list("patient_id", "indication")
    )
    reminded: dict[tuple[UUID, str], date] = {}
    for patient_id, ind, sent in ReminderLog.objects.filter(
        clinic_id=actor.membership.clinic_id,
        patient_id__in=[r.patient_id for r in rows],
        status=ReminderStatus.SENT,
    ).values_list("patient_id", "indication", "sent_at"):
        key = (patient_id, ind)
        if key not in reminded or sent.date() > reminded[key]:
            reminded[key] = sent.date()
    cat = catalog()
    result = []
    for r in rows:
        if (r.patient_id, r.due.indication) in booked:
            continue
        why = ""
        if r.contact_method != "email":
            why = (
                "no agreement to be contacted"
                if r.contact_method == "none"
                else f"prefers {r.contact_method}"
            )
        elif not r.email:
            why = "no e-mail address"
        result.append(
            Candidate(
                r,
                cat.indications[r.due.indication].name,
                not why,
                why,
                reminded.get((r.patient_id, r.due.indication)),
            )
        )
    return result


def reminder_list(
    actor: Actor,
    *,
    days: int = 30,
    indication: str | None = None,
    injector_id: UUID | None = None,
    today: date | None = None,
) -> list[Candidate]:
    """Who is due within ``days`` with nothing booked; one read entry per patient listed."""
    today = today or clinic_today(actor)
    found = _candidates(
        actor, days=days, indication=indication, injector_id=injector_id, today=today
    )
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(c.row.patient_id for c in found):
            trail.record("read", "reminder-list", patient_id, patient_id)
    return found


def template_for(clinic: Clinic, indication: str) -> tuple[str, str]:
    """The subject and text a reminder of the indication is written from: the clinic's own,
    else the standard wording. A subject saved before subjects were kept free of the treatment
    falls back to the standard subject."""
    found = ReminderTemplate.objects.filter(clinic_id=clinic.id, indication=indication).first()
    standard_body = DEFAULT_BODY if clinic.contact_phone else DEFAULT_BODY_NO_PHONE
    if found is None:
        return DEFAULT_SUBJECT, standard_body
    subject = DEFAULT_SUBJECT if names_the_treatment(found.subject) else found.subject
    return subject, found.body


def names_the_treatment(subject: str) -> bool:
    try:
        template = compile_template(subject)
    except TemplateRefusedError:
        return False
    return any(
        isinstance(node, VariableNode) and node.filter_expression.var.var in CLINICAL_PLACEHOLDERS
        for node in template.nodelist
    )


def save_template(actor: Actor, *, indication: str, subject: str, body: str) -> ReminderTemplate:
    require(actor, Perm.DEMOGRAPHICS_WRITE)
    require(actor, Perm.CHART_READ)
    if indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    for name, text in (("subject", subject), ("body", body)):
        if not text.strip():
            raise ServiceError(name, "must not be empty")
        try:
            compile_template(text)
        except TemplateRefusedError as refused:
            raise ServiceError(name, str(refused)) from None
    if names_the_treatment(subject):
        raise ServiceError(
            "subject",
            "the subject shows on lock screens and shared inboxes: leave the treatment out of "
            "it ({{ indication }} belongs in the text)",
        )
    with clinical_transaction(actor) as trail:
        template, _ = ReminderTemplate.objects.update_or_create(
            clinic_id=actor.membership.clinic_id,
            indication=indication,
            defaults={
                "subject": subject.strip(),
                "body": body.strip(),
                "updated_by": actor.membership,
            },
        )
        trail.record("update", "reminder-template", template.id, indication=indication)
    return template


class TemplateRefusedError(ValueError):
    """A reminder template that is more than text and the placeholders."""


# Plain text mail: nothing is escaped (an apostrophe in a name stays one). HTML mail would be
# rendered by the autoescaping engine.
_TEXT_ENGINE = Engine(autoescape=False, libraries={}, builtins=[], loaders=[])
_HTML_ENGINE = Engine(autoescape=True, libraries={}, builtins=[], loaders=[])
# A field named in the former str.format syntax ("{given_name}"): refused rather than mailed as
# it stands.
OLD_PLACEHOLDER = re.compile(r"(?<!\{)\{\s*[A-Za-z_][\w.\[\]]*\s*\}(?!\})")
PLACEHOLDER_HELP = ", ".join("{{ " + p + " }}" for p in PLACEHOLDERS)


def compile_template(text: str, html: bool = False) -> Template:
    """A reminder's subject or body as a Django template holding text and the placeholders only
    (``{{ given_name }}``): no attribute, filter, tag or any other name, so that a template
    can read nothing but the five strings it is given (never ``str.format``, whose
    ``{given_name.__class__}`` walks into Python objects)."""
    engine = _HTML_ENGINE if html else _TEXT_ENGINE
    try:
        template = engine.from_string(text)
    except TemplateSyntaxError as error:
        raise TemplateRefusedError(
            f"{error}; use only the placeholders {PLACEHOLDER_HELP}"
        ) from None
    for node in template.nodelist:
        if isinstance(node, TextNode):
            if OLD_PLACEHOLDER.search(node.s):
                raise TemplateRefusedError(f"write placeholders as {PLACEHOLDER_HELP}")
            continue
        expression = getattr(getattr(node, "filter_expression", None), "var", None)
        plain = isinstance(node, VariableNode) and not node.filter_expression.filters
        if not plain or not isinstance(expression, Variable) or expression.var not in PLACEHOLDERS:
            raise TemplateRefusedError(f"use only the placeholders {PLACEHOLDER_HELP}")
    return template


def _render(text: str, candidate: Candidate, clinic: Clinic, html: bool = False) -> str:
    r = candidate.row
    values = {
        "given_name": r.given_name,
        "family_name": r.family_name,
        "indication": candidate.indication_name.split(" (")[0].lower(),
        "due_date": r.due.due.strftime("%-d %B %Y") if r.due.due else "now",
        "clinic": clinic.name,
        "clinic_phone": clinic.contact_phone,
        "clinic_email": clinic.contact_email,
    }
    return compile_template(text, html).render(Context(values, autoescape=html))


@dataclass(frozen=True)
class Sender:
    """Who a reminder comes from and where a reply goes: the server's configured sender
    (BONTRACK_EMAIL_FROM) with the clinic's address as Reply-To, or the clinic's address alone."""

    from_email: str
    reply_to: str


def sender_of(clinic: Clinic) -> Sender | None:
    """None while there is no real address to send from: the clinic's address for patients
    is not set and the server names no sender."""
    configured = getattr(settings, "BONTRACK_EMAIL_FROM", "")
    if not clinic.contact_email:
        return None
    named = formataddr((clinic.name, clinic.contact_email))
    return Sender(configured or named, named)


NO_SENDER = (
    "set the clinic's e-mail address for patients (Appointments, Opening hours and contact) "
    "first: reminders come from it and replies go to it"
)


@dataclass(frozen=True)
class Draft:
    candidate: Candidate
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class Preview:
    """The e-mails a send would make, exactly as they would go, and who would not get one."""

    sender: Sender | None
    drafts: list[Draft]
    skipped: list[tuple[Candidate, str]]

    @property
    def digest(self) -> str:
        """A fingerprint of the drafts: the send refuses if they changed after the preview."""
        text = json.dumps(
            [[str(d.candidate.row.patient_id), d.to, d.subject, d.body] for d in self.drafts]
        )
        return hashlib.sha256(text.encode()).hexdigest()


def _drafts(
    actor: Actor,
    *,
    days: int,
    indication: str | None,
    injector_id: UUID | None,
    patient_ids: set[UUID] | None,
    today: date,
) -> Preview:
    found = _candidates(
        actor, days=days, indication=indication, injector_id=injector_id, today=today
    )
    # Read afresh: the administrator may have set the address since this actor was loaded.
    clinic = Clinic.objects.get(id=actor.membership.clinic_id)
    drafts, skipped = [], []
    for candidate in found:
        r = candidate.row
        if patient_ids is not None and r.patient_id not in patient_ids:
            continue
        if not candidate.contactable:
            skipped.append((candidate, candidate.why_not))
            continue
        if candidate.last_reminded and candidate.last_reminded > today - timedelta(
            days=RESEND_AFTER_DAYS
        ):
            skipped.append((candidate, f"reminded on {candidate.last_reminded.isoformat()}"))
            continue
        subject_text, body_text = template_for(clinic, r.due.indication)
        drafts.append(
            Draft(
                candidate,
                r.email,
                _render(subject_text, candidate, clinic),
                _render(body_text, candidate, clinic),
            )
        )
    return Preview(sender_of(clinic), drafts, skipped)


def _drafts_for_sending(
    actor: Actor,
    days: int,
    indication: str | None,
    injector_id: UUID | None,
    patient_ids: set[UUID] | None,
    today: date | None,
) -> Preview:
    """The e-mails a send would make, for whoever may send them: the preview and the send read
    the same list, so that what is sent is what was previewed."""
    require(actor, Perm.DEMOGRAPHICS_WRITE)
    return _drafts(
        actor,
        days=days,
        indication=indication,
        injector_id=injector_id,
        patient_ids=patient_ids,
        today=today or clinic_today(actor),
    )


def preview_reminders(
    actor: Actor,
    *,
    days: int = 30,
    indication: str | None = None,
    injector_id: UUID | None = None,
    patient_ids: set[UUID] | None = None,
    today: date | None = None,
) -> Preview:
    """Every e-mail a send would make (recipient, subject, text) for the clinician to read
    before confirming; nothing is sent. One read entry per patient shown."""
    preview = _drafts_for_sending(actor, days, indication, injector_id, patient_ids, today)
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(d.candidate.row.patient_id for d in preview.drafts):
            trail.record("read", "reminder-preview", patient_id, patient_id)
    return preview


@dataclass(frozen=True)
class SendReport:
    sent: list[ReminderLog]
    failed: list[ReminderLog]
    skipped: list[tuple[Candidate, str]]


def send_reminders(
    actor: Actor,
    *,
    days: int = 30,
    indication: str | None = None,
    injector_id: UUID | None = None,
    patient_ids: set[UUID] | None = None,
    today: date | None = None,
    previewed: str | None = None,
) -> SendReport:
    """E-mail every contactable patient of the list (or of ``patient_ids`` among them) not
    reminded in the last week; each send is logged and writes a disclosure entry. With
    ``previewed`` (a preview's digest), nothing is sent unless the e-mails are still exactly
    those previewed."""
    preview = _drafts_for_sending(actor, days, indication, injector_id, patient_ids, today)
    if preview.sender is None:
        raise ServiceError("sender", NO_SENDER)
    if previewed is not None and previewed != preview.digest:
        raise ConflictError(
            "previewed",
            "the reminders changed since the preview (a booking, a template or a patient's "
            "details): preview them again before sending",
        )
    sent, failed = [], []
    for draft in preview.drafts:
        r = draft.candidate.row
        message = EmailMessage(
            subject=draft.subject,
            body=draft.body,
            from_email=preview.sender.from_email,
            to=[draft.to],
            reply_to=[preview.sender.reply_to],
        )
        status, error = ReminderStatus.SENT, ""
        try:
            message.send(fail_silently=False)
        except Exception as problem:  # the mail server refused: logged, the others still go
            status, error = ReminderStatus.FAILED, f"{type(problem).__name__}: {problem}"[:500]
        with clinical_transaction(actor) as trail:
            log = ReminderLog.objects.create(
                clinic_id=actor.membership.clinic_id,
                patient_id=r.patient_id,
                indication=r.due.indication,
                due_on=r.due.due,
                address=draft.to,
                subject=draft.subject,
                status=status,
                error=error,
                sent_by=actor.membership,
                sent_at=timezone.now(),
            )
            trail.record(
                "disclose", "reminder", log.id, r.patient_id, channel="email", status=status
            )
        (sent if status == ReminderStatus.SENT else failed).append(log)
    return SendReport(sent, failed, preview.skipped)


CSV_COLUMNS = (
    "record_number",
    "given_name",
    "family_name",
    "indication",
    "product",
    "last_session",
    "due",
    "status",
    "injector",
    "contact_method",
    "phone",
    "email",
    "last_reminded",
)


def export_csv(
    actor: Actor,
    *,
    days: int = 30,
    indication: str | None = None,
    injector_id: UUID | None = None,
    today: date | None = None,
) -> str:
    """The list as CSV (phone numbers for the clinics that call); one disclosure entry per
    patient. Contact details only of those who agreed to be contacted."""
    today = today or clinic_today(actor)
    found = _candidates(
        actor, days=days, indication=indication, injector_id=injector_id, today=today
    )
    out = io.StringIO()
    writer = csvfiles.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in found:
        r = c.row
        writer.writerow(
            [
                r.record_number,
                r.given_name,
                r.family_name,
                r.due.indication,
                r.due.product,
                r.due.last_session.isoformat(),
                r.due.due.isoformat() if r.due.due else "",
                r.status,
                r.injector or "",
                r.contact_method,
                r.phone,
                r.email,
                c.last_reminded.isoformat() if c.last_reminded else "",
            ]
        )
    with clinical_transaction(actor) as trail:
        for patient_id in dict.fromkeys(c.row.patient_id for c in found):
            trail.record("disclose", "reminder-list-export", patient_id, patient_id)
    return out.getvalue()

"""Every signed record against its digest, as `bontrack audit verify` checks them (DESIGN 3.4).

A signed session and each appended event (amendment, entered-in-error, co-signature, addendum,
cancellation) are rebuilt under the canonical version they were signed with (``canon``) and hashed
again; a signed consent form's PDF is hashed again and compared with the SHA-256 stored when it
was signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from uuid import UUID

from django.core.files.storage import storages


@dataclass
class RecordReport:
    sessions: int = 0
    events: int = 0
    consent_forms: int = 0
    problems: list[str] = field(default_factory=list)


def verify_signed_records(clinic_id: UUID | None = None) -> RecordReport:
    from bontrack.charting.models import SignedConsentForm
    from bontrack.treatments.models import SessionEvent, TreatmentSession
    from bontrack.treatments.services import verify_digest, verify_event

    report = RecordReport()
    scope = {} if clinic_id is None else {"clinic_id": clinic_id}
    signed = TreatmentSession.objects.filter(signed_at__isnull=False, **scope).order_by("id")
    for session in signed.iterator(chunk_size=200):
        report.sessions += 1
        if not verify_digest(session):
            report.problems.append(
                f"session {session.id}: its digest does not verify under canonical version "
                f"{session.canon}: the signed record was altered"
            )
    for event in SessionEvent.objects.filter(**scope).order_by("id").iterator():
        report.events += 1
        try:
            intact = verify_event(event)
        except ValueError:
            intact = False
        if not intact:
            report.problems.append(
                f"{event.kind} event {event.id} of session {event.session_id}: its digest does "
                f"not verify under canonical version {event.canon}: the appended record was altered"
            )
    clinical = storages["clinical"]
    for form in SignedConsentForm.objects.filter(**scope).order_by("id").iterator():
        report.consent_forms += 1
        if not clinical.exists(form.pdf_name):
            report.problems.append(
                f"signed consent form {form.id}: its PDF {form.pdf_name} is missing"
            )
            continue
        with clinical.open(form.pdf_name, "rb") as stored:
            if hashlib.file_digest(stored, "sha256").hexdigest() != form.pdf_sha256:
                report.problems.append(
                    f"signed consent form {form.id}: its PDF does not match the SHA-256 recorded "
                    "when it was signed"
                )
    return report

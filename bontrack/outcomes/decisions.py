"""A prescriber's decision to continue treatment despite a stop or non-responder verdict (B.32):
the one record the verdicts lead to. It is appended and audited, and the patient's open plans
are checked again at once, so that their stored checks drop the series' response warning.

It sits above both the verdicts (``verdicts.py``, which the records service's check reads) and
that service (``treatments/services.py``, which re-checks the open plans), so that neither
imports the other back.
"""

from __future__ import annotations

from uuid import UUID

from django.utils import timezone

from bontrack.access import PATIENT, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.domain.outcomes import STOPPING
from bontrack.outcomes import due_state
from bontrack.outcomes.models import ContinueDespiteVerdict
from bontrack.outcomes.verdicts import verdicts_of
from bontrack.treatments.services import recheck_open_plans

MAX_REASON = 2000


def continue_despite(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    scale: str,
    muscle_group: str = "",
    reason: str,
) -> ContinueDespiteVerdict:
    """A prescriber's "continue despite this verdict" with a written reason (B.32), appended and
    audited. Refused for a series whose verdict is not stop or non-responder, or when such a
    decision already stands."""
    reason = reason.strip()
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.OVERRIDE)
        if not reason:
            raise ServiceError(
                "reason", "give the clinical reason to continue despite this verdict"
            )
        if len(reason) > MAX_REASON:
            raise ServiceError("reason", f"must be at most {MAX_REASON} characters")
        found = verdicts_of(patient, indication).verdicts
        series = next(
            (
                v
                for v in found
                if (v.verdict.scale, v.verdict.muscle_group or "") == (scale, muscle_group.strip())
            ),
            None,
        )
        if series is None or series.verdict.as_of is None:
            raise ServiceError(
                "scale",
                f"the patient has no verdict on {scale} for {indication}"
                + (f" ({muscle_group.strip()})" if muscle_group.strip() else "")
                + ": record the baseline and a follow-up first",
            )
        word = series.verdict.verdict
        if word not in STOPPING:
            raise ConflictError(
                "scale",
                f"the verdict on {scale} is {word}, not stop or non-responder: treatment "
                "continues without a decision",
            )
        if series.continued is not None:
            when = series.continued.decided_at.date().isoformat()
            raise ConflictError(
                "scale",
                f"a decision to continue despite this verdict already stands (recorded on {when})",
            )
        decision = ContinueDespiteVerdict.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            scale=scale,
            muscle_group=muscle_group.strip(),
            verdict=word,
            as_of=series.verdict.as_of,
            summary=series.verdict.summary[:200],
            reason=reason,
            decided_by=actor.membership,
            decided_at=timezone.now(),
        )
        trail.record(
            "create",
            "continue-despite-verdict",
            decision.id,
            patient.id,
            indication=indication,
            scale=scale,
            muscle_group=decision.muscle_group,
            verdict=word,
            as_of=decision.as_of.isoformat(),
            reason=reason,
        )
        # The open plans' stored checks drop the series' response warning (B.32).
        recheck_open_plans(patient.id, trail)
        due_state.refresh(patient.clinic_id, patient.id)
    return decision

"""The break-glass form (DESIGN 3.4): what a member outside a restricted chart's care team sees
instead of the chart. Every page shows it when the access funnel refuses a restricted chart
(``web/access.py``'s ``clinic_view``), and the break-glass page itself (``views/security.py``)
shows it again with the reason's refusal; so it sits below both.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bontrack.access import PATIENT, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.web import present


def break_glass_form(
    request: HttpRequest, actor: Actor, patient_id: UUID, error: str = "", status: int = 200
) -> HttpResponse:
    """The break-glass page for a restricted chart outside the caller's care team: the patient's
    banner and the form asking for a reason. The name on it is a demographics read (the chart
    itself stays closed)."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.DEMOGRAPHICS_READ)
        trail.record("read", "patient", patient.id, patient.id, restricted=True)
    day = present.clinic_today(actor.clinic.time_zone)
    return render(
        request,
        "security/break_glass.html",
        {
            "banner": present.patient_banner(patient, day, False),
            "patient": patient,
            "error": error,
            "reason": request.POST.get("reason", ""),
            "can_break": actor.membership.can(Perm.CHART_READ),
            "nav": "patients",
        },
        status=status,
    )

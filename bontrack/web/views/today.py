"""Today: the plans dated today, the patients due, lots expiring soon, open recalls; for a
prescriber, the sessions awaiting their co-signature and the open correction requests."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.inventory import services as inventory
from bontrack.outcomes.due import due_list
from bontrack.treatments import corrections, services
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.schedule import day_plans
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.charting import today_appointments
from bontrack.web.outcomes import due_view

EXPIRING_WITHIN_DAYS = 60
# The Today page lists who is due within two weeks (and who is overdue): the Due page's list,
# from the same service, over a shorter horizon. Who is due is clinical detail (DESIGN 3.4):
# the front desk sees the day's schedule, not the due list.
DUE_WITHIN_WEEKS = 2
DUE_SHOWN = 25


def _clinical_row(session: TreatmentSession) -> dict[str, Any]:
    """A plan's treatment and check for clinicians; a plan whose findings are all decided (every
    block overridden, every warning acknowledged) is shown as such, not as blocked."""
    verdict = session.check_result.get("verdict", "")
    findings = session.check_result.get("findings", [])
    decided = verdict in ("block", "warn") and not services.unresolved_findings(session, findings)
    return {
        "indication": present.indication_short(session.indication),
        "product": present.brand(session.product),
        "units": session.check_result.get("total_units", ""),
        "verdict": verdict,
        "verdict_words": "overridden"
        if decided and verdict == "block"
        else "acknowledged"
        if decided
        else verdict.upper(),
        "verdict_class": "warn" if decided and verdict == "block" else "ok" if decided else verdict,
    }


@clinic_view(Perm.DEMOGRAPHICS_READ)
def today(request: HttpRequest, actor: Actor) -> HttpResponse:
    day = present.clinic_today(actor.clinic.time_zone)
    can_chart = actor.membership.can(Perm.CHART_READ)
    stock = inventory.stock(actor, day, EXPIRING_WITHIN_DAYS)
    expiring = [
        row for row in stock if (row["expiring_soon"] or row["expired"]) and not row["recalled"]
    ]
    due, due_total = [], 0
    if can_chart:
        found = due_list(actor, weeks=DUE_WITHIN_WEEKS, limit=DUE_SHOWN, today=day)
        due = [{**due_view(r.due, day), "row": r} for r in found.rows]
        due_total = found.total
    co_sign = corrections.awaiting_my_co_signature(actor)
    correction_requests = (
        corrections.list_requests(actor, corrections.RequestStatus.OPEN)
        if actor.membership.can(Perm.CORRECT)
        else []
    )
    # The front desk sees who is planned and with whom, never the treatment, product or units
    # (DESIGN 3.4: no clinical detail).
    plans = [
        {
            "session": s,
            "patient": s.patient,
            "injector": s.injector.display_name if s.injector else "",
            **(_clinical_row(s) if can_chart else {}),
        }
        for s in day_plans(actor, day)
    ]
    return render(
        request,
        "web/today.html",
        {
            "day": day,
            "plans": plans,
            "due": due,
            "due_total": due_total,
            "due_within": DUE_WITHIN_WEEKS,
            "expiring": [
                {**row, "days_left": (row["lot"].expires_on - day).days}  # type: ignore[union-attr]
                for row in expiring
            ],
            "expiring_within": EXPIRING_WITHIN_DAYS,
            "recalled": inventory.recalled_lots(actor),
            "can_plan": actor.membership.can(Perm.PLAN_WRITE),
            # DESIGN 3.4: a nurse's sessions await her supervisors' co-signature; correction
            # requests wait for any prescriber.
            "co_sign_queue": [
                {
                    "session": item.session,
                    "why": item.why,
                    "indication": present.indication_short(item.session.indication),
                    "nurse": item.session.signed_by.display_name,  # type: ignore[union-attr]
                }
                for item in co_sign
            ],
            "correction_queue": [
                {
                    "request": r,
                    "indication": present.indication_short(r.session.indication),
                    "stale": corrections.stale(r),
                }
                for r in correction_requests
            ],
            "is_prescriber": actor.membership.can(Perm.CORRECT),
            "can_chart": can_chart,
            "nav": "today",
            **today_appointments(actor, day),  # issue 9: the appointment book feeds Today
        },
    )

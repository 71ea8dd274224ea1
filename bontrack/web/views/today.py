"""Today: the plans dated today, the patients due, lots expiring soon, open recalls."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.domain.catalog import catalog
from bontrack.inventory import services as inventory
from bontrack.treatments.due import DUE_WITHIN_DAYS, today_overview
from bontrack.web import present
from bontrack.web.access import clinic_view

EXPIRING_WITHIN_DAYS = 60


@clinic_view(Perm.DEMOGRAPHICS_READ)
def today(request: HttpRequest, actor: Actor) -> HttpResponse:
    day = present.clinic_today(actor.clinic.time_zone)
    overview = today_overview(actor, day, catalog().intervals)
    stock = inventory.stock(actor, day, EXPIRING_WITHIN_DAYS)
    expiring = [
        row for row in stock if (row["expiring_soon"] or row["expired"]) and not row["recalled"]
    ]
    due = [
        {
            "due": d,
            "patient": p,
            "overdue": d.days_overdue(day),
            "until": -d.days_overdue(day),
            "product": present.brand(d.product),
            "indication": present.indication_short(d.indication),
        }
        for d, p in overview.due
    ]
    plans = [
        {
            "session": s,
            "patient": s.patient,
            "indication": present.indication_short(s.indication),
            "product": present.brand(s.product),
            "units": s.check_result.get("total_units", ""),
            "verdict": s.check_result.get("verdict", ""),
            "injector": s.injector.display_name if s.injector else "",
        }
        for s in overview.plans
    ]
    return render(
        request,
        "web/today.html",
        {
            "day": day,
            "plans": plans,
            "due": due,
            "due_within": DUE_WITHIN_DAYS,
            "expiring": [
                {**row, "days_left": (row["lot"].expires_on - day).days}  # type: ignore[union-attr]
                for row in expiring
            ],
            "expiring_within": EXPIRING_WITHIN_DAYS,
            "recalled": inventory.recalled_lots(actor),
            "can_plan": actor.membership.can(Perm.PLAN_WRITE),
            "can_chart": actor.membership.can(Perm.CHART_READ),
            "nav": "today",
        },
    )

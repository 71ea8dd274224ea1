"""The admin for sessions and what is appended to them: read-only (DESIGN 3.4, written once)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from bontrack.audit.admin import PatientDataAdmin, ReadOnlyAdmin
from bontrack.treatments.models import FindingDecision, Injection, SessionEvent, TreatmentSession


class SessionPartAdmin(PatientDataAdmin, ReadOnlyAdmin):
    def patient_id_of(self, obj: Any) -> Any:
        return obj.session.patient_id


@admin.register(TreatmentSession)
class TreatmentSessionAdmin(PatientDataAdmin, ReadOnlyAdmin):
    object_type = "session"
    list_display = ("id", "clinic", "product", "indication", "plan_date", "signed_at")
    list_filter = ("product", "indication", "clinic")
    exclude = ("patient",)
    readonly_fields = ("patient_id",)


@admin.register(Injection)
class InjectionAdmin(SessionPartAdmin):
    object_type = "injection"
    list_display = ("session_id", "position", "site", "side", "units", "route")


@admin.register(SessionEvent)
class SessionEventAdmin(SessionPartAdmin):
    object_type = "session-event"
    list_display = ("session_id", "kind", "at", "by")
    list_filter = ("kind",)


@admin.register(FindingDecision)
class FindingDecisionAdmin(SessionPartAdmin):
    object_type = "finding-decision"
    list_display = ("session_id", "rule", "kind", "at", "by")
    list_filter = ("kind", "rule")

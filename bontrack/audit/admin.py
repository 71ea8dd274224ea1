"""The admin: read-only for the audit trail and the security log; helpers the other apps share.

Signed records and the audit trail are never changed in the admin (the database refuses it too).
Patient data shows only to a user who holds a membership with the right permission in the row's
clinic, and opening a row writes an audit read entry, as the API does (DESIGN 3.4).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from bontrack.accounts.models import Membership
from bontrack.accounts.permissions import Perm
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core.addresses import client_ip


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def memberships_with(request: HttpRequest, perm: Perm) -> list[Membership]:
    found = Membership.objects.select_related("user", "clinic").filter(
        user_id=request.user.pk, active=True
    )
    return [m for m in found if m.can(perm)]


class PatientDataAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows of the clinics where the user may ``read_perm``; opening one is audited."""

    read_perm = Perm.CHART_READ
    object_type = ""

    def patient_id_of(self, obj: Any) -> Any:
        return obj.patient_id

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        clinics = [m.clinic_id for m in memberships_with(request, self.read_perm)]
        return super().get_queryset(request).filter(clinic_id__in=clinics)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj: Model | None = self.get_object(request, unquote(object_id))
        if obj is not None and request.method == "GET":
            membership = next(
                m
                for m in memberships_with(request, self.read_perm)
                if m.clinic_id == obj.clinic_id  # type: ignore[attr-defined]
            )
            with clinical_transaction(Actor(membership, client_ip(request))) as trail:
                trail.record("read", self.object_type, obj.pk, self.patient_id_of(obj))
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("clinic", "seq", "at", "username", "action", "object_type", "patient_id")
    list_filter = ("action", "clinic")
    search_fields = ("username", "object_id")


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "kind", "username", "clinic_id", "address")
    list_filter = ("kind",)
    search_fields = ("username",)

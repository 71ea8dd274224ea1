"""The admin for patients: demographics only, saved through the service (validated, audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone

from bontrack.accounts.permissions import Perm
from bontrack.audit.admin import PatientDataAdmin, memberships_with
from bontrack.audit.services import Actor
from bontrack.core.addresses import client_ip
from bontrack.core.errors import ServiceError
from bontrack.patients.models import Patient
from bontrack.patients.services import DEMOGRAPHIC_FIELDS, update_patient


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
    read_perm = Perm.DEMOGRAPHICS_READ
    object_type = "patient"
    # The list shows no names: a page writes one audit entry per patient it shows (DESIGN 3.4).
    list_display = ("record_number", "clinic")
    search_fields = ("record_number",)
    # Demographics only: clinical values change through the app (front desk may not see them).
    fields = ("clinic", *DEMOGRAPHIC_FIELDS, "restricted")
    readonly_fields = ("clinic", "restricted")

    def patient_id_of(self, obj: Any) -> Any:
        return obj.pk

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # patients are registered through the app, which checks and audits

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_change_permission(request)
        return super().has_change_permission(request, obj) and any(
            m.clinic_id == obj.clinic_id for m in memberships_with(request, Perm.DEMOGRAPHICS_WRITE)
        )

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        membership = next(
            m
            for m in memberships_with(request, Perm.DEMOGRAPHICS_WRITE)
            if m.clinic_id == obj.clinic_id  # type: ignore[attr-defined]
        )
        values = {name: form.cleaned_data[name] for name in form.changed_data}
        if not values:
            return
        try:
            update_patient(
                Actor(membership, client_ip(request)), obj.pk, timezone.localdate(), **values
            )
        except ServiceError as refused:
            request.bontrack_refused = True  # type: ignore[attr-defined]
            self.message_user(
                request, f"Not saved: {refused.field}: {refused.message}", messages.ERROR
            )

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, "bontrack_refused", False):
            return None  # nothing was changed
        return super().log_change(request, obj, message)

    def message_user(self, request: HttpRequest, message: str, *args: Any, **kwargs: Any) -> None:
        level = args[0] if args else kwargs.get("level", messages.INFO)
        if level == messages.SUCCESS and getattr(request, "bontrack_refused", False):
            return  # the service refused the change: do not also say it was saved
        super().message_user(request, message, *args, **kwargs)

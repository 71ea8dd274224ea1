"""The admin for clinics and memberships (reference data: editable)."""

from __future__ import annotations

from django.contrib import admin

from bontrack.accounts.models import Clinic, Membership


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "time_zone", "created_at")
    search_fields = ("name",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "clinic", "role", "active")
    list_filter = ("role", "active", "clinic")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    filter_horizontal = ("supervisors",)

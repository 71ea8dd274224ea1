"""The admin for lots and vials: corrections only.

Lots are received through the API (that creates their vials and an audit entry), a recall goes
through the API (it lists who was exposed), and a vial's patient is set by signing: all of these
are read-only here, as are the product and vial size that dose arithmetic relies on.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from bontrack.inventory.models import Lot, Vial


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("product", "lot_number", "vial_size_units", "expires_on", "clinic")
    list_filter = ("product", "clinic")
    search_fields = ("lot_number",)
    readonly_fields = (
        "clinic",
        "product",
        "vial_size_units",
        "received_vials",
        "recalled_at",
        "recall_reason",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Vial)
class VialAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "lot", "reconstituted_at", "from_stock")
    list_filter = ("lot__product",)
    exclude = ("patient",)
    readonly_fields = ("clinic", "lot", "patient_id")
    raw_id_fields = ("reconstituted_by",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

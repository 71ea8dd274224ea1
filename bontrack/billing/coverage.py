"""Which coverage holds for a patient on a date (billing.md 7.7).

Coverage versions are appended: a correction is a newer version naming the one it replaces, which
then no longer counts. On a date, the coverage is the newest version still standing whose
validity (``valid_from`` to ``valid_to``, both included; no end: open) holds that date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import UUID

from django.db.models import QuerySet

from bontrack.billing.models import Coverage
from bontrack.core.scoping import not_replaced


def standing(clinic_id: UUID, patient_id: UUID) -> QuerySet[Coverage]:
    """The patient's coverage versions that no newer version replaces, newest first."""
    return (
        Coverage.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .filter(not_replaced(Coverage, "replaces"))
        .select_related("recorded_by__user")
        .order_by("-recorded_at", "-id")
    )


def coverage_on(clinic_id: UUID, patient_id: UUID, day: date) -> Coverage | None:
    return holding_on(standing(clinic_id, patient_id), day)


def standing_by_patient(clinic_id: UUID, patient_ids: Iterable[UUID]) -> dict[UUID, list[Coverage]]:
    """The standing versions of several patients at once (a claims file), newest first."""
    found: dict[UUID, list[Coverage]] = {}
    for row in (
        Coverage.objects.filter(clinic_id=clinic_id, patient_id__in=set(patient_ids))
        .filter(not_replaced(Coverage, "replaces"))
        .select_related("recorded_by__user")
        .order_by("-recorded_at", "-id")
    ):
        found.setdefault(row.patient_id, []).append(row)
    return found


def holding_on(versions: Iterable[Coverage], day: date) -> Coverage | None:
    """Of standing versions (newest first), the one that holds on ``day``."""
    return next(
        (v for v in versions if v.valid_from <= day and (v.valid_to is None or day <= v.valid_to)),
        None,
    )

"""Queries kept inside one clinic (DESIGN 3.6), for the ORM's joins and related managers.

A filter on the clinic of the main table does not constrain the tables a query joins or the
related rows it fetches: each one needs its own ``clinic_id`` condition, so that the statement
can be routed to the clinic's shard. These helpers add it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db import models
from django.db.models import Exists, OuterRef, Prefetch, Q


def clinic_of(rows: Iterable[Any]) -> UUID | None:
    """The one clinic of rows read together (None when there are none)."""
    clinics = {row.clinic_id for row in rows}
    if len(clinics) > 1:
        raise ValueError("rows of several clinics read as one clinic's")
    return next(iter(clinics), None)


def joined_in_clinic(
    model: type[models.Model], clinic_id: UUID | str, *paths: str
) -> dict[str, UUID | str]:
    """Filters that keep every table joined along ``paths`` (``"session__patient"``) in the
    clinic: one ``<path>__clinic_id`` per table on the way that has the column. A path stops at
    a nullable relation: filtering it would turn its outer join into an inner one and drop the
    rows without it (read such a relation with ``prefetch_in_clinic`` instead)."""
    filters: dict[str, UUID | str] = {}
    for path in paths:
        current: type[models.Model] = model
        walked: list[str] = []
        for name in path.split("__"):
            field = current._meta.get_field(name)
            related = field.related_model
            if not isinstance(related, type) or getattr(field, "null", False):
                break
            current = related
            walked.append(name)
            if any(
                getattr(f, "column", None) == "clinic_id" for f in current._meta.concrete_fields
            ):
                filters["__".join([*walked, "clinic_id"])] = clinic_id
    return filters


def in_clinic(
    rows: models.QuerySet[Any], clinic_id: UUID | str, *related: str
) -> models.QuerySet[Any]:
    """``rows`` of the clinic, with ``related`` joined (``select_related``) inside it too."""
    rows = rows.filter(clinic_id=clinic_id, **joined_in_clinic(rows.model, clinic_id, *related))
    return rows.select_related(*related) if related else rows


def prefetch_in_clinic(
    lookup: str, model: type[models.Model], clinic_id: UUID | str, **filters: Any
) -> Prefetch:
    """``prefetch_related(lookup)`` reading only the clinic's rows of ``model``."""
    return Prefetch(lookup, queryset=model._default_manager.filter(clinic_id=clinic_id, **filters))


def related_in_clinic(instance: Any, name: str) -> Any:
    """``instance.<name>.all()`` when prefetched (no statement), else the related manager's
    rows of the instance's clinic."""
    manager = getattr(instance, name)
    if name in getattr(instance, "_prefetched_objects_cache", {}):
        return manager.all()
    return manager.filter(clinic_id=instance.clinic_id)


def not_replaced(model: type[models.Model], link: str) -> Q:
    """Rows that no newer row of the same clinic names in ``link`` (``"replaces"``): the join
    of ``<reverse>__isnull=True`` as a subquery that stays inside the row's clinic."""
    newer = model._base_manager.filter(
        clinic_id=OuterRef("clinic_id"), **{f"{link}_id": OuterRef("pk")}
    )
    return ~Q(Exists(newer))


def save_in_clinic(instance: models.Model, update_fields: Iterable[str]) -> None:
    """``instance.save(update_fields=...)`` as an UPDATE that names the row's clinic too (a
    model's own ``save`` names its primary key alone). Fields that set themselves on save
    (``auto_now``) are set as ``save`` sets them."""
    model = type(instance)
    values = {}
    for name in update_fields:
        field = model._meta.get_field(name)
        values[field.attname] = field.pre_save(instance, False)  # type: ignore[union-attr]
    updated = model._base_manager.filter(
        clinic_id=instance.clinic_id,  # type: ignore[attr-defined]
        pk=instance.pk,
    ).update(**values)
    if updated != 1:
        raise model.DoesNotExist(f"{model.__name__} {instance.pk} is not in its clinic")  # type: ignore[attr-defined]


def related_row(instance: models.Model, name: str) -> Any:
    """``instance.<name>`` (a foreign key) as loaded with the instance, else read inside the
    instance's clinic (a plain attribute read looks the row up by its primary key alone)."""
    field = instance._meta.get_field(name)
    if field.is_cached(instance):  # type: ignore[union-attr]
        return getattr(instance, name)
    related_id = getattr(instance, field.attname)  # type: ignore[union-attr]
    if related_id is None:
        return None
    related = field.related_model
    row = related._base_manager.get(clinic_id=instance.clinic_id, pk=related_id)  # type: ignore[union-attr, attr-defined]
    setattr(instance, name, row)
    return row


class SavedInItsClinic(models.Model):
    """A tenant model whose ``save()`` of an existing row updates it by ``(clinic_id, id)``, not
    by its primary key alone, so that on a sharded database the UPDATE goes to one clinic."""

    class Meta:
        abstract = True

    def _do_update(  # type: ignore[no-untyped-def]
        self, base_qs, using, pk_val, values, update_fields, forced_update, *args, **kwargs
    ):
        in_its_clinic = base_qs.filter(clinic_id=self.clinic_id)  # type: ignore[attr-defined]
        return super()._do_update(  # type: ignore[misc]
            in_its_clinic, using, pk_val, values, update_fields, forced_update, *args, **kwargs
        )

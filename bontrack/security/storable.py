"""The last edge before the database: every row of bontrack's own models is checked as it is
saved (bontrack/core/fields.py), so that a text too long for its column, a NUL or a lone
surrogate reaching a save by any path (a page form, the CSV import, a service) is refused as a
422 naming the field, the same on both engines, and the transaction around it rolls back.
Request bodies are checked earlier, by the API schemas, with the same rules."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import pre_save

from bontrack.core.errors import ServiceError
from bontrack.core.fields import instance_problems


class UnstorableTextError(ServiceError):
    status = 422


def refuse_unstorable_text(sender: type[models.Model], instance: models.Model, **_: Any) -> None:
    if not sender.__module__.startswith("bontrack."):
        return
    for field, problem in instance_problems(instance):
        raise UnstorableTextError(field, problem)


def connect() -> None:
    pre_save.connect(refuse_unstorable_text, dispatch_uid="bontrack-storable-text")

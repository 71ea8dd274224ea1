"""What every edge checks of a text before it reaches the database, read from the models.

PostgreSQL refuses a value longer than its column and any text holding a NUL character, and
neither engine can store a lone UTF-16 surrogate (JSON may carry one: ``"\\ud800"``); SQLite
silently stores the over-long values. So the API schemas, the page forms, the CSV import and
the model saves all ask this module, which reads each field's ``max_length`` from the model
itself: one place, the same answer on both engines, a 422 or a form error naming the field
instead of a 500.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db import models


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """Why a text cannot be stored, or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    if max_length is not None and len(value) > max_length:
        return f"must be at most {max_length} characters (it has {len(value)})"
    return None


def nested_problems(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every text inside a value (lists and mappings, keys too) that cannot be stored."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield path, problem
    elif isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and text_problem(key):
                yield inner, f"key {text_problem(key)}"
            yield from nested_problems(item, inner)
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            yield from nested_problems(item, f"{path}[{n}]")


def max_length(model: type[models.Model], field_name: str) -> int | None:
    """The column's length limit, or None when the model has no such text field."""
    try:
        field = model._meta.get_field(field_name)
    except Exception:
        return None
    limit = getattr(field, "max_length", None)
    return limit if isinstance(limit, int) else None


def value_problems(
    model: type[models.Model], values: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """The problems of values meant for the model's fields, named by field."""
    for name, value in values.items():
        if isinstance(value, str):
            problem = text_problem(value, max_length(model, name))
            if problem:
                yield name, problem
        else:
            yield from nested_problems(value, name)


def instance_problems(instance: models.Model) -> Iterator[tuple[str, str]]:
    """The problems of a row about to be saved, named by field."""
    for field in instance._meta.concrete_fields:
        if isinstance(field, models.CharField | models.TextField | models.JSONField):
            value = getattr(instance, field.attname, None)
            if value is None:
                continue
            if isinstance(value, str):
                limit = field.max_length if isinstance(field, models.CharField) else None
                problem = text_problem(value, limit)
                if problem:
                    yield field.name, problem
            else:
                yield from nested_problems(value, field.name)

"""Reminder templates move from ``str.format`` placeholders (``{given_name}``) to Django's
template syntax (``{{ given_name }}``), rendered in a sandbox that reads nothing but the
placeholders (charting/services/reminders.py). Literal braces written ``{{``/``}}`` for
str.format become single braces."""

import re

from django.db import migrations

PLACEHOLDERS = ("given_name", "family_name", "indication", "due_date", "clinic")
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)\}")


def _converted(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        return "{{ " + name + " }}" if name in PLACEHOLDERS else token

    return _FIELD.sub(one, text)


def forwards(apps, schema_editor):
    ReminderTemplate = apps.get_model("charting", "ReminderTemplate")
    for template in ReminderTemplate.objects.all():
        subject, body = _converted(template.subject), _converted(template.body)
        if (subject, body) != (template.subject, template.body):
            ReminderTemplate.objects.filter(pk=template.pk).update(subject=subject, body=body)


_VARIABLE = re.compile(r"\{\{ (" + "|".join(PLACEHOLDERS) + r") \}\}")


def _formatted(text: str) -> str:
    parts = _VARIABLE.split(text)
    # split() alternates text and the captured field names.
    return "".join(
        "{" + part + "}" if n % 2 else part.replace("{", "{{").replace("}", "}}")
        for n, part in enumerate(parts)
    )


def backwards(apps, schema_editor):
    ReminderTemplate = apps.get_model("charting", "ReminderTemplate")
    for template in ReminderTemplate.objects.all():
        ReminderTemplate.objects.filter(pk=template.pk).update(
            subject=_formatted(template.subject), body=_formatted(template.body)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("charting", "0001_photos_consent_forms_saved_plans_appointments_reminders"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

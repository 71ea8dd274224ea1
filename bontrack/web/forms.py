"""Forms parse what the pages post; the services judge it (a form never holds a clinical rule)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from bontrack.domain.catalog import catalog
from bontrack.outcomes.models import OUTCOMES, RELATEDNESS, SEVERITIES, TIMEPOINTS

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def local_input(moment: datetime, tz: str) -> str:
    """A moment as a datetime-local input shows it, in the clinic's time zone."""
    return moment.astimezone(zoneinfo.ZoneInfo(tz)).strftime(DATETIME_LOCAL)


def parse_local(value: str, tz: str) -> datetime:
    """A datetime-local input's value, read in the clinic's time zone."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("give a date and time, e.g. 2026-11-25 09:30") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(tz))


def _choices(items: dict[str, Any], label: Any) -> list[tuple[str, str]]:
    return [(code, label(item)) for code, item in items.items()]


# What a clinician reads beside a field, in place of Django's own sentences ("Ensure this value
# is greater than or equal to 0.001."): short, lower case, saying what to give instead.
CLINICAL_MESSAGES = {
    "required": "fill this in",
    "invalid_choice": "pick one of the choices offered",
    "invalid_list": "pick from the choices offered",
    "min_value": "must be at least %(limit_value)s",
    "max_value": "must be at most %(limit_value)s",
    "step_size": "must be a multiple of %(limit_value)s",
    "max_digits": "is too long: at most %(max)s digits",
    "max_decimal_places": "has too many decimals: at most %(max)s after the point",
    "max_whole_digits": "is too large: at most %(max)s digits before the point",
    "max_length": "is too long: at most %(limit_value)d characters (this has %(show_value)d)",
    "min_length": "is too short: at least %(limit_value)d characters (this has %(show_value)d)",
    "missing": "choose a file",
    "empty": "the file chosen is empty",
    "contradiction": "choose a file or clear it, not both",
}
INVALID_MESSAGES: tuple[tuple[type[forms.Field], str], ...] = (
    (forms.DateTimeField, "give a date and time, e.g. 2026-11-25 09:30"),
    (forms.DateField, "give a date, e.g. 2026-11-25"),
    (forms.TimeField, "give a time, e.g. 09:30"),
    (forms.DecimalField, "give a number, e.g. 2.5"),
    (forms.FloatField, "give a number, e.g. 2.5"),
    (forms.IntegerField, "give a whole number, e.g. 3"),
    (forms.EmailField, "give an e-mail address, e.g. name@clinic.example"),
    (forms.UUIDField, "pick one of the choices offered"),
    (forms.FileField, "choose a file"),
)


def clinical_messages(field: forms.Field) -> dict[str, str]:
    """A field's error messages in clinical words; a field's own (``clinical_messages``
    attribute) win."""
    found = dict(CLINICAL_MESSAGES)
    for kind, words in INVALID_MESSAGES:
        if isinstance(field, kind):
            found["invalid"] = words
            break
    found.update(getattr(field, "clinical_messages", {}))
    return found


class ClinicalForm(forms.Form):
    """Every page form: Django's messages replaced by ``CLINICAL_MESSAGES``. The validators'
    messages (min_value, max_length) follow too: a field swaps a validator's message for its
    own of the same code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages.update(clinical_messages(field))


class UnitsField(forms.DecimalField):
    clinical_messages: ClassVar[dict[str, str]] = {
        "min_value": "give more than 0 U",
        "max_decimal_places": "give at most 3 decimals, e.g. 2.125",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 3)
        kwargs.setdefault("min_value", Decimal("0.001"))
        super().__init__(**kwargs)


class PointForm(ClinicalForm):
    units = UnitsField(label="Units")


class AddPointForm(ClinicalForm):
    site = forms.ChoiceField(choices=())
    side = forms.ChoiceField(
        choices=[
            ("left", "left"),
            ("right", "right"),
            ("both", "both sides"),
            ("midline", "midline"),
        ]
    )
    units = UnitsField(label="Units")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = _choices(catalog().sites, lambda s: s.name)


class DecisionForm(ClinicalForm):
    fingerprint = forms.CharField(max_length=64)
    kind = forms.ChoiceField(choices=[("acknowledge", "acknowledge"), ("override", "override")])
    reason = forms.CharField(required=False, max_length=2000)


class ConsentForm(ClinicalForm):
    indication = forms.ChoiceField(choices=())
    signed_on = forms.DateField()
    signed_by = forms.CharField(max_length=200)
    expires_on = forms.DateField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indication"].choices = _choices(catalog().indications, lambda i: i.name)


class AdverseEventForm(ClinicalForm):
    term = forms.ChoiceField(choices=())
    onset_date = forms.DateField()
    severity = forms.ChoiceField(choices=[(s, s) for s in SEVERITIES])
    serious = forms.BooleanField(required=False)
    relatedness = forms.ChoiceField(choices=[(r, r) for r in RELATEDNESS])
    outcome = forms.ChoiceField(choices=[(o, o) for o in OUTCOMES])
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["term"].choices = _choices(catalog().adverse_event_terms, lambda t: t.name)


class ReconstituteForm(ClinicalForm):
    diluent_ml = forms.DecimalField(max_digits=6, decimal_places=3, min_value=Decimal(0))


class RecallForm(ClinicalForm):
    reason = forms.CharField(max_length=2000)


class LotForm(ClinicalForm):
    product = forms.ChoiceField(choices=())
    lot_number = forms.CharField(max_length=64)
    vial_size_units = forms.DecimalField(max_digits=10, decimal_places=3)
    expires_on = forms.DateField()
    received_vials = forms.IntegerField(min_value=1, max_value=10000)
    # Left blank: the billing catalog's NDC for the product and vial size (billing.md 7.5).
    ndc = forms.CharField(max_length=13, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = _choices(
            catalog().products,
            lambda p: f"{p.brands[0]} ({p.code})" if p.brands else p.code,
        )


TIMEPOINT_WORDS = {
    "baseline": "baseline (before treatment)",
    "peak-effect": "peak effect",
    "before-reinjection": "before re-injection",
    "follow-up": "follow-up",
}


class AssessmentForm(ClinicalForm):
    """One result on a scale: a day, or a period (from, to). The service judges the value against
    the scale (range, steps, levels) and the scale against the indication."""

    indication = forms.CharField(max_length=64)
    scale = forms.CharField(max_length=64)
    timepoint = forms.ChoiceField(choices=[(t, TIMEPOINT_WORDS[t]) for t in TIMEPOINTS])
    assessed_on = forms.DateField(required=False)
    period_start = forms.DateField(required=False)
    period_end = forms.DateField(required=False)
    value = forms.CharField(max_length=32)
    muscle_group = forms.CharField(required=False, max_length=100)
    session_id = forms.UUIDField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("period_start")) != bool(data.get("period_end")):
            missing = "period_end" if data.get("period_start") else "period_start"
            raise ValidationError({missing: "give both ends of the period, or a single day"})
        return data


class WearOffForm(ClinicalForm):
    wore_off_on = forms.DateField()
    reported_on = forms.DateField(required=False)
    notes = forms.CharField(required=False, max_length=2000)


class DiaryForm(ClinicalForm):
    file = forms.FileField()
    mode = forms.ChoiceField(choices=[("dry-run", "dry run"), ("import", "import")])


def first_error(form: forms.Form) -> str:
    for field, errors in form.errors.items():
        name = "" if field == "__all__" else f"{field.replace('_', ' ')}: "
        return f"{name}{errors[0]}"
    return ""

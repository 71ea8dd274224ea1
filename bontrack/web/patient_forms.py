"""The registration and details form of a patient: parses what the page posts into the values
the patients service takes. The service judges them (codes, dates, the weight's range, a record
number already in use); the form only reads types and offers the catalog's codes."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from bontrack.domain.catalog import catalog
from bontrack.patients.models import CONTACT_METHODS, SEXES, Patient
from bontrack.patients.services import CLINICAL_FIELDS
from bontrack.web import present
from bontrack.web.forms import ClinicalForm

# An infected-site choice is "site" (every side) or "site:side".
SIDE_SEPARATOR = ":"


def _factor_choices(kind: str) -> list[tuple[str, str]]:
    return [(code, present.factor_name(kind, code)) for code in catalog().codes_of(kind)]


def _allergy_choices() -> list[tuple[str, str]]:
    products = [(code, present.factor_name("allergy", code)) for code in catalog().products]
    return products + _factor_choices("allergy")


def _infected_site_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """By body region: each site as a whole, then each of its left and right sides."""
    regions: dict[str, list[tuple[str, str]]] = {}
    for site in catalog().sites.values():
        options = regions.setdefault(site.region, [])
        options.append((site.code, site.name))
        for side in site.sides:
            if side in ("left", "right"):
                options.append((f"{site.code}{SIDE_SEPARATOR}{side}", f"{site.name}, {side}"))
    return sorted((region.capitalize(), options) for region, options in regions.items())


def infected_site_values(choices: list[str]) -> list[dict[str, str]]:
    values = []
    for choice in choices:
        site, _, side = choice.partition(SIDE_SEPARATOR)
        values.append({"site": site, "side": side} if side else {"site": site})
    return values


def infected_site_choices_of(patient: Patient) -> list[str]:
    return [
        f"{item['site']}{SIDE_SEPARATOR}{item['side']}" if item.get("side") else item["site"]
        for item in patient.infected_sites
    ]


class PatientForm(ClinicalForm):
    record_number = forms.CharField(max_length=40)
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    birth_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=[(s, s) for s in SEXES], initial="unknown")
    phone = forms.CharField(
        max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    email = forms.EmailField(required=False)
    address = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    contact_agreed = forms.BooleanField(required=False, label="Agrees to be contacted")
    contact_method = forms.ChoiceField(choices=[(m, m) for m in CONTACT_METHODS], initial="none")
    weight_kg = forms.DecimalField(
        max_digits=6, decimal_places=2, required=False, label="Weight (kg)"
    )
    weight_measured_on = forms.DateField(
        required=False,
        label="Weighed on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A new weight is dated today unless you give its date.",
    )
    pregnant = forms.BooleanField(required=False)
    breastfeeding = forms.BooleanField(required=False)
    conditions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    medications = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    allergies = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    infected_sites = forms.MultipleChoiceField(
        required=False,
        choices=(),
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Skin infection at or near an injection site; hold Ctrl or ⌘ to pick several.",
    )

    def __init__(self, *args: Any, clinical: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinical = clinical
        if not clinical:
            # Roles that record demographics only never see or send the clinical fields.
            for name in CLINICAL_FIELDS:
                del self.fields[name]
            return
        fields = self.fields
        fields["conditions"].choices = _factor_choices("condition")  # type: ignore[attr-defined]
        fields["medications"].choices = _factor_choices("drug")  # type: ignore[attr-defined]
        fields["allergies"].choices = _allergy_choices()  # type: ignore[attr-defined]
        fields["infected_sites"].choices = _infected_site_choices()  # type: ignore[attr-defined]

    @staticmethod
    def initial_of(patient: Patient) -> dict[str, Any]:
        initial = {name: getattr(patient, name) for name in PatientForm.base_fields}
        initial["infected_sites"] = infected_site_choices_of(patient)
        return initial

    def service_values(self, today: date, changed_only: bool) -> dict[str, Any]:
        """The values for the patients service: on an update only those the user changed. A new
        weight without its date is dated ``today`` (the clinic's date), so that an old date never
        passes for the new weight's."""
        names = self.changed_data if changed_only else list(self.fields)
        values = {name: self.cleaned_data[name] for name in names}
        for text in ("phone", "email", "address"):
            if text in values:
                values[text] = values[text].strip()
        if "infected_sites" in values:
            values["infected_sites"] = infected_site_values(values["infected_sites"])
        if values.get("weight_kg") is None:
            if "weight_kg" in values:
                values["weight_measured_on"] = None  # no weight, no date of one
        elif not (values.get("weight_measured_on") and "weight_measured_on" in self.changed_data):
            values["weight_measured_on"] = today
        return values


EXTERNAL_POINT_ROWS = 6


class ExternalDoseForm(ClinicalForm):
    """A dose given elsewhere, read from a letter or a discharge summary: the total, and each
    site's units when the document gives them."""

    given_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Given on")
    product = forms.ChoiceField(choices=())
    indication = forms.ChoiceField(choices=())
    units = forms.DecimalField(
        max_digits=12,
        decimal_places=3,
        required=False,
        label="Total units",
        help_text="Required when the sites are not known; otherwise the sites must add up to it.",
    )
    place = forms.CharField(max_length=200, label="Where it was given")
    source_document = forms.CharField(max_length=300, label="Read from (document)")
    notes = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cat = catalog()
        self.fields["product"].choices = [  # type: ignore[attr-defined]
            (code, present.product_name(code)) for code in cat.products
        ]
        self.fields["indication"].choices = [  # type: ignore[attr-defined]
            (code, i.name) for code, i in cat.indications.items()
        ] + [("other", "Other (outside the catalog, e.g. bladder)")]
        sites = [("", "—")] + [(code, s.name) for code, s in cat.sites.items()]
        sides = [("", "—"), ("left", "left"), ("right", "right"), ("midline", "midline")]
        for n in range(EXTERNAL_POINT_ROWS):
            self.fields[f"site_{n}"] = forms.ChoiceField(choices=sites, required=False)
            self.fields[f"side_{n}"] = forms.ChoiceField(choices=sides, required=False)
            self.fields[f"units_{n}"] = forms.DecimalField(
                max_digits=12, decimal_places=3, required=False
            )

    def point_rows(self) -> list[dict[str, Any]]:
        return [
            {"site": self[f"site_{n}"], "side": self[f"side_{n}"], "units": self[f"units_{n}"]}
            for n in range(EXTERNAL_POINT_ROWS)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for n in range(EXTERNAL_POINT_ROWS):
            site, units = data.get(f"site_{n}"), data.get(f"units_{n}")
            if site and units is None:
                self.add_error(f"units_{n}", "give this site's units")
            elif units is not None and not site:
                self.add_error(f"site_{n}", "choose the site of these units")
        return data

    def sites_given(self) -> list[tuple[int, str, str, Any]]:
        """(form row, site, side, units) of each row filled in."""
        data = self.cleaned_data
        return [
            (n, data[f"site_{n}"], data[f"side_{n}"], data[f"units_{n}"])
            for n in range(EXTERNAL_POINT_ROWS)
            if data.get(f"site_{n}")
        ]

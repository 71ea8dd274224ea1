"""Words and numbers for the pages: names from the catalog, units as the CLI writes them, dates and
times in the clinic's time zone. No clinical rule here: only how things are shown."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from bontrack.accounts.permissions import Role
from bontrack.domain.catalog import catalog
from bontrack.domain.units import format_decimal
from bontrack.patients.models import Patient
from bontrack.treatments.records import SessionStatus

SEVERITY_WORDS = {"block": "Block", "warn": "Warning", "info": "Information"}
VERDICT_WORDS = {
    "ok": "Nothing asks for attention",
    "warn": "Review the warnings before injecting",
    "block": "Blocked: this plan must not be given as it stands",
}
# A plan whose every block a prescriber overrode, or whose every warning was acknowledged, no
# longer says "Blocked": the findings stay listed with their decisions.
DECIDED_VERDICT_WORDS = {
    "block": "Every block was overridden by a prescriber: read the reasons before injecting",
    "warn": "Every warning was acknowledged",
}
GUIDANCE_WORDS = {
    "": "not recorded",
    "none": "none (anatomical landmarks)",
    "emg": "EMG",
    "electrical-stimulation": "electrical stimulation",
    "ultrasound": "ultrasound",
}
STATUS_WORDS = {
    SessionStatus.PLAN: "Plan",
    SessionStatus.CANCELLED: "Cancelled",
    SessionStatus.SIGNED: "Signed",
    SessionStatus.AWAITING_CO_SIGNATURE: "Signed, awaiting co-signature",
    SessionStatus.AMENDED: "Signed, amended",
    SessionStatus.ENTERED_IN_ERROR: "Entered in error",
}


ROLE_WORDS = {
    Role.CLINIC_ADMIN: "clinic administrator",
    Role.PRESCRIBER: "prescriber",
    Role.NURSE_INJECTOR: "nurse injector",
    Role.FRONT_DESK: "front desk",
    Role.AUDITOR: "auditor",
    Role.SYSTEM_CLIENT: "system client",
}


def role_words(code: str) -> str:
    return ROLE_WORDS.get(code, code)


def units(value: Decimal | str | int | None) -> str:
    if value is None or value == "":
        return ""
    return format_decimal(Decimal(value))


def product_name(code: str) -> str:
    product = catalog().products.get(code)
    if product is None:
        return code
    return f"{product.brands[0]} ({product.code})" if product.brands else product.code


def brand(code: str) -> str:
    product = catalog().products.get(code)
    return product.brands[0] if product is not None and product.brands else code


def indication_name(code: str) -> str:
    found = catalog().indications.get(code)
    return found.name if found is not None else code


def indication_short(code: str) -> str:
    """The name without its parenthesised detail, for lists: "Chronic migraine"."""
    return indication_name(code).split(" (")[0]


def protocol_name(code: str) -> str:
    found = catalog().protocols.get(code)
    return found.name if found is not None else code


def site_name(code: str) -> str:
    found = catalog().sites.get(code)
    return found.name if found is not None else code


def factor_name(kind: str, code: str) -> str:
    found = catalog().factor(kind, code)
    if found is not None:
        return found.name
    if kind == "allergy" and code in catalog().products:
        return f"{brand(code)} ({code})"
    return code


def clinic_zone(tz: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(tz)


def local(moment: datetime | None, tz: str) -> datetime | None:
    return moment.astimezone(clinic_zone(tz)) if moment is not None else None


def clinic_today(tz: str) -> date:
    return timezone.now().astimezone(clinic_zone(tz)).date()


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def patient_banner(patient: Patient, today: date, clinical: bool) -> dict[str, Any]:
    banner: dict[str, Any] = {
        "patient": patient,
        "name": f"{patient.given_name} {patient.family_name}",
        "age": age_on(patient.birth_date, today),
        "clinical": clinical,
    }
    if clinical:
        banner["risks"] = (
            [factor_name("condition", c) for c in patient.conditions]
            + [factor_name("drug", d) for d in patient.medications]
            + (["Pregnant"] if patient.pregnant else [])
            + (["Breastfeeding"] if patient.breastfeeding else [])
        )
        banner["allergies"] = [factor_name("allergy", a) for a in patient.allergies]
        banner["infected"] = [
            site_name(s["site"]) + (f" ({s['side']})" if s.get("side") else "")
            for s in patient.infected_sites
        ]
    return banner

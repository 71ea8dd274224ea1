"""The values a check reads: the plan, the patient, their history and the injector.

These are plain frozen values built at the edges (CLI, API, services) from validated input; the
domain trusts them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from bontrack.domain.units import Units

OTHER_INDICATION = "other"  # history only: a dose outside the catalog's indications (codes.md)


@dataclass(frozen=True, slots=True)
class Injection:
    """One injection point: a site on one side, with its dose and route."""

    site: str
    side: str
    units: Units
    route: str


@dataclass(frozen=True, slots=True)
class Vial:
    """A vial used for the plan. Each optional field's rule runs only when the field is given."""

    size: Units
    diluent_ml: Decimal | None = None
    reconstituted_at: dt.datetime | None = None
    lot: str | None = None
    lot_expires: dt.date | None = None
    recalled: bool | None = None
    # B.30: what earlier sessions already drew from the vial (``drawn_units``; none: 0), and
    # what this plan draws from it when the signer says so (records path; none: filled in).
    drawn_before: Units | None = None
    draw: Units | None = None
    # The vial's own id on the records path, so that a finding can name it to the signer.
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    date: dt.date
    product: str
    indication: str
    injections: tuple[Injection, ...]
    protocol: str | None = None
    vials: tuple[Vial, ...] = ()


@dataclass(frozen=True, slots=True)
class InfectedSite:
    site: str
    side: str | None = None  # None: every side of the site

    def covers(self, injection: Injection) -> bool:
        return self.site == injection.site and self.side in (None, injection.side)


@dataclass(frozen=True, slots=True)
class Patient:
    birth_date: dt.date
    weight_kg: Decimal | None = None
    weight_measured_on: dt.date | None = None
    sex: str = "unknown"
    pregnant: bool = False
    breastfeeding: bool = False
    conditions: tuple[str, ...] = ()
    medications: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    infected_sites: tuple[InfectedSite, ...] = ()

    def age_on(self, day: dt.date) -> int:
        """Completed years on ``day``."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def is_child_on(self, day: dt.date) -> bool:
        """B.9: under 18 on the plan date."""
        return self.age_on(day) < 18


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An earlier treatment: that session's total and, when known, its points."""

    date: dt.date
    product: str
    indication: str
    units: Units
    injections: tuple[Injection, ...] = ()
    # B.31: when the needle went in and who held it, where known, to name an earlier visit.
    administered_at: dt.datetime | None = None
    injector: str | None = None

    def days_before(self, day: dt.date) -> int:
        return (day - self.date).days


@dataclass(frozen=True, slots=True)
class Injector:
    credentials: tuple[str, ...]
    indications: tuple[str, ...]
    supervised_by: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The latest response verdict of one series (indication, scale, muscle group) of the patient
    (DESIGN 3.3 ``verdicts``, B.32); ``summary`` is one line such as "-18 % after 2 cycles"."""

    indication: str
    scale: str
    verdict: str
    as_of: dt.date
    summary: str
    source: str
    muscle_group: str | None = None

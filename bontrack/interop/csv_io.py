"""CSV: import patients and their treatment history from a spreadsheet; export sessions and
injections per clinic and period. The column layout is documented in ``docs/csv.md``.

Import: one row per injection (or per treatment when its sites are not known), the patient's
columns repeated on each row; a row whose treatment columns are all empty registers the patient
only. Rows of one patient, day, product, indication, place and source document make one treatment,
recorded as a dose given elsewhere (``treatments/external.py``), so that the checker counts it.
A dry run reports every bad row by line, column and reason and writes nothing; a real run refuses
the whole file while any row is bad, and otherwise records it in one transaction. Importing the
same file again adds nothing: a patient is found by record number (the names and birth date must
agree), a treatment by a key made from its rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bontrack.access import require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.core import csvfiles
from bontrack.core.errors import ServiceError
from bontrack.core.fields import max_length
from bontrack.core.scoping import prefetch_in_clinic
from bontrack.domain.catalog import catalog
from bontrack.patients.models import SEXES, Patient
from bontrack.patients.services import validate_patient_values
from bontrack.plan_input import MAX_DECIMALS, MAX_UNITS, MAX_YEAR, MIN_YEAR, has_at_most_decimals
from bontrack.treatments.external import (
    OTHER_INDICATION,
    ExternalDose,
    clinic_today,
    validate_external,
    write_external,
)
from bontrack.treatments.models import Injection, SessionEvent, TreatmentSession
from bontrack.treatments.records import current_points, status_of, total_units
from bontrack.treatments.services import PointInput, lock_patient

PATIENT_COLUMNS = (
    "record_number",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "phone",
    "email",
)
DOSE_COLUMNS = (
    "date",
    "product",
    "indication",
    "units",
    "site",
    "side",
    "route",
    "place",
    "source_document",
)
COLUMNS = PATIENT_COLUMNS + DOSE_COLUMNS
REQUIRED = ("record_number", "given_name", "family_name", "birth_date")
MAX_BYTES = 5_000_000
MAX_ROWS = 50_000
# ASCII digits only: date.fromisoformat and the database read no others (\d would admit "٢").
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# The longest text each column's database field holds: a longer cell is refused, not cut.
TEXT_LIMITS = {
    **{
        name: max_length(Patient, name)
        for name in ("record_number", "given_name", "family_name", "phone", "email")
    },
    "place": max_length(TreatmentSession, "source_place"),
    "source_document": max_length(TreatmentSession, "source_document"),
}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str


@dataclass
class ImportResult:
    dry_run: bool
    rows: int
    patients_created: int = 0
    patients_found: int = 0
    doses_created: int = 0
    doses_found: int = 0
    errors: list[RowError] = field(default_factory=list)


class CsvRefusedError(ServiceError):
    """A real run of a file with bad rows: nothing was recorded."""

    status = 422

    def __init__(self, result: ImportResult) -> None:
        super().__init__(None, f"{len(result.errors)} bad rows: nothing was imported")
        self.result = result


def _header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]


@dataclass
class _Patient:
    line: int
    record_number: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    phone: str
    email: str


@dataclass
class _Dose:
    record_number: str
    lines: list[int]
    day: date
    product: str
    indication: str
    place: str
    source_document: str
    total: Decimal | None = None
    points: list[PointInput] = field(default_factory=list)


def _read(content: bytes, errors: list[RowError]) -> Iterator[_Row]:
    if len(content) > MAX_BYTES:
        errors.append(RowError(0, None, f"the file is larger than {MAX_BYTES:,} bytes"))
        return
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(RowError(0, None, "the file is not UTF-8 text"))
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        errors.append(RowError(1, None, f"the header cannot be read as CSV: {error}"))
        return
    if header is None:
        errors.append(RowError(1, None, "the file is empty: a header line is required"))
        return
    names = [_header(h) for h in header]
    missing = [c for c in (*REQUIRED, "date", "product", "indication", "units") if c not in names]
    for column in missing:
        errors.append(RowError(1, column, "this column is missing from the header"))
    unknown = [h for h, n in zip(header, names, strict=True) if n not in COLUMNS and n]
    for column in unknown:
        errors.append(RowError(1, column, f"unknown column (the columns are {', '.join(COLUMNS)})"))
    repeated = [h for n, h in enumerate(header) if names[n] and names[n] in names[:n]]
    for column in repeated:
        errors.append(RowError(1, column, "is in the header twice: which cell counts is unclear"))
    if missing or unknown or repeated:
        return
    for n in itertools.count():
        # A quoted cell may span lines: a row is named by the line it starts on.
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader starts afresh on the next line: the rows after this one are checked too.
            errors.append(RowError(line, None, f"cannot be read as CSV: {error}"))
            if reader.line_num < line:  # nothing read: it would fail again on the same line
                return
            continue
        if n >= MAX_ROWS:
            errors.append(RowError(line, None, f"at most {MAX_ROWS:,} rows"))
            return
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            errors.append(RowError(line, None, f"has {len(cells)} cells, the header {len(names)}"))
            continue
        values = {name: cell.strip() for name, cell in zip(names, cells, strict=True)}
        # No database text field holds a NUL: such a file is binary or UTF-16, not a spreadsheet.
        binary = [name for name, cell in values.items() if "\x00" in cell]
        for name in binary:
            errors.append(
                RowError(line, name or None, "contains a NUL character: is the file UTF-8?")
            )
        if not binary:
            yield _Row(line, values)


def _day(row: _Row, column: str, errors: list[RowError]) -> date | None:
    text = row.values.get(column, "")
    if not ISO_DATE.fullmatch(text):
        errors.append(RowError(row.line, column, "must be a date YYYY-MM-DD"))
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors.append(RowError(row.line, column, "is not a real date"))
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors.append(
            RowError(row.line, column, f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
        )
        return None
    return day


def _refuse_too_long(row: _Row, columns: tuple[str, ...], errors: list[RowError]) -> None:
    for column in columns:
        limit = TEXT_LIMITS.get(column)
        if limit is not None and len(row.values.get(column, "")) > limit:
            errors.append(RowError(row.line, column, f"is longer than {limit} characters"))


def _read_units(row: _Row, errors: list[RowError]) -> Decimal | None:
    text = row.values["units"]
    try:
        # Decimal() alone would also read NaN, Infinity, "1_000" and other scripts' digits.
        units = Decimal(text) if PLAIN_NUMBER.fullmatch(text) else None
    except InvalidOperation:  # an exponent beyond Decimal's range
        units = None
    if units is None:
        errors.append(RowError(row.line, "units", "must be a number"))
    elif units <= 0:
        errors.append(RowError(row.line, "units", "must be greater than 0"))
    elif units > MAX_UNITS:
        errors.append(RowError(row.line, "units", f"must be at most {MAX_UNITS:,} U"))
    elif not has_at_most_decimals(units, MAX_DECIMALS):
        errors.append(RowError(row.line, "units", f"must have at most {MAX_DECIMALS} decimals"))
    else:
        return units
    return None


def _parse(
    content: bytes, today: date
) -> tuple[int, dict[str, _Patient], list[_Dose], list[RowError]]:
    cat = catalog()
    errors: list[RowError] = []
    patients: dict[str, _Patient] = {}
    doses: dict[tuple[Any, ...], _Dose] = {}
    rows = 0
    for row in _read(content, errors):
        rows += 1
        v = row.values
        bad = len(errors)
        for column in REQUIRED:
            if not v.get(column):
                errors.append(RowError(row.line, column, "is required"))
        _refuse_too_long(row, PATIENT_COLUMNS, errors)
        birth = _day(row, "birth_date", errors) if v.get("birth_date") else None
        sex = v.get("sex", "").lower() or "unknown"
        if sex not in SEXES:
            errors.append(RowError(row.line, "sex", f"must be one of {', '.join(SEXES)}"))
        if len(errors) == bad and birth is not None:
            try:
                validate_patient_values({"birth_date": birth, "sex": sex}, today)
            except ServiceError as error:
                errors.append(RowError(row.line, error.field, error.message))
        if len(errors) == bad and birth is not None:
            person = _Patient(
                row.line,
                v["record_number"],
                v["given_name"],
                v["family_name"],
                birth,
                sex,
                v.get("phone", ""),
                v.get("email", ""),
            )
            seen = patients.setdefault(person.record_number, person)
            if (seen.given_name, seen.family_name, seen.birth_date) != (
                person.given_name,
                person.family_name,
                person.birth_date,
            ):
                errors.append(
                    RowError(
                        row.line,
                        "record_number",
                        f"{person.record_number} names another person on line {seen.line}",
                    )
                )
        dose_cells = [c for c in DOSE_COLUMNS if v.get(c)]
        if not dose_cells:
            continue  # the patient only
        bad = len(errors)
        for column in ("date", "product", "indication", "units", "place", "source_document"):
            if not v.get(column):
                errors.append(RowError(row.line, column, "is required for a treatment row"))
        _refuse_too_long(row, DOSE_COLUMNS, errors)
        day = _day(row, "date", errors) if v.get("date") else None
        if day is not None and day > today:
            errors.append(RowError(row.line, "date", "is in the future"))
        if day is not None and birth is not None and day < birth:
            errors.append(RowError(row.line, "date", "is before the patient's birth"))
        product = v.get("product", "")
        if product and product not in cat.products:
            errors.append(RowError(row.line, "product", f"unknown product code {product!r}"))
        indication = v.get("indication", "")
        if indication and indication != OTHER_INDICATION and indication not in cat.indications:
            errors.append(
                RowError(row.line, "indication", f"unknown indication code {indication!r}")
            )
        units = _read_units(row, errors) if v.get("units") else None
        site, side, route = v.get("site", ""), v.get("side", "").lower(), v.get("route", "")
        if site:
            found = cat.sites.get(site)
            if found is None:
                errors.append(RowError(row.line, "site", f"unknown site code {site!r}"))
            elif side not in found.sides:
                errors.append(
                    RowError(row.line, "side", f"{site} is injected {' or '.join(found.sides)}")
                )
            if route and route not in cat.routes:
                errors.append(RowError(row.line, "route", f"unknown route {route!r}"))
        elif side or route:
            errors.append(RowError(row.line, "site", "a side or route needs its site"))
        if len(errors) != bad or day is None or units is None:
            continue
        key = (v["record_number"], day, product, indication, v["place"], v["source_document"])
        dose = doses.setdefault(
            key,
            _Dose(
                v["record_number"], [], day, product, indication, v["place"], v["source_document"]
            ),
        )
        if (site and dose.total is not None) or (not site and (dose.points or dose.total)):
            errors.append(
                RowError(
                    row.line,
                    "site",
                    f"line {dose.lines[0]} records the same treatment: its rows either each name "
                    "a site, or it is one row with the total",
                )
            )
            continue
        dose.lines.append(row.line)
        if site:
            dose.points.append(PointInput(site, side, units, route or None))
        else:
            dose.total = units
    return rows, patients, list(doses.values()), errors


def _key(record_number: str, dose: _Dose) -> str:
    points = sorted(f"{p.site}|{p.side}|{p.units.normalize()}|{p.route or ''}" for p in dose.points)
    basis = "|".join(
        [
            "csv",
            record_number,
            dose.day.isoformat(),
            dose.product,
            dose.indication,
            dose.place,
            dose.source_document,
            str(dose.total.normalize()) if dose.total is not None else "",
            *points,
        ]
    )
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def import_csv(actor: Actor, content: bytes, *, dry_run: bool = False) -> ImportResult:
    """Import (or, with ``dry_run``, only check) a spreadsheet of patients and their history."""
    require(actor, Perm.DEMOGRAPHICS_WRITE)
    require(actor, Perm.SIGN)
    today = clinic_today(actor)
    rows, people, doses, errors = _parse(content, today)
    result = ImportResult(dry_run, rows, errors=errors)
    clinic_id = actor.membership.clinic_id
    existing = {
        p.record_number: p
        for p in Patient.objects.filter(clinic_id=clinic_id, record_number__in=list(people))
    }
    for number, person in people.items():
        found = existing.get(number)
        if found is not None and (
            found.given_name,
            found.family_name,
            found.birth_date,
        ) != (person.given_name, person.family_name, person.birth_date):
            errors.append(
                RowError(
                    person.line,
                    "record_number",
                    f"{number} belongs to another patient of this clinic (the names or the birth "
                    "date differ)",
                )
            )
    checked: list[tuple[_Dose, ExternalDose, list[PointInput]]] = []
    for dose in doses:
        external = ExternalDose(
            given_on=dose.day,
            product=dose.product,
            indication=dose.indication,
            place=dose.place,
            source_document=dose.source_document,
            units=dose.total,
            injections=tuple(dose.points),
            key=_key(dose.record_number, dose),
        )
        try:
            checked.append((dose, external, validate_external(external, today)))
        except ServiceError as error:
            column = (error.field or "").split(".")[-1].split("[")[0] or None
            errors.append(RowError(dose.lines[0], column, error.message))
    errors.sort(key=lambda e: (e.line, e.column or ""))
    if errors and not dry_run:
        raise CsvRefusedError(result)
    keys = set(
        TreatmentSession.objects.filter(
            clinic_id=clinic_id, external=True, external_key__in=[e.key for _, e, _ in checked]
        ).values_list("external_key", flat=True)
    )
    result.patients_found = sum(1 for n in people if n in existing)
    result.patients_created = len(people) - result.patients_found
    result.doses_found = sum(1 for _, e, _ in checked if e.key in keys)
    result.doses_created = len(checked) - result.doses_found
    if dry_run:
        with clinical_transaction(actor) as trail:
            trail.record("read", "csv-import", "", None, dry_run=True, rows=rows)
        return result
    with clinical_transaction(actor) as trail:
        patients = dict(existing)
        for number, person in people.items():
            if number in patients:
                continue
            patient = Patient.objects.create(
                clinic_id=clinic_id,
                record_number=number,
                given_name=person.given_name,
                family_name=person.family_name,
                birth_date=person.birth_date,
                sex=person.sex,
                phone=person.phone,
                email=person.email,
            )
            trail.record("create", "patient", patient.id, patient.id, via="csv-import")
            patients[number] = patient
        for dose, external, points in checked:
            patient = patients[dose.record_number]
            lock_patient(patient.clinic_id, patient.id)
            write_external(actor, trail, patient, external, points)
    return result


# --- Export ------------------------------------------------------------------------------------

SESSION_COLUMNS = (
    "session_id", "record_number", "date", "status", "product", "indication", "protocol",
    "total_units", "points", "injector", "external", "place", "source_document", "signed_at",
    "digest",
)  # fmt: skip
INJECTION_COLUMNS = (
    "session_id", "record_number", "date", "status", "product", "indication", "position", "site",
    "side", "units", "route", "external",
)  # fmt: skip


def _units(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def export_csv(actor: Actor, kind: str, start: date, end: date) -> str:
    """The clinic's sessions (or their injections, as amended) from ``start`` to ``end``: plans
    and cancelled plans are left out. One export entry per patient on the audit trail."""
    require(actor, Perm.CHART_READ)
    if kind not in ("sessions", "injections"):
        raise ServiceError("kind", "must be sessions or injections")
    if end < start:
        raise ServiceError("end", "is before start")
    out = io.StringIO()
    writer = csvfiles.writer(out, lineterminator="\n")
    writer.writerow(SESSION_COLUMNS if kind == "sessions" else INJECTION_COLUMNS)
    with clinical_transaction(actor) as trail:
        rows = (
            TreatmentSession.objects.filter(
                clinic_id=actor.membership.clinic_id,
                signed_at__isnull=False,
                plan_date__gte=start,
                plan_date__lte=end,
                patient__restricted=False,
                patient__clinic_id=actor.membership.clinic_id,
            )
            .select_related("patient", "injector__user")
            .prefetch_related(
                prefetch_in_clinic("injections", Injection, actor.membership.clinic_id),
                prefetch_in_clinic("events", SessionEvent, actor.membership.clinic_id),
            )
            .order_by("plan_date", "created_at")
        )
        shown: set[Any] = set()
        for s in rows.iterator(chunk_size=500):
            events = list(s.events.all())
            status = status_of(s, events)
            points = current_points(s, events)
            shown.add(s.patient_id)
            common = [str(s.id), s.patient.record_number, s.plan_date.isoformat(), status]
            if kind == "sessions":
                writer.writerow(
                    [
                        *common,
                        s.product,
                        s.indication,
                        s.protocol,
                        _units(total_units(points)),
                        len([p for p in points if p.site]),
                        s.injector.display_name if s.injector else "",
                        "yes" if s.external else "no",
                        s.source_place,
                        s.source_document,
                        s.signed_at.isoformat() if s.signed_at else "",
                        s.digest,
                    ]
                )
            else:
                for n, p in enumerate(points, start=1):
                    writer.writerow(
                        [
                            *common,
                            s.product,
                            s.indication,
                            n,
                            p.site,
                            p.side,
                            _units(p.units),
                            p.route,
                            "yes" if s.external else "no",
                        ]
                    )
        for patient_id in sorted(shown, key=str):
            trail.record(
                "export",
                f"{kind}-csv",
                "",
                patient_id,
                start=start.isoformat(),
                end=end.isoformat(),
            )
    return out.getvalue()


def export_filename(kind: str, start: date, end: date) -> str:
    return f"bontrack-{kind}-{start.isoformat()}-{end.isoformat()}.csv"

"""Fuzz the CSV import of patients and their history (docs/csv.md).

Whatever the file holds, `import_csv` answers with its result (a dry run, or a clean real run) or
refuses the whole real run with `CsvRefusedError`; nothing else leaves it. Every error has a
message and names where it is: its line (0 for the file as a whole) and, for a cell, its column.
A real run is all or nothing: refused, it writes no row and no audit entry, and it refuses exactly
the errors its dry run reported; accepted, it writes what its dry run announced, with one audit
entry per patient created and two (create, sign) per dose, and importing the file again adds
nothing. A dry run writes its one read entry on the audit trail and nothing else. The HTTP route
answers 200 or a 4xx in the API's one error shape, never a 500.

Two kinds of input: arbitrary bytes (with the pieces that trouble CSV readers: NUL, byte-order
marks, lone quotes, CR-only line ends, invalid UTF-8, a field over the csv module's size limit),
and files with the real columns (restyled, reordered, some dropped, duplicated or unknown) whose
cells are drawn from valid and hostile values, some rows of the wrong length. Each example runs in
a savepoint that is rolled back, so that every example starts from the same clinic. The number of
examples comes from the profile in tests/conftest.py (`make fuzz` runs more).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bontrack.audit.models import AuditEntry
from bontrack.audit.services import Actor
from bontrack.domain.catalog import catalog
from bontrack.interop import csv_io
from bontrack.patients.models import Patient
from bontrack.treatments.models import Injection, TreatmentSession
from tests import builders, csv_fuzz
from tests.csv_fuzz import OVER_CSV_FIELD_LIMIT, rolled_back
from tests.interop.test_csv import Desk

pytestmark = pytest.mark.django_db

# Django's db fixtures are function-scoped: the examples share one clinic, each in a savepoint.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

CATALOG = catalog()
SITES = sorted(CATALOG.sites)
HEADER_REQUIRED = (
    "record_number", "given_name", "family_name", "birth_date", "date", "product", "indication",
    "units",
)  # fmt: skip
HEADER_OPTIONAL = tuple(c for c in csv_io.COLUMNS if c not in HEADER_REQUIRED)

# (record number, given name, family name, birth date). The first is the fixture's patient, the
# second another person under the same record number.
PEOPLE = (
    ("BT-1", "Alex", "Doe", "1980-05-01"),
    ("BT-1", "Alexa", "Doe", "1980-05-01"),
    ("BT-100", "Ana", "Lima", "1975-03-02"),
    ("BT-101", "Ben", "Okafor", "1990-11-30"),
    ('=HYPERLINK("http://x")', "Zoë", "O'Brien-Ñúñez", "2001-02-28"),
)
HOSTILE = (
    "", " ", "\t", "\u00a0", "\u200b", "\ufeff",
    "=1+1", "=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(A1)", "\t=1",
    "0", "-0", "-5", "0E-7", "1e3", "1E+999999", "1E-999999", "9" * 40, "0.0001", "12.5000",
    "1_000", "NaN", "-NaN", "sNaN", "Infinity", "-inf", "١٢", "１２", "½", "²",
    "2026-02-30", "2026-13-01", "2026-00-10", "0001-01-01", "1899-12-31", "9999-12-31",
    "2026-1-1", "20260101", "01/02/2026", "2026-01-01T10:00", "٢٠٢٦-٠١-٠١", "２０２６-０１-０１",
    "unknown-code", "BOTOX", "Left", "RIGHT", "both", "ONABOTULINUMTOXINA", "Other",
    "R" * 41, "x" * 301, "a\x00b", "\x00", "line\nbreak", "cr\ronly", 'quote"inside', '"', ",",
    "名前", "\U0001f489", "y" * OVER_CSV_FIELD_LIMIT,
)  # fmt: skip
hostile_cells = (
    st.sampled_from(HOSTILE)
    | st.text(max_size=20)
    | st.decimals().map(str)
    | st.integers().map(str)
    | st.dates().map(date.isoformat)
)


def clinic_today() -> date:
    return datetime.now(UTC).date()  # the fixture's clinic keeps UTC


def days_ago(n: int) -> str:
    return (clinic_today() - timedelta(days=n)).isoformat()


# --- Files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    written: str  # as the header writes it
    name: str | None  # the import's column, None for an unknown one


def _styled(name: str, style: int) -> str:
    if style == 1:
        return name.replace("_", " ").title()
    if style == 2:
        return f" {name.replace('_', '-').upper()} "
    return name


@st.composite
def headers(draw: st.DrawFn) -> list[Column]:
    optional = draw(st.lists(st.sampled_from(HEADER_OPTIONAL), unique=True))
    names = draw(st.permutations([*HEADER_REQUIRED, *optional]))
    columns = [Column(_styled(n, draw(st.integers(0, 2))), n) for n in names]
    for _ in range(draw(st.integers(0, 2))):
        damage = draw(st.sampled_from(["drop", "duplicate", "unknown", "blank"]))
        if damage == "drop" and columns:
            columns.pop(draw(st.integers(0, len(columns) - 1)))
        elif damage == "duplicate" and columns:
            columns.append(draw(st.sampled_from(columns)))
        elif damage == "unknown":
            columns.append(Column(draw(st.sampled_from(["notes", "Units (U)", "x"])), None))
        else:
            columns.append(Column("", None))
    return columns


@st.composite
def valid_rows(draw: st.DrawFn) -> dict[str, str]:
    """One row of a valid file: a patient alone, a treatment's total, or one of its sites."""
    record, given, family, born = draw(st.sampled_from(PEOPLE))
    row = {
        "record_number": record,
        "given_name": given,
        "family_name": family,
        "birth_date": born,
        "sex": draw(st.sampled_from(["", "female", "Male", "other", "unknown"])),
        "phone": draw(st.sampled_from(["", "+44 20 7946 0000"])),
        "email": draw(st.sampled_from(["", "ana@example.org"])),
    }
    kind = draw(st.sampled_from(["patient", "total", "site"]))
    if kind == "patient":
        return row
    row |= {
        # Few days, products and places, so that rows often fall into one treatment.
        "date": days_ago(draw(st.sampled_from([10, 40, 200]))),
        "product": draw(st.sampled_from(["onabotulinumtoxinA", "abobotulinumtoxinA"])),
        "indication": draw(st.sampled_from(["cervical-dystonia", "chronic-migraine", "other"])),
        "units": draw(st.sampled_from(["5", "2.5", "100", "0.125", "2.5000", "1E+2"])),
        "place": draw(st.sampled_from(["Old clinic", "Hôpital Nord"])),
        "source_document": "EHR export",
    }
    if kind == "site":
        site = CATALOG.sites[draw(st.sampled_from(SITES))]
        row |= {
            "site": site.code,
            "side": draw(st.sampled_from(site.sides)),
            "route": draw(st.sampled_from(["", *CATALOG.routes])),
        }
    return row


@st.composite
def spreadsheets(draw: st.DrawFn) -> bytes:
    """A file with the real columns: valid rows, some cells replaced by hostile values, some rows
    cut short or lengthened, written with any line ending, with or without a byte-order mark."""
    columns = draw(headers())
    rows = [
        [row.get(c.name, "") if c.name else "" for c in columns]
        for row in draw(st.lists(valid_rows(), max_size=6))
    ]
    if rows and columns:
        for _ in range(draw(st.integers(0, 3))):
            cells = rows[draw(st.integers(0, len(rows) - 1))]
            cells[draw(st.integers(0, len(cells) - 1))] = draw(hostile_cells)
        for _ in range(draw(st.integers(0, 1))):
            cells = rows[draw(st.integers(0, len(rows) - 1))]
            if draw(st.booleans()):
                del cells[draw(st.integers(0, len(cells) - 1)) :]
            else:
                cells.append(draw(hostile_cells))
    out = io.StringIO()
    writer = csv.writer(
        out,
        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
    )
    writer.writerow([c.written for c in columns])
    writer.writerows(rows)
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return bom + out.getvalue().encode()


HEADER_LINE = b"record_number,given_name,family_name,birth_date,date,product,indication,units\n"
raw_files = csv_fuzz.raw_files(HEADER_LINE, b"BT-1,Alex,Doe,1980-05-01,,,,\n", b"=1+1", b'BT-1,"Al')


# --- What every import must keep -----------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "sessions": TreatmentSession.objects.count(),
        "injections": Injection.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def last_seq() -> int:
    head = AuditEntry.objects.order_by("-seq").first()
    return head.seq if head else 0


def physical_lines(content: bytes) -> int:
    text = content.decode("utf-8-sig", errors="replace")
    return max(1, len(io.StringIO(text, newline="").readlines()))


def assert_located(errors: list[csv_io.RowError], content: bytes) -> None:
    """Each error has a message and names where it is: the file (line 0), the header (line 1,
    the column concerned), or a row by its line and, for a cell, its column."""
    last_line = physical_lines(content)
    for error in errors:
        assert isinstance(error.message, str), error
        assert error.message.strip(), error
        if error.line == 0:
            assert error.column is None, error
            assert "file" in error.message, error
            continue
        assert 1 <= error.line <= last_line, (error, last_line)
        if error.line > 1:
            assert error.column is None or error.column in csv_io.COLUMNS, error
    assert errors == sorted(errors, key=lambda e: (e.line, e.column or ""))


def import_and_check(actor: Actor, content: bytes) -> csv_io.ImportResult:
    """A dry run, then the real run, then the real run again, each held to docs/csv.md."""
    before, seq = counts(), last_seq()
    dry = csv_io.import_csv(actor, content, dry_run=True)
    assert dry.dry_run is True
    assert_located(dry.errors, content)
    assert counts() == {**before, "audit": before["audit"] + 1}
    entry = AuditEntry.objects.get(seq=seq + 1)
    assert (entry.action, entry.object_type, entry.detail) == (
        "read",
        "csv-import",
        {"dry_run": True, "rows": dry.rows},
    )
    before, seq = counts(), last_seq()
    if dry.errors:
        with pytest.raises(csv_io.CsvRefusedError) as refused:
            csv_io.import_csv(actor, content)
        assert refused.value.result.errors == dry.errors
        assert refused.value.status == 422
        assert counts() == before
        return dry
    done = csv_io.import_csv(actor, content)
    announced = (dry.patients_created, dry.patients_found, dry.doses_created, dry.doses_found)
    assert (done.patients_created, done.patients_found, done.doses_created, done.doses_found) == (
        announced
    )
    after = counts()
    assert after["patients"] == before["patients"] + done.patients_created
    assert after["sessions"] == before["sessions"] + done.doses_created
    assert after["injections"] >= before["injections"] + done.doses_created
    written = Counter(
        (e.action, e.object_type, e.detail.get("via", ""))
        for e in AuditEntry.objects.filter(seq__gt=seq)
    )
    expected = {
        ("create", "patient", "csv-import"): done.patients_created,
        ("create", "session", ""): done.doses_created,
        ("sign", "session", ""): done.doses_created,
    }
    assert written == Counter({k: n for k, n in expected.items() if n})
    again = csv_io.import_csv(actor, content)
    assert (again.patients_created, again.doses_created) == (0, 0)
    assert again.patients_found == done.patients_found + done.patients_created
    assert again.doses_found == done.doses_found + done.doses_created
    assert counts() == after
    return done


@pytest.fixture
def clinic(db: None) -> builders.Staff:
    s = builders.staff()
    builders.patient(s, "BT-1")  # Alex Doe, born 1980-05-01: found by the files that name him
    return s


@FUZZ
@given(content=raw_files)
def test_any_bytes_are_refused_by_line_or_imported_never_raised(clinic, content):
    with rolled_back():
        import_and_check(clinic.actor("physician"), content)


# On PostgreSQL too: it refuses what SQLite stores (a NUL, text longer than its field).
@pytest.mark.postgres(sqlite=True)
@FUZZ
@given(content=spreadsheets())
def test_a_file_of_the_real_columns_with_hostile_cells_is_all_or_nothing(clinic, content):
    with rolled_back():
        import_and_check(clinic.actor("nurse"), content)


def test_the_generated_files_are_often_clean():
    """The properties above are only as good as the files: a good share must import cleanly, or
    the real run and the second import would go untested."""
    found: list[bool] = []

    @settings(max_examples=100, database=None)
    @given(rows=st.lists(valid_rows(), min_size=1, max_size=6))
    def clean(rows: list[dict[str, str]]) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=csv_io.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _, _, _, errors = csv_io._parse(text.getvalue().encode(), clinic_today())
        found.append(not errors)

    clean()
    assert sum(found) >= len(found) // 4, f"{sum(found)} clean of {len(found)}"


# --- Through HTTP ------------------------------------------------------------------------------

upload_names = st.sampled_from(["history.csv", "", "../../etc/passwd", "名前.csv", "x" * 300])
content_types = st.sampled_from(["text/csv", "application/octet-stream", "image/png", ""])


@st.composite
def upload_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A multipart body: the file under its field (or another), or none at all."""
    content = draw(raw_files | spreadsheets())
    field = draw(st.sampled_from(["file", "file", "file", "document", None]))
    query = draw(st.sampled_from(["", "?dry_run=true", "?dry_run=maybe", "?dry_run=1&dry_run=0"]))
    body: dict[str, Any] = {}
    if field is not None:
        upload = SimpleUploadedFile(draw(upload_names) or "x", content, draw(content_types))
        body[field] = upload if draw(st.integers(0, 4)) else content.decode("latin-1")
    return f"/api/v1/imports/csv{query}", body


@pytest.fixture
def desk(db: None) -> Desk:
    return Desk()


@FUZZ
@given(upload=upload_bodies())
def test_the_upload_route_answers_2xx_or_4xx_in_the_one_error_shape(desk, upload):
    url, body = upload
    with rolled_back():
        before = counts()
        response = desk.http.post(url, body, **desk.auth)
        assert response.status_code < 500, response.content[:500]
        payload = response.json()
        if response.status_code == 200:
            assert set(payload) == {
                "dry_run", "rows", "patients_created", "patients_found", "doses_created",
                "doses_found", "errors",
            }  # fmt: skip
            for error in payload["errors"]:
                assert set(error) == {"line", "column", "message"}
                assert error["message"].strip()
            assert not (payload["errors"] and not payload["dry_run"])
            return
        assert 400 <= response.status_code < 500
        assert set(payload) == {"errors"}, payload
        assert payload["errors"], payload
        for error in payload["errors"]:
            assert set(error) == {"field", "message"}
            assert error["field"] is None or isinstance(error["field"], str)
            assert isinstance(error["message"], str)
            assert error["message"].strip()
        if response.status_code == 422 and isinstance(body.get("file"), SimpleUploadedFile):
            for error in payload["errors"]:
                assert error["field"].startswith(("line ", "file", "dry_run")), error
        assert {k: v for k, v in counts().items() if k != "audit"} == {
            k: v for k, v in before.items() if k != "audit"
        }


# --- Inputs the fuzz found (or can find) that raised, answered 500 or were misread ------------

FULL_HEADER = ",".join(csv_io.COLUMNS) + "\n"


def sheet(*rows: dict[str, str]) -> bytes:
    """A file of every column, the cells not given left empty (NUL and all written as given)."""
    lines = [",".join(row.get(c, "") for c in csv_io.COLUMNS) for row in rows]
    return (FULL_HEADER + "".join(f"{line}\n" for line in lines)).encode()


def person(record: str = "BT-2", **cells: str) -> dict[str, str]:
    return {
        "record_number": record,
        "given_name": "Al",
        "family_name": "Doe",
        "birth_date": "1980-01-01",
        **cells,
    }


def dose(record: str = "BT-2", **cells: str) -> dict[str, str]:
    treatment = {
        "date": days_ago(30),
        "product": "onabotulinumtoxinA",
        "indication": "cervical-dystonia",
        "units": "100",
        "place": "Old clinic",
        "source_document": "Letter",
    }
    return person(record, **(treatment | cells))


def dry_run_errors(s: builders.Staff, content: bytes) -> list[tuple[int, str | None, str]]:
    result = csv_io.import_csv(s.actor("physician"), content, dry_run=True)
    return [(e.line, e.column, e.message) for e in result.errors]


def test_a_cell_over_the_csv_modules_size_limit_is_reported_by_its_line(clinic):
    """Raised `_csv.Error: field larger than field limit` (a 500 through the API)."""
    content = sheet(person("BT-2"), person("BT-3", family_name="y" * OVER_CSV_FIELD_LIMIT))
    assert dry_run_errors(clinic, content) == [
        (3, None, "cannot be read as CSV: field larger than field limit (131072)")
    ]
    with pytest.raises(csv_io.CsvRefusedError):
        csv_io.import_csv(clinic.actor("physician"), content)
    assert not Patient.objects.filter(record_number="BT-2").exists()


def test_the_upload_route_refuses_a_cell_over_the_size_limit_with_422(desk):
    content = sheet(person("BT-3", family_name="y" * OVER_CSV_FIELD_LIMIT))
    response = desk.upload(content)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "line 2",
            "message": "cannot be read as CSV: field larger than field limit (131072)",
        }
    ]


def test_a_file_that_is_not_utf8_is_named_as_the_file_not_as_line_0(desk):
    response = desk.upload(b"record_number\xff\n")
    assert response.status_code == 422
    assert response.json() == {
        "errors": [{"field": "file", "message": "the file is not UTF-8 text"}]
    }


def test_a_row_whose_lone_quote_runs_on_is_named_by_the_line_it_starts_on(clinic):
    """Was named by the last line the quote swallowed."""
    content = FULL_HEADER.encode() + b'BT-2,"Al,Doe,1980-01-01\nBT-3,Bo,Doe,1980-01-01\n'
    assert dry_run_errors(clinic, content) == [(2, None, "has 2 cells, the header 16")]


def test_a_column_twice_in_the_header_is_refused_not_read_from_its_last_cell(clinic):
    """The second `units` silently replaced the first."""
    content = sheet(dose()).replace(b"source_document\n", b"source_document,Units\n", 1)
    content = content.replace(b"Letter\n", b"Letter,1000\n")
    assert dry_run_errors(clinic, content) == [
        (1, "Units", "is in the header twice: which cell counts is unclear")
    ]


@pytest.mark.parametrize(
    ("birth_date", "message"),
    [
        ("١٩٨٠-٠١-٠١", "must be a date YYYY-MM-DD"),  # was "is not a real date"
        ("１９８０-０１-０１", "must be a date YYYY-MM-DD"),
        ("0001-01-01", "must be between the years 1900 and 2999"),  # was accepted
        ("1899-12-31", "must be between the years 1900 and 2999"),
    ],
)
def test_a_date_in_other_digits_or_outside_the_apis_years_is_refused_as_such(
    clinic, birth_date, message
):
    assert dry_run_errors(clinic, sheet(person(birth_date=birth_date))) == [
        (2, "birth_date", message)
    ]


@pytest.mark.parametrize(
    "units",
    [
        "NaN",  # was "must be greater than 0"
        "-Infinity",
        "1_000",  # was read as 1000 U
        "١٢",  # was read as 12 U
        "１２",
        "1e9999999999999999999",
    ],
)
def test_units_that_are_not_a_plain_number_are_refused_as_not_a_number(clinic, units):
    assert dry_run_errors(clinic, sheet(dose(units=units))) == [(2, "units", "must be a number")]


def test_units_with_trailing_zeros_count_their_real_decimals_as_the_checker_does(clinic):
    """2.5000 has one decimal (plan_input.has_at_most_decimals); it was refused as four."""
    result = csv_io.import_csv(clinic.actor("physician"), sheet(dose(units="2.5000")))
    assert result.doses_created == 1
    [given] = Injection.objects.filter(session__patient__record_number="BT-2")
    assert str(given.units.normalize()) == "2.5"


@pytest.mark.postgres(sqlite=True)
def test_text_longer_than_its_field_or_holding_a_nul_is_refused_before_anything_is_written(
    clinic,
):
    """PostgreSQL refused both in the real run (a 500); SQLite stored them, past the limits."""
    longest = dose(
        "R" * 40, given_name="G" * 100, place="P" * 200, source_document="S" * 300
    )  # each at its field's limit
    too_long = [
        person("R" * 41),
        person(given_name="G" * 101),
        person("BT-4", family_name="F" * 101),
        person("BT-5", phone="1" * 41),
        dose("BT-6", place="P" * 201),
        dose("BT-7", source_document="S" * 301),
        person("BT-8", given_name="A\x00l"),
    ]
    assert dry_run_errors(clinic, sheet(longest, *too_long)) == [
        (3, "record_number", "is longer than 40 characters"),
        (4, "given_name", "is longer than 100 characters"),
        (5, "family_name", "is longer than 100 characters"),
        (6, "phone", "is longer than 40 characters"),
        (7, "place", "is longer than 200 characters"),
        (8, "source_document", "is longer than 300 characters"),
        (9, "given_name", "contains a NUL character: is the file UTF-8?"),
    ]
    with pytest.raises(csv_io.CsvRefusedError):
        csv_io.import_csv(clinic.actor("physician"), sheet(longest, *too_long))
    assert Patient.objects.count() == 1  # the fixture's
    done = csv_io.import_csv(clinic.actor("physician"), sheet(longest))
    assert (done.patients_created, done.doses_created) == (1, 1)
    stored = TreatmentSession.objects.get(patient__record_number="R" * 40)
    assert (stored.source_place, stored.source_document) == ("P" * 200, "S" * 300)

"""Fuzz the headache diary import (`bontrack/outcomes/diary.py`, `services.import_diary`).

The diary is imported row by row, not all or nothing: a bad row is reported by its line, column
and reason and left out, the good rows are kept and counted. A file that is not a diary at all
(not UTF-8, no header, a column missing, too large) raises `ServiceError` on the field `file` and
writes nothing, not even an audit entry. Nothing else may leave the import, whatever the bytes.

For every file: a dry run stores nothing and writes one read entry; the real run reports the same
rows and periods as its dry run, stores exactly the periods it calls created or updated (only
complete months, and 28-day windows the diary covers day by day) with one audit entry each (or
one read entry when nothing changed); importing the file again changes nothing. A row the fuzz
left untouched whose date no other row repeats is never reported.

Two kinds of input: arbitrary bytes (with NUL, byte-order marks, lone quotes, CR-only line ends,
invalid UTF-8, a field over the csv module's size limit), and diaries of consecutive days with the
real columns (restyled, reordered, some dropped, duplicated or unknown) whose cells are replaced by
hostile values, rows repeated, dropped, cut short or lengthened. Each example runs in a savepoint
that is rolled back. The number of examples comes from the profile in tests/conftest.py (`make
fuzz` runs more).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bontrack.api.auth import issue_token
from bontrack.audit.models import AuditEntry
from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.outcomes import diary
from bontrack.outcomes import services as followup
from bontrack.outcomes.models import Assessment
from bontrack.patients.models import Patient
from tests import builders, csv_fuzz
from tests.csv_fuzz import OVER_CSV_FIELD_LIMIT, rolled_back
from tests.services.followup import migraine_patient

pytestmark = pytest.mark.django_db

# Django's db fixtures are function-scoped: the examples share one patient, each in a savepoint.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HOSTILE = (
    "", " ", "\t", "\u00a0", "\ufeff", "yes", "YES", "Y", "n", "True", "1", "0", "2", "-1", "oui",
    "24", "24.00", "24.001", "25", "0.5", "1.255", "1e1", "1E+999999", "1E-999999", "-0", "NaN",
    "sNaN", "Infinity", "-inf", "١", "１", "½", "1_0", "2026-02-30", "2026-13-01", "0001-01-01",
    "1899-12-31", "9999-12-31", "2026-1-1", "20260101", "01/02/2026", "٢٠٢٦-٠١-٠١",
    "２０２６-０１-０１", "=1+1", "=cmd|' /C calc'!A0", "+SUM(A1)", "@SUM(A1)", "a\x00b", "\x00",
    "line\nbreak", "cr\ronly", 'quote"inside', '"', ",", "x" * 300, "y" * OVER_CSV_FIELD_LIMIT,
)  # fmt: skip
hostile_cells = (
    st.sampled_from(HOSTILE)
    | st.text(max_size=12)
    | st.decimals().map(str)
    | st.integers().map(str)
    | st.dates().map(date.isoformat)
)


def clinic_today() -> date:
    return datetime.now(UTC).date()  # the fixture's clinic keeps UTC


# --- Files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    written: str  # as the header writes it
    name: str | None  # the diary's column, None for one the import ignores


@dataclass(frozen=True)
class DiaryFile:
    content: bytes
    untouched: dict[int, dict[str, str]]  # line → cells of each row left as generated: valid,
    # unless another row gives its date
    dates: Counter[str]  # each row's date cell, stripped as the import strips it


def _styled(name: str, style: int) -> str:
    if style == 1:
        return name.replace("_", " ").title()
    if style == 2:
        return f" {name.replace('_', '-').upper()} "
    return name


@st.composite
def headers(draw: st.DrawFn) -> list[Column]:
    names = draw(st.permutations(diary.COLUMNS))
    columns = [Column(_styled(n, draw(st.integers(0, 2))), n) for n in names]
    for _ in range(draw(st.integers(0, 2))):
        damage = draw(st.sampled_from(["drop", "duplicate", "unknown", "unknown", "blank"]))
        if damage == "drop":
            columns.pop(draw(st.integers(0, len(columns) - 1)))
        elif damage == "duplicate" and columns:
            columns.insert(draw(st.integers(0, len(columns))), draw(st.sampled_from(columns)))
        elif damage == "unknown":
            columns.append(Column(draw(st.sampled_from(["notes", "Triggers", "x"])), None))
        else:
            columns.append(Column("", None))
    return columns


@st.composite
def diary_days(draw: st.DrawFn, day: date) -> dict[str, str]:
    headache = draw(st.booleans())
    migraine = headache and draw(st.booleans())
    yes = st.sampled_from([*sorted(diary.YES), "Yes", "Y", "TRUE"])
    no = st.sampled_from([*sorted(diary.NO), "No", "N", "FALSE"])
    if headache:
        hours = draw(st.sampled_from(["", "0.5", "3", "24", "12.25", "2.500", "1E+1"]))
    else:
        hours = draw(st.sampled_from(["", "0", "0.00"]))
    return {
        "date": day.isoformat(),
        "headache": draw(yes if headache else no),
        "migraine": draw(yes if migraine else no),
        "hours": hours,
        "acute_medication": draw(yes | no),
    }


@st.composite
def diaries(draw: st.DrawFn) -> DiaryFile:
    """Consecutive days up to yesterday at the latest, with damage. The lines and cells of the
    rows left as generated are known, so that the test can say each is kept as written."""
    columns = draw(headers())
    yesterday = clinic_today() - timedelta(days=1)
    start = yesterday - timedelta(days=draw(st.integers(0, 160)))
    length = draw(st.integers(0, min(70, (yesterday - start).days + 1)))
    # (left as generated, the cells by column)
    rows = [(True, draw(diary_days(start + timedelta(days=n)))) for n in range(length)]
    for _ in range(draw(st.integers(0, 4))):
        if not rows:
            break
        n = draw(st.integers(0, len(rows) - 1))
        damage = draw(st.sampled_from(["cell", "cell", "repeat", "drop"]))
        if damage == "cell":
            column = draw(st.sampled_from(diary.COLUMNS))
            rows[n] = (False, {**rows[n][1], column: draw(hostile_cells)})
        elif damage == "repeat":
            rows.insert(draw(st.integers(0, len(rows))), (False, dict(rows[n][1])))
        else:
            del rows[n]
    lines = [[cells.get(c.name, "") if c.name else "" for c in columns] for _, cells in rows]
    untouched_rows = [ok for ok, _ in rows]
    if lines and draw(st.booleans()):
        n = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            del lines[n][draw(st.integers(0, len(columns))) :]
        else:
            lines[n].append(draw(hostile_cells))
        untouched_rows[n] = False
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))

    def written(cells: list[str]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator=terminator, quoting=quoting).writerow(cells)
        return out.getvalue()

    text = written([c.written for c in columns])
    untouched = {}
    for ok, (_, cells), row in zip(untouched_rows, rows, lines, strict=True):
        first_line = physical_lines(text.encode()) + 1
        text += written(row)
        if ok:
            untouched[first_line] = cells
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return DiaryFile(
        (bom + text).encode(),
        untouched,
        Counter(cells.get("date", "").strip() for _, cells in rows),
    )


HEADER_LINE = b"date,headache,migraine,hours,acute_medication\n"
raw_files = csv_fuzz.raw_files(
    HEADER_LINE, b"2026-03-01,yes,no,2,no\n", b"2026-03-01,yes,no", b'"2026'
)


# --- What every import must keep -----------------------------------------------------------------


def counts() -> tuple[int, int]:
    return Assessment.objects.count(), AuditEntry.objects.count()


def last_seq() -> int:
    head = AuditEntry.objects.order_by("-seq").first()
    return head.seq if head else 0


def physical_lines(content: bytes) -> int:
    text = content.decode("utf-8-sig", errors="replace")
    return len(io.StringIO(text, newline="").readlines())


def assert_located(errors: list[diary.RowError], content: bytes) -> None:
    """Each error has a message and names its row by line (the header is line 1) and, for a
    cell, its column."""
    last_line = physical_lines(content)
    for error in errors:
        assert isinstance(error.message, str), error
        assert error.message.strip(), error
        assert 2 <= error.line <= last_line, (error, last_line)
        assert error.column is None or error.column in diary.COLUMNS, error
    assert [e.line for e in errors] == sorted(e.line for e in errors)


def import_and_check(actor: Actor, patient: Patient, content: bytes) -> followup.DiaryImport | None:
    """A dry run, the real run and the real run again, each held to the import's contract."""
    before, seq = counts(), last_seq()
    refusal: ServiceError | None = None
    try:
        dry = followup.import_diary(actor, patient.id, content, dry_run=True)
    except ServiceError as refused:
        refusal = refused
    if refusal is not None:
        assert (refusal.field, refusal.status) == ("file", 400)
        assert refusal.message.strip()
        assert counts() == before
        with pytest.raises(ServiceError) as again:
            followup.import_diary(actor, patient.id, content)
        assert (again.value.field, again.value.message) == ("file", refusal.message)
        assert counts() == before
        return None
    assert dry.dry_run is True
    assert_located(dry.errors, content)
    # Each row read is kept or reported (on the line it starts on), never dropped unsaid.
    assert dry.rows_kept + len({e.line for e in dry.errors}) == dry.rows
    assert counts() == (before[0], before[1] + 1)
    entry = AuditEntry.objects.get(seq=seq + 1)
    assert (entry.action, entry.object_type, entry.detail) == (
        "read",
        "diary-import",
        {"dry_run": True, "rows": dry.rows},
    )
    assert dry.rows_kept <= dry.rows
    for month in dry.months:
        assert bool(month.skipped) != (month.recorded_days == month.total_days), month
    stored_months = sorted(p.start for p in dry.periods if p.scale == diary.MONTH_SCALE)
    assert stored_months == sorted(
        date.fromisoformat(f"{m.month}-01") for m in dry.months if not m.skipped
    )

    before, seq = counts(), last_seq()
    done = followup.import_diary(actor, patient.id, content)
    assert (done.rows, done.rows_kept, done.errors, done.months) == (
        dry.rows,
        dry.rows_kept,
        dry.errors,
        dry.months,
    )
    assert done.periods == dry.periods
    assert counts()[0] == before[0] + done.count("created")
    for period in done.periods:
        stored = Assessment.objects.get(
            patient=patient, scale=period.scale, period_start=period.start, period_end=period.end
        )
        assert (stored.value_number, stored.timepoint, stored.session_id) == (
            period.value,
            period.timepoint,
            period.session_id,
        )
    written = Counter((e.action, e.object_type) for e in AuditEntry.objects.filter(seq__gt=seq))
    if done.count("created") or done.count("updated"):
        expected = {
            ("create", "assessment"): done.count("created"),
            ("update", "assessment"): done.count("updated"),
        }
        assert written == Counter({k: n for k, n in expected.items() if n})
    else:
        assert written == Counter({("read", "diary-import"): 1})

    before = counts()
    again = followup.import_diary(actor, patient.id, content)
    assert again.count("created") == again.count("updated") == 0
    assert again.count("unchanged") == len(done.periods)
    assert counts() == (before[0], before[1] + 1)
    return done


@pytest.fixture
def migraine(db: None) -> tuple[builders.Staff, Patient]:
    """A chronic-migraine patient with PREEMPT cycles 10 and 4 weeks ago: the diaries below
    cover their 28-day windows, wholly or in part."""
    s = builders.staff()
    lot = builders.lot(s, vials=10)
    return s, migraine_patient(s, lot, "P-1", weeks_ago=(10, 4)).patient


@FUZZ
@given(content=raw_files)
def test_any_bytes_are_reported_by_line_or_refused_whole_never_raised(migraine, content):
    s, patient = migraine
    with rolled_back():
        import_and_check(s.actor("nurse"), patient, content)


@FUZZ
@given(file=diaries())
def test_a_damaged_diary_keeps_its_good_rows_and_stores_exactly_what_it_reports(migraine, file):
    s, patient = migraine
    with rolled_back():
        result = import_and_check(s.actor("physician"), patient, file.content)
    if result is None:  # refused whole: the header lacks a column or names one twice
        return
    reported = {e.line for e in result.errors}
    kept = diary.parse_diary(file.content, clinic_today()).days
    for line, cells in file.untouched.items():
        if file.dates[cells["date"]] > 1:
            continue
        assert line not in reported, (line, cells, result.errors)
        day = kept[date.fromisoformat(cells["date"])]
        assert (day.headache, day.migraine, day.acute_medication) == tuple(
            cells[c].lower() in diary.YES for c in ("headache", "migraine", "acute_medication")
        )
        assert day.hours == (Decimal(cells["hours"]) if cells["hours"] else None)


# --- Through HTTP ------------------------------------------------------------------------------


@FUZZ
@given(content=raw_files | diaries().map(lambda file: file.content), dry_run=st.booleans())
def test_the_diary_route_answers_200_or_400_in_the_one_error_shape(migraine, content, dry_run):
    s, patient = migraine
    with rolled_back():
        token = issue_token(s.nurse, "diary", 1)[1]
        before = counts()[0]
        response = Client().post(
            f"/api/v1/patients/{patient.id}/diary{'?dry_run=true' if dry_run else ''}",
            {"file": SimpleUploadedFile("diary.csv", content, "text/csv")},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code in (200, 400), response.content[:500]
        body = response.json()
        if response.status_code == 400:
            [error] = body["errors"]
            assert error["field"] == "file"
            assert error["message"].strip()
            assert counts()[0] == before
            return
        assert body["dry_run"] is dry_run
        assert body["rows"] == body["rows_kept"] + len({e["line"] for e in body["errors"]})
        for error in body["errors"]:
            assert set(error) == {"line", "column", "message"}
            assert error["message"].strip()
        stored = body["created"] if not dry_run else 0
        assert counts()[0] == before + stored


# --- Inputs the fuzz found (or can find) that were dropped unsaid or misreported ---------------

TODAY = date(2026, 11, 25)


def parsed(
    *rows: str, header: str = "date,headache,migraine,hours,acute_medication"
) -> diary.Diary:
    return diary.parse_diary("".join(f"{line}\n" for line in (header, *rows)).encode(), TODAY)


def found(result: diary.Diary) -> list[tuple[int, str | None, str]]:
    return [(e.line, e.column, e.message) for e in result.errors]


def test_a_cell_over_the_csv_modules_size_limit_is_reported_and_the_rows_after_it_kept():
    """Reading stopped at the unreadable row: the good rows after it were dropped unsaid."""
    result = parsed(
        "2026-03-01,yes,no,2,no",
        f"2026-03-02,yes,no,2,{'y' * OVER_CSV_FIELD_LIMIT}",
        "2026-03-03,no,no,,no",
    )
    assert found(result) == [
        (3, None, "cannot be read as CSV: field larger than field limit (131072)")
    ]
    assert sorted(result.days) == [date(2026, 3, 1), date(2026, 3, 3)]
    assert result.rows == 3


def test_a_row_whose_lone_quote_runs_on_is_named_by_the_line_it_starts_on():
    """Was named by the last line the quote swallowed."""
    result = parsed('2026-03-01,"yes,no,2,no', "2026-03-02,yes,no,2,no")
    assert found(result)[0][0] == 2


@pytest.mark.parametrize("written", ["٢٠٢٦-٠٣-٠١", "２０２６-０３-０１"])
def test_a_date_in_other_digits_is_refused_as_not_yyyy_mm_dd(written):
    """Was "is not a real date"."""
    assert found(parsed(f"{written},yes,no,2,no")) == [
        (2, "date", f"must be a date written YYYY-MM-DD, not {written!r}")
    ]


@pytest.mark.parametrize(
    "hours",
    [
        "NaN",  # was "must be between 0 and 24 hours"
        "Infinity",
        "١",  # was read as 1 hour
        "1_0",  # was read as 10 hours
        "1e9999999999999999999",
    ],
)
def test_hours_that_are_not_a_plain_number_are_refused_as_not_a_number(hours):
    assert found(parsed(f"2026-03-01,yes,no,{hours},no")) == [
        (2, "hours", f"must be a number of hours, not {hours!r}")
    ]


def test_hours_with_trailing_zeros_count_their_real_decimals():
    """2.500 has one decimal; it was refused as three."""
    result = parsed("2026-03-01,yes,no,2.500,no")
    assert result.errors == []
    assert result.days[date(2026, 3, 1)].hours == Decimal("2.5")


def test_a_column_named_twice_refuses_the_file_rather_than_reading_one_of_them():
    """The second `headache` was ignored without a word."""
    with pytest.raises(ServiceError) as refused:
        parsed(
            "2026-03-01,no,no,,no,yes",
            header="date,headache,migraine,hours,acute_medication,Headache",
        )
    assert (refused.value.field, refused.value.message) == (
        "file",
        "the header has headache twice: which of the cells counts is unclear",
    )

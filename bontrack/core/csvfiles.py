"""The one CSV writer of every export, and the one way to name a downloaded file.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (``=HYPERLINK(...)`` in a record number would run when the file is opened): every
such cell is written with a leading single quote (OWASP "CSV injection"). Cells are always quoted
when they hold a separator, a quote or a line break, as the csv module does.

A file name reaches the ``Content-Disposition`` header: a record number holding CR, LF or a
quote must neither break the header (Django refuses a header with a newline: a 500) nor inject
another one, so the ASCII name keeps only safe characters and the full name travels in the
RFC 6266 / RFC 5987 ``filename*`` form, percent-encoded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def cell(value: Any) -> str:
    """A value as a CSV cell: text a spreadsheet would run as a formula gets a leading '."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """``csv.writer`` with every cell passed through ``cell``: the only writer exports use."""

    def __init__(self, out: Any, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any, lineterminator: str = "\r\n") -> SafeWriter:
    """A writer to ``out`` (a text stream or an HttpResponse); lines end with CRLF (RFC 4180)
    unless told otherwise."""
    return SafeWriter(out, lineterminator)


def csv_text(
    header: Sequence[str], rows: Iterable[Iterable[Any]], lineterminator: str = "\r\n"
) -> str:
    out = io.StringIO()
    w = writer(out, lineterminator)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def safe_filename(name: str, fallback: str = "download") -> str:
    """The name reduced to letters, digits, dots, hyphens and underscores (no leading dot)."""
    cleaned = _UNSAFE_NAME.sub("-", name).strip("-.")
    return cleaned or fallback


def content_disposition(name: str, kind: str = "attachment") -> str:
    """A ``Content-Disposition`` value that no character of ``name`` can break."""
    ascii_name = safe_filename(name)
    encoded = quote(name.encode("utf-8", "replace"), safe="")
    if encoded == ascii_name:
        return f'{kind}; filename="{ascii_name}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


def csv_response(
    filename: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> HttpResponse:
    """A CSV download through the one writer: formula cells quoted, a file name that no record
    number can break, never cached."""
    response = HttpResponse(csv_text(columns, rows), content_type=MEDIA_TYPE)
    response["Content-Disposition"] = content_disposition(filename)
    response["Cache-Control"] = "no-store"
    return response

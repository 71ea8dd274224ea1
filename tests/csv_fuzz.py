"""What the CSV fuzzers share: hostile bytes built around an import's own header and rows, and
a savepoint that rolls each example back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from hypothesis import strategies as st

OVER_CSV_FIELD_LIMIT = 140_000  # the csv module refuses a field over 131,072 characters

# Encodings, line ends, quotes and separators that break a naive reader.
HOSTILE_PIECES = (
    b"\x00", b"\xef\xbb\xbf", b'"', b"\r", b"\n", b"\r\n", b",", b" ", b"\xff", b"\xc3",
    "é".encode(), b"z" * OVER_CSV_FIELD_LIMIT,
)  # fmt: skip


def raw_files(*own_pieces: bytes) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, or the hostile pieces and an import's own lines strung together."""
    pieces = (*HOSTILE_PIECES, *own_pieces)
    return st.binary(max_size=300) | st.lists(
        st.sampled_from(pieces) | st.binary(max_size=20), max_size=12
    ).map(b"".join)


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)

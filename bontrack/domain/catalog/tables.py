"""One table of a packaged TOML data file, read field by field.

Each field read is marked used, ``done()`` refuses a field nobody read, and every error names the
file, the entry and the field. The clinical catalog (``load.py``) and the billing catalog
(``domain/billing/catalog.py``) read their tables through it, each raising its own error type.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TomlTable:
    error: ClassVar[type[ValueError]] = ValueError

    def __init__(self, file: str, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise self.error(f"{file}: {where}: must be a table")
        self.file = file
        self.where = where
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, field: str, problem: str) -> ValueError:
        return self.error(f"{self.file}: {self.where}: {field}: {problem}")

    def _get(self, field: str, required: bool) -> Any:
        self.used.add(field)
        if field not in self.data:
            if required:
                raise self.fail(field, "is required")
            return None
        return self.data[field]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown field")

"""Errors every service raises; the API and the pages turn each into a 4xx with the field named."""

from typing import Any


class SignedRecordError(Exception):
    """An attempt to change or delete a signed record."""


class ServiceError(Exception):
    """A request the rules refuse, naming the field it concerns."""

    status = 400

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ConflictError(ServiceError):
    status = 409


class ForbiddenError(ServiceError):
    status = 403


class NotFoundError(ServiceError):
    status = 404

    def __init__(
        self, field: str | None, message: str, refusal: dict[str, Any] | None = None
    ) -> None:
        super().__init__(field, message)
        # A refused access to log once the refused transaction has rolled back (DESIGN 3.4).
        self.refusal = refusal

"""Domain errors and their RFC 9457 ``application/problem+json`` rendering."""

from __future__ import annotations

from typing import Any


class XbarError(Exception):
    """Base of every error the service turns into a problem+json response."""

    status: int = 500
    title: str = "Internal error"
    type_: str = "about:blank"

    headers: dict[str, str] = {}
    """Response headers every error of this class carries."""

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body


class NotFoundError(XbarError):
    status, title, type_ = 404, "Not found", "/problems/not-found"


class ConflictError(XbarError):
    """An illegal state transition, or a stale lease token."""

    status, title, type_ = 409, "Conflict", "/problems/conflict"


class ValidationFailed(XbarError):
    status, title, type_ = 422, "Validation failed", "/problems/validation"


class UnauthorizedError(XbarError):
    status, title, type_ = 401, "Unauthorized", "/problems/unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="xbar"'}


class ForbiddenError(XbarError):
    status, title, type_ = 403, "Forbidden", "/problems/forbidden"


class PayloadTooLarge(XbarError):
    status, title, type_ = 413, "Request body too large", "/problems/too-large"


class StorageError(XbarError):
    """The database cannot be reached (connection refused or lost)."""

    status, title, type_ = 503, "Storage unavailable", "/problems/storage"


class InvalidStoredValue(XbarError):
    """The database refused a value a request carried (integrity or data error)."""

    status, title, type_ = 422, "Value not storable", "/problems/validation"


class StorageFailure(XbarError):
    """Any other database error: a server fault, reported without SQL text."""

    status, title, type_ = 500, "Internal error", "/problems/internal"


PROBLEM_JSON = "application/problem+json"

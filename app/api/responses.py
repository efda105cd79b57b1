"""Shared OpenAPI declarations: the RFC 9457 problem responses each operation can return, the
``Allow`` header of a 405, and the pattern of pagination cursors.

Routes pass ``responses=problems(404, 409)`` so the schema documents every status code and
content type they return; :data:`API_ERRORS` (401, 422, 500, 503) comes with every ``/api/v1``
operation that reads the caller or the database.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.routing import Match

from app.core.errors import PROBLEM_JSON

try:  # newer FastAPI keeps included routers nested; this walks down to each route
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI flattens included routes into app.router.routes

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[no-redef]
        return routes


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str = Field(description="A URI reference naming the problem type, e.g. "
                                  "``/problems/not-found``; ``about:blank`` when generic.")
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(ge=100, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    instance: str | None = Field(None, description="The request path.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="Per-field errors, each ``{loc, msg, type}`` (``loc`` a list of keys "
                          "from ``body``, ``query``, ``path`` or ``header`` down to the field).")
    request_id: str | None = Field(None, description="For 5xx: quote it when reporting.")


_PROBLEM_SCHEMA = Problem.model_json_schema()

_WHY = {
    401: "Authentication is on and the Bearer API key is missing, malformed, unknown or revoked.",
    404: "No such resource, or it belongs to another API key.",
    405: "The path exists but not with this method (the ``Allow`` header lists those it has).",
    409: "The action does not apply in the resource's current state.",
    413: "The request body exceeds ``XBAR_MAX_BODY_BYTES``.",
    422: "A parameter or the body is invalid (``errors`` lists each field).",
    500: "An internal error (quote ``request_id``).",
    503: "The database cannot be reached.",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for problem+json error answers with these status codes."""
    return {code: {"description": _WHY.get(code, "A problem."),
                   "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
            for code in codes}


API_ERRORS = problems(401, 422, 500, 503)
"""Every ``/api/v1`` operation: auth, parameter validation, internal and storage errors."""

BODY_ERRORS = problems(413)
"""Operations that read a request body (the size limit applies before the route runs)."""


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header value for a 405: every method of every route matching the path
    (routes of one path are separate objects, so Starlette's own header names only one)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


_DIGIT = r"[wxyz0-5]"  # the last 6 bits of an ASCII digit
_PAIR = r"(?:[MN][DTjz]|O[DT])"  # the first 12 bits of two digits
_TRIPLE = rf"{_PAIR}[AEIMQUYcgk]{_DIGIT}"  # three digits in four characters
_TAIL = rf"(?:{_PAIR}[AEIMQUYcgk]|[MN][AQgw]|O[AQ])"  # the last two digits or one digit
CURSOR_PATTERN = rf"^azo(?:{_DIGIT}(?:{_TRIPLE}){{0,2}}{_TAIL}?|x(?:{_TRIPLE}){{3}})$"
"""Exactly the cursors :func:`app.services.pagination.encode_cursor` writes for keys below
2*10**9 (every id fits the PostgreSQL ``integer`` columns): unpadded URL-safe base64 of
``k:<digits>``, three bytes to four characters, ``azo`` encoding ``k:`` and the top bits of the
first digit (``azox`` a leading ``1``). A string that matches always decodes to such a key, so a
schema-valid cursor is never refused."""

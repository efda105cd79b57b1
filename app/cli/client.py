"""A small REST client for the CLI (base URL and API key from options or the environment) and
the exit codes every command that talks to the service shares.

Exit codes: :data:`EXIT_OK` (0) done; :data:`EXIT_FAILED` (1) the study failed or was
cancelled, or a gate failed; :data:`EXIT_BAD_INPUT` (2) bad input (unreadable or invalid file,
bad gate, any 4xx answer such as 422 or 404); :data:`EXIT_INFRA` (3) infrastructure (server
unreachable or timing out, any 5xx answer).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import typer

UrlOpt = Annotated[str | None, typer.Option("--url", help="Service URL (env XBAR_URL).")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="API key (env XBAR_API_KEY).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
"""Typer options shared by the commands that talk to the service."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INFRA = 3


class ApiError(Exception):
    """A problem+json answer from the service, or no answer at all (``status`` None).

    ``errors`` holds the problem's per-field entries (``{loc, msg, type}``) of a 422.
    """

    def __init__(self, message: str, status: int | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_INFRA` without an answer or on a 5xx, else :data:`EXIT_BAD_INPUT`."""
        return EXIT_INFRA if self.status is None or self.status >= 500 else EXIT_BAD_INPUT


def default_url() -> str:
    return os.environ.get("XBAR_URL") or f"http://127.0.0.1:{os.environ.get('XBAR_PORT', '8000')}"


def format_errors(errors: list[dict[str, Any]]) -> str:
    """One ``  - field.path: message`` line per 422 entry (``loc`` without its ``body``)."""
    return "\n".join(f"  - {'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: "
                     f"{e.get('msg')}" for e in errors)


class Client:
    def __init__(self, url: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = (url or default_url()).rstrip("/")
        key = api_key or os.environ.get("XBAR_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=timeout)

    def send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The raw answer (any status below 400, e.g. a 304).

        Raises:
            ApiError: no answer (status None), or an answer of status 400 or more.
        """
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach {self.url}: {e} (is `xbar serve` running?)") from e
        if r.status_code >= 400:
            errors: list[dict[str, Any]] = []
            try:
                body = r.json()
                msg = body.get("detail") or body.get("title") or r.text
                errors = body.get("errors") or []
                if errors:
                    msg += "\n" + format_errors(errors)
            except (ValueError, AttributeError):
                msg = r.text
            raise ApiError(f"HTTP {r.status_code}: {msg}", r.status_code, errors)
        return r

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """The decoded JSON answer (None for an empty one); raises as :meth:`send`."""
        r = self.send(method, path, **kw)
        return r.json() if r.content else None

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

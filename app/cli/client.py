"""A small REST client for the CLI: base URL and API key from options or the environment."""

from __future__ import annotations

import os
from typing import Any

import httpx


class ApiError(Exception):
    """A problem+json answer from the service, or no answer at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def default_url() -> str:
    return os.environ.get("XBAR_URL") or f"http://127.0.0.1:{os.environ.get('XBAR_PORT', '8000')}"


class Client:
    def __init__(self, url: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = (url or default_url()).rstrip("/")
        key = api_key or os.environ.get("XBAR_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach {self.url}: {e} (is `xbar serve` running?)") from e
        if r.status_code >= 400:
            try:
                body = r.json()
                msg = body.get("detail") or body.get("title") or r.text
                errs = body.get("errors") or []
                if errs:
                    msg += "\n" + "\n".join(
                        f"  - {'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
                        for e in errs)
            except ValueError:
                msg = r.text
            raise ApiError(f"HTTP {r.status_code}: {msg}", r.status_code)
        return r.json() if r.content else None

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

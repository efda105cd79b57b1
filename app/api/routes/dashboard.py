"""The dashboard: one static page (HTML, a script and a style sheet) that polls the API (ETag)
and follows the SSE feed. Every dashboard response carries a Content-Security-Policy that allows
scripts from this origin only, so a stored string can never run as a script here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[2] / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
"""No inline script or style, no eval, no plug-ins, not framable."""

SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}

_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard")
def dashboard() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html",
                        headers=SECURITY_HEADERS)


@router.get("/static/{name}")
def asset(name: Literal["dashboard.js", "dashboard.css"]) -> FileResponse:
    """The page's script and style sheet (a fixed list: the path names no file)."""
    return FileResponse(STATIC / name, media_type=_ASSETS[name], headers=SECURITY_HEADERS)

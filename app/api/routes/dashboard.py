"""The dashboard: a static page (HTML, ES modules, a style sheet and the Plotly.js bundle the
``plotly`` package ships) that polls the API (ETag) and follows the SSE feed, plus one helper
that reads a pasted study definition (YAML or JSON) for the page's create form.

Every dashboard response carries a Content-Security-Policy that allows scripts from this origin
only (no inline script, no ``eval``: the page draws only SVG traces, which need neither), so a
stored string can never run as a script here. Styles may be inline: Plotly.js injects its own
and MapLibre's style sheets when it loads (plotly.js issue #7543); the page itself never turns
stored text into markup.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import CallerDep
from app.core.errors import ValidationFailed

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[2] / "static"
PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
"""The minified Plotly.js bundle of the installed ``plotly`` package (no build step)."""

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
"""Scripts from this origin only (no inline script, no eval), no plug-ins, not framable."""

SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}

Asset = Literal["dashboard.js", "api.js", "charts.js", "design.js", "studies.js",
                "dashboard.css"]
"""The page's own files (a fixed list: a request never names a path)."""

TEXT_MAX = 65_536
"""Longest pasted study definition [characters]."""


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard")
def dashboard() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html",
                        headers=SECURITY_HEADERS)


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon (the page declares an empty one); 204 rather than a 404 in the console."""
    return Response(status_code=204)


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """Plotly.js from the ``plotly`` package (cached for a day: it changes only on upgrade)."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript",
                        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"})


@router.get("/static/{name}")
def asset(name: Asset) -> FileResponse:
    """The page's modules and style sheet."""
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(STATIC / name, media_type=media, headers=SECURITY_HEADERS)


class PastedStudy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(strict=True, max_length=TEXT_MAX)]


def _lines(node: yaml.Node, path: tuple[str, ...], out: dict[str, int]) -> None:
    """Record the 1-based line of every field under ``node`` as ``{"a.b.0": line}``."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            out[".".join(sub)] = key.start_mark.line + 1
            _lines(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            sub = (*path, str(i))
            out[".".join(sub)] = value.start_mark.line + 1
            _lines(value, sub, out)


def _syntax_error(msg: str, line: int | None = None) -> ValidationFailed:
    error: dict[str, Any] = {"loc": ["body", "text"], "msg": msg, "type": "syntax_error"}
    if line is not None:
        error["line"] = line
    return ValidationFailed(f"text: {msg}", errors=[error])


@router.post("/dashboard/parse-study")
def parse_study(body: PastedStudy, caller: CallerDep) -> dict[str, Any]:
    """Read a pasted study definition (YAML, or JSON, which YAML reads): the document and
    the line of each field, so the page can show the API's 422 errors beside their lines.
    Nothing is stored; YAML aliases are refused (no entity expansion).

    Raises:
        ValidationFailed: a syntax error (with its line), an alias, or not a mapping.
    """
    try:
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(body.text, yaml.SafeLoader)):
            raise _syntax_error("YAML aliases (*name) are not accepted")
        root = yaml.compose(body.text, yaml.SafeLoader)
        data = yaml.safe_load(body.text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise _syntax_error(f"not valid YAML or JSON: {what}",
                            mark.line + 1 if mark else None) from e
    except yaml.YAMLError as e:
        raise _syntax_error(f"not valid YAML or JSON: {e}") from e
    if not isinstance(data, dict) or root is None:
        raise _syntax_error("must hold a mapping (name, problem, budget, ...)", 1)
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise _syntax_error(f"holds a value JSON cannot carry ({e})") from e
    lines: dict[str, int] = {}
    _lines(root, (), lines)
    return {"document": data, "lines": lines}

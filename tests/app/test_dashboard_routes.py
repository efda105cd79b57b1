"""The dashboard's routes without a browser: assets on a fixed list with the CSP, Plotly.js
from the ``plotly`` package, no favicon 404, and the pasted-study reader (lines, refusals)."""

from __future__ import annotations

import plotly
import pytest

from app.api.routes.dashboard import PLOTLY_JS, TEXT_MAX

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_assets(idle_client) -> None:
    """Every page file is served with the CSP (scripts 'self' only); Plotly.js is the installed
    package's bundle; a name off the list is refused; the favicon is an empty 204."""
    page = idle_client.get("/dashboard")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    for name in ("dashboard.js", "api.js", "charts.js", "design.js", "studies.js",
                 "dashboard.css", "plotly.min.js"):
        r = idle_client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-security-policy"] == csp
    assert '<script src="/static/plotly.min.js">' in page.text
    assert '<script type="module" src="/static/dashboard.js">' in page.text
    js = idle_client.get("/static/plotly.min.js")
    assert js.content == PLOTLY_JS.read_bytes() and js.headers["content-type"].startswith(
        "text/javascript")
    assert PLOTLY_JS.is_relative_to(plotly.__path__[0])
    assert idle_client.get("/static/..%2Fmain.py").status_code in (404, 422)
    assert idle_client.get("/static/dashboard.html").status_code == 422
    assert idle_client.get("/favicon.ico").status_code == 204


def test_parse_study_lines(idle_client) -> None:
    """A pasted YAML (or JSON) comes back as the document with the line of every field."""
    text = "name: p\nproblem:\n  name: branin-currin\nbudget:\n  max_trials: 3\nx: [1, 2]\n"
    r = idle_client.post("/dashboard/parse-study", json={"text": text})
    assert r.status_code == 200, r.text
    assert r.json()["document"] == {"name": "p", "problem": {"name": "branin-currin"},
                                    "budget": {"max_trials": 3}, "x": [1, 2]}
    assert r.json()["lines"] == {"name": 1, "problem": 2, "problem.name": 3, "budget": 4,
                                 "budget.max_trials": 5, "x": 6, "x.0": 6, "x.1": 6}
    j = idle_client.post("/dashboard/parse-study", json={"text": '{"name": "j",\n "seed": 1}'})
    assert j.json() == {"document": {"name": "j", "seed": 1}, "lines": {"name": 1, "seed": 2}}
    assert idle_client.get("/api/v1/studies").json()["data"] == []  # nothing stored


@pytest.mark.parametrize(("text", "msg", "line"), [
    ("name: [open\n", "not valid YAML", 2),
    ("- a\n- b\n", "must hold a mapping", 1),
    ("a: &x [1]\nb: *x\n", "aliases", None),
    ("a: .nan\n", "JSON cannot carry", None),
    ("a: !!binary aGk=\n", "JSON cannot carry", None),
    ("a: !!python/object:os.system {}\n", "not valid YAML", 1),
], ids=["syntax", "list", "alias", "nan", "binary", "python-tag"])
def test_parse_study_refusals(idle_client, text, msg, line) -> None:
    """Syntax errors (with their line), non-mappings, aliases, values JSON cannot carry and
    Python tags are a 422 problem+json naming ``text``."""
    r = idle_client.post("/dashboard/parse-study", json={"text": text})
    assert r.status_code == 422, r.text
    (err,) = r.json()["errors"]
    assert err["loc"] == ["body", "text"] and msg in err["msg"]
    assert err.get("line") == line


def test_parse_study_bounds(idle_client) -> None:
    """Over-long text, a non-string and extra fields are refused by the schema."""
    for body in ({"text": "a: 1\n" * (TEXT_MAX // 5 + 1)}, {"text": 5}, {"text": "a: 1", "b": 1},
                 {}):
        r = idle_client.post("/dashboard/parse-study", json=body)
        assert r.status_code == 422, body

"""The dashboard in a real headless Chromium against a live server on 127.0.0.1: a running
4-objective crossbar study drawn by Plotly (ticks, units, live growth), a design's breakdown
and study YAML, PNG/CSV export, the studies page (live list, create with errors beside lines,
actions, compare), stored markup shown literally, and the API-key flow. Screenshots go to
``$XBAR_TEST_ARTIFACTS`` (default: the temp dir) under ``xbar-dashboard/``."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from app.main import create_app
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import complete, free_port, new_study, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
              # the page is the subject: storage backends are covered by the API suites
              pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]
API = "/api/v1"
ARTIFACTS = Path(os.environ.get("XBAR_TEST_ARTIFACTS", tempfile.gettempdir())) / "xbar-dashboard"

CROSSBAR = {
    "name": "xbar-dash",
    "problem": {
        "name": "crossbar", "workload": "digits-mlp",
        "search_space": {
            "params": [{"name": "adc_bits", "type": "int", "low": 3, "high": 6},
                       {"name": "cols_per_adc", "type": "ordinal", "values": [4, 8]},
                       {"name": "encoding", "type": "categorical",
                        "choices": ["differential", "offset"]}],
            "fidelity_range": [0.0, 0.02]},  # the analytic tier: about a second per design
        "fixed": {"rows": 64, "cols": 64},
    },
    "optimizer": {"method": "sobol"},
    "budget": {"max_trials": 5},
    "parallelism": 1,
    "seed": 1,
}

POINTS = """() => { const gd = document.getElementById('matrix');
  return gd && gd.data ? gd.data.filter(t => !t.xaxis || t.xaxis === 'x')
    .reduce((n, t) => n + t.x.length, 0) : -1; }"""
AXIS_TICKS = """id => { const n = {};
  for (const g of document.querySelectorAll(`#${id} g`)) {
    const m = /^([xy][0-9]*)tick$/.exec(g.getAttribute('class') || '');
    const text = g.querySelector('text');
    if (m && text && text.textContent.trim() !== '') n[m[1]] = (n[m[1]] || 0) + 1;
  }
  return n; }"""
"""Tick labels per axis of a chart (``{"x": 5, "y2": 4, ...}``)."""
TICKS = f"id => Object.values(({AXIS_TICKS})(id)).reduce((a, b) => a + b, 0)"
TITLES = """id => [...document.querySelectorAll(`#${id} g`)]
  .filter(g => /^g-[xy][0-9]*title$/.test(g.getAttribute('class') || ''))
  .map(g => g.textContent)"""
VIOLATIONS = """window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.sourceFile + ':' + e.lineNumber));"""


def _serve(app) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))  # open SSE streams
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(20)


@pytest.fixture
def live_server(migrated_url, engine) -> Iterator[str]:
    yield from _serve(create_app(make_settings(migrated_url), engine=engine))


@pytest.fixture
def page():
    """A headless Chromium page that records console errors, script errors, CSP violations,
    failed responses and JavaScript dialogs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        ctx.grant_permissions(["clipboard-read", "clipboard-write"])
        pg = ctx.new_page()
        pg.add_init_script(VIOLATIONS)
        pg.errors, pg.dialogs, pg.failed = [], [], []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
        pg.on("response", lambda r: r.status >= 400 and pg.failed.append((r.status, r.url)))
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        yield pg
        browser.close()


def _clean(page, allowed: set[int] = frozenset()) -> None:
    """No script or console error, no CSP violation, no failed request but ``allowed``."""
    expected = tuple(f"Failed to load resource: the server responded with a status of {s}"
                     for s in allowed)
    assert [e for e in page.errors if not e.startswith(expected)] == []
    assert page.evaluate("window.__csp") == []
    assert [f for f in page.failed if f[0] not in allowed] == []


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_live_crossbar_study(live_server: str, page) -> None:
    """A running 4-objective crossbar study: the point count grows live; every chart has tick
    labels and the objectives' units; a click on a front point opens its parameters and its
    breakdown by component and by layer, and its study YAML is accepted by the API; PNG and
    CSV export download files; no console error or CSP violation."""
    sid = httpx.post(f"{live_server}{API}/studies", json=CROSSBAR).json()["id"]
    # Paused until the page has drawn, so "grows live" does not race the study's speed.
    t0 = time.monotonic()  # a study can be paused once its driver has started it
    while (r := httpx.post(f"{live_server}{API}/studies/{sid}:pause")).status_code == 409:
        assert time.monotonic() - t0 < 60, r.text
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    page.goto(f"{live_server}/dashboard?study={sid}")
    page.wait_for_function("() => document.getElementById('study-state')?"
                           ".textContent === 'paused'", timeout=30_000)
    page.wait_for_timeout(500)
    seen: list[int] = [page.evaluate(POINTS)]
    assert seen[0] < 5, seen
    assert httpx.post(f"{live_server}{API}/studies/{sid}:resume").status_code == 200
    t0 = time.monotonic()
    while time.monotonic() - t0 < 240:
        n = page.evaluate(POINTS)
        if not seen or n != seen[-1]:
            seen.append(n)
        if page.locator("#study-state").text_content() == "completed" and n == 5:
            break
        page.wait_for_timeout(100)
    assert seen[-1] == 5 and len(seen) >= 2, seen  # drawn while paused, grew live to 5
    page.wait_for_timeout(600)
    front = httpx.get(f"{live_server}{API}/studies/{sid}/pareto").json()
    data = page.evaluate("document.getElementById('matrix').data.map(t => "
                         "[t.name, t.xaxis || 'x', t.x.length])")
    assert ["Pareto front", "x", len(front["points"])] in data and len(front["points"]) > 0
    ticks = {c: page.evaluate(AXIS_TICKS, c) for c in ("matrix", "hv", "parallel", "hist")}
    assert len(ticks["matrix"]) == 12 and min(ticks["matrix"].values()) >= 2  # 6 cells
    assert len(ticks["hv"]) == 4 and len(ticks["hist"]) == 4
    assert len(ticks["parallel"]) == 1 + 3 + 4  # names, 3 parameters, 4 objectives
    titles = " ".join(page.evaluate(TITLES, "matrix"))
    for unit in ("area [mm²]", "latency [µs]", "energy [µJ]", "accuracy"):
        assert unit in titles
    assert "cumulative cost [s]" in page.evaluate(TITLES, "hv")
    assert "wall time since start [s]" in page.evaluate(TITLES, "hv")
    assert page.locator("#trials tr.trial").count() == 5
    assert "adc_bits=" in page.locator("#trials tr.trial").first.text_content()
    _shot(page, "dashboard.png")

    box = page.locator("#matrix .point").last.bounding_box()  # a front point (drawn last)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#design.shown", timeout=10_000)
    page.wait_for_function(f"() => ({TICKS})('breakdown-hardware-layers') > 0")
    number = int(page.locator("#design h2").text_content().split("#")[1])
    trial = httpx.get(f"{live_server}{API}/studies/{sid}/trials/{number}").json()
    assert trial["is_pareto"]
    params = page.locator("#design-params").text_content()
    assert f"adc bits{trial['params']['adc_bits']}" in params
    assert "±" in page.locator("#design-values .accuracy").text_content()
    headings = page.locator("#design h3").all_text_contents()
    assert "by component (hardware.components)" in headings
    assert "by layer (hardware.layers)" in headings
    comps = page.evaluate("document.getElementById('breakdown-hardware-components').data[0].x")
    assert set(comps) == set(trial["details"]["hardware"]["components"])
    assert page.evaluate(TICKS, "breakdown-hardware-components") > 2
    page.click("#copy-yaml")
    page.wait_for_function("() => document.querySelector('#design .panel-head .muted')"
                           "?.textContent === 'copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    pinned = yaml.safe_load(copied)
    assert {p["name"]: (p.get("values") or p["choices"])[0] for p in
            pinned["problem"]["search_space"]["params"]} == trial["params"]
    r = httpx.post(f"{live_server}{API}/studies", json=pinned)
    assert r.status_code == 201, r.text
    httpx.post(f"{live_server}{API}/studies/{r.json()['id']}:cancel")
    _shot(page, "design.png")

    with page.expect_download() as png:
        page.click("button[data-png=matrix]")
    path = png.value.path()
    assert png.value.suggested_filename == f"study-{sid}-matrix.png"
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as csv:
        page.click("#export-csv")
    lines = Path(csv.value.path()).read_text().splitlines()
    assert lines[0].split(",")[:3] == ["number", "state", "fidelity"]
    assert {"adc_bits", "accuracy", "energy_uj"} <= set(lines[0].split(",")) and len(lines) == 6
    _clean(page)


def test_studies_page(live_server: str, page) -> None:
    """The studies list updates when a study is created elsewhere; a pasted YAML with bad
    fields shows the API's errors beside their lines and creates nothing; a good one creates a
    study; cancel and delete act on the API; two fronts are compared on one chart."""
    first = httpx.post(f"{live_server}{API}/studies", json=BRANIN).json()["id"]
    page.goto(f"{live_server}/dashboard?view=studies")
    page.wait_for_selector(f"#studies-table tr[data-id='{first}']")
    other = httpx.post(f"{live_server}{API}/studies",
                       json={**BRANIN, "name": "elsewhere", "budget": {"max_trials": 200}}).json()
    row = f"#studies-table tr[data-id='{other['id']}']"
    page.wait_for_selector(row, timeout=10_000)  # the list refreshes by itself
    assert "elsewhere" in page.locator(row).text_content()

    bad = ("name: pasted\nproblem:\n  name: branin-currin\nbudget:\n  max_trials: 0\n"
           "parallelism: 2\n")
    page.fill("#create-text", bad)
    page.click("#create-submit")
    page.wait_for_selector("#create-errors li")
    assert "budget.max_trials (line 5)" in page.locator("#create-errors li").first.text_content()
    assert page.locator("#create-lines .line.bad .ln").all_text_contents() == ["5"]
    page.fill("#create-text", "name: [unclosed\n")
    page.click("#create-submit")
    page.wait_for_function("() => document.querySelector('#create-errors li')"
                           "?.textContent.includes('(line 2)')")
    assert [s["name"] for s in httpx.get(f"{live_server}{API}/studies").json()["data"]] == [
        "bc", "elsewhere"]
    page.fill("#create-text", bad.replace("max_trials: 0", "max_trials: 3"))
    page.click("#create-submit")
    page.wait_for_function("() => document.getElementById('studies-message')"
                           ".textContent.startsWith('created study')")
    pasted = next(s["id"] for s in httpx.get(f"{live_server}{API}/studies").json()["data"]
                  if s["name"] == "pasted")

    page.click(f"{row} .act-cancel")
    wait_for(lambda: httpx.get(f"{live_server}{API}/studies/{other['id']}").json()["state"]
             == "cancelled", timeout=20)
    page.click(f"{row} .act-delete")
    page.wait_for_function("() => /deleted|cannot delete|already gone/.test("
                           "document.getElementById('studies-message').textContent)")
    gone = httpx.get(f"{live_server}{API}/studies/{other['id']}").status_code == 404
    if gone:  # DELETE /studies/{id} answers 204
        page.wait_for_selector(row, state="detached", timeout=10_000)
    else:  # a server without DELETE (405) says so
        assert "cannot delete" in page.locator("#studies-message").text_content()

    for sid in (first, pasted):
        wait_for(lambda sid=sid: httpx.get(f"{live_server}{API}/studies/{sid}").json()["state"]
                 == "completed", timeout=60)
    page.select_option("#compare-a", str(first))
    page.select_option("#compare-b", str(pasted))
    page.click("#compare-go")
    page.wait_for_function(f"() => ({TICKS})('compare') > 0")
    traces = page.evaluate("document.getElementById('compare').data.map(t => [t.name, "
                           "t.x.length])")
    fronts = {sid: len(httpx.get(f"{live_server}{API}/studies/{sid}/pareto").json()["points"])
              for sid in (first, pasted)}
    assert traces == [[f"{first}: bc", fronts[first]], [f"{pasted}: pasted", fronts[pasted]]]
    _shot(page, "studies.png")
    _clean(page, allowed={422} | ({404} if gone else {405}))


def test_fidelity_colouring(migrated_url, page) -> None:
    """Low-fidelity results are faded and coloured by their fidelity; full-fidelity results
    are filled, the front on top; the parallel-coordinates chart has one axis per parameter
    and objective (recorded results, no driver)."""
    app = create_app(make_settings(migrated_url, run_driver=False))
    for url in _serve(app):
        sid = new_study(app.state.db)
        for f0, f1, z in [(1.0, 0.5, 1.0), (0.5, 1.0, 1.0), (0.4, 0.4, 1.0), (2.0, 2.0, 0.25),
                          (3.0, 0.5, 0.5)]:
            complete(app.state.db, sid, {"f0": f0, "f1": f1}, fidelity=z)
        page.goto(f"{url}/dashboard?study={sid}")
        page.wait_for_function("() => document.getElementById('matrix').data?.length === 3")
        traces = {t["name"]: t for t in page.evaluate(
            "document.getElementById('matrix').data.map(t => ({name: t.name, x: t.x, "
            "color: t.marker.color, opacity: t.marker.opacity}))")}
        assert traces["low fidelity"]["x"] == [2.0, 0.5]  # x: f1, y: f0
        assert traces["low fidelity"]["color"] == [0.25, 0.5]
        assert traces["low fidelity"]["opacity"] < 1
        assert sorted(traces["Pareto front"]["x"]) == [0.5, 1.0]
        assert traces["full fidelity"]["x"] == [0.4]
        labels = page.evaluate("document.getElementById('parallel').layout.xaxis.ticktext")
        assert labels == ["x0", "x1", "f0 ↑", "f1 ↑"]
        ticks = page.evaluate(AXIS_TICKS, "parallel")
        assert set(ticks) == {"x", "y2", "y3", "y4", "y5"} and min(ticks.values()) >= 2
        _clean(page)


XSS_NAME = "</select><img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>"


def test_dashboard_never_runs_a_stored_name(live_server: str, page) -> None:
    """A study named like an HTML injection is shown literally in the selector, the summary,
    the studies list, a chart legend and the design's YAML: no dialog opens, no <img>, <b> or
    extra <script> enters the page, and the CSP forbids inline scripts and eval."""
    r = httpx.get(f"{live_server}/dashboard")
    script_src = next(d for d in r.headers["content-security-policy"].split(";")
                      if d.strip().startswith("script-src"))
    assert script_src.strip() == "script-src 'self'"
    sid = httpx.post(f"{live_server}{API}/studies",
                     json={**BRANIN, "name": XSS_NAME, "budget": {"max_trials": 2}}).json()["id"]
    page.goto(f"{live_server}/dashboard?study={sid}")
    page.wait_for_function(
        "() => document.getElementById('study-state')?.textContent === 'completed'", timeout=60_000)
    assert page.locator("#study option").first.text_content() == f"{sid}: {XSS_NAME}"
    assert page.locator("#summary .study-name").text_content() == XSS_NAME
    page.locator("#trials tr.trial").first.click()
    page.wait_for_selector("#design.shown")
    assert yaml.safe_load(page.locator("#design-yaml").text_content())["name"].startswith(XSS_NAME)
    page.click("#nav-studies")
    page.wait_for_selector(f"#studies-table tr[data-id='{sid}']")
    link = page.locator(f"#studies-table tr[data-id='{sid}'] .open-study")
    assert link.text_content() == XSS_NAME
    page.click("#compare-go")
    page.wait_for_selector("#compare .legendtext")
    assert f"{sid}: {XSS_NAME}" in page.locator("#compare .legendtext").all_text_contents()
    assert page.locator("img").count() == 0 and page.locator("b:text('bold')").count() == 0
    assert page.locator("script").count() == 2  # plotly.min.js and dashboard.js
    assert page.dialogs == []
    _clean(page)


def test_dashboard_asks_for_a_key(migrated_url, engine, page) -> None:
    """With auth on the page asks for an API key on 401, keeps it in session storage and then
    shows the caller's studies."""
    from tests.app.test_auth import _key

    app = create_app(make_settings(migrated_url, auth="on"), engine=engine)
    for url in _serve(app):
        key = _key(app.state.db, "dash")
        hdr = {"Authorization": f"Bearer {key}"}
        sid = httpx.post(f"{url}{API}/studies", json={**BRANIN, "name": "mine"},
                         headers=hdr).json()["id"]
        page.goto(f"{url}/dashboard")
        page.wait_for_selector("#keybox.shown", timeout=20_000)
        assert "API key" in page.locator("#summary").text_content()
        page.fill("#apikey", key)
        page.click("#keybox button")
        page.wait_for_function(
            "() => document.getElementById('study-state')?.textContent === 'completed'",
            timeout=60_000)
        assert page.locator("#study option").first.text_content() == f"{sid}: mine"
        assert page.evaluate("sessionStorage.getItem('xbar.apiKey')") == key
        assert page.evaluate(TICKS, "matrix") > 0
        _clean(page, allowed={401})

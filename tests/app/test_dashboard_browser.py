"""The dashboard in a real headless Chromium: it shows a finished study's state, front and
hypervolume exactly as the API reports them."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from app.main import create_app
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")]


def _serve(app) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
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
    """A headless Chromium page that records script errors and JavaScript dialogs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        pg = browser.new_page()
        pg.errors = []
        pg.dialogs = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        yield pg
        browser.close()


def test_dashboard_shows_front(live_server: str, page) -> None:
    """Open /dashboard on a study that runs to completion: the page ends showing 'completed',
    one highlighted point per front member and the API's hypervolume."""
    sid = httpx.post(f"{live_server}/api/v1/studies", json=BRANIN).json()["id"]
    page.goto(f"{live_server}/dashboard?study={sid}")
    page.wait_for_function(
        "() => document.getElementById('study-state')?.textContent === 'completed'", timeout=60_000)
    page.wait_for_timeout(600)  # the last scheduled refresh
    front = httpx.get(f"{live_server}/api/v1/studies/{sid}/pareto").json()
    assert page.locator("circle.front-point").count() == len(front["points"]) > 0
    assert page.locator("#n-completed").text_content() == "8"
    hv_text = page.locator("#hypervolume").text_content()
    assert float(hv_text) == pytest.approx(front["hypervolume"], rel=1e-3)
    assert page.locator("#trials tr").count() == 9  # header + 8 trials
    page.screenshot(path="/tmp/xbar-dashboard.png")
    assert page.errors == []


XSS_NAME = "</select><img src=x onerror=alert(1)><script>alert(2)</script>"


def test_dashboard_never_runs_a_stored_name(live_server: str, page) -> None:
    """A study named like an HTML injection is shown literally: no dialog opens, no <img> or
    extra <script> enters the page, and the page is served with a CSP without inline scripts."""
    r = httpx.get(f"{live_server}/dashboard")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    sid = httpx.post(f"{live_server}/api/v1/studies",
                     json={**BRANIN, "name": XSS_NAME, "budget": {"max_trials": 2}}).json()["id"]
    page.goto(f"{live_server}/dashboard?study={sid}")
    page.wait_for_function("() => document.querySelectorAll('#study option').length > 0",
                           timeout=30_000)
    page.wait_for_function(
        "() => document.getElementById('study-state')?.textContent === 'completed'", timeout=60_000)
    assert page.locator("#study option").first.text_content() == f"{sid}: {XSS_NAME}"
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # dashboard.js only
    assert page.dialogs == [] and page.errors == []


def test_dashboard_asks_for_a_key(migrated_url, engine, page) -> None:
    """With auth on the page asks for an API key on 401, keeps it in session storage and then
    shows the caller's studies."""
    from tests.app.test_auth import _key

    app = create_app(make_settings(migrated_url, auth="on"), engine=engine)
    for url in _serve(app):
        key = _key(app.state.db, "dash")
        hdr = {"Authorization": f"Bearer {key}"}
        sid = httpx.post(f"{url}/api/v1/studies", json={**BRANIN, "name": "mine"},
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
        assert page.errors == []

"""The dashboard in a real headless Chromium: it shows a finished study's state, front and
hypervolume exactly as the API reports them."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
import uvicorn

from app.main import create_app
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")]



@pytest.fixture
def live_server(migrated_url, engine):
    port = free_port()
    app = create_app(make_settings(migrated_url), engine=engine)
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


def test_dashboard_shows_front(live_server: str) -> None:
    """Open /dashboard on a study that runs to completion: the page ends showing 'completed',
    one highlighted point per front member and the API's hypervolume."""
    from playwright.sync_api import sync_playwright

    sid = httpx.post(f"{live_server}/api/v1/studies", json=BRANIN).json()["id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live_server}/dashboard?study={sid}")
        page.wait_for_function(
            "document.getElementById('study-state')?.textContent === 'completed'", timeout=60_000)
        page.wait_for_timeout(600)  # the last scheduled refresh
        front = httpx.get(f"{live_server}/api/v1/studies/{sid}/pareto").json()
        assert page.locator("circle.front-point").count() == len(front["points"]) > 0
        assert page.locator("#n-completed").text_content() == "8"
        hv_text = page.locator("#hypervolume").text_content()
        assert float(hv_text) == pytest.approx(front["hypervolume"], rel=1e-3)
        assert page.locator("#trials tr").count() == 9  # header + 8 trials
        page.screenshot(path="/tmp/xbar-dashboard.png")
        browser.close()
    assert errors == []

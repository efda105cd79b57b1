"""The dashboard draws a model-based study's predicted front apart from its evaluated one (a
headless Chromium against a live server): its own legend entry and marker, the posterior
means at the API's values with their standard deviations as error bars, a hover text saying
PREDICTED, the summary's count, and confirmation trials marked in the trials table."""

from __future__ import annotations

import httpx
import pytest
import torch

from app.main import create_app
from app.models import Trial
from app.services import lifecycle
from optimizer.problems import get_problem
from tests.app.conftest import make_settings
from tests.app.helpers import add_trial, claim, new_study, wait_for
from tests.app.test_dashboard_browser import API, CHROMIUM, _clean, _serve, _shot, page  # noqa: F401

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
              pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

NAME = "predicted front (model mean ± sd)"


def _record(db, sid: int, params: dict, fidelity: float, origin: str | None = None) -> None:
    """Evaluate Branin-Currin at ``params`` and record it as a completed trial."""
    values, cost = get_problem("branin-currin").evaluate(params, fidelity)
    trial_id = add_trial(db, sid, params=params, fidelity=fidelity)
    if origin is not None:
        with db.session() as s:
            s.get(Trial, trial_id).suggestion = {"extras": {"origin": origin}, "method": "x"}
    token = claim(db, trial_id)
    with db.session() as s:
        assert lifecycle.record_result(s, trial_id, token, values, cost, {}) is not None


def test_predicted_front_drawn_apart(migrated_url, engine, page) -> None:  # noqa: F811
    """A cf-mesmo study with 8 recorded results (5 at full fidelity, one of them a
    confirmation trial) on a server that has an engine but runs no driver: the predicted
    trace holds exactly the API's predicted means and sds, the evaluated traces only trials."""
    app = create_app(make_settings(migrated_url, run_driver=False))
    for url in _serve(app):
        app.state.engine = engine  # the predictions' engine, without a driver running trials
        sid = new_study(app.state.db, optimizer={"method": "cf-mesmo"})
        space = get_problem("branin-currin").space
        for i, p in enumerate(space.sample(8, torch.Generator().manual_seed(4))):
            _record(app.state.db, sid, p, 1.0 if i % 2 == 0 or i == 7 else 0.5,
                    "confirm" if i == 7 else None)

        predicted = f"{url}{API}/studies/{sid}/pareto?source=predicted"
        wait_for(lambda u=predicted: httpx.get(u).status_code == 200, timeout=120, interval=0.5)
        api = httpx.get(predicted).json()
        assert api["points"]
        page.goto(f"{url}/dashboard?study={sid}")
        page.wait_for_function(
            f"() => (document.getElementById('matrix').data || []).some(t => t.name === "
            f"{NAME!r} && t.x.length > 0)", timeout=60_000)
        traces = {t["name"]: t for t in page.evaluate(
            "document.getElementById('matrix').data.map(t => ({name: t.name, x: t.x, y: t.y, "
            "symbol: t.marker.symbol, ex: t.error_x && t.error_x.array, "
            "ey: t.error_y && t.error_y.array, hover: t.hovertemplate, "
            "custom: t.customdata}))")}
        pred = traces[NAME]
        assert pred["x"] == [p["predicted"]["f1"]["mean"] for p in api["points"]]  # x: f1
        assert pred["y"] == [p["predicted"]["f0"]["mean"] for p in api["points"]]
        assert pred["ex"] == [p["predicted"]["f1"]["sd"] for p in api["points"]]
        assert pred["ey"] == [p["predicted"]["f0"]["sd"] for p in api["points"]]
        assert pred["symbol"] == "diamond-open" and "PREDICTED" in pred["hover"]
        for name in ("low fidelity", "full fidelity", "Pareto front"):
            assert traces[name]["symbol"] != "diamond-open" and traces[name]["ex"] is None
            assert all(isinstance(c[0], int) for c in traces[name]["custom"])
        n_eval = sum(len(traces[n]["x"]) for n in ("low fidelity", "full fidelity",
                                                    "Pareto front"))
        assert n_eval == 8
        assert page.locator("#predicted-size").text_content() == f"{len(api['points'])} designs"
        row = page.locator("#trials tr.confirm")
        assert row.count() == 1 and row.locator("td").first.text_content() == "7 (confirm)"
        _shot(page, "predicted-front.png")
        _clean(page)


def test_model_free_study_asks_for_no_prediction(live_server_free, page) -> None:  # noqa: F811
    """A sobol study's page never requests ``source=predicted`` (it would answer 409)."""
    url, sid = live_server_free
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(f"{url}/dashboard?study={sid}")
    page.wait_for_function("() => document.getElementById('matrix').data?.length === 3")
    assert not any("source=predicted" in u for u in asked)
    assert page.locator("#predicted-size").count() == 0
    _clean(page)


@pytest.fixture
def live_server_free(migrated_url):
    app = create_app(make_settings(migrated_url, run_driver=False))
    for url in _serve(app):
        sid = new_study(app.state.db)
        yield url, sid

"""`xbar study show` prints a model-based study's predicted front after its evaluated one,
labelled as predictions (mean ± sd), waiting while the server computes it; a model-free
study shows the evaluated front only. The server is an httpx mock answering as the API does
(its real answers are pinned in tests/app/test_predicted_front.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import app.cli.study as study_cli
from app.cli.client import Client
from app.cli.main import app

runner = CliRunner()
OBJECTIVES = [{"name": "f0", "direction": "minimize", "ref_point": None, "threshold": None},
              {"name": "f1", "direction": "minimize", "ref_point": None, "threshold": None}]
STUDY = {"id": 1, "name": "mf", "state": "completed", "method": "cf-mesmo", "parallelism": 1,
         "n_trials": 9, "n_completed": 9, "n_failed": 0, "total_cost_s": 1.5,
         "hypervolume": 0.25, "error": None, "problem": {"name": "branin-currin"},
         "budget": {"max_trials": 9}}
EVALUATED = {"study_id": 1, "source": "evaluated", "pareto_version": 3,
             "objectives": OBJECTIVES, "reference_point": [1.0, 1.0], "hypervolume": 0.25,
             "points": [{"trial_id": 7, "number": 6, "params": {"x0": 0.125, "x1": 0.5},
                         "values": {"f0": 0.3, "f1": 0.6}, "cost_s": 0.1}]}
PREDICTED = {"study_id": 1, "source": "predicted", "status": "ready", "n_observations": 9,
             "target_fidelity": 1.0, "objectives": OBJECTIVES,
             "points": [{"source": "predicted", "params": {"x0": 0.4375, "x1": 0.75},
                         "predicted": {"f0": {"mean": 0.2125, "sd": 0.0375},
                                       "f1": {"mean": 0.8125, "sd": 0.0625}},
                         "evaluated_at_target": False}]}


def _server(method: str, computing: int) -> tuple[httpx.MockTransport, list[str]]:
    """A mock API: the predicted front answers 202 ``computing`` times, then 200 (409 for a
    model-free method). Returns the transport and the log of requested URLs."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        path, query = request.url.path, dict(request.url.params)
        if path.endswith("/studies/1"):
            return httpx.Response(200, json={**STUDY, "method": method})
        if query.get("source") != "predicted":
            return httpx.Response(200, json=EVALUATED)
        if method == "sobol":
            return httpx.Response(409, json={"status": 409, "detail": "fits no model"})
        if sum("source=predicted" in u for u in seen) <= computing:
            return httpx.Response(202, json={**PREDICTED, "status": "computing", "points": []},
                                  headers={"Retry-After": "0"})
        return httpx.Response(200, json=PREDICTED)

    return httpx.MockTransport(handle), seen


@pytest.fixture
def mock_api(monkeypatch: pytest.MonkeyPatch):
    def install(method: str, computing: int = 0) -> list[str]:
        transport, seen = _server(method, computing)

        def make(url: str | None = None, api_key: str | None = None) -> Client:
            client = Client("http://api.test", api_key)
            client.http = httpx.Client(base_url="http://api.test/api/v1", transport=transport)
            return client

        monkeypatch.setattr(study_cli, "Client", make)
        return seen

    return install


def test_show_prints_the_predicted_front_labelled(mock_api) -> None:
    """After two 'computing' answers the table of predictions follows the evaluated front:
    its title says they are predictions, each objective reads mean ± sd, the design's
    parameters and 'evaluated: no' are shown."""
    seen = mock_api("cf-mesmo", computing=2)
    r = runner.invoke(app, ["study", "show", "1"])
    assert r.exit_code == 0, r.output
    assert sum("source=predicted" in u for u in seen) == 3
    assert "Pareto front: 1 points" in r.stdout
    assert "PREDICTED front" in r.stdout and "predictions, not evaluations" in r.stdout
    assert "fitted to 9 trials" in r.stdout
    assert "0.2125 ± 0.0375" in r.stdout and "0.8125 ± 0.0625" in r.stdout
    assert "0.4375" in r.stdout and "no" in r.stdout
    assert r.stdout.index("Pareto front: 1 points") < r.stdout.index("PREDICTED front")


def test_show_json_keeps_the_two_fronts_apart(mock_api) -> None:
    mock_api("cf-mesmo")
    r = runner.invoke(app, ["study", "show", "1", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["pareto"] == EVALUATED and doc["predicted"] == PREDICTED


def test_show_without_a_model_prints_no_predicted_front(mock_api) -> None:
    """A model-free study's 409 is not an error for `show`: the evaluated front only."""
    mock_api("sobol")
    r = runner.invoke(app, ["study", "show", "1"])
    assert r.exit_code == 0, r.output
    assert "Pareto front: 1 points" in r.stdout and "PREDICTED" not in r.stdout
    r = runner.invoke(app, ["study", "show", "1", "--json"])
    assert json.loads(r.stdout)["predicted"] is None


def test_show_reports_a_front_still_computing(mock_api, monkeypatch) -> None:
    """Past the wait, `show` says the front is still being computed instead of a table."""
    original = study_cli.predicted_front

    def no_wait(client: Any, study_id: int, wait_s: float = 0.0) -> dict[str, Any] | None:
        return original(client, study_id, 0.0)

    monkeypatch.setattr(study_cli, "predicted_front", no_wait)
    mock_api("cf-mesmo", computing=100)
    r = runner.invoke(app, ["study", "show", "1"])
    assert r.exit_code == 0, r.output
    assert "predicted front: still computing from 9 trials" in r.stdout
    assert "PREDICTED front" not in r.stdout

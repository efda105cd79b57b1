"""A CF-MESMO study in the service: trials store fidelity and predicted information gain per
cost; low-fidelity trials are visible but never on the reported front."""

from __future__ import annotations

import pytest

from tests.app.conftest import BRANIN
from tests.app.helpers import wait_for

API = "/api/v1"
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # storage is covered elsewhere
def test_cf_mesmo_study(client) -> None:
    body = {**BRANIN, "name": "mf", "optimizer": {"method": "cf-mesmo"},
            "budget": {"max_trials": 10}, "parallelism": 2}
    r = client.post(f"{API}/studies", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] in
             ("completed", "failed"), timeout=300, interval=0.5)
    s = client.get(f"{API}/studies/{sid}").json()
    assert s["state"] == "completed", s["error"]
    trials = client.get(f"{API}/studies/{sid}/trials").json()["data"]
    assert len(trials) == 10
    low = [t for t in trials if t["fidelity"] < 1.0]
    assert low, "a cost-aware method should spend some trials below full fidelity"
    assert not any(t["is_pareto"] for t in low)
    model_based = [t for t in trials if t["info_gain_per_cost"] is not None]
    assert model_based and all(t["info_gain_per_cost"] >= 0 for t in model_based)
    front = client.get(f"{API}/studies/{sid}/pareto").json()
    full = {t["number"] for t in trials if t["fidelity"] >= 1.0}
    assert {p["number"] for p in front["points"]} <= full

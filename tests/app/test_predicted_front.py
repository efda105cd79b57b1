"""Issue 14 item 3: ``GET /pareto?source=predicted`` (the posterior-mean front at the target
fidelity, computed on a worker) and the confirmation trials that spend the end of a
multi-fidelity study's budget on its designs."""

from __future__ import annotations

import pytest
import torch

from app.execution.confirm import confirm_top_k, has_model
from app.models import Study
from optimizer.encoding import encode_observations
from optimizer.problems import get_problem
from optimizer.space import SearchSpace
from optimizer.surrogates import fit_objective_model
from optimizer.types import Observation
from tests.app.conftest import BRANIN
from tests.app.helpers import wait_for

API = "/api/v1"


def test_model_based_methods_declare_confirmation() -> None:
    """The multi-fidelity methods confirm 3 designs by default, qnehvi none, model-free
    methods have no predicted front; without a trial budget nothing is confirmed."""
    assert [has_model(m) for m in ("cf-mesmo", "momf", "mf-hvkg", "qnehvi", "sobol",
                                   "random", "nsga2")] == [True] * 4 + [False] * 3

    def study(method: str, options: dict, max_trials: int | None = 10) -> Study:
        return Study(method=method, max_trials=max_trials,
                     definition={"optimizer": {"options": options}})

    assert confirm_top_k(study("cf-mesmo", {})) == 3
    assert confirm_top_k(study("momf", {"confirm_top_k": 1})) == 1
    assert confirm_top_k(study("qnehvi", {})) == 0
    assert confirm_top_k(study("sobol", {})) == 0
    assert confirm_top_k(study("cf-mesmo", {}, None)) == 0


def test_confirm_top_k_is_a_checked_option(idle_client) -> None:
    """A negative or non-integer ``confirm_top_k`` is a 422 naming the option, nothing
    stored; a model-free method does not know it."""
    for method, value in (("cf-mesmo", -1), ("momf", 1.5), ("sobol", 2)):
        body = {**BRANIN, "optimizer": {"method": method, "options": {"confirm_top_k": value}}}
        r = idle_client.post(f"{API}/studies", json=body)
        assert r.status_code == 422, r.text
        assert "confirm_top_k" in r.text
    assert idle_client.get(f"{API}/studies").json()["data"] == []


def test_predicted_front_needs_a_model_and_an_engine(idle_client) -> None:
    """A model-free study answers 409 (problem+json saying why); a server without a driver
    (no engine) 503; an unknown source 422."""
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    r = idle_client.get(f"{API}/studies/{sid}/pareto", params={"source": "predicted"})
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert "sobol" in r.json()["detail"] and "no predicted front" in r.json()["detail"]
    body = {**BRANIN, "optimizer": {"method": "cf-mesmo"}}
    sid = idle_client.post(f"{API}/studies", json=body).json()["id"]
    r = idle_client.get(f"{API}/studies/{sid}/pareto", params={"source": "predicted"})
    assert r.status_code == 503 and "no study driver" in r.json()["detail"]
    r = idle_client.get(f"{API}/studies/{sid}/pareto", params={"source": "guessed"})
    assert r.status_code == 422


def _observations(trials: list[dict]) -> list[Observation]:
    return [Observation(params=t["params"], fidelity=t["fidelity"], values=t["values"],
                        cost_s=t["cost_s"]) for t in trials if t["state"] == "completed"]


def _near(space: SearchSpace, params: dict, others: list[dict]) -> bool:
    """Whether ``params`` is within 1e-3 (unit cube, max-norm) of one of ``others``."""
    if not others:
        return False
    d = (space.to_unit_batch(others) - space.to_unit(params)).abs().amax(-1)
    return bool((d < 1e-3).any())


def _predicted(client, sid: int) -> dict:
    out: dict = {}

    def ready() -> bool:
        r = client.get(f"{API}/studies/{sid}/pareto", params={"source": "predicted"})
        assert r.status_code in (200, 202), r.text
        assert (r.status_code == 202) == (r.json()["status"] == "computing")
        if r.status_code == 202:
            assert r.json()["points"] == [] and r.headers["Retry-After"] == "1"
        out.update(r.json(), etag=r.headers.get("ETag"))
        return r.status_code == 200

    wait_for(ready, timeout=120, interval=0.3)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # storage is covered elsewhere
def test_confirmation_trials_and_predicted_front(client) -> None:
    """A cf-mesmo study of 9 trials with ``confirm_top_k: 3``: trials 6-8 are confirmation
    trials at the target fidelity, designs not evaluated there before, and the study ends at
    exactly 9 trials. Its predicted front equals the posterior mean and sd, at the target
    fidelity, of the GP refitted here to the study's observations; it is labelled, never in
    the evaluated front, and answers 304 to its ETag."""
    body = {**BRANIN, "name": "confirm", "parallelism": 2, "budget": {"max_trials": 9},
            "optimizer": {"method": "cf-mesmo",
                          "options": {"confirm_top_k": 3, "num_samples": 4,
                                      "raw_samples": 64, "num_candidates": 64}}}
    r = client.post(f"{API}/studies", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] in
             ("completed", "failed"), timeout=300, interval=0.5)
    study = client.get(f"{API}/studies/{sid}").json()
    assert study["state"] == "completed", study["error"]
    trials = client.get(f"{API}/studies/{sid}/trials").json()["data"]
    assert len(trials) == study["n_trials"] == 9
    confirms = [t for t in trials if t["origin"] == "confirm"]
    assert [t["number"] for t in confirms] == [6, 7, 8]
    assert all(t["fidelity"] == study["target_fidelity"] for t in confirms)
    prob = get_problem("branin-currin")
    earlier = [t["params"] for t in trials[:6] if t["fidelity"] == study["target_fidelity"]]
    assert not any(_near(prob.space, t["params"], earlier) for t in confirms)
    assert all(t["origin"] == "optimizer" for t in trials[:6])

    front = _predicted(client, sid)
    assert front["source"] == "predicted" and front["status"] == "ready"
    assert front["n_observations"] == 9 and front["points"]
    assert all(p["source"] == "predicted" for p in front["points"])
    data = encode_observations(prob.space, prob.objectives, _observations(trials),
                               with_fidelity=True)
    model = fit_objective_model(data.X, data.Y, data.Yvar, prob.space.dim)
    X = prob.space.to_unit_batch([p["params"] for p in front["points"]])
    X = torch.cat([X, torch.ones(X.shape[0], 1, dtype=torch.double)], dim=-1)
    with torch.no_grad():
        post = model.posterior(X)
    signs = torch.tensor([o.sign for o in prob.objectives], dtype=torch.double)
    got_mean = torch.tensor([[p["predicted"][o.name]["mean"] for o in prob.objectives]
                             for p in front["points"]], dtype=torch.double)
    got_sd = torch.tensor([[p["predicted"][o.name]["sd"] for o in prob.objectives]
                           for p in front["points"]], dtype=torch.double)
    torch.testing.assert_close(got_mean, post.mean * signs, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(got_sd, post.variance.sqrt(), rtol=1e-4, atol=1e-6)
    evaluated = [t["params"] for t in trials if t["fidelity"] == study["target_fidelity"]]
    flags = [p["evaluated_at_target"] for p in front["points"]]
    assert flags == [_near(prob.space, p["params"], evaluated) for p in front["points"]]

    r = client.get(f"{API}/studies/{sid}/pareto", params={"source": "predicted"},
                   headers={"If-None-Match": front["etag"]})
    assert r.status_code == 304
    evaluated_front = client.get(f"{API}/studies/{sid}/pareto").json()
    assert evaluated_front["source"] == "evaluated"
    numbers = {t["number"] for t in trials if t["fidelity"] == study["target_fidelity"]}
    assert evaluated_front["points"] and {p["number"] for p in evaluated_front["points"]} <= (
        numbers)
    assert all("predicted" not in p for p in evaluated_front["points"])

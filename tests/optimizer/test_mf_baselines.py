"""Tests of the multi-fidelity baselines ``momf`` and ``mf-hvkg`` through ``suggest()``."""

from __future__ import annotations

import math

import pytest
import torch

from optimizer.errors import OptimizerError
from optimizer.problems import get_problem
from optimizer.suggest import available_methods, suggest
from optimizer.types import Observation, Suggestion

FAST = {
    "momf": {"mc_samples": 16, "raw_samples": 64, "num_restarts": 1},
    "mf-hvkg": {"num_fantasies": 2, "num_pareto": 2, "inner_mc_samples": 4,
                "raw_samples": 32, "num_restarts": 1},
}


def _observations(n: int) -> list[Observation]:
    """``n`` Branin-Currin evaluations on a fixed random design, a third at full fidelity."""
    prob = get_problem("branin-currin")
    g = torch.Generator().manual_seed(0)
    pts = prob.space.sample(n, g)
    zs = torch.rand(n, generator=g, dtype=torch.double).pow(3).tolist()
    out = []
    for i, (p, z) in enumerate(zip(pts, zs, strict=True)):
        z = 1.0 if i % 3 == 0 else z
        values, cost = prob.evaluate(p, z)
        out.append(Observation(params=p, fidelity=z, values=values, cost_s=cost))
    return out


def test_registered() -> None:
    """Both baselines and cf-mesmo are listed by available_methods()."""
    assert {"cf-mesmo", "momf", "mf-hvkg"} <= set(available_methods())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["momf", "mf-hvkg"])
def test_valid_deterministic_suggestions(method: str) -> None:
    """After the initial design, each baseline returns n in-bounds points with a fidelity in
    [0, 1] and a model-based phase, avoids the pending point, and the same seed repeats them
    (n = 2 for momf, 1 for the much slower mf-hvkg)."""
    prob = get_problem("branin-currin")
    obs = _observations(12)
    pending = [Suggestion(params={"x0": 0.5, "x1": 0.5}, fidelity=0.2)]
    n = 2 if method == "momf" else 1
    out = suggest(prob.space, prob.objectives, obs, pending, n, method, seed=1,
                  options=FAST[method])
    assert len(out) == n
    for s in out:
        assert 0.0 <= s.params["x0"] <= 1.0 and 0.0 <= s.params["x1"] <= 1.0
        assert 0.0 <= s.fidelity <= 1.0
        assert s.extras["phase"] == method
        assert (s.params, s.fidelity) != (pending[0].params, pending[0].fidelity)
    again = suggest(prob.space, prob.objectives, obs, pending, n, method, seed=1,
                    options=FAST[method])
    assert [(s.params, s.fidelity) for s in again] == [(s.params, s.fidelity) for s in out]


@pytest.mark.parametrize("method", ["momf", "mf-hvkg"])
def test_initial_design_then_bad_options(method: str) -> None:
    """With few observations the shared cost-aware initial design is used (first point at
    full fidelity); a non-positive count option is rejected naming it."""
    prob = get_problem("branin-currin")
    first = suggest(prob.space, prob.objectives, [], [], 3, method, seed=0)
    assert first[0].fidelity == 1.0 and all(s.extras["phase"] == "initial-design"
                                            for s in first)
    key = "mc_samples" if method == "momf" else "num_fantasies"
    with pytest.raises(OptimizerError, match=key):
        suggest(prob.space, prob.objectives, [], [], 1, method, seed=0, options={key: 0})


@pytest.mark.slow
def test_momf_prefers_cheap_fidelity_early() -> None:
    """With cost exp(4.8 z) and little full-fidelity data, MOMF's cost-weighted EHVI picks a
    fidelity below 0.9 (a full evaluation costs ~120x the cheapest)."""
    prob = get_problem("branin-currin")
    obs = _observations(9)
    s = suggest(prob.space, prob.objectives, obs, [], 1, "momf", seed=0,
                options=FAST["momf"])[0]
    assert s.fidelity < 0.9
    assert math.isfinite(s.extras["acq_value"])

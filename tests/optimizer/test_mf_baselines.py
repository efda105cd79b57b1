"""Tests of the multi-fidelity baselines ``momf`` and ``mf-hvkg`` through ``suggest()`` (the
contract every method meets: ``test_method_contract.py``)."""

from __future__ import annotations

import math

import pytest
import torch

from optimizer.context import SuggestContext
from optimizer.encoding import ref_point_max
from optimizer.errors import OptimizerError
from optimizer.methods.mf_common import (
    mf_data,
    needs_initial_design,
    pending_unit,
    reference_point,
)
from optimizer.problems import get_problem
from optimizer.suggest import available_methods, suggest
from optimizer.types import Observation, Suggestion

FAST = {"momf": {"mc_samples": 16, "raw_samples": 64, "num_restarts": 1}}


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


def test_shared_initial_rule_reference_point_and_pending() -> None:
    """The helpers all multi-fidelity methods use: ``n_init=None`` means 2 (D + 1) = 8 on
    Branin-Currin (2 designs + fidelity); the reference point is taken over the full-fidelity
    rows only; pending points encode to ``p x D`` with the unit fidelity last."""
    prob = get_problem("branin-currin")
    obs = _observations(9)

    def ctx(n_obs: int, pending: list[Suggestion] | None = None) -> SuggestContext:
        return SuggestContext(space=prob.space, objectives=prob.objectives,
                              observations=obs[:n_obs], pending=pending or [], n=1, seed=0)

    assert mf_data(ctx(7)).D == 3
    assert needs_initial_design(ctx(7), mf_data(ctx(7)), None)
    assert not needs_initial_design(ctx(8), mf_data(ctx(8)), None)
    assert not needs_initial_design(ctx(2), mf_data(ctx(2)), 2)
    mf = mf_data(ctx(9))
    full_rows = mf.data.Y[[i for i in range(9) if i % 3 == 0]]
    assert torch.equal(reference_point(ctx(9), mf), ref_point_max(prob.objectives, full_rows))
    pend = [Suggestion(params=obs[1].params, fidelity=obs[1].fidelity)]
    X = pending_unit(ctx(9, pend), mf)
    assert X.shape == (1, 3)
    assert float(X[0, 2]) == pytest.approx(float(prob.space.fidelity_to_unit(
        torch.tensor(obs[1].fidelity, dtype=torch.double))))


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

"""Tests of the ``cf-mesmo`` method through ``suggest()`` (the contract every method meets:
``test_method_contract.py``)."""

from __future__ import annotations

import math

import pytest
import torch

from optimizer.context import SuggestContext
from optimizer.errors import OptimizerError
from optimizer.methods.cfmesmo import initial_full_count, kriging_believer
from optimizer.methods.mf_common import (
    REPEAT_TOL,
    initial_design_size,
    mf_data,
    near_any,
    optimize_over_space,
)
from optimizer.problems import get_problem
from optimizer.space import SearchSpace
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from optimizer.types import Objective, Observation, Suggestion
from tests.optimizer.cases import MIXED_FIDELITY, OBJ, mixed_observations


@pytest.mark.slow
def test_batch_reports_information_gain_and_spreads() -> None:
    """In the mixed space with a fidelity range, a batch of 3 carries a finite non-negative
    ``info_gain_per_cost`` and the predicted cost, and its points differ from each other and
    from the pending point (kriging believer fantasies), in (params, fidelity)."""
    obs = mixed_observations(16)
    pending = [Suggestion(params=MIXED_FIDELITY.sample(1, torch.Generator().manual_seed(5))[0],
                          fidelity=0.5)]
    out = suggest(MIXED_FIDELITY, OBJ, obs, pending, 3, "cf-mesmo", seed=7,
                  options={"num_samples": 4, "raw_samples": 256, "num_restarts": 2})
    for s in out:
        assert s.info_gain_per_cost is not None and math.isfinite(s.info_gain_per_cost)
        assert s.info_gain_per_cost >= 0.0
        assert s.extras["phase"] == "cf-mesmo" and s.extras["predicted_cost_s"] > 0
        assert s.extras["info_gain_nats"] >= 0.0
    keys = [(MIXED_FIDELITY.key(s.params), round(s.fidelity, 6)) for s in out + pending]
    assert len(set(keys)) == len(keys)


def test_kriging_believer_shrinks_variance_at_pending() -> None:
    """Conditioning on the posterior mean at a pending point keeps the mean and cuts the
    latent variance there by more than half."""
    g = torch.Generator().manual_seed(2)
    X = torch.rand(12, 2, generator=g, dtype=torch.double)
    Y = torch.stack([torch.sin(3 * X[:, 0]), X[:, 1] ** 2], -1)
    model = fit_objective_model(X, Y)
    xp = torch.tensor([[0.95, 0.05]], dtype=torch.double)
    with torch.no_grad():
        before = model.posterior(xp)
        after = kriging_believer(model, xp).posterior(xp)
    assert torch.allclose(after.mean, before.mean, atol=1e-6)
    assert (after.variance < 0.5 * before.variance).all()


def test_initial_design_is_cost_aware() -> None:
    """In the full-first order, before n_init observations the first ``initial_full_count``
    designs (13 of 50: a quarter) are at the target fidelity and later ones follow
    p(z) ~ 1/C(z): with cost exp(4.8 z) measured, most of those fidelities are low."""
    space = SearchSpace.from_spec({"params": [{"name": "x", "type": "float", "low": 0,
                                               "high": 1}], "fidelity_range": [0.0, 1.0]})
    objs = [Objective(name="a", direction="maximize")]
    order = {"init_order": "full-first"}
    first = suggest(space, objs, [], [], 1, "cf-mesmo", seed=0, options=order)[0]
    assert first.fidelity == 1.0
    obs = [Observation(params={"x": 0.2}, fidelity=1.0, values={"a": 0.0},
                       cost_s=math.exp(4.8)),
           Observation(params={"x": 0.7}, fidelity=0.0, values={"a": 1.0}, cost_s=1.0)]
    out = suggest(space, objs, obs, [], 48, "cf-mesmo", seed=0,
                  options={"n_init": 50, **order})
    assert initial_full_count(50, 0.0) == 13
    assert [s.fidelity for s in out[:11]] == [1.0] * 11
    z = torch.tensor([s.fidelity for s in out[11:]])
    assert float(z.median()) < 0.25
    assert float(z.mean()) == pytest.approx(1 / 4.8 - math.exp(-4.8) / (1 - math.exp(-4.8)),
                                            abs=0.07)


def test_one_dimensional_toy_explores_uncertain_region_near_front() -> None:
    """Objectives -(x-0.3)^2 and -(x-0.5)^2 (Pareto set [0.3, 0.5]); data leave two equally
    wide gaps, (0.25, 0.55) around the front and (0.8, 1] far from it. The suggestion lands in
    the gap around the front for several seeds."""
    space = SearchSpace.from_spec([{"name": "x", "type": "float", "low": 0, "high": 1}])
    objs = [Objective(name="a", direction="maximize"), Objective(name="b",
                                                                 direction="maximize")]
    xs = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
    obs = [Observation(params={"x": x}, values={"a": -(x - 0.3) ** 2, "b": -(x - 0.5) ** 2})
           for x in xs]
    for seed in range(3):
        s = suggest(space, objs, obs, [], 1, "cf-mesmo", seed=seed,
                    options={"raw_samples": 128, "num_restarts": 2})[0]
        assert 0.25 < s.params["x"] < 0.55, (seed, s.params)


def test_declared_option_bounds() -> None:
    """Unknown approximations and out-of-range counts are rejected with the option's name."""
    with pytest.raises(OptimizerError, match="approx"):
        suggest(MIXED_FIDELITY, OBJ, [], [], 1, "cf-mesmo", seed=0, options={"approx": "eg"})
    with pytest.raises(OptimizerError, match="num_samples"):
        suggest(MIXED_FIDELITY, OBJ, [], [], 1, "cf-mesmo", seed=0, options={"num_samples": 0})
    with pytest.raises(OptimizerError, match="clamp_margin"):
        suggest(MIXED_FIDELITY, OBJ, [], [], 1, "cf-mesmo", seed=0,
                options={"clamp_margin": -0.1})


def test_min_full_share_sends_suggestions_to_the_target_fidelity() -> None:
    """With 2 of 16 observations at full fidelity and ``min_full_share`` 0.2, a batch of 3
    puts its first two points at the target fidelity (2 < 3.4, then 3 < 3.6) and leaves the
    third free (4 >= 3.8); values outside [0, 1) are rejected naming the option. With
    ``full_pick: "info-gain"`` the two are the information-gain search at the target
    (``test_cfmesmo_front_gain.py``: the default, front-gain picks)."""
    obs = mixed_observations(16)
    assert sum(o.fidelity == 1.0 for o in obs) == 2
    out = suggest(MIXED_FIDELITY, OBJ, obs, [], 3, "cf-mesmo", seed=4,
                  options={"num_samples": 4, "raw_samples": 128, "num_restarts": 1,
                           "min_full_share": 0.2, "full_pick": "info-gain"})
    assert [s.extras["phase"] for s in out] == ["cf-mesmo-full", "cf-mesmo-full", "cf-mesmo"]
    assert out[0].fidelity == out[1].fidelity == 1.0
    for s in out:
        MIXED_FIDELITY.validate_params(s.params)
    with pytest.raises(OptimizerError, match="min_full_share"):
        suggest(MIXED_FIDELITY, OBJ, obs, [], 1, "cf-mesmo", seed=0,
                options={"min_full_share": 1.0})


@pytest.mark.parametrize(("budget", "n_init", "size"),
                         [(None, None, 8), (60, None, 8), (12, None, 4), (20, None, 6),
                          (3, None, 2), (12, 10, 10)])
def test_initial_design_size_follows_the_budget(budget: int | None, n_init: int | None,
                                                size: int) -> None:
    """Branin-Currin (D = 2 designs + fidelity): 2 (D + 1) = 8 by default, at most a third of
    the evaluation budget (at least 2); an explicit ``n_init`` wins."""
    prob = get_problem("branin-currin")
    ctx = SuggestContext(space=prob.space, objectives=prob.objectives, observations=[],
                         pending=[], n=1, seed=0, max_evaluations=budget)
    assert initial_design_size(ctx, mf_data(ctx), n_init) == size


def test_twelve_trial_study_keeps_most_trials_for_the_model() -> None:
    """With ``max_evaluations=12`` the initial design is 4 trials, the last 2 at the target
    fidelity (``min_full_share`` 0.2 asks for ceil(0.8) = 1, the floor of 2 wins; the first 2
    at the lowest, the cheap-first order), and the 5th suggestion is model-based; a bad budget
    is refused naming it."""
    prob = get_problem("branin-currin")
    opts = {"num_samples": 2, "raw_samples": 64, "num_restarts": 1, "min_full_share": 0.2}
    first = suggest(prob.space, prob.objectives, [], [], 4, "cf-mesmo", seed=3, options=opts,
                    max_evaluations=12)
    assert [s.extras["phase"] for s in first] == ["initial-design"] * 4
    assert [prob.space.is_target(s.fidelity) for s in first] == [False, False, True, True]
    assert [s.fidelity for s in first[:2]] == [prob.space.fidelity_range[0]] * 2
    assert initial_full_count(4, 0.2) == 2 and initial_full_count(24, 0.2) == 6
    obs = []
    for s in first:
        values, cost = prob.evaluate(s.params, s.fidelity)
        obs.append(Observation(params=s.params, fidelity=s.fidelity, values=values,
                               cost_s=cost))
    nxt = suggest(prob.space, prob.objectives, obs, [], 1, "cf-mesmo", seed=3, options=opts,
                  max_evaluations=12)[0]
    assert nxt.extras["phase"].startswith("cf-mesmo")
    with pytest.raises(OptimizerError, match="max_evaluations"):
        suggest(prob.space, prob.objectives, [], [], 1, "cf-mesmo", seed=3,
                max_evaluations=0)


class _Peak(torch.nn.Module):
    """A toy acquisition: ``-||x - peak||²`` (``b x 1 x D -> b``), largest at ``peak``."""

    def __init__(self, peak: torch.Tensor) -> None:
        super().__init__()
        self.peak = peak

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return -(X[..., 0, :] - self.peak).pow(2).sum(-1)


def test_optimizer_never_returns_an_evaluated_point() -> None:
    """An acquisition peaking exactly at an evaluated (design, fidelity) is maximized there
    without ``avoid``, and at least REPEAT_TOL away from it with it; ``near_any`` flags
    only points within the tolerance."""
    prob = get_problem("branin-currin")
    ctx = SuggestContext(space=prob.space, objectives=prob.objectives, observations=[],
                         pending=[], n=1, seed=0)
    mf = mf_data(ctx)
    peak = torch.tensor([0.3, 0.6, 0.0], dtype=torch.double)
    acq = _Peak(peak)
    free, _ = optimize_over_space(acq, ctx, mf, raw_samples=64, num_restarts=2)
    assert float((free - peak).abs().max()) < REPEAT_TOL
    x, _ = optimize_over_space(acq, ctx, mf, raw_samples=64, num_restarts=2,
                               avoid=peak.unsqueeze(0))
    assert float((x - peak).abs().max()) >= REPEAT_TOL
    X = torch.stack([peak, peak + 5e-4, peak + 2e-3])
    assert near_any(X, peak.unsqueeze(0)).tolist() == [True, True, False]


@pytest.mark.slow
def test_seeded_run_has_no_repeats() -> None:
    """Twelve cf-mesmo steps on Branin-Currin (seed 0, after the 8-point initial design):
    no suggestion within REPEAT_TOL of an already-evaluated point at the same fidelity."""
    prob = get_problem("branin-currin")
    obs: list[Observation] = []
    opts = {"num_samples": 4, "raw_samples": 128, "num_restarts": 2}
    for _ in range(20):
        s = suggest(prob.space, prob.objectives, obs, [], 1, "cf-mesmo", seed=0, options=opts)[0]
        x = torch.tensor([*prob.space.to_unit(s.params).tolist(),
                          float(prob.space.fidelity_to_unit(torch.tensor(s.fidelity)))])
        done = torch.tensor([[*prob.space.to_unit(o.params).tolist(),
                              float(prob.space.fidelity_to_unit(torch.tensor(o.fidelity)))]
                             for o in obs]) if obs else None
        assert not bool(near_any(x.unsqueeze(0).double(),
                                 None if done is None else done.double())[0])
        values, cost = prob.evaluate(s.params, s.fidelity)
        obs.append(Observation(params=s.params, fidelity=s.fidelity, values=values,
                               cost_s=cost))


def test_proposal_overhead_moves_suggestions_to_higher_fidelity() -> None:
    """Cost exp(3 z) [s] makes the lowest fidelity about e^-2.7 of a full evaluation, and
    cf-mesmo's pick is a cheap one (z 0.1 when written); when every observation reports a
    proposal overhead of 100 s (the service's suggest time per trial), every fidelity costs
    about the same and the pick moves up to where the information about the front is
    (z 0.75, 0.88 nats against 0.38 when written); an overhead of 1 s changes nothing but
    the predicted cost; ``proposal_overhead: "none"`` ignores it."""
    obs = mixed_observations(16)
    opts = {"num_samples": 4, "raw_samples": 128, "num_restarts": 1}

    def pick(overhead_s: float | None, **more: str) -> Suggestion:
        loaded = [Observation(params=o.params, fidelity=o.fidelity, values=o.values,
                              cost_s=o.cost_s, overhead_s=overhead_s) for o in obs]
        (s,) = suggest(MIXED_FIDELITY, OBJ, loaded, [], 1, "cf-mesmo", seed=4,
                       options={**opts, **more})
        return s

    cheap, small, full = pick(None), pick(1.0), pick(100.0)
    ignored = pick(100.0, proposal_overhead="none")
    assert (ignored.params, ignored.fidelity) == (cheap.params, cheap.fidelity)
    assert cheap.fidelity < 0.3, cheap.fidelity
    assert full.fidelity > cheap.fidelity + 0.4, (full.fidelity, cheap.fidelity)
    assert full.extras["info_gain_nats"] > 2 * cheap.extras["info_gain_nats"]
    assert full.extras["predicted_cost_s"] > 100.0
    assert small.params == cheap.params and small.fidelity == cheap.fidelity
    assert small.extras["predicted_cost_s"] == pytest.approx(
        cheap.extras["predicted_cost_s"] + 1.0, rel=1e-6)


def test_budget_share_moves_suggestions_to_higher_fidelity() -> None:
    """With cost exp(3 z) [s] cf-mesmo's pick is a cheap one; when the study can afford 100 s
    per remaining trial (its trial budget binds before its time budget), a cheap evaluation
    saves nothing, every fidelity costs the same and the pick moves up as with a proposal
    overhead of that size; a budget of 0.01 s per trial (below every cost) changes nothing,
    and ``budget_pricing: "time"`` ignores it."""
    obs = mixed_observations(16)
    opts = {"num_samples": 4, "raw_samples": 128, "num_restarts": 1}

    def pick(per_trial_s: float | None, **more: str) -> Suggestion:
        (s,) = suggest(MIXED_FIDELITY, OBJ, obs, [], 1, "cf-mesmo", seed=4,
                       options={**opts, **more}, budget_per_trial_s=per_trial_s)
        return s

    cheap, below, shared = pick(None), pick(0.01), pick(100.0)
    ignored = pick(100.0, budget_pricing="time")
    assert (ignored.params, ignored.fidelity) == (cheap.params, cheap.fidelity)
    assert (below.params, below.fidelity) == (cheap.params, cheap.fidelity)
    assert below.extras["predicted_cost_s"] == pytest.approx(
        cheap.extras["predicted_cost_s"], rel=1e-9)
    assert cheap.fidelity < 0.3, cheap.fidelity
    assert shared.fidelity > cheap.fidelity + 0.4, (shared.fidelity, cheap.fidelity)
    assert shared.extras["predicted_cost_s"] == pytest.approx(100.0, rel=1e-9)

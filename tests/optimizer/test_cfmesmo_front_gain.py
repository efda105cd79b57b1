"""CF-MESMO's ``min_full_share`` slots go to the predicted-front member that adds the most to the
evaluated front (``optimizer.methods.front_gain``), and to the information-gain search at the
target fidelity where no member adds any."""

from __future__ import annotations

import torch

from optimizer.context import SuggestContext
from optimizer.encoding import ref_point_max
from optimizer.methods.front_gain import front_gain_pick
from optimizer.methods.mf_common import REPEAT_TOL, mf_data, near_any
from optimizer.pareto import hypervolume
from optimizer.posterior_front import posterior_pareto_set
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from optimizer.types import Objective
from tests.optimizer.cases import MIXED_FIDELITY, OBJ, mixed_observations

FAST = {"num_samples": 4, "raw_samples": 128, "num_restarts": 1}


def _ctx(objectives: list[Objective]) -> SuggestContext:
    return SuggestContext(space=MIXED_FIDELITY, objectives=objectives,
                          observations=mixed_observations(16), pending=[], n=1, seed=4)


def _gain(base: torch.Tensor, y: torch.Tensor, ref: list[float]) -> float:
    mx = ["maximize"] * base.shape[-1]
    return hypervolume(torch.cat([base, y]), mx, ref) - hypervolume(base, mx, ref)


def test_pick_is_the_front_member_of_largest_predicted_gain() -> None:
    """16 observations, 2 at full fidelity: the pick is at the target fidelity, not an
    evaluated full-fidelity design, its ``predicted`` means are the posterior's there (objective
    units: ``a`` minimized, so negated back) and its ``predicted_hv_gain`` is the hypervolume
    its mean adds to the 2 full results, the largest over the predicted front's members. With
    the pick in flight the next pick is another design of no larger gain."""
    ctx = _ctx(OBJ)
    mf = mf_data(ctx)
    model = fit_objective_model(mf.data.X, mf.data.Y, mf.data.Yvar, mf.fidelity_dim)
    got = front_gain_pick(model, ctx, mf, torch.zeros(0, mf.D, dtype=torch.double))
    assert got is not None
    x, extras = got
    assert extras["phase"] == "cf-mesmo-front-gain" and float(x[-1]) == 1.0
    full = mf.full_fidelity_mask()
    assert int(full.sum()) == 2
    assert not bool(near_any(x[:mf.d].unsqueeze(0), mf.data.X[full, :mf.d]).any())
    with torch.no_grad():
        mean = model.posterior(x.unsqueeze(0)).mean
    assert abs(extras["predicted"]["a"]["mean"] + float(mean[0, 0])) < 1e-9
    assert abs(extras["predicted"]["b"]["mean"] - float(mean[0, 1])) < 1e-9
    front = posterior_pareto_set(model, MIXED_FIDELITY, fidelity_dim=mf.fidelity_dim,
                                 X_extra=mf.data.X[:, :mf.d], seed=ctx.rng_seed(0xF9))
    base = mf.data.Y[full]
    ref = ref_point_max(OBJ, torch.cat([base, front.mean])).tolist()
    assert abs(extras["predicted_hv_gain"] - _gain(base, mean, ref)) < 1e-6
    gains = [_gain(base, front.mean[i:i + 1], ref) for i in range(front.X.shape[0])]
    assert extras["predicted_hv_gain"] > 0.0
    assert abs(extras["predicted_hv_gain"] - max(gains)) < 1e-6
    again = front_gain_pick(model, ctx, mf, x.unsqueeze(0))
    assert again is not None
    assert float((again[0] - x).abs().max()) > REPEAT_TOL
    assert again[1]["predicted_hv_gain"] <= extras["predicted_hv_gain"] + 1e-12


def test_min_full_share_slots_take_front_gain_picks_by_default() -> None:
    """The case of ``test_min_full_share_sends_suggestions_to_the_target_fidelity``: the
    default ``full_pick`` puts the two target-fidelity slots on front-gain picks (the second of
    smaller predicted gain, the first in flight), the third slot stays CF-MESMO's."""
    out = suggest(MIXED_FIDELITY, OBJ, mixed_observations(16), [], 3, "cf-mesmo", seed=4,
                  options={**FAST, "min_full_share": 0.2})
    assert [s.extras["phase"] for s in out] == ["cf-mesmo-front-gain"] * 2 + ["cf-mesmo"]
    assert [s.fidelity for s in out[:2]] == [1.0, 1.0] and out[2].fidelity < 1.0
    assert out[0].info_gain_per_cost is None and out[2].info_gain_per_cost is not None
    g0, g1 = (s.extras["predicted_hv_gain"] for s in out[:2])
    assert g0 > g1 > 0.0
    for s in out:
        MIXED_FIDELITY.validate_params(s.params)


def test_no_member_meets_the_thresholds_then_information_gain_at_the_target() -> None:
    """A threshold no design's mean meets (b >= 100): no front-gain pick, and the
    ``min_full_share`` slot is the information-gain search at the target fidelity."""
    objectives = [OBJ[0], Objective(name="b", direction="maximize", threshold=100.0)]
    ctx = _ctx(objectives)
    mf = mf_data(ctx)
    model = fit_objective_model(mf.data.X, mf.data.Y, mf.data.Yvar, mf.fidelity_dim)
    assert front_gain_pick(model, ctx, mf, torch.zeros(0, mf.D, dtype=torch.double)) is None
    (s,) = suggest(MIXED_FIDELITY, objectives, mixed_observations(16), [], 1, "cf-mesmo",
                   seed=4, options={**FAST, "min_full_share": 0.2})
    assert s.extras["phase"] == "cf-mesmo-full" and s.fidelity == 1.0

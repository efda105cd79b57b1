"""CF-MESMO's multi-start search finds the acquisition's maximum at the cheap end of the
fidelity range (Branin-Currin, seed 0, after the 8-point initial design): before the raw
candidates held lowest-fidelity points, every start lay at ``z ~ 0.2-0.4`` and L-BFGS-B ended
on the corner ``(1, 0, 0.203)`` with value 4.1 where ``(0.95, 0.82, 0)`` holds 11.6."""

from __future__ import annotations

from functools import cache

import torch

from optimizer.acquisition.cf_mesmo import CFMESMO
from optimizer.acquisition.max_values import sample_max_values
from optimizer.context import SuggestContext
from optimizer.methods.mf_common import (
    RAW_LOWEST_SHARE,
    mf_data,
    optimize_over_space,
    raw_candidates,
)
from optimizer.problems import get_problem
from optimizer.suggest import suggest
from optimizer.surrogates import CostModel, fit_objective_model
from optimizer.types import Observation


@cache
def _seeded_state(seed: int = 0, n: int = 8) -> tuple[SuggestContext, object]:
    p = get_problem("branin-currin")
    obs: list[Observation] = []
    for _ in range(n):  # the full-first initial design of the case above: no model
        s = suggest(p.space, p.objectives, obs, [], 1, "cf-mesmo", seed=seed,
                    options={"init_order": "full-first"})[0]
        values, cost = p.evaluate(s.params, s.fidelity)
        obs.append(Observation(params=s.params, fidelity=s.fidelity, values=values,
                               cost_s=cost))
    ctx = SuggestContext(space=p.space, objectives=p.objectives, observations=obs, pending=[],
                         n=1, seed=seed, method="cf-mesmo", options={}, max_evaluations=None)
    return ctx, mf_data(ctx)


def test_raw_candidates_cover_the_lowest_and_target_fidelity() -> None:
    ctx, mf = _seeded_state()
    raw = raw_candidates(ctx, mf, 512)
    z = raw[:, mf.fidelity_dim]
    assert int((z == 0.0).sum()) == int(RAW_LOWEST_SHARE * 512)
    assert int((z == 1.0).sum()) == 256
    rest = z[(z > 0.0) & (z < 1.0)]
    # p(z) ~ 1/C(z) with C = exp(4.8 z): median ln(2 / (1 + e^-4.8)) / 4.8 = 0.14
    assert 0.08 < float(rest.median()) < 0.22


def test_search_reaches_the_grid_maximum_at_the_cheap_end() -> None:
    ctx, mf = _seeded_state()
    torch.manual_seed(ctx.rng_seed(0x5EED))
    X, Y = mf.data.X, mf.data.Y
    model = fit_objective_model(X, Y, mf.data.Yvar, mf.fidelity_dim)
    cost = CostModel(X, mf.data.cost_s, mf.fidelity_dim)
    full = mf.full_fidelity_mask()
    samples = sample_max_values(model, dim=mf.d, fidelity_dim=mf.fidelity_dim, num_samples=8,
                                num_candidates=512, X_observed=X[:, :mf.d],
                                Y_best=Y[full].max(0).values, Y_std=Y.std(0),
                                seed=ctx.rng_seed(1))
    acq = CFMESMO(model, samples.max_values, cost=cost, fidelity_dim=mf.fidelity_dim)
    x, value = optimize_over_space(acq, ctx, mf, raw_samples=512, num_restarts=4, avoid=X)
    g = torch.linspace(0, 1, 21, dtype=torch.double)
    grid = torch.cartesian_prod(g, g, torch.linspace(0, 1, 6, dtype=torch.double))
    with torch.no_grad():
        grid_max = float(acq(grid.unsqueeze(-2)).max())
    assert value >= 0.98 * grid_max
    assert float(x[mf.fidelity_dim]) < 0.05
    assert bool(((x[:mf.d] > 0.02) & (x[:mf.d] < 0.98)).all())  # not on an edge

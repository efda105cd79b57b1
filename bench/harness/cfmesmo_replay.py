r"""Replay of CF-MESMO's picks on a benchmark problem: edge picks, repeats, and the
acquisition landscape at the edges vs the interior.

Usage::

    PYTHONPATH=. .venv/bin/python -m bench.harness.cfmesmo_replay [seeds] [evals] [margin]

``margin`` is cf-mesmo's ``clamp_margin`` (default 0; 0.158 is iMOCA's, the earlier behaviour).

For each seed, runs ``cf-mesmo`` (the benchmark's options) on Branin-Currin for ``evals``
evaluations and reports, over the model-based picks: the share within ``EDGE`` of an edge of
the design box, the share within ``NEAR`` (max-norm over design and fidelity) of an earlier
evaluation, and, for the model of the last pick, the mean posterior sd at the target fidelity
and the mean information gain at ``z = 1`` on a grid's edge cells vs its interior cells
(standardized units, nats).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import torch

from optimizer.acquisition.cf_mesmo import CFMESMO
from optimizer.acquisition.max_values import sample_max_values
from optimizer.context import SuggestContext
from optimizer.methods.mf_common import mf_data
from optimizer.problems import get_problem
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from optimizer.types import Observation

EDGE = 0.01
"""Distance to the box's boundary (unit cube) under which a pick counts as on an edge."""
NEAR = 0.02
"""Max-norm distance (unit cube, fidelity included) under which a pick repeats an earlier one."""
OPTIONS: dict[str, float] = {"num_samples": 8, "raw_samples": 512, "num_restarts": 4}


def landscape(obs: list[Observation], seed: int) -> dict[str, float]:
    """Posterior sd and information gain at ``z = 1`` on a 41 x 41 grid: edge vs interior."""
    p = get_problem("branin-currin")
    ctx = SuggestContext(space=p.space, objectives=p.objectives, observations=obs, pending=[],
                         n=1, seed=seed, method="cf-mesmo", options={}, max_evaluations=None)
    mf = mf_data(ctx)
    X, Y = mf.data.X, mf.data.Y
    torch.manual_seed(ctx.rng_seed(0x5EED))
    model = fit_objective_model(X, Y, mf.data.Yvar, mf.fidelity_dim)
    full = mf.full_fidelity_mask()
    s = sample_max_values(model, dim=mf.d, fidelity_dim=mf.fidelity_dim, num_samples=8,
                          num_candidates=512, X_observed=X[:, :mf.d],
                          Y_best=Y[full].max(0).values if full.any() else None,
                          Y_std=Y.std(0), seed=ctx.rng_seed(1),
                          margin=OPTIONS.get("clamp_margin", 0.0))
    acq = CFMESMO(model, s.max_values, cost=None, fidelity_dim=mf.fidelity_dim)
    g = torch.linspace(0, 1, 41, dtype=torch.double)
    G = torch.cartesian_prod(g, g)
    edge = ((G < EDGE) | (G > 1 - EDGE)).any(-1)
    out: dict[str, float] = {}
    for z in (1.0, 0.0):
        Xz = torch.cat([G, torch.full((G.shape[0], 1), z, dtype=torch.double)], -1)
        with torch.no_grad():
            sd = model.posterior(Xz).variance.sqrt().mean(-1)
            sd = sd / model.outcome_transform.stdvs.mean()  # standardized
            ig = acq.information_gain(Xz.unsqueeze(-2))
        out[f"sd_edge_z{z:g}"] = float(sd[edge].mean())
        out[f"sd_inside_z{z:g}"] = float(sd[~edge].mean())
        out[f"ig_edge_z{z:g}"] = float(ig[edge].mean())
        out[f"ig_inside_z{z:g}"] = float(ig[~edge].mean())
    noise = model.likelihood.noise.detach().reshape(-1)
    out["noise_var_std_units"] = [float(v) for v in noise]  # type: ignore[assignment]
    ls = model.covar_module.lengthscale.detach().reshape(len(p.objectives), -1)
    out["lengthscales"] = ls.tolist()  # type: ignore[assignment]
    return out


def replay(seed: int, evals: int) -> dict[str, Any]:
    """One run's pick statistics (see the module docstring)."""
    torch.set_num_threads(1)
    p = get_problem("branin-currin")
    obs: list[Observation] = []
    picks = []
    for _ in range(evals):
        s = suggest(p.space, p.objectives, obs, [], 1, "cf-mesmo", seed, options=OPTIONS,
                    max_evaluations=evals)[0]
        values, cost = p.evaluate(s.params, s.fidelity)
        u = torch.cat([p.space.to_unit(s.params),
                       p.space.fidelity_to_unit(torch.tensor(s.fidelity, dtype=torch.double))
                       .reshape(1)])
        if "initial" not in str(s.extras.get("phase", "")):
            prev = torch.stack([q[0] for q in picks]) if picks else torch.zeros(0, 3)
            picks.append((u, True, bool(prev.shape[0] and
                                        ((prev - u).abs().amax(-1) < NEAR).any())))
        else:
            picks.append((u, False, False))
        obs.append(Observation(params=s.params, fidelity=s.fidelity, values=values,
                               cost_s=cost))
    model_picks = [(u, r) for u, m, r in picks if m]
    on_edge = [bool(((u[:2] < EDGE) | (u[:2] > 1 - EDGE)).any()) for u, _ in model_picks]
    return {"seed": seed, "model_picks": len(model_picks),
            "edge_share": sum(on_edge) / max(1, len(on_edge)),
            "repeats": sum(r for _, r in model_picks),
            "full_picks": sum(bool(u[2] > 0.999) for u, _ in model_picks),
            "picks": [[round(float(v), 3) for v in u] for u, _ in model_picks],
            "observations": [[o.params, o.fidelity, o.values, o.cost_s] for o in obs],
            **landscape(obs, seed)}


if __name__ == "__main__":
    seeds = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "0,3").split(",")]
    evals = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    if len(sys.argv) > 3:
        OPTIONS["clamp_margin"] = float(sys.argv[3])
    for s in seeds:
        print(json.dumps(replay(s, evals)), flush=True)

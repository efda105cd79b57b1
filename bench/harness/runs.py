r"""One benchmark run, and the inference hypervolume it is scored by.

Each *run* drives one method through ``suggest()`` (``n = 1`` per call, stateless, exactly as
the service does) on one benchmark problem with one seed, evaluating every suggestion on the
noise-free test function at the suggested fidelity and charging its cost, until the cost
budget or the evaluation cap is reached. Costs are synthetic for the MOMF problems
(``exp(4.8 s)``) and measured for ``crossbar-digits`` (the wall time of each real simulator
evaluation, recorded in its table; a request runs at the nearest tabulated fidelity, which is
what the observation records). Costs are reported in *full-evaluation units*: cost divided by
the cost of one evaluation at the target fidelity (MOMF: ``exp(4.8)``; crossbar-digits: the
median full-fidelity wall time over the table's designs).

Metrics, recorded against cumulative cost:

- (a) *inference hypervolume regret* [Daulton2023]_: ``max_hv`` minus the true full-fidelity
  hypervolume of the Pareto set identified under the posterior mean at full fidelity. The
  posterior is the ``optimizer.surrogates`` GP fitted to everything the run observed; the set
  is found by NSGA-II on the posterior mean over the continuous space
  (``optimizer.posterior_front``, as BoTorch's multi-fidelity tutorials do; every design is
  ranked for a discrete space of at most 1024 points), plus the observed designs, keeping the
  non-dominated subset under the mean. (Until 2026-12 the set was ranked among 1024 Sobol
  designs, whose own front holds only 87-89% of Branin-Currin's maximum hypervolume.) For
  the model-free methods (``random``, ``sobol``, ``nsga2``, ``optuna*``) the identified set
  is their evaluated full-fidelity points.
  Model-based runs are scored every ``regret_every`` evaluations and at the end.
- (b) the true hypervolume of the full-fidelity points actually evaluated (what a study
  reports: low-fidelity trials never enter the front).

*Shared initial design* (``init_units``; BoTorch's multi-objective multi-fidelity tutorial,
``gen_init_data``): every method of a seed starts from the same observations, uniform designs
with fidelities drawn from :math:`p(z) \propto 1/C(z)`, drawn until the next one would bring
their cost to ``init_units`` full evaluations (at least ``2 (D + 1)`` of them, the methods'
own default design size, so that no method adds an initial design of its own). Their cost is
charged (curves start at it) and the run is scored right after them. Without it (default)
each method runs its own initial design, which is part of the method (``cf-mesmo`` puts two
of its points at full fidelity, ``mf-hvkg`` one).

References:
    .. [Daulton2023] S. Daulton, M. Balandat, E. Bakshy. Hypervolume knowledge gradient: a
       lookahead approach for multi-objective Bayesian optimization with partial
       information. ICML 2023.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch

from bench.harness.settings import MODEL_FREE, MULTI_FIDELITY, RunRecord
from optimizer.encoding import encode_observations
from optimizer.methods.mf_common import inverse_cost_fidelity
from optimizer.posterior_front import posterior_pareto_set
from optimizer.problems import BenchmarkProblem, get_problem
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from optimizer.types import Observation

logger = logging.getLogger(__name__)


def inference_hv(problem: BenchmarkProblem, observations: Sequence[Observation],
                 seed: int = 0) -> float:
    """True HV at full fidelity of the Pareto set identified under the posterior mean at full
    fidelity (see the module docstring); 0 without observations."""
    if not observations:
        return 0.0
    space = problem.space
    data = encode_observations(space, problem.objectives, observations,
                               with_fidelity=space.has_fidelity)
    model = fit_objective_model(data.X, data.Y)
    front = posterior_pareto_set(model, space,
                                 fidelity_dim=space.dim if space.has_fidelity else None,
                                 X_extra=data.X[:, :space.dim], seed=seed)
    return problem.hypervolume(problem.evaluate_batch(front.X))


SHARED_INIT_SALT = 0x1417
"""Seed offset of the shared initial design's generator (independent of the methods')."""


def shared_initial_design(problem: BenchmarkProblem, seed: int, units: float
                          ) -> list[tuple[dict[str, Any], float]]:
    r"""``(params, fidelity)`` of the shared initial design of ``seed`` (see the module
    docstring): uniform designs, unit fidelities from :math:`p(z) \propto 1/C(z)` with
    :math:`C` log-linear through the problem's costs at both ends of the fidelity range
    (exact for ``exp(4.8 s)``), kept while their cost stays below ``units`` full evaluations,
    then more until there are ``2 (D + 1)``. Without a fidelity range: ``2 (D + 1)`` designs.
    """
    space = problem.space
    g = torch.Generator().manual_seed(SHARED_INIT_SALT + seed)
    min_points = 2 * (space.dim + (1 if space.has_fidelity else 0) + 1)
    if not space.has_fidelity:
        X = space.sample_unit(min_points, g)
        return [(p, space.target_fidelity) for p in space.from_unit_batch(X)]
    lo, hi = space.fidelity_range  # type: ignore[misc]
    c_lo, c_hi = (float(c) for c in problem.cost_batch(torch.tensor([lo, hi],
                                                                    dtype=torch.double)))
    rate = math.log(max(c_hi, 1e-300) / max(c_lo, 1e-300))
    out: list[tuple[dict[str, Any], float]] = []
    spent = 0.0
    while True:
        x = space.sample_unit(1, g)
        u = torch.rand(1, generator=g, dtype=torch.double)
        z = float(space.fidelity_from_unit(inverse_cost_fidelity(u, rate))[0])
        z = problem.realized_fidelity(z)
        c = float(problem.cost_batch(torch.tensor([z], dtype=torch.double))[0]) / c_hi
        if spent + c >= units and len(out) >= min_points:
            return out
        spent += c
        out.append((space.from_unit_batch(x)[0], z))


def evaluation_budget(method: str, budget_units: float, max_evals: int) -> int:
    """The evaluation budget ``suggest()`` is told (``max_evaluations``): ``max_evals`` for a
    multi-fidelity method; for one that evaluates at the target fidelity only, the
    evaluations the cost budget buys, ``min(max_evals, max(1, floor(budget_units)))`` (one
    full evaluation is one unit), so that its budget-capped initial design
    (``optimizer.methods.common.budget_capped_init``) leaves it room for model-based
    suggestions: told 60 with a 12-unit budget, qNEHVI's design took all 12 evaluations."""
    if method in MULTI_FIDELITY:
        return max_evals
    return min(max_evals, max(1, math.floor(budget_units)))


def run_study(problem_name: str, method: str, seed: int, *, budget_units: float,
              max_evals: int, options: dict[str, Any] | None = None, regret_every: int = 5,
              time_limit_s: float = math.inf, init_units: float | None = None) -> RunRecord:
    """Run one method on one problem (see the module docstring); ``init_units``: the cost
    of the shared initial design [full-evaluation units], ``None`` for the method's own."""
    torch.set_num_threads(1)
    problem = get_problem(problem_name)
    unit = float(problem.cost_batch(torch.tensor([problem.space.target_fidelity],
                                                 dtype=torch.double))[0])
    rec = RunRecord(problem=problem_name, method=method, seed=seed, init_units=init_units)
    obs: list[Observation] = []
    full_values: list[list[float]] = []
    model_free = method in MODEL_FREE
    told = evaluation_budget(method, budget_units, max_evals)
    spent, t0 = 0.0, time.perf_counter()
    rec.stopped_by = "evals"
    shared = ([] if init_units is None
              else shared_initial_design(problem, seed, init_units))
    try:
        while len(obs) < max_evals:
            if spent >= budget_units:
                rec.stopped_by = "budget"
                break
            if time.perf_counter() - t0 > time_limit_s:
                rec.stopped_by = "time"
                break
            if len(obs) < len(shared):
                params, z = shared[len(obs)]
                rec.suggest_s.append(0.0)
                rec.phase.append("shared-initial-design")
            else:
                ts = time.perf_counter()
                s = suggest(problem.space, problem.objectives, obs, [], 1, method, seed,
                            options=options, max_evaluations=told)[0]
                rec.suggest_s.append(time.perf_counter() - ts)
                rec.phase.append(str(s.extras.get("phase", "")))
                params = s.params
                z = problem.realized_fidelity(s.fidelity)  # tabulated problems: nearest level
            values, cost = problem.evaluate(params, z)
            obs.append(Observation(params=params, fidelity=z, values=values, cost_s=cost))
            spent += cost / unit
            rec.cost.append(spent)
            rec.fidelity.append(z)
            rec.design.append([round(float(v), 4) for v in problem.space.to_unit(params)])
            if problem.space.is_target(z):
                full_values.append([values[o.name] for o in problem.objectives])
            hv = problem.hypervolume(torch.tensor(full_values, dtype=torch.double)
                                     .reshape(-1, len(problem.objectives)))
            rec.hv_evaluated.append(hv)
            if model_free:
                rec.checkpoints.append([spent, hv])
            elif len(obs) % regret_every == 0 or len(obs) == len(shared):
                rec.checkpoints.append([spent, inference_hv(problem, obs, seed)])
        if not model_free and obs and (not rec.checkpoints or rec.checkpoints[-1][0] != spent):
            rec.checkpoints.append([spent, inference_hv(problem, obs, seed)])
    except Exception as e:  # a failing method is reported, not fatal to the benchmark
        logger.exception("run %s/%s/%d failed", problem_name, method, seed)
        rec.error = f"{type(e).__name__}: {e}"
    return rec


def run_job(kw: dict[str, Any]) -> dict[str, Any]:
    """``run_study(**kw)`` as a plain dict (what a worker process sends back)."""
    return asdict(run_study(**kw))


__all__ = ["SHARED_INIT_SALT", "inference_hv", "run_job", "run_study",
           "shared_initial_design"]

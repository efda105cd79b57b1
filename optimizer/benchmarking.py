r"""Optimizer benchmark: hypervolume against cumulative evaluation cost, and suggest() timing.

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
  is the non-dominated subset, under the posterior mean, of 1024 scrambled Sobol designs (every
  design, for a discrete space of at most 1024 points) plus the observed designs (the discrete
  variant of BoTorch's tutorial). For the model-free methods (``random``, ``sobol``,
  ``nsga2``, ``optuna*``) the identified set is their evaluated full-fidelity points.
  Model-based runs are scored every ``regret_every`` evaluations and at the end.
- (b) the true hypervolume of the full-fidelity points actually evaluated (what a study
  reports: low-fidelity trials never enter the front).

Per method and problem the summary holds, over seeds, the median and inter-quartile range of
both curves on a common log-spaced cost grid, the cost to reach 95% of ``max_hv`` (per seed,
then the median; ``None`` when fewer than half the seeds reach it) under (a) and (b), the
median seconds per ``suggest()`` call, and the goal checks of ``goals()``.

Timing: ``time_suggest`` measures one ``suggest()`` call at 50, 100 and 200 observations of a
4-objective DTLZ2 (6 design dims) given a fidelity column (values ``f(x) (1 + 0.2 (1 - z))``,
costs ``exp(4.8 z)``, a third of the observations at full fidelity); the file reports the
median of ``timing_repeats`` calls (seeds 0, 1, ...: data and optimizer seed) after one untimed
warm-up call per method, one call at a time after the runs (wall time, so it depends on the
machine's load; compare methods within one file).

References:
    .. [Daulton2023] S. Daulton, M. Balandat, E. Bakshy. Hypervolume knowledge gradient: a
       lookahead approach for multi-objective Bayesian optimization with partial
       information. ICML 2023.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.utils.multi_objective.pareto import is_non_dominated
from torch.quasirandom import SobolEngine

from optimizer.errors import OptimizerError
from optimizer.problems import BenchmarkProblem, get_problem
from optimizer.space import FloatParam, SearchSpace
from optimizer.suggest import suggest
from optimizer.types import Objective, Observation

logger = logging.getLogger(__name__)

MODEL_FREE = frozenset({"random", "sobol", "nsga2", "optuna", "optuna-tpe", "optuna-nsga2"})
"""Methods without a surrogate: their identified Pareto set is their evaluated points."""

ALL_METHODS = ("random", "sobol", "nsga2", "optuna-tpe", "qnehvi", "momf", "mf-hvkg",
               "cf-mesmo")
ALL_PROBLEMS = ("branin-currin", "momf-park", "crossbar-digits")
TARGET_FRACTION = 0.95
"""Fraction of the reference (maximum) hypervolume a method must reach."""
NSGA2_PAPER_FRACTION = 1.0 - 0.9091
"""CF-MESMO's reported cost relative to NSGA-II to reach NSGA-II's best (90.91% less)."""

DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "mf-hvkg": {"num_fantasies": 4, "num_pareto": 5, "inner_mc_samples": 16,
                "raw_samples": 32, "num_restarts": 1},
    "momf": {"mc_samples": 64, "raw_samples": 256, "num_restarts": 2},
    "cf-mesmo": {"num_samples": 8, "raw_samples": 512, "num_restarts": 4},
    "qnehvi": {},
}
"""Per-method options of the benchmark runs. MF-HVKG runs with half the tutorial's fantasies
and Pareto-set size and few raw samples (tutorial: 8, 10, 512), MOMF with half its raw samples,
to bound the run time on a 2-core machine; the timing uses the same options."""


@dataclass(frozen=True, kw_only=True)
class BenchSettings:
    """What to run.

    Attributes:
        problems: Problem names (``optimizer.problems``).
        methods: Method names (``optimizer.suggest.available_methods()``).
        seeds: Seeds per (problem, method), ``>= 1``.
        budget_units: Cost budget of model-based methods [full-evaluation units].
        model_free_budget_units: Cost budget of model-free methods [full-evaluation units]
            (larger: NSGA-II needs many generations; its final HV is a goal's yardstick).
        max_evals: Evaluation cap of model-based runs.
        model_free_max_evals: Evaluation cap of model-free runs.
        regret_every: Inference-regret scoring period of model-based runs [evaluations].
        run_time_limit_s: Wall-time cap of one run [s]; a run that hits it stops early
            (recorded as ``stopped_by="time"``).
        timing_sizes: Observation counts of the suggest() timing.
        timing_methods: Methods timed (default: all of ``methods``).
        timing_repeats: Calls timed per method and size (seeds 0, 1, ...); the median is
            reported, after one untimed warm-up call per method (imports, first-call caches).
        workers: Worker processes.
        options: Method options by method name (defaults: ``DEFAULT_OPTIONS``).
    """

    problems: Sequence[str] = ALL_PROBLEMS
    methods: Sequence[str] = ALL_METHODS
    seeds: int = 5
    budget_units: float = 12.0
    model_free_budget_units: float = 60.0
    max_evals: int = 30
    model_free_max_evals: int = 60
    regret_every: int = 5
    run_time_limit_s: float = 300.0
    timing_sizes: Sequence[int] = (50, 100, 200)
    timing_methods: Sequence[str] | None = None
    timing_repeats: int = 3
    workers: int = 2
    options: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_OPTIONS))

    @classmethod
    def quick(cls, **kw: Any) -> BenchSettings:
        """A few-minute configuration: 2 seeds, small budgets (a few model-based steps after
        the initial design), timing at 50 observations."""
        base: dict[str, Any] = {
            "seeds": 2, "budget_units": 4.0, "model_free_budget_units": 20.0,
            "max_evals": 16, "model_free_max_evals": 20, "regret_every": 8,
            "run_time_limit_s": 60.0, "timing_sizes": (50,), "timing_repeats": 1,
            "options": {
                "mf-hvkg": {"num_fantasies": 4, "num_pareto": 4, "inner_mc_samples": 8,
                            "raw_samples": 32, "num_restarts": 1},
                "momf": {"mc_samples": 32, "raw_samples": 128, "num_restarts": 1},
                "cf-mesmo": {"num_samples": 4, "raw_samples": 256, "num_restarts": 2},
                "qnehvi": {},
            },
        }
        base.update(kw)
        return cls(**base)


@dataclass(kw_only=True)
class RunRecord:
    """The trace of one run.

    Attributes:
        problem, method, seed: What ran.
        cost: Cumulative cost after each evaluation [full-evaluation units].
        fidelity: Fidelity of each evaluation.
        hv_evaluated: True HV of the full-fidelity points evaluated so far, after each one.
        checkpoints: ``[cumulative cost, inference HV]`` pairs.
        suggest_s: Wall time of each ``suggest()`` call [s].
        phase: ``extras["phase"]`` of each suggestion (initial designs vs model-based).
        stopped_by: ``"budget"``, ``"evals"`` or ``"time"``.
        error: The exception text when the run failed, else ``None``.
    """

    problem: str
    method: str
    seed: int
    cost: list[float] = field(default_factory=list)
    fidelity: list[float] = field(default_factory=list)
    hv_evaluated: list[float] = field(default_factory=list)
    checkpoints: list[list[float]] = field(default_factory=list)
    suggest_s: list[float] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    stopped_by: str = ""
    error: str | None = None


def _design_tensor(problem: BenchmarkProblem, observations: Sequence[Observation]
                   ) -> torch.Tensor:
    return problem.space.to_unit_batch([o.params for o in observations])


def candidate_designs(space: SearchSpace, seed: int, num_candidates: int) -> torch.Tensor:
    """``n x d`` unit-cube designs to identify a Pareto set among: every point of a discrete
    space with at most ``num_candidates`` points, else ``num_candidates`` scrambled Sobol
    points snapped to representable values."""
    levels = space.discrete_levels
    if space.cardinality is not None and space.cardinality <= num_candidates:
        axes = [(torch.arange(levels[i], dtype=torch.double) + 0.5) / levels[i]
                for i in range(space.dim)]
        return torch.cartesian_prod(*axes).reshape(-1, space.dim)
    cand = SobolEngine(space.dim, scramble=True, seed=seed).draw(num_candidates,
                                                                 dtype=torch.double)
    return space.round_unit(cand)


def inference_hv(problem: BenchmarkProblem, observations: Sequence[Observation],
                 seed: int = 0, num_candidates: int = 1024) -> float:
    """True HV at full fidelity of the Pareto set identified under the posterior mean at full
    fidelity (see the module docstring); 0 without observations."""
    from optimizer.encoding import encode_observations
    from optimizer.surrogates import fit_objective_model

    if not observations:
        return 0.0
    space = problem.space
    data = encode_observations(space, problem.objectives, observations,
                               with_fidelity=space.has_fidelity)
    model = fit_objective_model(data.X, data.Y)
    cand = torch.cat([candidate_designs(space, seed, num_candidates), data.X[:, :space.dim]])
    Xq = cand
    if space.has_fidelity:
        Xq = torch.cat([cand, torch.ones(cand.shape[0], 1, dtype=torch.double)], dim=-1)
    with torch.no_grad():
        mean = model.posterior(Xq).mean  # n x m; the covariance is never formed
    chosen = cand[is_non_dominated(mean)]
    return problem.hypervolume(problem.evaluate_batch(chosen))


def run_study(problem_name: str, method: str, seed: int, *, budget_units: float,
              max_evals: int, options: dict[str, Any] | None = None, regret_every: int = 5,
              time_limit_s: float = math.inf) -> RunRecord:
    """Run one method on one problem (see the module docstring)."""
    torch.set_num_threads(1)
    problem = get_problem(problem_name)
    unit = float(problem.cost_batch(torch.tensor([problem.space.target_fidelity],
                                                 dtype=torch.double))[0])
    rec = RunRecord(problem=problem_name, method=method, seed=seed)
    obs: list[Observation] = []
    full_values: list[list[float]] = []
    model_free = method in MODEL_FREE
    spent, t0 = 0.0, time.perf_counter()
    rec.stopped_by = "evals"
    try:
        while len(obs) < max_evals:
            if spent >= budget_units:
                rec.stopped_by = "budget"
                break
            if time.perf_counter() - t0 > time_limit_s:
                rec.stopped_by = "time"
                break
            ts = time.perf_counter()
            s = suggest(problem.space, problem.objectives, obs, [], 1, method, seed,
                        options=options)[0]
            rec.suggest_s.append(time.perf_counter() - ts)
            rec.phase.append(str(s.extras.get("phase", "")))
            z = problem.realized_fidelity(s.fidelity)  # tabulated problems: nearest level
            values, cost = problem.evaluate(s.params, z)
            obs.append(Observation(params=s.params, fidelity=z, values=values, cost_s=cost))
            spent += cost / unit
            rec.cost.append(spent)
            rec.fidelity.append(z)
            if z >= problem.space.target_fidelity - 1e-9:
                full_values.append([values[o.name] for o in problem.objectives])
            hv = problem.hypervolume(torch.tensor(full_values, dtype=torch.double)
                                     .reshape(-1, len(problem.objectives)))
            rec.hv_evaluated.append(hv)
            if model_free:
                rec.checkpoints.append([spent, hv])
            elif len(obs) % regret_every == 0:
                rec.checkpoints.append([spent, inference_hv(problem, obs, seed)])
        if not model_free and obs and (not rec.checkpoints or rec.checkpoints[-1][0] != spent):
            rec.checkpoints.append([spent, inference_hv(problem, obs, seed)])
    except Exception as e:  # a failing method is reported, not fatal to the benchmark
        logger.exception("run %s/%s/%d failed", problem_name, method, seed)
        rec.error = f"{type(e).__name__}: {e}"
    return rec


def _run_job(kw: dict[str, Any]) -> dict[str, Any]:
    return asdict(run_study(**kw))


def _dtlz2_timing_case(n_obs: int, seed: int = 0) -> tuple[SearchSpace, list[Objective],
                                                           list[Observation]]:
    from botorch.test_functions.multi_objective import DTLZ2

    d, m = 6, 4
    f = DTLZ2(dim=d, num_objectives=m)
    space = SearchSpace([FloatParam(name=f"x{i}", low=0.0, high=1.0) for i in range(d)],
                        fidelity_range=(0.0, 1.0))
    objectives = [Objective(name=f"f{j}", direction="minimize", ref_point=1.1)
                  for j in range(m)]
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n_obs, d, generator=g, dtype=torch.double)
    z = torch.rand(n_obs, generator=g, dtype=torch.double)
    z[::3] = 1.0
    Y = f(X) * (1 + 0.2 * (1 - z)).unsqueeze(-1)
    obs = [Observation(params=space.from_unit(X[i]), fidelity=float(z[i]),
                       values={o.name: float(Y[i, j]) for j, o in enumerate(objectives)},
                       cost_s=math.exp(4.8 * float(z[i]))) for i in range(n_obs)]
    return space, objectives, obs


def time_suggest(method: str, n_obs: int, options: dict[str, Any] | None = None,
                 seed: int = 0) -> float:
    """Seconds of one ``suggest()`` call (``n = 1``) at ``n_obs`` observations of the
    4-objective DTLZ2 timing case (see the module docstring)."""
    torch.set_num_threads(1)
    space, objectives, obs = _dtlz2_timing_case(n_obs, seed)
    t0 = time.perf_counter()
    suggest(space, objectives, obs, [], 1, method, seed, options=options)
    return time.perf_counter() - t0


def _time_job(kw: dict[str, Any]) -> dict[str, Any]:
    try:
        return {**kw, "seconds": time_suggest(**kw), "error": None}
    except Exception as e:  # reported in the results
        return {**kw, "seconds": None, "error": f"{type(e).__name__}: {e}"}


def _step_values(xs: Sequence[float], ys: Sequence[float], grid: np.ndarray,
                 before: float) -> np.ndarray:
    """Right-continuous step function through ``(xs, ys)`` on ``grid`` (``before`` first)."""
    out = np.full(grid.shape, before, dtype=float)
    if not len(xs):
        return out
    idx = np.searchsorted(np.asarray(xs, dtype=float), grid, side="right") - 1
    ok = idx >= 0
    out[ok] = np.asarray(ys, dtype=float)[idx[ok]]
    out[grid > xs[-1]] = np.nan  # beyond the run's spend: unknown
    return out


def _cost_to_reach(xs: Sequence[float], ys: Sequence[float], level: float) -> float:
    for x, y in zip(xs, ys, strict=True):
        if y >= level - 1e-12:
            return float(x)
    return math.inf


def _median_or_none(vals: Sequence[float]) -> float | None:
    """Median of per-seed values (``inf``: never reached), ``None`` when it is not finite."""
    if not len(vals):
        return None
    med = float(np.median(np.asarray(vals, dtype=float)))
    return med if math.isfinite(med) else None


def _median_model_phase(runs: Sequence[dict[str, Any]]) -> float | None:
    """Median ``suggest()`` time over calls past the initial design (all calls if none)."""
    model = [s for r in runs for s, ph in zip(r["suggest_s"], r["phase"], strict=True)
             if "initial" not in ph]
    allc = [s for r in runs for s in r["suggest_s"]]
    vals = model or allc
    return float(np.median(vals)) if vals else None


def summarize(records: Sequence[dict[str, Any]], max_hv: dict[str, float],
              grid_points: int = 200) -> dict[str, Any]:
    """Median / IQR curves and per-method figures per problem (see the module docstring)."""
    out: dict[str, Any] = {}
    for prob in sorted({r["problem"] for r in records}):
        runs = [r for r in records if r["problem"] == prob and r["error"] is None]
        top = max((r["cost"][-1] for r in runs if r["cost"]), default=1.0)
        low = min((r["cost"][0] for r in runs if r["cost"]), default=0.01)
        grid = np.geomspace(max(low, 1e-3), top, grid_points)
        hv_max = max_hv[prob]
        per_method: dict[str, Any] = {}
        for method in sorted({r["method"] for r in runs}):
            mr = [r for r in runs if r["method"] == method]
            reg = np.stack([hv_max - _step_values([c for c, _ in r["checkpoints"]],
                                                  [h for _, h in r["checkpoints"]], grid, 0.0)
                            for r in mr])
            hve = np.stack([_step_values(r["cost"], r["hv_evaluated"], grid, 0.0) for r in mr])

            def q(a: np.ndarray, p: float) -> list[float | None]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=RuntimeWarning)
                    v = np.nanpercentile(a, p, axis=0) if a.size else np.array([])
                return [None if not np.isfinite(x) else float(x) for x in v]

            level = TARGET_FRACTION * hv_max
            per_method[method] = {
                "seeds": len(mr),
                "regret_median": q(reg, 50), "regret_q25": q(reg, 25), "regret_q75": q(reg, 75),
                "hv_evaluated_median": q(hve, 50), "hv_evaluated_q25": q(hve, 25),
                "hv_evaluated_q75": q(hve, 75),
                "cost_to_95_inference": _median_or_none(
                    [_cost_to_reach([c for c, _ in r["checkpoints"]],
                                    [h for _, h in r["checkpoints"]], level) for r in mr]),
                "cost_to_95_evaluated": _median_or_none(
                    [_cost_to_reach(r["cost"], r["hv_evaluated"], level) for r in mr]),
                "final_cost_median": float(np.median([r["cost"][-1] for r in mr if r["cost"]]))
                if any(r["cost"] for r in mr) else None,
                "final_inference_hv_median": float(np.median(
                    [r["checkpoints"][-1][1] for r in mr if r["checkpoints"]]))
                if any(r["checkpoints"] for r in mr) else None,
                "final_hv_evaluated_median": float(np.median(
                    [r["hv_evaluated"][-1] for r in mr if r["hv_evaluated"]]))
                if any(r["hv_evaluated"] for r in mr) else None,
                "evaluations_median": float(np.median([len(r["cost"]) for r in mr])),
                "full_fidelity_share": float(np.mean(
                    [f >= 1.0 - 1e-9 for r in mr for f in r["fidelity"]]))
                if any(r["fidelity"] for r in mr) else None,
                "suggest_s_median": _median_model_phase(mr),
                "stopped_by": sorted({r["stopped_by"] for r in mr}),
            }
        failed = [f"{r['method']}/{r['seed']}: {r['error']}" for r in records
                  if r["problem"] == prob and r["error"] is not None]
        out[prob] = {"max_hv": hv_max, "cost_grid": grid.tolist(), "methods": per_method,
                     "failed_runs": failed}
    return out


def _reach(records: Sequence[dict[str, Any]], prob: str, method: str, level: float,
           which: str) -> float | None:
    vals = []
    for r in records:
        if r["problem"] != prob or r["method"] != method or r["error"] is not None:
            continue
        if which == "inference":
            vals.append(_cost_to_reach([c for c, _ in r["checkpoints"]],
                                       [h for _, h in r["checkpoints"]], level))
        else:
            vals.append(_cost_to_reach(r["cost"], r["hv_evaluated"], level))
    return _median_or_none(vals)


def goals(records: Sequence[dict[str, Any]], summary: dict[str, Any],
          timing: dict[str, dict[str, float | None]], ours: str = "cf-mesmo"
          ) -> dict[str, Any]:
    """The issue's goals, computed from the runs (``None`` where a figure is missing)."""
    out: dict[str, Any] = {}
    for prob, s in summary.items():
        meth = s["methods"]
        g: dict[str, Any] = {}
        if "nsga2" in meth and ours in meth:
            ns_runs = [r for r in records if r["problem"] == prob and r["method"] == "nsga2"
                       and r["error"] is None and r["hv_evaluated"]]
            if ns_runs:
                final = float(np.median([r["hv_evaluated"][-1] for r in ns_runs]))
                # NSGA-II's cost: per seed, when it first reached its own final HV
                ns_cost = _median_or_none([_cost_to_reach(r["cost"], r["hv_evaluated"],
                                                          r["hv_evaluated"][-1])
                                           for r in ns_runs])
                for which in ("evaluated", "inference"):
                    c = _reach(records, prob, ours, final, which)
                    g[f"vs_nsga2_{which}"] = {
                        "nsga2_final_hv": final, "nsga2_cost": ns_cost, f"{ours}_cost": c,
                        "ratio": None if c is None or not ns_cost else c / ns_cost,
                        "goal_ratio": NSGA2_PAPER_FRACTION,
                        "met": bool(c is not None and ns_cost
                                    and c / ns_cost <= NSGA2_PAPER_FRACTION),
                    }
        c_ours = meth.get(ours, {}).get("cost_to_95_inference")
        for base, goal in (("qnehvi", 0.10), ("momf", 1.0)):
            if base in meth:
                c_base = meth[base]["cost_to_95_inference"]
                g[f"cost_to_95_vs_{base}"] = {
                    f"{ours}_cost": c_ours, f"{base}_cost": c_base,
                    "ratio": None if c_ours is None or c_base is None else c_ours / c_base,
                    "goal_ratio": goal,
                    "met": bool(c_ours is not None and (c_base is None
                                                        or c_ours / c_base <= goal + 1e-12)),
                }
        if "mf-hvkg" in meth and ours in meth:
            a, b = meth[ours]["regret_median"], meth["mf-hvkg"]["regret_median"]
            both = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
            g["regret_vs_mf_hvkg"] = {
                "grid_points_compared": len(both),
                "ours_at_most_theirs_share": (float(np.mean([x <= y + 1e-12 for x, y in both]))
                                              if both else None),
                "final_common_cost_regret": list(both[-1]) if both else None,
                "met": bool(both and both[-1][0] <= both[-1][1] + 1e-12),
            }
        out[prob] = g
    t_ours = timing.get(ours, {}).get("200") or timing.get(ours, {}).get("50")
    speed: dict[str, Any] = {}
    for base, factor in (("mf-hvkg", 10.0), ("qnehvi", 1.0)):
        t_base = timing.get(base, {}).get("200") or timing.get(base, {}).get("50")
        speed[f"vs_{base}"] = {
            f"{ours}_s": t_ours, f"{base}_s": t_base,
            "speedup": None if not t_ours or not t_base else t_base / t_ours,
            "goal_speedup": factor,
            "met": bool(t_ours and t_base and t_base / t_ours >= factor),
        }
    out["suggest_speed"] = speed
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    """Median (line) and IQR (band) of both metrics against cost, one row per problem, plus
    the suggest() timing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"]
    probs = list(summary)
    fig, axes = plt.subplots(len(probs) + 1, 2, figsize=(12, 4 * (len(probs) + 1)),
                             squeeze=False)
    for row, prob in enumerate(probs):
        s = summary[prob]
        grid = np.asarray(s["cost_grid"])
        for method, ms in s["methods"].items():
            for col, key, floor in ((0, "regret", 1e-4), (1, "hv_evaluated", None)):
                med = np.array([np.nan if v is None else v for v in ms[f"{key}_median"]])
                lo = np.array([np.nan if v is None else v for v in ms[f"{key}_q25"]])
                hi = np.array([np.nan if v is None else v for v in ms[f"{key}_q75"]])
                if floor is not None:
                    med, lo, hi = (np.maximum(a, floor) for a in (med, lo, hi))
                ax = axes[row, col]
                (line,) = ax.plot(grid, med, label=method, lw=2 if method == "cf-mesmo" else 1)
                ax.fill_between(grid, lo, hi, alpha=0.15, color=line.get_color())
        axes[row, 0].set(xscale="log", yscale="log", title=f"{prob}: inference HV regret",
                         xlabel="cumulative cost [full evaluations]", ylabel="max HV - HV")
        axes[row, 1].axhline(TARGET_FRACTION * s["max_hv"], color="k", ls=":", lw=0.8)
        axes[row, 1].set(xscale="log", title=f"{prob}: HV of evaluated full-fidelity points",
                         xlabel="cumulative cost [full evaluations]", ylabel="hypervolume")
        axes[row, 0].legend(fontsize=7)
    ax = axes[-1, 0]
    timing = results["timing"]
    methods = list(timing)
    sizes = sorted({k for v in timing.values() for k in v}, key=int)
    for i, size in enumerate(sizes):
        vals = [timing[m].get(size) or np.nan for m in methods]
        ax.bar(np.arange(len(methods)) + i * 0.8 / len(sizes), vals, width=0.8 / len(sizes),
               label=f"{size} observations")
    ax.set_xticks(np.arange(len(methods)) + 0.4 - 0.4 / len(sizes))
    ax.set_xticklabels(methods, rotation=30, fontsize=8)
    ax.set(yscale="log", ylabel="seconds per suggest()",
           title="suggest() time, 4-objective DTLZ2 with fidelity")
    ax.legend(fontsize=7)
    axes[-1, 1].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _finite(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by ``None`` (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def run_benchmark(settings: BenchSettings, out_dir: Path | str, name: str = "optimizer",
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every (problem, method, seed) and the timing, write ``<name>.json`` and
    ``<name>.png`` under ``out_dir``, and return the results dict."""
    if settings.seeds < 1:
        raise OptimizerError("seeds must be >= 1.")
    for p in settings.problems:
        get_problem(p)  # validates the name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: logger.info("%s", msg))
    # seed-major order: an interrupted benchmark still has balanced seeds across methods
    jobs = []
    for seed in range(settings.seeds):
        for method in settings.methods:
            free = method in MODEL_FREE
            for prob in settings.problems:
                jobs.append({
                    "problem_name": prob, "method": method, "seed": seed,
                    "budget_units": (settings.model_free_budget_units if free
                                     else settings.budget_units),
                    "max_evals": settings.model_free_max_evals if free else settings.max_evals,
                    "options": settings.options.get(method) or None,
                    "regret_every": settings.regret_every,
                    "time_limit_s": settings.run_time_limit_s,
                })
    t0 = time.perf_counter()
    records: list[dict[str, Any]] = []
    partial = out_dir / f"{name}.partial-runs.json"  # finished runs so far, removed at the end
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    os.environ.update(env)
    with ProcessPoolExecutor(max_workers=settings.workers) as pool:
        futs = [pool.submit(_run_job, j) for j in jobs]
        for fut in as_completed(futs):
            res = fut.result()
            records.append(res)
            partial.write_text(json.dumps(_finite(records)))
            say(f"{res['problem']} {res['method']} seed {res['seed']}: "
                f"{len(res['cost'])} evals, cost {res['cost'][-1] if res['cost'] else 0:.2f}"
                f"{' ERROR ' + res['error'] if res['error'] else ''}")
    timing, timing_errors = _time_all(settings, say)
    results = finalize(records, timing, settings, out_dir, name=name,
                       wall_s=time.perf_counter() - t0, timing_errors=timing_errors)
    partial.unlink(missing_ok=True)
    return results


def _time_all(settings: BenchSettings, say: Callable[[str], None]
              ) -> tuple[dict[str, dict[str, float | None]], list[str]]:
    """Median seconds of ``settings.timing_repeats`` ``time_suggest`` calls (seeds 0, 1, ...)
    per timed method and size, after one untimed warm-up call per method, one call at a time
    in one worker process per method (after the runs, so that calls do not compete for the
    cores)."""
    timing: dict[str, dict[str, float | None]] = {}
    errors: list[str] = []
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    repeats = max(1, settings.timing_repeats)
    for m in settings.timing_methods or settings.methods:
        opts = settings.options.get(m) or None
        with ProcessPoolExecutor(max_workers=1) as pool:
            pool.submit(_time_job, {"method": m, "n_obs": min(settings.timing_sizes),
                                    "options": opts, "seed": 0}).result()  # warm-up
            for n in settings.timing_sizes:
                runs = [pool.submit(_time_job, {"method": m, "n_obs": n, "options": opts,
                                                "seed": r}).result() for r in range(repeats)]
                secs = [r["seconds"] for r in runs if r["seconds"] is not None]
                timing.setdefault(m, {})[str(n)] = float(np.median(secs)) if secs else None
                errors += [f"{m}@{n}: {r['error']}" for r in runs if r["error"]]
                say(f"timing {m} @ {n} obs: median {timing[m][str(n)]} of {len(secs)} "
                    f"({', '.join(f'{x:.2f}' for x in secs)} s)")
    return timing, errors


def retime(out_dir: Path | str, name: str = "optimizer",
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Re-measure the suggest() timing of an existing ``<name>.json`` (same methods, sizes and
    options) and rewrite it and its PNG, keeping its runs: for a speed change that leaves the
    runs' suggestions unchanged. A note in the file says when the timing was re-measured.

    Raises:
        OptimizerError: If ``<name>.json`` is missing or has no runs.
    """
    out_dir = Path(out_dir)
    path = out_dir / f"{name}.json"
    if not path.is_file():
        raise OptimizerError(f"{path} does not exist: run the benchmark first.")
    old = json.loads(path.read_text())
    if not old.get("runs"):
        raise OptimizerError(f"{path} holds no runs.")
    fields = set(BenchSettings.__dataclass_fields__)
    settings = BenchSettings(**{k: v for k, v in old["settings"].items() if k in fields})
    say = progress or (lambda msg: logger.info("%s", msg))
    timing, errors = _time_all(settings, say)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    notes = [*old.get("notes", []), f"suggest() timing re-measured on {stamp}; runs unchanged"]
    return finalize(old["runs"], timing, settings, out_dir, name=name, wall_s=old.get("wall_s"),
                    timing_errors=errors, notes=notes)


def finalize(records: Sequence[dict[str, Any]], timing: dict[str, dict[str, float | None]],
             settings: BenchSettings, out_dir: Path | str, *, name: str = "optimizer",
             wall_s: float | None = None, timing_errors: Sequence[str] = (),
             notes: Sequence[str] = ()) -> dict[str, Any]:
    """Summarize finished runs and timings, write ``<name>.json`` and ``<name>.png``.

    Also used to write the results of an interrupted benchmark from its
    ``<name>.partial-runs.json`` (with ``notes`` saying so).
    """
    out_dir = Path(out_dir)
    problems = sorted({r["problem"] for r in records}) or list(settings.problems)
    max_hv = {p: float(get_problem(p).max_hv or 0.0) for p in problems}
    summary = summarize(records, max_hv)
    results: dict[str, Any] = {
        "settings": {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in asdict(settings).items()},
        "wall_s": wall_s,
        "notes": list(notes),
        "cost_unit": ("one evaluation at the target fidelity: exp(4.8) for the MOMF problems, "
                      "the median measured full-fidelity wall time for crossbar-digits"),
        "problems": {p: {"description": get_problem(p).description,
                         "cost_kind": get_problem(p).cost_kind} for p in problems},
        "summary": summary,
        "timing": timing,
        "timing_errors": list(timing_errors),
        "goals": goals(records, summary, timing),
        "runs": sorted(records, key=lambda r: (r["problem"], r["method"], r["seed"])),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(_finite(results), indent=1))
    plot(results, out_dir / f"{name}.png")
    return results


__all__ = [
    "ALL_METHODS",
    "ALL_PROBLEMS",
    "BenchSettings",
    "RunRecord",
    "candidate_designs",
    "finalize",
    "goals",
    "inference_hv",
    "plot",
    "retime",
    "run_benchmark",
    "run_study",
    "summarize",
    "time_suggest",
]

"""Summary of the optimizer benchmark's runs, the goal checks, and the result file.

Per method and problem the summary holds, over seeds, the median and inter-quartile range of
both curves (inference HV regret, HV of the evaluated full-fidelity points; see
``bench.harness.runs``) on a common log-spaced cost grid, the worst seed's regret curve and
final regret beside the median (and every seed's final regret), the cost to reach 95% of ``max_hv``
(per seed, then the median; ``None`` when fewer than half the seeds reach it) under both, the
median seconds per ``suggest()`` call, and the goal checks of ``goals()``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness.plot import plot
from bench.harness.settings import NSGA2_PAPER_FRACTION, TARGET_FRACTION, BenchSettings
from optimizer.problems import get_problem
from optimizer.space import FIDELITY_TOL

MIN_COMPARED_UNITS = 1.0
"""Shortest cost window [full-evaluation units] over which two evaluated-HV curves are compared
after the initial design: a shorter window (one method's runs all stopped by their evaluation cap
soon after it) gives ``met: False`` with ``comparable: False``, never a vacuous pass."""


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


def _initial_cost(run: dict[str, Any]) -> float:
    """Cumulative cost when the run's initial design ended (0 without one)."""
    n = sum(1 for ph in run["phase"] if "initial" in ph)
    return float(run["cost"][n - 1]) if n and run["cost"] else 0.0


def summarize(records: Sequence[dict[str, Any]], max_hv: dict[str, float],
              grid_points: int = 200, target_fidelity: Mapping[str, float] | None = None
              ) -> dict[str, Any]:
    """Median / IQR curves and per-method figures per problem (see the module docstring).

    Args:
        records: ``RunRecord`` dicts.
        max_hv: Maximum hypervolume per problem name.
        grid_points: Points of the log-spaced cost grid.
        target_fidelity: Target fidelity per problem name (its space's ``target_fidelity``;
            1.0 for a problem not named), for the share of full-fidelity evaluations.
    """
    out: dict[str, Any] = {}
    for prob in sorted({r["problem"] for r in records}):
        target = (target_fidelity or {}).get(prob, 1.0)
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
            final_regret = [hv_max - r["checkpoints"][-1][1] for r in mr if r["checkpoints"]]
            per_method[method] = {
                "seeds": len(mr),
                "regret_median": q(reg, 50), "regret_q25": q(reg, 25), "regret_q75": q(reg, 75),
                "regret_worst": q(reg, 100),
                "final_regret_by_seed": {str(r["seed"]): hv_max - r["checkpoints"][-1][1]
                                         for r in mr if r["checkpoints"]},
                "final_regret_median": float(np.median(final_regret)) if final_regret
                else None,
                "final_regret_worst": max(final_regret) if final_regret else None,
                "initial_design_cost_median": _median_or_none(
                    [_initial_cost(r) for r in mr]),
                "hv_evaluated_median": q(hve, 50), "hv_evaluated_q25": q(hve, 25),
                "hv_evaluated_q75": q(hve, 75),
                "cost_to_95_inference": _median_or_none(
                    [_cost_to_reach([c for c, _ in r["checkpoints"]],
                                    [h for _, h in r["checkpoints"]], level) for r in mr]),
                "cost_to_95_evaluated": _median_or_none(
                    [_cost_to_reach(r["cost"], r["hv_evaluated"], level) for r in mr]),
                "final_cost_median": float(np.median([r["cost"][-1] for r in mr if r["cost"]]))
                if any(r["cost"] for r in mr) else None,
                "final_cost_min": min((r["cost"][-1] for r in mr if r["cost"]), default=None),
                "final_inference_hv_median": float(np.median(
                    [r["checkpoints"][-1][1] for r in mr if r["checkpoints"]]))
                if any(r["checkpoints"] for r in mr) else None,
                "final_hv_evaluated_median": float(np.median(
                    [r["hv_evaluated"][-1] for r in mr if r["hv_evaluated"]]))
                if any(r["hv_evaluated"] for r in mr) else None,
                "evaluations_median": float(np.median([len(r["cost"]) for r in mr])),
                "full_fidelity_share": float(np.mean(
                    [f >= target - FIDELITY_TOL for r in mr for f in r["fidelity"]]))
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


def _common(grid: Sequence[float], meth: Mapping[str, Any], methods: Sequence[str],
            start: float = 0.0) -> list[int]:
    """Grid indices from ``start`` up to the least final cost over every run of ``methods``:
    there every seed counts in every curve."""
    end = min((meth[m]["final_cost_min"] for m in methods
               if meth[m]["final_cost_min"] is not None), default=0.0)
    return [i for i, c in enumerate(grid) if start <= c <= end]


def _curve_goal(ours: Sequence[float | None], theirs: Sequence[float | None], *,
                lower_is_better: bool, every: bool = False) -> dict[str, Any]:
    """Two curves on one cost grid compared where both are known: the share of grid points
    where ours is at least as good, the last common point, and ``met`` (at the last common
    point, or at every common point with ``every``)."""
    both = [(x, y) for x, y in zip(ours, theirs, strict=True) if x is not None and y is not None]
    ok = [(x <= y + 1e-12) if lower_is_better else (x >= y - 1e-12) for x, y in both]
    return {
        "grid_points_compared": len(both),
        "ours_at_least_as_good_share": float(np.mean(ok)) if ok else None,
        "final_common_cost_values": list(both[-1]) if both else None,
        "met": bool(ok and (all(ok) if every else ok[-1])),
    }


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
        grid = s["cost_grid"]
        if "mf-hvkg" in meth and ours in meth:
            keep = _common(grid, meth, (ours, "mf-hvkg"))
            for stat in ("median", "worst"):
                g[f"regret_vs_mf_hvkg_{stat}"] = {
                    "up_to_cost": grid[keep[-1]] if keep else None,
                    **_curve_goal([meth[ours][f"regret_{stat}"][i] for i in keep],
                                  [meth["mf-hvkg"][f"regret_{stat}"][i] for i in keep],
                                  lower_is_better=True),
                    # each run's last score, at its own final cost (median final costs beside)
                    "final": [meth[m][f"final_regret_{stat}"] for m in (ours, "mf-hvkg")],
                    "final_cost_median": [meth[m]["final_cost_median"]
                                          for m in (ours, "mf-hvkg")]}
        start = meth.get(ours, {}).get("initial_design_cost_median") or 0.0
        for base in ("momf", "qnehvi"):
            if base in meth and ours in meth:
                keep = _common(grid, meth, (ours, base), start)
                up_to = grid[keep[-1]] if keep else None
                check = _curve_goal([meth[ours]["hv_evaluated_median"][i] for i in keep],
                                    [meth[base]["hv_evaluated_median"][i] for i in keep],
                                    lower_is_better=False, every=True)
                comparable = up_to is not None and up_to - start >= MIN_COMPARED_UNITS
                g[f"hv_evaluated_vs_{base}"] = {
                    "after_cost": start, "up_to_cost": up_to, **check,
                    "comparable": comparable, "met": bool(check["met"] and comparable),
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


def finite(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by ``None`` (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


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
    targets = {p: get_problem(p).space.target_fidelity for p in problems}
    summary = summarize(records, max_hv, target_fidelity=targets)
    results: dict[str, Any] = {
        "settings": {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in asdict(settings).items()},
        "wall_s": wall_s,
        "notes": list(notes),
        "cost_unit": ("cost units: one evaluation at the target fidelity; synthetic for the "
                      "MOMF problems (cost exp(4.8 z), unit exp(4.8)), the median measured "
                      "full-fidelity wall time for crossbar-digits"),
        "problems": {p: {"description": get_problem(p).description,
                         "cost_kind": get_problem(p).cost_kind} for p in problems},
        "summary": summary,
        "timing": timing,
        "timing_errors": list(timing_errors),
        "goals": goals(records, summary, timing),
        "runs": sorted(records, key=lambda r: (r["problem"], r["method"], r["seed"])),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(finite(results), indent=1))
    plot(results, out_dir / f"{name}.png")
    return results


__all__ = ["finalize", "finite", "goals", "summarize"]

"""The figure of the optimizer benchmark: both metrics against cost, and suggest() timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from bench.harness.settings import TARGET_FRACTION


def plot(results: dict[str, Any], path: Path) -> None:
    """Median (line) and IQR (band) of both metrics against cost, the worst seed's regret
    (dashed), one row per problem, plus the suggest() timing."""
    summary = results["summary"]
    probs = list(summary)
    fig = Figure(figsize=(12, 4 * (len(probs) + 1)))  # no pyplot: no global backend state
    axes = fig.subplots(len(probs) + 1, 2, squeeze=False)
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
                if col == 0 and "regret_worst" in ms:
                    worst = np.array([np.nan if v is None else v for v in ms["regret_worst"]])
                    ax.plot(grid, np.maximum(worst, floor), ls="--", lw=0.8,
                            color=line.get_color())
        kind = results.get("problems", {}).get(prob, {}).get("cost_kind", "synthetic")
        unit = ("cost units (synthetic; 1 = one full evaluation)" if kind == "synthetic"
                else "full evaluations (measured wall time)")
        n_seeds = max((ms["seeds"] for ms in s["methods"].values()), default=0)
        axes[row, 0].set(xscale="log", yscale="log",
                         title=f"{prob}: inference HV regret (median, IQR; dashed: worst of "
                               f"{n_seeds} seeds)",
                         xlabel=f"cumulative cost [{unit}]", ylabel="max HV - HV")
        axes[row, 1].axhline(TARGET_FRACTION * s["max_hv"], color="k", ls=":", lw=0.8)
        axes[row, 1].set(xscale="log", title=f"{prob}: HV of evaluated full-fidelity points",
                         xlabel=f"cumulative cost [{unit}]", ylabel="hypervolume")
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


__all__ = ["plot"]

"""IR-drop benchmark: fast models vs the exact nodal solver, and their cost vs a plain matmul.

For square arrays of 64, 128 and 256 rows, conductances uniform in [g_min, g_max] and
wire resistances per segment r, it measures the column-current error of ``first_order`` and
``relaxation`` against ``exact`` (max and RMS relative error over all columns and inputs) and
the wall time of each method relative to the ideal ``v @ g`` (median of repeats, one thread).

Usage: ``python bench/simulator_ir.py [--quick]`` -> ``bench/results/simulator_ir.json`` + ``.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.timing import median_time  # noqa: E402
from simulator.nonideal.ir_drop import column_currents, first_order_conductance  # noqa: E402

RESULTS = Path(__file__).parent / "results"
READ_VOLTAGE_V = 0.2
BATCH = 64
G_MIN_US = 1.0



def _inputs(size: int, gen: torch.Generator) -> torch.Tensor:
    """Half bit-serial (0 / V_read with p = 0.5), half analog (uniform 0..V_read): B x rows."""
    binary = READ_VOLTAGE_V * (torch.rand(BATCH // 2, size, generator=gen) < 0.5)
    analog = READ_VOLTAGE_V * torch.rand(BATCH // 2, size, generator=gen)
    return torch.cat([binary, analog]).double()


def run_case(size: int, r_wire: float, g_max_us: float, repeats: int) -> dict:
    gen = torch.Generator().manual_seed(size)
    g = (G_MIN_US + (g_max_us - G_MIN_US) * torch.rand(size, size, generator=gen)).double() * 1e-6
    v = _inputs(size, gen)
    exact = column_currents(v, g, r_wire, "exact")
    ideal = v @ g

    def rel(y: torch.Tensor) -> dict:
        err = (y - exact).abs() / exact.abs()
        return {"max": float(err.max()), "rms": float(err.pow(2).mean().sqrt())}

    relax = column_currents(v, g, r_wire, "relaxation", tol=1e-6)
    v32, g32 = v.float(), g.float()
    g_eff = first_order_conductance(g32, r_wire)
    t_ideal = median_time(lambda: v32 @ g32, repeats)
    t_first = median_time(lambda: column_currents(v32, g32, r_wire, "first_order"), repeats)
    t_first_cached = median_time(lambda: v32 @ g_eff, repeats)
    t_relax = median_time(
        lambda: column_currents(v32, g32, r_wire, "relaxation", tol=1e-6), max(1, repeats // 10)
    )
    t_exact = median_time(lambda: column_currents(v, g, r_wire, "exact"), 3)
    return {
        "size": size,
        "r_wire_ohm": r_wire,
        "g_range_us": [G_MIN_US, g_max_us],
        "error_vs_exact": {
            "ideal": rel(ideal),
            "first_order": rel(column_currents(v, g, r_wire, "first_order")),
            "relaxation": rel(relax),
        },
        "time_s": {
            "ideal_matmul": t_ideal,
            "first_order": t_first,
            "first_order_cached_geff": t_first_cached,
            "relaxation": t_relax,
            "exact": t_exact,
        },
        "time_vs_ideal": {
            "first_order": t_first / t_ideal,
            "first_order_cached_geff": t_first_cached / t_ideal,
            "relaxation": t_relax / t_ideal,
            "exact": t_exact / t_ideal,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG from the JSON")
    args = parser.parse_args()
    if args.plot_only:
        _plot(json.loads((RESULTS / "simulator_ir.json").read_text())["cases"])
        return
    torch.set_num_threads(1)
    sizes = (64, 128, 256)
    r_values = (1.0,) if args.quick else (0.35, 1.0, 2.5)
    g_values = (40.0,) if args.quick else (10.0, 40.0)
    repeats = 20 if args.quick else 100
    cases = []
    for g_max in g_values:
        for r in r_values:
            for size in sizes:
                case = run_case(size, r, g_max, repeats)
                cases.append(case)
                print(
                    f"{size:4d} r={r:5.2f} gmax={g_max:4.0f}uS "
                    f"ideal {case['error_vs_exact']['ideal']['max']:.2e} "
                    f"first {case['error_vs_exact']['first_order']['max']:.2e} "
                    f"relax {case['error_vs_exact']['relaxation']['max']:.2e} | x ideal: "
                    f"first {case['time_vs_ideal']['first_order']:.1f} "
                    f"relax {case['time_vs_ideal']['relaxation']:.0f}"
                )
    goal = next(
        c for c in cases if c["size"] == 128 and c["r_wire_ohm"] == 1.0 and c["g_range_us"][1] == 40
    )
    out = {
        "description": (
            "Column-current error of the fast IR-drop models against the exact nodal solver "
            "(max / RMS relative error over all columns of a batch of inputs) and wall time "
            "relative to an ideal matmul. Inputs: half binary (0 or V_read), half uniform in "
            "[0, V_read]; conductances uniform in g_range_us."
        ),
        "read_voltage_v": READ_VOLTAGE_V,
        "batch": BATCH,
        "threads": 1,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "goal": "first_order error < 1% at 128x128",
        "goal_case": {
            "size": 128,
            "r_wire_ohm": 1.0,
            "g_range_us": goal["g_range_us"],
            "first_order_max_rel_error": goal["error_vs_exact"]["first_order"]["max"],
            "met": goal["error_vs_exact"]["first_order"]["max"] < 0.01,
        },
        "cases": cases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulator_ir.json").write_text(json.dumps(out, indent=2) + "\n")
    _plot(cases)


def _plot(cases: list[dict]) -> None:
    fig, (ax_err, ax_t) = plt.subplots(1, 2, figsize=(11, 4.4))
    combos = sorted({(c["g_range_us"][1], c["r_wire_ohm"]) for c in cases})
    styles = {"ideal": ":", "first_order": "-", "relaxation": "--"}
    for k, (g_max, r) in enumerate(combos):
        sel = [c for c in cases if c["g_range_us"][1] == g_max and c["r_wire_ohm"] == r]
        color = f"C{k}"
        for method, style in styles.items():
            ax_err.plot(
                [c["size"] for c in sel],
                [c["error_vs_exact"][method]["max"] for c in sel],
                style,
                color=color,
                marker="o",
                ms=3,
            )
        ax_err.plot([], [], color=color, label=f"r={r} Ω, g≤{g_max:.0f} µS")
    for method, style in styles.items():
        ax_err.plot([], [], style, color="k", label=method)
    ax_err.axhline(0.01, color="k", lw=0.8)
    ax_err.set(
        xscale="log",
        yscale="log",
        xlabel="array size (rows = cols)",
        ylabel="max relative column-current error vs exact",
        title="IR-drop model error (black line: 1 %)",
    )
    sel = [c for c in cases if c["r_wire_ohm"] == 1.0 and c["g_range_us"][1] == 40.0]
    for method in ("first_order", "first_order_cached_geff", "relaxation", "exact"):
        ax_t.plot(
            [c["size"] for c in sel],
            [c["time_vs_ideal"][method] for c in sel],
            marker="o",
            label=method,
        )
    ax_t.axhline(1.0, color="k", lw=0.8)
    ax_t.set(
        xscale="log",
        yscale="log",
        xlabel="array size (rows = cols)",
        ylabel="time / ideal matmul (1 thread)",
        title=f"cost (r = 1 Ω, g ≤ 40 µS, B = {BATCH})",
    )
    for ax in (ax_err, ax_t):
        ax.set_xticks([64, 128, 256], ["64", "128", "256"])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax_err.legend(fontsize=7, ncol=2)
    ax_t.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "simulator_ir.png", dpi=130)


if __name__ == "__main__":
    main()

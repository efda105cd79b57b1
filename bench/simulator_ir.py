"""IR-drop benchmark: the inference models vs the exact nodal solver, and what they cost.

Accuracy. For square arrays of 64, 128 (and 256) rows, nominal conductances uniform in
[1, g_max] µS and wire resistances r per segment, one programmed draw of the array (the
``wan2022`` programming noise at its default ``prog_sigma``) is read with a batch of inputs
(half bit-serial 0 / V_read, half analog in [0, V_read]). Column currents of

* ``first_order``: the resummed first-order matrix of the draw;
* ``solved`` (the standard tier): the draw's first-order matrix plus the correction of the
  nominal array solved by conjugate gradients and its own-cell slope times the draw's
  deviation (``drop_correction``), as inference uses it;
* ``relaxation`` (the full tier): the same with a relaxation-solved correction;
* ``solved_adjoint_probes``: ``solved`` with the slope's adjoint field solved by conjugate
  gradients on the rotated array (as before the cold-cost work) instead of resummed;

are compared with ``exact`` (sparse LU) on the draw: max and RMS relative error.

Cost. ``simulator.evaluate`` at fidelity 0.5 (the standard tier) on the digits workloads at
2 Ω, with the tier's IR-drop model ``first_order`` (before issue 12) and ``solved`` (after):
cold (correction cache cleared, the nominal arrays solved) and warm (the correction cached
from the previous evaluation of the same nominal arrays), interleaved, median of repeats. And
the cold ``drop_correction`` alone on the goal case's nominal array (128x128, 1-100 µS, 2 Ω,
every row driven, float32) with the resummed and the solved adjoint field: the hard regime,
where conjugate gradients need several iterations (the digits arrays, g <= 10 µS, at most one).

Usage: ``python bench/simulator_ir.py [--quick]`` -> ``bench/results/simulator_ir.json`` + ``.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulator import CrossbarConfig  # noqa: E402
from simulator.nonideal import ProgrammingVariation  # noqa: E402
from simulator.nonideal.ir_drop import (  # noqa: E402
    column_currents,
    drop_correction,
    effective_conductance,
)
from simulator.nonideal.ir_transfer import clear_correction_cache  # noqa: E402
from simulator.params import DEVICE_PRESETS  # noqa: E402

evaluate_module = importlib.import_module("simulator.evaluate")

RESULTS = Path(__file__).parent / "results"
READ_VOLTAGE_V = 0.2
BATCH = 64
G_MIN_US = 1.0
MODELS = ("first_order", "solved", "relaxation")
TIER_WORKLOADS = ("digits-mlp", "digits-cnn")
TIER_WIRE_R_OHM = 2.0
TIER_FIDELITY = 0.5


def _inputs(size: int, gen: torch.Generator) -> torch.Tensor:
    """Half bit-serial (0 / V_read with p = 0.5), half analog (uniform 0..V_read): B x rows."""
    binary = READ_VOLTAGE_V * (torch.rand(BATCH // 2, size, generator=gen) < 0.5)
    analog = READ_VOLTAGE_V * torch.rand(BATCH // 2, size, generator=gen)
    return torch.cat([binary, analog]).double()


def _draw(nominal_us: torch.Tensor, g_max_us: float, gen: torch.Generator) -> torch.Tensor:
    """One programmed draw of ``nominal_us`` [µS] with the wan2022 preset's noise."""
    preset = DEVICE_PRESETS["wan2022"]
    window = g_max_us - G_MIN_US
    noise = ProgrammingVariation(
        preset.prog_sigma * window, shape=preset.prog_shape, g_off_us=G_MIN_US, window_us=window
    )
    return noise.apply_to_conductance(nominal_us, gen)


def accuracy_case(size: int, r_wire: float, g_max_us: float) -> dict:
    """Errors of every model against the exact solver on one programmed draw."""
    gen = torch.Generator().manual_seed(size)
    nominal = (G_MIN_US + (g_max_us - G_MIN_US) * torch.rand(size, size, generator=gen)).double()
    draw = _draw(nominal, g_max_us, gen)
    v = _inputs(size, gen)
    exact = column_currents(v, draw * 1e-6, r_wire, "exact") * 1e6  # µA

    def rel(y: torch.Tensor) -> dict:
        err = (y - exact).abs() / exact.abs()
        return {"max": float(err.max()), "rms": float(err.pow(2).mean().sqrt())}

    errors = {"ideal": rel(v @ draw)}
    for mode in MODELS:
        corr = None if mode == "first_order" else drop_correction(nominal, r_wire, mode)
        errors[mode] = rel(v @ effective_conductance(draw, r_wire, mode, corr))
    probes = drop_correction(nominal, r_wire, "solved", adjoint="solved")
    errors["solved_adjoint_probes"] = rel(v @ effective_conductance(draw, r_wire, "solved", probes))
    errors["solved_on_draw"] = rel(v @ effective_conductance(draw, r_wire, "solved"))
    return {
        "size": size,
        "r_wire_ohm": r_wire,
        "g_range_us": [G_MIN_US, g_max_us],
        "error_vs_exact": errors,
    }


def correction_time(repeats: int) -> dict:
    """Cold ``drop_correction`` wall time [s] on the goal case's nominal array (float32)."""
    gen = torch.Generator().manual_seed(128)
    nominal = G_MIN_US + (100.0 - G_MIN_US) * torch.rand(128, 128, generator=gen)
    times: dict[str, list[float]] = {"auto": [], "solved": []}
    for _ in range(repeats):
        for adjoint, samples in times.items():
            clear_correction_cache()
            start = time.perf_counter()
            drop_correction(nominal, TIER_WIRE_R_OHM, "solved", adjoint=adjoint)
            samples.append(time.perf_counter() - start)
    med = {k: statistics.median(t) for k, t in times.items()}
    print(
        f"goal-case correction: auto (resummed) adjoint {med['auto']:.3f}s, solved adjoint "
        f"{med['solved']:.3f}s"
    )
    return {
        "size": 128,
        "g_range_us": [G_MIN_US, 100.0],
        "wire_r_ohm": TIER_WIRE_R_OHM,
        "dtype": "float32",
        "repeats": repeats,
        "median_s": med,
        "all_s": times,
    }


def tier_time(repeats: int) -> list[dict]:
    """Standard-tier ``evaluate`` wall time with its old and new IR-drop model."""
    rows = []
    original = evaluate_module.fidelity_plan
    for name in TIER_WORKLOADS:
        config = CrossbarConfig(wire_r_ohm=TIER_WIRE_R_OHM)
        times: dict[str, list[float]] = {m: [] for m in ("first_order", "solved", "solved_warm")}
        accuracy: dict[str, float] = {}
        evaluate_module.evaluate(config, name, TIER_FIDELITY, 0)  # untimed: load, warm up
        for _ in range(repeats):
            for key in times:
                mode = key.removesuffix("_warm")

                def plan(z: float, *args: float, mode: str = mode) -> object:
                    return dataclasses.replace(original(z, *args), ir_drop=mode)

                if key == "solved":
                    clear_correction_cache()  # cold: the nominal arrays are solved again
                evaluate_module.fidelity_plan = plan
                try:
                    start = time.perf_counter()
                    ev = evaluate_module.evaluate(config, name, TIER_FIDELITY, 0)
                    times[key].append(time.perf_counter() - start)
                finally:
                    evaluate_module.fidelity_plan = original
                accuracy[key] = ev.accuracy
        med = {m: statistics.median(t) for m, t in times.items()}
        rows.append(
            {
                "workload": name,
                "wire_r_ohm": TIER_WIRE_R_OHM,
                "fidelity": TIER_FIDELITY,
                "repeats": repeats,
                "median_s": med,
                "all_s": times,
                "accuracy": accuracy,
                "solved_over_first_order": med["solved"] / med["first_order"],
                "solved_warm_over_first_order": med["solved_warm"] / med["first_order"],
            }
        )
        print(
            f"{name}: first_order {med['first_order']:.2f}s solved cold {med['solved']:.2f}s "
            f"x{med['solved'] / med['first_order']:.2f}, warm (cached correction) "
            f"{med['solved_warm']:.2f}s x{med['solved_warm'] / med['first_order']:.2f}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG from the JSON")
    args = parser.parse_args()
    if args.plot_only:
        _plot(json.loads((RESULTS / "simulator_ir.json").read_text()))
        return
    torch.set_num_threads(1)
    grid = [(s, r, g) for g in (10.0, 40.0, 100.0) for r in (0.5, 1.0, 2.0) for s in (64, 128)]
    grid += [(256, 2.0, 100.0)]
    if args.quick:
        grid = [(128, 2.0, 100.0)]
    cases = []
    for size, r, g_max in grid:
        case = accuracy_case(size, r, g_max)
        cases.append(case)
        e = case["error_vs_exact"]
        print(
            f"{size:4d} r={r:4.2f} gmax={g_max:5.0f}uS  first {e['first_order']['max']:.2e} "
            f"solved {e['solved']['max']:.2e} (adjoint probes "
            f"{e['solved_adjoint_probes']['max']:.2e}) relax {e['relaxation']['max']:.2e}"
        )
    goal = next(
        c for c in cases if (c["size"], c["r_wire_ohm"], c["g_range_us"][1]) == (128, 2.0, 100.0)
    )
    tiers = tier_time(1 if args.quick else 5)
    hard = correction_time(3 if args.quick else 7)
    out = {
        "description": __doc__.split("\n\n")[1] + " " + __doc__.split("\n\n")[2],
        "read_voltage_v": READ_VOLTAGE_V,
        "batch": BATCH,
        "threads": 1,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "load_average": list(os.getloadavg()),
        "command": "nice -n 10 .venv/bin/python bench/simulator_ir.py"
        + (" --quick" if args.quick else ""),
        "machine_note": "2-core machine shared with other jobs (see load_average): times are "
        "noisy; the ratios compare interleaved runs",
        "goal": "standard tier (solved) within 1 % of exact at 128x128, g <= 100 uS, r <= 2 Ohm,"
        " at <= 2x the standard tier's time before (first_order)",
        "goal_case": {
            "size": 128,
            "r_wire_ohm": 2.0,
            "g_range_us": goal["g_range_us"],
            "first_order_max_rel_error": goal["error_vs_exact"]["first_order"]["max"],
            "solved_max_rel_error": goal["error_vs_exact"]["solved"]["max"],
            "solved_adjoint_probes_max_rel_error": goal["error_vs_exact"]["solved_adjoint_probes"][
                "max"
            ],
            "accuracy_met": goal["error_vs_exact"]["solved"]["max"] < 0.01,
            "time_ratio": {t["workload"]: t["solved_over_first_order"] for t in tiers},
            "time_ratio_warm": {t["workload"]: t["solved_warm_over_first_order"] for t in tiers},
            "time_met": all(t["solved_over_first_order"] <= 2.0 for t in tiers),
        },
        "cases": cases,
        "standard_tier_time": tiers,
        "goal_case_correction_time": hard,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulator_ir.json").write_text(json.dumps(out, indent=2) + "\n")
    _plot(out)


def _plot(out: dict) -> None:
    cases = out["cases"]
    fig, (ax_err, ax_t) = plt.subplots(1, 2, figsize=(11, 4.4))
    styles = {"first_order": ":", "solved": "-", "relaxation": "--"}
    for k, size in enumerate((64, 128)):
        for method, style in styles.items():
            for m, r in enumerate((0.5, 1.0, 2.0)):
                sel = [c for c in cases if c["size"] == size and c["r_wire_ohm"] == r]
                if not sel:
                    continue
                ax_err.plot(
                    [c["g_range_us"][1] for c in sel],
                    [c["error_vs_exact"][method]["max"] for c in sel],
                    style,
                    color=f"C{3 * k + m}",
                    marker="o",
                    ms=3,
                )
        for m, r in enumerate((0.5, 1.0, 2.0)):
            ax_err.plot([], [], color=f"C{3 * k + m}", label=f"{size}x{size}, r={r} Ω")
    for method, style in styles.items():
        ax_err.plot([], [], style, color="k", label=method)
    ax_err.axhline(0.01, color="k", lw=0.8)
    ax_err.set(
        xscale="log",
        yscale="log",
        xlabel="g_max [µS] (g uniform in 1..g_max)",
        ylabel="max relative column-current error vs exact",
        title="IR-drop model error on a programmed draw (line: 1 %)",
    )
    ax_err.legend(fontsize=6, ncol=2)
    tiers = out.get("standard_tier_time", [])
    names = [t["workload"] for t in tiers]
    for j, mode in enumerate(("first_order", "solved")):
        ax_t.bar(
            [i + 0.4 * j for i in range(len(names))],
            [t["median_s"][mode] for t in tiers],
            width=0.4,
            label=mode,
        )
    ax_t.set_xticks([i + 0.2 for i in range(len(names))], names)
    ax_t.set(
        ylabel="evaluate() wall time [s], median",
        title=f"standard tier (fidelity {TIER_FIDELITY}, r = {TIER_WIRE_R_OHM} Ω)",
    )
    ax_t.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "simulator_ir.png", dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()

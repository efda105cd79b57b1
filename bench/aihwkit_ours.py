"""The project's half of ``bench/aihwkit_compare.py``: the shared setup, our simulator on it,
the side-by-side table and the plot. Runs in the project's interpreter only.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import simulator  # noqa: E402
from bench.aihwkit_setup import (  # noqa: E402
    CELL_BITS,
    DEVICE_CASES,
    DEVICE_SEEDS,
    DEVICE_TILE,
    DEVICE_WORKLOADS,
    DRAWS,
    G_OFF_US,
    G_ON_US,
    IO_BITS,
    LINEAR_BATCH,
    LINEAR_CASES,
    LINEAR_TILE,
    NOISE_LEVELS,
    PERIPHERIES,
    SEEDS,
    TIMING_DRAWS,
    TIMING_NOISE,
    TIMING_REPEATS,
    WEIGHT_BITS,
    WORKLOAD_TILE,
    WORKLOADS,
    Chips,
    Noise,
    case_key,
    linear_model,
    noise_sweep,
    rel_rms,
    timing_by_draws,
    top1,
)
from bench.timing import median_time  # noqa: E402
from simulator.analog_model import AnalogModel  # noqa: E402
from simulator.mapping import crossbar_layers  # noqa: E402


def quantize_model(model: nn.Module, bits: int) -> nn.Module:
    """A copy with every crossbar layer's weight quantized symmetrically per layer to ``bits``
    (the layers of :func:`simulator.mapping.crossbar_layers`)."""
    out = copy.deepcopy(model).eval()
    q_max = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for _, module in crossbar_layers(out):
            w = module.weight
            step = float(w.abs().max()) / q_max
            w.copy_(torch.clamp(torch.round(w / step), -q_max, q_max) * step)
    return out.requires_grad_(False)


def tile_max_ratio(weight: Tensor, tile: tuple[int, int]) -> float:
    """RMS over aihwkit's tiles of each tile's largest |weight|, over the layer's largest.

    aihwkit maps each tile's largest weight to ``g_on``, we the layer's; with noise fixed in
    conductance, aihwkit's weight-referred noise is smaller by about this factor.
    """
    def splits(size: int, most: int) -> list[int]:
        n = -(-size // most)
        base, extra = divmod(size, n)
        return [base + (i < extra) for i in range(n)]

    maxima = [
        float(block.abs().max())
        for rows in weight.split(splits(weight.shape[0], tile[1] // 2), dim=0)
        for block in rows.split(splits(weight.shape[1], tile[0]), dim=1)
    ]
    return math.sqrt(statistics.fmean(m * m for m in maxima)) / float(weight.abs().max())


def our_config(tile: tuple[int, int], noise: Noise) -> simulator.CrossbarConfig:
    """The crossbar matched to aihwkit's tile, noise and periphery (see the entry point)."""
    return simulator.CrossbarConfig(
        rows=tile[0], cols=tile[1], cell_bits=CELL_BITS, weight_bits=WEIGHT_BITS,
        input_bits=IO_BITS, dac_bits=IO_BITS, adc_bits=IO_BITS, cols_per_adc=1,
        g_on_us=G_ON_US, g_off_us=G_OFF_US, prog_sigma=noise[0], read_sigma=noise[1],
        saf_sa0=0.0, saf_sa1=0.0, wire_r_ohm=0.0, encoding="differential",
    )


def _analog(model: nn.Module, tile: tuple[int, int], noise: Noise, periphery: str,
            x_calib: Tensor) -> AnalogModel:
    analog = AnalogModel(model, our_config(tile, noise), ir_drop="ideal",
                         adc=periphery == "adc8")
    analog.calibrate(x_calib)
    return analog


def _draws(analog: AnalogModel, x: Tensor, draws: int, gen: torch.Generator) -> Tensor:
    """`S x N x out` outputs of ``draws`` chips programmed and read in one batch."""
    with torch.no_grad():
        analog.program(draws, gen)
        analog.set_generator(gen)
        return torch.cat([analog(x[c]) for c in analog.chunks(x.shape[0])], dim=1)


def _chips(model: nn.Module, tile: tuple[int, int], x: Tensor, x_calib: Tensor, draws: int
           ) -> Callable[[str, Noise], Chips]:
    """``(periphery, noise) -> seed -> outputs`` for :func:`bench.aihwkit_setup.noise_sweep`;
    each seed programs from its own generator."""
    def build(periphery: str, noise: Noise) -> Chips:
        analog = _analog(model, tile, noise, periphery, x_calib)
        return lambda seed: _draws(analog, x, draws, torch.Generator().manual_seed(seed))

    return build


def build_setup(quick: bool, devices_only: bool = False) -> dict[str, Any]:
    """The shared inputs: quantized layers and models, inputs, test data, the plan
    (``devices_only``: only the device-preset comparison)."""
    gen = torch.Generator().manual_seed(0)
    linear = []
    for n_in, n_out in [] if devices_only else LINEAR_CASES:
        w = torch.randn(n_out, n_in, generator=gen) / math.sqrt(n_in)
        layer = nn.Linear(n_in, n_out, bias=False)
        with torch.no_grad():
            layer.weight.copy_(w)
        layer = quantize_model(layer, WEIGHT_BITS)
        linear.append({
            "name": f"linear-{n_in}x{n_out}", "in": n_in, "out": n_out, "tile": LINEAR_TILE,
            "weight": layer.weight.detach().clone(),
            "x": torch.relu(torch.randn(LINEAR_BATCH, n_in, generator=gen)),
            "x_calib": torch.relu(torch.randn(4 * LINEAR_BATCH, n_in, generator=gen)),
        })
    workloads = []
    for name in [] if devices_only else WORKLOADS:
        wl = simulator.get_workload(name)
        workloads.append({
            "name": name, "tile": WORKLOAD_TILE, "model": quantize_model(wl.model, WEIGHT_BITS),
            "x_test": wl.x_test, "y_test": wl.y_test, "x_calib": wl.x_calib,
            "clean_float_accuracy": wl.clean_accuracy(),
        })
    device_workloads = []
    for name in DEVICE_WORKLOADS[:1] if quick else DEVICE_WORKLOADS:
        wl = simulator.get_workload(name)
        device_workloads.append({
            "name": name, "model": quantize_model(wl.model, WEIGHT_BITS),
            "float_model": copy.deepcopy(wl.model).eval().requires_grad_(False),
            "x_test": wl.x_test, "y_test": wl.y_test, "x_calib": wl.x_calib,
        })
    return {
        "linear": linear,
        "workloads": workloads,
        "device_workloads": device_workloads,
        "device_tile": DEVICE_TILE,
        "device_seeds": 2 if quick else DEVICE_SEEDS,
        "noise_levels": NOISE_LEVELS[::3] if quick else NOISE_LEVELS,
        "peripheries": list(PERIPHERIES),
        "seeds": 2 if quick else SEEDS,
        "draws": 2 if quick else DRAWS,
        "timing_draws": TIMING_DRAWS[:2] if quick else TIMING_DRAWS,
        "timing_noise": TIMING_NOISE,
        "repeats": 2 if quick else TIMING_REPEATS,
    }


def our_part(setup: dict[str, Any]) -> dict[str, Any]:
    """Run every case on our simulator; same structure as the aihwkit raw results."""
    torch.set_num_threads(1)
    draws, repeats = setup["draws"], setup["repeats"]
    res: dict[str, Any] = {"tool": "xbar-dse simulator", "torch_version": torch.__version__,
                           "threads": torch.get_num_threads(),
                           "load_average_start": list(os.getloadavg()),
                           "linear": {}, "workloads": {}}
    for case in setup["linear"]:
        model = linear_model(case["weight"])
        x, ref = case["x"], case["x"] @ case["weight"].t()
        entry: dict[str, Any] = {
            "accuracy": noise_sweep(setup, _chips(model, case["tile"], x, case["x_calib"], draws),
                                    lambda y, ref=ref: statistics.fmean(rel_rms(y, ref))),
            "timing": {},
            "tile_max_rms_over_layer_max": tile_max_ratio(case["weight"], case["tile"]),
        }
        analog = _analog(model, case["tile"], setup["timing_noise"], "adc8", case["x_calib"])
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            entry["timing"]["program_s"] = median_time(lambda a=analog, g=gen: a.program(1, g),
                                                       repeats)
            analog.set_generator(gen)
            entry["timing"]["forward_s"] = median_time(lambda a=analog, x=x: a(x), repeats)
            entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x), repeats)
        entry["timing"].update(timing_by_draws(
            setup, lambda s, a=analog, x=x, g=gen: _draws(a, x, s, g)))
        res["linear"][case["name"]] = entry
    for wl in setup["workloads"]:
        model, x, y = wl["model"], wl["x_test"], wl["y_test"]
        entry = {
            "accuracy": noise_sweep(setup, _chips(model, wl["tile"], x, wl["x_calib"], draws),
                                    lambda logits, y=y: top1(logits, y)),
            "timing": {},
            "evaluate": {},
        }
        # Cross-check through the public API (fidelity 0.5: first-order IR drop, which is
        # exact with wire_r_ohm = 0; weight_bits = 5 re-quantizes the float model identically).
        for noise in setup["noise_levels"]:
            ev = simulator.evaluate(our_config(wl["tile"], noise), wl["name"], 0.5, 0)
            entry["evaluate"][case_key("adc8", noise)] = {
                "accuracy": ev.accuracy, "accuracy_std": ev.accuracy_std,
                "n_draws": ev.details["n_draws"], "n_test": ev.details["n_test"],
                "cost_s": ev.cost_s,
            }
        analog = _analog(model, wl["tile"], setup["timing_noise"], "adc8", wl["x_calib"])
        gen = torch.Generator().manual_seed(0)
        entry["timing"].update(timing_by_draws(
            setup, lambda s, a=analog, x=x, g=gen: _draws(a, x, s, g)))
        entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x), repeats)
        res["workloads"][wl["name"]] = entry
    res["load_average_end"] = list(os.getloadavg())
    return res


def device_part(setup: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Top-1 per seed of every device workload under each of :data:`DEVICE_CASES` (adc8
    periphery, ``DEVICE_TILE`` arrays, the 5-bit model on one 4-bit cell per column of a
    pair, no wire resistance or faults: device noise only)."""
    torch.set_num_threads(1)
    out: dict[str, dict[str, list[float]]] = {}
    for wl in setup["device_workloads"]:
        out[wl["name"]] = {}
        for case, fields in DEVICE_CASES.items():
            base = our_config(setup["device_tile"], (0.0, 0.0))
            config = simulator.CrossbarConfig.from_params(
                {"prog_sigma": simulator.CrossbarConfig.prog_sigma,
                 "read_sigma": simulator.CrossbarConfig.read_sigma, **fields}, base=base)
            analog = AnalogModel(wl["model"], config, ir_drop="ideal", adc=True)
            analog.calibrate(wl["x_calib"])
            out[wl["name"]][case] = [
                top1(_draws(analog, wl["x_test"], setup["draws"],
                            torch.Generator().manual_seed(seed)), wl["y_test"])
                for seed in range(setup["device_seeds"])
            ]
    return out


def device_compare(ours: dict[str, Any], theirs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per workload and our case: mean ± std over seeds, aihwkit's Wan2022 on the same
    5-bit model (and on the float model), and the difference in accuracy points."""
    rows = []
    for name, cases in ours.items():
        other = (theirs or {}).get(name, {})
        for case, per_seed in cases.items():
            row: dict[str, Any] = {"workload": name, "ours_case": case,
                                   "ours": {**_summary(per_seed), "per_seed": per_seed}}
            for kind in ("quantized", "float"):
                if kind in other:
                    row[f"aihwkit_wan2022_{kind}"] = {**_summary(other[kind]),
                                                      "per_seed": other[kind]}
            if "quantized" in other:
                row["difference_points"] = 100 * (row["ours"]["mean"]
                                                  - row["aihwkit_wan2022_quantized"]["mean"])
            rows.append(row)
    return rows


def _summary(per_seed: list[float]) -> dict[str, float]:
    mean = statistics.fmean(per_seed)
    std = statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
    return {"mean": mean, "std": std}


def compare(ours: dict[str, Any], theirs: dict[str, Any] | None, setup: dict[str, Any]
            ) -> dict[str, Any]:
    """Side-by-side ``accuracy`` rows (mean ± std per cell) and ``timing`` rows."""
    rows: list[dict[str, Any]] = []
    timing: list[dict[str, Any]] = []
    for kind in ("linear", "workloads"):
        metric = "rel_rms_error" if kind == "linear" else "top1_accuracy"
        for name, entry in ours[kind].items():
            other = (theirs or {}).get(kind, {}).get(name)
            for key, per_seed in entry["accuracy"].items():
                periphery, prog, read = key.split("/")
                row = {"case": name, "metric": metric, "periphery": periphery,
                       "prog_sigma": float(prog), "read_sigma": float(read),
                       "ours": {**_summary(per_seed), "per_seed": per_seed}}
                if other is not None and key in other["accuracy"]:
                    row["aihwkit"] = {**_summary(other["accuracy"][key]),
                                      "per_seed": other["accuracy"][key]}
                    row["difference"] = row["ours"]["mean"] - row["aihwkit"]["mean"]
                rows.append(row)
            for s in setup["timing_draws"]:
                t = {"case": name, "draws": s, "ours_s": entry["timing"][f"S={s}"],
                     "clean_float_s": entry["timing"]["clean_float_s"]}
                if other is not None:
                    t["aihwkit_s"] = other["timing"][f"S={s}"]
                    t["aihwkit_over_ours"] = t["aihwkit_s"] / t["ours_s"]
                timing.append(t)
    return {"accuracy": rows, "timing": timing}


def plot(result: dict[str, Any], path: Path) -> None:
    """One panel of error or accuracy vs noise per case, and one of wall time vs draws."""
    cases = sorted({r["case"] for r in result["accuracy"]})
    fig, axes = plt.subplots(1, len(cases) + 1, figsize=(4.2 * (len(cases) + 1), 3.8))
    for ax, case in zip(axes[:-1], cases, strict=True):
        for periphery, style in (("ideal", "--"), ("adc8", "-")):
            rows = [r for r in result["accuracy"]
                    if r["case"] == case and r["periphery"] == periphery]
            xs = [r["prog_sigma"] for r in rows]
            for tool, color in (("ours", "C0"), ("aihwkit", "C3")):
                if all(tool in r for r in rows) and rows:
                    ax.errorbar(xs, [r[tool]["mean"] for r in rows],
                                yerr=[r[tool]["std"] for r in rows], ls=style, color=color,
                                marker="o", ms=3, capsize=2, label=f"{tool} ({periphery})")
        ax.set_title(case, fontsize=9)
        ax.set_xlabel("prog σ (read σ = prog σ / 5) [of g_on - g_off]", fontsize=8)
        ax.set_ylabel(rows[0]["metric"] if rows else "", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    ax = axes[-1]
    for case in sorted({t["case"] for t in result["timing"]}):
        ts = [t for t in result["timing"] if t["case"] == case]
        line = ax.plot([t["draws"] for t in ts], [t["ours_s"] * 1e3 for t in ts], marker="o",
                       ms=3, label=f"ours {case}")[0]
        if all("aihwkit_s" in t for t in ts):
            ax.plot([t["draws"] for t in ts], [t["aihwkit_s"] * 1e3 for t in ts], marker="s",
                    ms=3, ls="--", color=line.get_color(), label=f"aihwkit {case}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("Monte-Carlo draws S", fontsize=8)
    ax.set_ylabel("wall time of S noisy forwards [ms]", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)

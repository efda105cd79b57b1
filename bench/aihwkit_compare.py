"""Side by side with IBM aihwkit 1.2.0: the same layers, tiles and noise, time and accuracy.

aihwkit is not a dependency of this project. It is built from its PyPI sdist in a separate
virtual environment (``docs/aihwkit-comparison.md`` has the recipe), and this file runs in two
interpreters:

1. ``.venv/bin/python bench/aihwkit_compare.py`` (the project's venv) writes the shared setup
   (5-bit weights, inputs, test data) to a temporary ``.pt`` file, runs *this same file* with
   ``$AIHWKIT_PYTHON`` (default ``/work/aihw/bin/python``) as
   ``$AIHWKIT_PYTHON bench/aihwkit_compare.py --aihwkit-part SETUP.pt``, which imports aihwkit
   (never at module level) and writes raw measurements to ``bench/results/aihwkit_raw.json``,
   then runs our simulator on the same setup and writes ``bench/results/aihwkit_compare.json``
   and ``.png``.
2. ``--skip-aihwkit`` reuses an existing ``aihwkit_raw.json`` (or records that aihwkit was not
   available); ``--quick`` cuts seeds, draws and repeats for a smoke run.

What is matched, per case:

* **Tiles.** Our ``rows x cols`` arrays hold ``rows`` inputs and ``cols / 2`` outputs (a
  differential column pair per weight); aihwkit's single-pair converter keeps ``g+`` and
  ``g-`` in one logical weight, so ``mapping.max_input_size = rows`` and
  ``mapping.max_output_size = cols / 2`` give both tools the same weights per tile.
* **Weights.** Every layer is quantized once (symmetric, per layer, 5 bits) and both tools get
  the same quantized model. Ours stores each weight in one 4-bit cell per column of the pair
  (``weight_bits=5, cell_bits=4``: 16 levels, exactly the quantized values); aihwkit programs
  them as continuous conductances in ``[g_off, g_on]`` (``SinglePairConductanceConverter``).
* **Programming noise.** Both: ``g' = max(g + σ_p (g_on - g_off) ε, 0)`` on each cell of the
  pair, once per programmed chip. aihwkit: ``StateIndependentNoiseModel`` with
  ``prog_coeff = [σ_p (g_on - g_off), 0, 0]`` and drift and 1/f noise switched off. (Its
  ``ReRamWan2022NoiseModel`` is state dependent; our model is the constant-σ simplification of
  it, so the matched runs use the constant σ on both sides.)
* **Read noise.** Ours: ``σ_r (g_on - g_off)`` per cell and read, on both cells of a pair, i.e.
  ``sqrt(2) σ_r`` of the largest weight per weight. aihwkit: ``forward.w_noise_type =
  ADDITIVE_CONSTANT``, ``w_noise = sqrt(2) σ_r`` with ``weight_scaling_omega = 1`` (weights
  normalized to their tile's largest).
* **Periphery.** ``ideal``: aihwkit ``inp_res = out_res = -1`` (no DAC/ADC quantization,
  no output bound); ours ``adc=False`` with 8-bit inputs. ``adc8``: aihwkit
  ``inp_res = out_res = 1/(2**8 - 2)`` with its default ``out_bound = 12`` and iterative
  bound management; ours 8-bit inputs applied at once (``dac_bits = 8``) and 8-bit ADCs over
  a range calibrated on clean training-set currents. aihwkit's ``out_noise`` is 0 and its
  drift compensation off in both.

Measured: relative RMS output error of single ``nn.Linear`` layers and top-1 accuracy of the
``digits-mlp`` and ``digits-cnn`` workloads (mean ± std over seeds, each the mean over
``DRAWS`` programmed chips), and the wall time of ``S`` noisy forward passes (aihwkit:
``program_analog_weights()`` and a forward per draw; ours: ``S`` draws programmed and read in
one batch), one thread each.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.timing import median_time  # noqa: E402

RESULTS = Path(__file__).parent / "results"
RAW_PATH = RESULTS / "aihwkit_raw.json"
OUT_PATH = RESULTS / "aihwkit_compare.json"
PLOT_PATH = RESULTS / "aihwkit_compare.png"
AIHWKIT_PYTHON = os.environ.get("AIHWKIT_PYTHON", "/work/aihw/bin/python")
AIHWKIT_VERSION = "1.2.0"
AIHWKIT_BUILD: list[str] = [
    "apt-get install -y libopenblas-dev",
    "python3 -m venv /work/aihw",
    "/work/aihw/bin/pip install torch==2.14.1 torchvision==0.29.1",
    "/work/aihw/bin/pip install scikit-build cmake pybind11 ninja mypy numpy scipy scikit-learn",
    "PATH=/work/aihw/bin:$PATH MAX_JOBS=2 CMAKE_BUILD_PARALLEL_LEVEL=2 "
    "CMAKE_POLICY_VERSION_MINIMUM=3.5 nice -n 19 "
    "/work/aihw/bin/pip install --no-build-isolation aihwkit==1.2.0",
]
"""How the aihwkit interpreter was built (PyPI has only the sdist; see the docs page)."""

G_ON_US = 10.0
"""On conductance [µS] (the project default, NeuroSim's 100 kΩ)."""
G_OFF_US = 1.0 / 1.7
"""Off conductance [µS] (the project default, NeuroSim's 1.7 MΩ)."""
WEIGHT_BITS = 5
"""Signed weight precision [bit]: one 16-level cell per column of a differential pair."""
CELL_BITS = 4
IO_BITS = 8
"""DAC (input) and ADC resolution [bit] of the ``adc8`` periphery."""

NOISE_LEVELS: list[tuple[float, float]] = [(0.0, 0.0), (0.02, 0.005), (0.05, 0.01), (0.10, 0.02)]
"""``(prog_sigma, read_sigma)`` pairs, fractions of ``g_on - g_off`` per cell."""
PERIPHERIES = ("ideal", "adc8")
SEEDS = 5
DRAWS = 16
"""Programmed chips per seed for accuracy."""
TIMING_DRAWS = (1, 8, 32)
TIMING_REPEATS = 5
TIMING_NOISE = (0.05, 0.01)

LINEAR_CASES: list[tuple[int, int]] = [(256, 128), (512, 512)]
"""``(in_features, out_features)`` of the single-layer cases."""
LINEAR_TILE = (128, 128)
LINEAR_BATCH = 64
WORKLOADS = ("digits-mlp", "digits-cnn")
WORKLOAD_TILE = (32, 64)
"""Small tiles so that the digits layers (64 inputs at most) span several arrays."""




def _quantize_model(model: nn.Module, bits: int) -> nn.Module:
    """A copy with every Linear/Conv2d weight quantized symmetrically per layer to ``bits``."""
    out = copy.deepcopy(model).eval()
    q_max = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for module in out.modules():
            if isinstance(module, nn.Linear | nn.Conv2d):
                w = module.weight
                step = float(w.abs().max()) / q_max
                w.copy_(torch.clamp(torch.round(w / step), -q_max, q_max) * step)
    return out.requires_grad_(False)


def _linear_model(weight: Tensor) -> nn.Module:
    """A bias-free ``nn.Linear`` holding the `out x in`-dim ``weight``, inside a Sequential
    (the root module of a model is never swapped for an analog layer)."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return nn.Sequential(layer).eval().requires_grad_(False)


def _tile_max_ratio(weight: Tensor, tile: tuple[int, int]) -> float:
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


def _rel_rms(y: Tensor, ref: Tensor) -> list[float]:
    """Per-draw relative RMS error of `S x N x out` outputs against `N x out` references."""
    err = (y - ref).pow(2).flatten(1).sum(-1).sqrt() / ref.pow(2).sum().sqrt()
    return err.tolist()


def _summary(per_seed: list[float]) -> dict[str, float]:
    mean = statistics.fmean(per_seed)
    std = statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
    return {"mean": mean, "std": std}


# ---------------------------------------------------------------------------------------------
# aihwkit part (run with the aihwkit interpreter)
# ---------------------------------------------------------------------------------------------


def _aihwkit_rpu_config(tile: tuple[int, int], noise: tuple[float, float], periphery: str):
    from aihwkit.inference.converter.conductance import SinglePairConductanceConverter
    from aihwkit.inference.noise.custom import StateIndependentNoiseModel
    from aihwkit.simulator.configs import InferenceRPUConfig
    from aihwkit.simulator.parameters.enums import BoundManagementType, WeightNoiseType

    prog_sigma, read_sigma = noise
    rpu = InferenceRPUConfig()
    rpu.mapping.max_input_size = tile[0]
    rpu.mapping.max_output_size = tile[1] // 2
    rpu.mapping.weight_scaling_omega = 1.0
    rpu.forward.out_noise = 0.0
    rpu.forward.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    rpu.forward.w_noise = math.sqrt(2.0) * read_sigma
    if periphery == "ideal":
        rpu.forward.inp_res = -1.0
        rpu.forward.out_res = -1.0
        rpu.forward.out_bound = -1.0
        rpu.forward.bound_management = BoundManagementType.NONE
    else:
        rpu.forward.inp_res = 1.0 / (2**IO_BITS - 2)
        rpu.forward.out_res = 1.0 / (2**IO_BITS - 2)
    rpu.noise_model = StateIndependentNoiseModel(
        g_converter=SinglePairConductanceConverter(g_max=G_ON_US, g_min=G_OFF_US),
        prog_coeff=[prog_sigma * (G_ON_US - G_OFF_US), 0.0, 0.0],
        drift_scale=0.0,
        read_noise_scale=0.0,
    )
    rpu.drift_compensation = None
    return rpu


def _aihwkit_analog(model: nn.Module, tile, noise, periphery: str) -> nn.Module:
    from aihwkit.nn.conversion import convert_to_analog

    analog = convert_to_analog(copy.deepcopy(model), _aihwkit_rpu_config(tile, noise, periphery))
    return analog.eval()


def _aihwkit_draws(analog: nn.Module, x: Tensor, draws: int) -> Tensor:
    """`S x N x out` outputs of ``draws`` programmed chips."""
    outs = []
    with torch.no_grad():
        for _ in range(draws):
            analog.program_analog_weights()
            outs.append(analog(x))
    return torch.stack(outs)


def aihwkit_part(setup_path: Path, out_path: Path) -> dict[str, Any]:
    """Run every case on aihwkit and write the raw measurements to ``out_path``."""
    import aihwkit

    torch.set_num_threads(1)
    setup = torch.load(setup_path, weights_only=False)
    seeds, draws = setup["seeds"], setup["draws"]
    raw: dict[str, Any] = {
        "tool": "aihwkit",
        "aihwkit_version": aihwkit.__version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "load_average_start": list(os.getloadavg()),
        "linear": {},
        "workloads": {},
    }
    for case in setup["linear"]:
        model = _linear_model(case["weight"])
        x, ref = case["x"], case["x"] @ case["weight"].t()
        entry: dict[str, Any] = {"accuracy": {}, "timing": {}}
        for periphery in setup["peripheries"]:
            for noise in setup["noise_levels"]:
                analog = _aihwkit_analog(model, case["tile"], noise, periphery)
                per_seed = []
                for seed in range(seeds):
                    torch.manual_seed(seed)
                    per_seed.append(statistics.fmean(_rel_rms(_aihwkit_draws(analog, x, draws),
                                                              ref)))
                entry["accuracy"][f"{periphery}/{noise[0]}/{noise[1]}"] = per_seed
        analog = _aihwkit_analog(model, case["tile"], setup["timing_noise"], "adc8")
        with torch.no_grad():
            entry["timing"]["program_s"] = median_time(analog.program_analog_weights,
                                                   setup["repeats"])
            entry["timing"]["forward_s"] = median_time(lambda a=analog, x=x: a(x), setup["repeats"])
            entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x),
                                                       setup["repeats"])
        for s in setup["timing_draws"]:
            entry["timing"][f"S={s}"] = median_time(
                lambda a=analog, x=x, s=s: _aihwkit_draws(a, x, s), setup["repeats"]
            )
        raw["linear"][case["name"]] = entry
    for wl in setup["workloads"]:
        model, x, y = wl["model"], wl["x_test"], wl["y_test"]
        entry = {"accuracy": {}, "timing": {}}
        for periphery in setup["peripheries"]:
            for noise in setup["noise_levels"]:
                analog = _aihwkit_analog(model, wl["tile"], noise, periphery)
                per_seed = []
                for seed in range(seeds):
                    torch.manual_seed(seed)
                    logits = _aihwkit_draws(analog, x, draws)
                    per_seed.append(float((logits.argmax(-1) == y).double().mean()))
                entry["accuracy"][f"{periphery}/{noise[0]}/{noise[1]}"] = per_seed
        analog = _aihwkit_analog(model, wl["tile"], setup["timing_noise"], "adc8")
        for s in setup["timing_draws"]:
            entry["timing"][f"S={s}"] = median_time(
                lambda a=analog, x=x, s=s: _aihwkit_draws(a, x, s), setup["repeats"]
            )
        entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x), setup["repeats"])
        raw["workloads"][wl["name"]] = entry
    raw["load_average_end"] = list(os.getloadavg())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(raw, indent=2) + "\n")
    return raw


# ---------------------------------------------------------------------------------------------
# our part (run with the project's interpreter)
# ---------------------------------------------------------------------------------------------


def _our_config(tile: tuple[int, int], noise: tuple[float, float]):
    from simulator import CrossbarConfig

    return CrossbarConfig(
        rows=tile[0], cols=tile[1], cell_bits=CELL_BITS, weight_bits=WEIGHT_BITS,
        input_bits=IO_BITS, dac_bits=IO_BITS, adc_bits=IO_BITS, cols_per_adc=1,
        g_on_us=G_ON_US, g_off_us=G_OFF_US, prog_sigma=noise[0], read_sigma=noise[1],
        saf_sa0=0.0, saf_sa1=0.0, wire_r_ohm=0.0, encoding="differential",
    )


def _our_analog(model: nn.Module, tile, noise, periphery: str, x_calib: Tensor):
    from simulator.analog import AnalogModel

    analog = AnalogModel(model, _our_config(tile, noise), ir_drop="ideal",
                         adc=periphery == "adc8")
    analog.calibrate(x_calib)
    return analog


def _our_draws(analog, x: Tensor, draws: int, gen: torch.Generator) -> Tensor:
    """`S x N x out` outputs of ``draws`` chips programmed and read in one batch."""
    with torch.no_grad():
        analog.program(draws, gen)
        analog.set_generator(gen)
        return torch.cat([analog(x[c]) for c in analog.chunks(x.shape[0])], dim=1)


def build_setup(quick: bool) -> dict[str, Any]:
    """The shared inputs: quantized layers and models, inputs, test data, the plan."""
    from simulator import get_workload

    gen = torch.Generator().manual_seed(0)
    linear = []
    for n_in, n_out in LINEAR_CASES:
        w = torch.randn(n_out, n_in, generator=gen) / math.sqrt(n_in)
        layer = nn.Linear(n_in, n_out, bias=False)
        with torch.no_grad():
            layer.weight.copy_(w)
        layer = _quantize_model(layer, WEIGHT_BITS)
        linear.append({
            "name": f"linear-{n_in}x{n_out}", "in": n_in, "out": n_out, "tile": LINEAR_TILE,
            "weight": layer.weight.detach().clone(),
            "x": torch.relu(torch.randn(LINEAR_BATCH, n_in, generator=gen)),
            "x_calib": torch.relu(torch.randn(4 * LINEAR_BATCH, n_in, generator=gen)),
        })
    workloads = []
    for name in WORKLOADS:
        wl = get_workload(name)
        workloads.append({
            "name": name, "tile": WORKLOAD_TILE, "model": _quantize_model(wl.model, WEIGHT_BITS),
            "x_test": wl.x_test, "y_test": wl.y_test, "x_calib": wl.x_calib,
            "clean_float_accuracy": wl.clean_accuracy(),
        })
    return {
        "linear": linear,
        "workloads": workloads,
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
    import simulator

    torch.set_num_threads(1)
    seeds, draws = setup["seeds"], setup["draws"]
    res: dict[str, Any] = {"tool": "xbar-dse simulator", "torch_version": torch.__version__,
                           "threads": torch.get_num_threads(),
                           "load_average_start": list(os.getloadavg()),
                           "linear": {}, "workloads": {}}
    for case in setup["linear"]:
        model = _linear_model(case["weight"])
        x, ref = case["x"], case["x"] @ case["weight"].t()
        entry: dict[str, Any] = {"accuracy": {}, "timing": {},
                                 "tile_max_rms_over_layer_max": _tile_max_ratio(
                                     case["weight"], case["tile"])}
        for periphery in setup["peripheries"]:
            for noise in setup["noise_levels"]:
                analog = _our_analog(model, case["tile"], noise, periphery, case["x_calib"])
                entry["accuracy"][f"{periphery}/{noise[0]}/{noise[1]}"] = [
                    statistics.fmean(_rel_rms(_our_draws(
                        analog, x, draws, torch.Generator().manual_seed(seed)), ref))
                    for seed in range(seeds)
                ]
        analog = _our_analog(model, case["tile"], setup["timing_noise"], "adc8", case["x_calib"])
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            entry["timing"]["program_s"] = median_time(lambda a=analog, g=gen: a.program(1, g),
                                                   setup["repeats"])
            analog.set_generator(gen)
            entry["timing"]["forward_s"] = median_time(lambda a=analog, x=x: a(x), setup["repeats"])
            entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x),
                                                       setup["repeats"])
        for s in setup["timing_draws"]:
            entry["timing"][f"S={s}"] = median_time(
                lambda a=analog, x=x, s=s, g=gen: _our_draws(a, x, s, g), setup["repeats"]
            )
        res["linear"][case["name"]] = entry
    for wl in setup["workloads"]:
        model, x, y = wl["model"], wl["x_test"], wl["y_test"]
        entry = {"accuracy": {}, "timing": {}, "evaluate": {}}
        for periphery in setup["peripheries"]:
            for noise in setup["noise_levels"]:
                analog = _our_analog(model, wl["tile"], noise, periphery, wl["x_calib"])
                per_seed = []
                for seed in range(seeds):
                    logits = _our_draws(analog, x, draws, torch.Generator().manual_seed(seed))
                    per_seed.append(float((logits.argmax(-1) == y).double().mean()))
                entry["accuracy"][f"{periphery}/{noise[0]}/{noise[1]}"] = per_seed
        # Cross-check through the public API (fidelity 0.5: first-order IR drop, which is
        # exact with wire_r_ohm = 0; weight_bits = 5 re-quantizes the float model identically).
        for noise in setup["noise_levels"]:
            ev = simulator.evaluate(_our_config(wl["tile"], noise), wl["name"], 0.5, 0)
            entry["evaluate"][f"adc8/{noise[0]}/{noise[1]}"] = {
                "accuracy": ev.accuracy, "accuracy_std": ev.accuracy_std,
                "n_draws": ev.details["n_draws"], "n_test": ev.details["n_test"],
                "cost_s": ev.cost_s,
            }
        analog = _our_analog(model, wl["tile"], setup["timing_noise"], "adc8", wl["x_calib"])
        gen = torch.Generator().manual_seed(0)
        for s in setup["timing_draws"]:
            entry["timing"][f"S={s}"] = median_time(
                lambda a=analog, x=x, s=s, g=gen: _our_draws(a, x, s, g), setup["repeats"]
            )
        entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x), setup["repeats"])
        res["workloads"][wl["name"]] = entry
    res["load_average_end"] = list(os.getloadavg())
    return res


# ---------------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------------


def _compare(ours: dict[str, Any], theirs: dict[str, Any] | None, setup) -> dict[str, Any]:
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


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def _run_aihwkit(setup: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Run the aihwkit part in its interpreter; ``(raw, outcome)``."""
    if not Path(AIHWKIT_PYTHON).exists():
        return None, f"no aihwkit interpreter at {AIHWKIT_PYTHON}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "setup.pt"
        torch.save(setup, path)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        proc = subprocess.run(
            [AIHWKIT_PYTHON, __file__, "--aihwkit-part", str(path)],
            capture_output=True, text=True, env=env, check=False,
        )
    if proc.returncode != 0:
        return None, f"aihwkit part failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(RAW_PATH.read_text()), "ran"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aihwkit-part", type=Path, help="(internal) setup file to run on aihwkit")
    parser.add_argument("--skip-aihwkit", action="store_true",
                        help="reuse bench/results/aihwkit_raw.json")
    parser.add_argument("--quick", action="store_true", help="few seeds, draws and repeats")
    args = parser.parse_args()
    if args.aihwkit_part is not None:
        aihwkit_part(args.aihwkit_part, RAW_PATH)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    setup = build_setup(args.quick)
    if args.skip_aihwkit:
        theirs = json.loads(RAW_PATH.read_text()) if RAW_PATH.exists() else None
        outcome = "reused aihwkit_raw.json" if theirs else "aihwkit not run"
    else:
        theirs, outcome = _run_aihwkit(setup)
    ours = our_part(setup)
    result = {
        "benchmark": "aihwkit_compare",
        "aihwkit_outcome": outcome,
        "aihwkit_build": AIHWKIT_BUILD,
        "aihwkit_version": (theirs or {}).get("aihwkit_version"),
        "aihwkit_torch_version": (theirs or {}).get("torch_version"),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "threads": 1,
        "quick": args.quick,
        "plan": {
            "noise_levels": setup["noise_levels"], "peripheries": setup["peripheries"],
            "seeds": setup["seeds"], "draws_per_seed": setup["draws"],
            "timing_draws": list(setup["timing_draws"]), "timing_noise": TIMING_NOISE,
            "timing_repeats": setup["repeats"], "linear_tile": LINEAR_TILE,
            "linear_batch": LINEAR_BATCH, "workload_tile": WORKLOAD_TILE,
            "weight_bits": WEIGHT_BITS, "cell_bits": CELL_BITS, "io_bits": IO_BITS,
            "g_on_us": G_ON_US, "g_off_us": G_OFF_US,
        },
        "clean_float_accuracy": {w["name"]: w["clean_float_accuracy"]
                                 for w in setup["workloads"]},
        **_compare(ours, theirs, setup),
        "ours_raw": ours,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(json.dumps(result, indent=2) + "\n")
    _plot(result, PLOT_PATH)
    print(f"aihwkit: {outcome}")
    for row in result["accuracy"]:
        other = row.get("aihwkit", {})
        print(f"{row['case']:>16} {row['periphery']:>5} p={row['prog_sigma']:.2f} "
              f"r={row['read_sigma']:.3f}  ours {row['ours']['mean']:.4f}±"
              f"{row['ours']['std']:.4f}  aihwkit {other.get('mean', math.nan):.4f}±"
              f"{other.get('std', math.nan):.4f}")
    for t in result["timing"]:
        print(f"{t['case']:>16} S={t['draws']:>2}  ours {t['ours_s'] * 1e3:8.2f} ms  aihwkit "
              f"{t.get('aihwkit_s', math.nan) * 1e3:8.2f} ms  "
              f"float {t['clean_float_s'] * 1e3:.3f} ms")


if __name__ == "__main__":
    main()

"""The aihwkit half of ``bench/aihwkit_compare.py``, run by the aihwkit interpreter.

aihwkit is not a dependency of the project, so it is imported inside the functions that use
it (this module is imported by the project's interpreter as well); the conversion of each
matched setting is described in ``bench/aihwkit_compare.py``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from bench.aihwkit_setup import (
    DEVICE_W_NOISE,
    G_OFF_US,
    G_ON_US,
    IO_BITS,
    Chips,
    Noise,
    linear_model,
    noise_sweep,
    rel_rms,
    timing_by_draws,
    top1,
)
from bench.timing import median_time


def _rpu_config(tile: tuple[int, int], noise: Noise, periphery: str) -> Any:
    """aihwkit's ``InferenceRPUConfig`` for ``rows x cols`` tiles, the noise and periphery."""
    # optional dependency: only the aihwkit interpreter has it
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


def _analog(model: nn.Module, tile: tuple[int, int], noise: Noise, periphery: str
            ) -> nn.Module:
    from aihwkit.nn.conversion import convert_to_analog  # optional dependency (see above)

    analog = convert_to_analog(copy.deepcopy(model), _rpu_config(tile, noise, periphery))
    return analog.eval()


def _draws(analog: nn.Module, x: Tensor, draws: int) -> Tensor:
    """`S x N x out` outputs of ``draws`` programmed chips."""
    outs = []
    with torch.no_grad():
        for _ in range(draws):
            analog.program_analog_weights()
            outs.append(analog(x))
    return torch.stack(outs)


def _chips(model: nn.Module, tile: tuple[int, int], x: Tensor, draws: int
           ) -> Callable[[str, Noise], Chips]:
    """``(periphery, noise) -> seed -> outputs`` for :func:`bench.aihwkit_setup.noise_sweep`;
    aihwkit draws from torch's global generator, seeded per seed."""
    def build(periphery: str, noise: Noise) -> Chips:
        analog = _analog(model, tile, noise, periphery)

        def outputs(seed: int) -> Tensor:
            torch.manual_seed(seed)
            return _draws(analog, x, draws)

        return outputs

    return build


def aihwkit_part(setup_path: Path, out_path: Path) -> dict[str, Any]:
    """Run every case on aihwkit and write the raw measurements to ``out_path``."""
    import aihwkit  # optional dependency (see above)

    torch.set_num_threads(1)
    setup = torch.load(setup_path, weights_only=False)
    draws, repeats = setup["draws"], setup["repeats"]
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
        model = linear_model(case["weight"])
        x, ref = case["x"], case["x"] @ case["weight"].t()
        entry: dict[str, Any] = {
            "accuracy": noise_sweep(setup, _chips(model, case["tile"], x, draws),
                                    lambda y, ref=ref: statistics.fmean(rel_rms(y, ref))),
            "timing": {},
        }
        analog = _analog(model, case["tile"], setup["timing_noise"], "adc8")
        with torch.no_grad():
            entry["timing"]["program_s"] = median_time(analog.program_analog_weights, repeats)
            entry["timing"]["forward_s"] = median_time(lambda a=analog, x=x: a(x), repeats)
            entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x), repeats)
        entry["timing"].update(timing_by_draws(setup, lambda s, a=analog, x=x: _draws(a, x, s)))
        raw["linear"][case["name"]] = entry
    for wl in setup["workloads"]:
        model, x, y = wl["model"], wl["x_test"], wl["y_test"]
        entry = {
            "accuracy": noise_sweep(setup, _chips(model, wl["tile"], x, draws),
                                    lambda logits, y=y: top1(logits, y)),
            "timing": {},
        }
        analog = _analog(model, wl["tile"], setup["timing_noise"], "adc8")
        entry["timing"].update(timing_by_draws(setup, lambda s, a=analog, x=x: _draws(a, x, s)))
        entry["timing"]["clean_float_s"] = median_time(lambda m=model, x=x: m(x), repeats)
        raw["workloads"][wl["name"]] = entry
    if setup.get("device_workloads"):
        raw["wan2022"] = wan2022_part(setup)
    raw["load_average_end"] = list(os.getloadavg())
    if not setup["linear"] and not setup["workloads"] and out_path.exists():
        # A devices-only run keeps the noise-sweep measurements of the last full run.
        raw = {**json.loads(out_path.read_text()), "wan2022": raw.get("wan2022")}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(raw, indent=2) + "\n")
    return raw


def _wan2022_rpu(tile: tuple[int, int]) -> Any:
    """aihwkit's ``InferenceRPUConfig`` with its own ``ReRamWan2022NoiseModel`` at its
    defaults (single-pair converter, g_max 25 µS, g_min 0), ``w_noise = DEVICE_W_NOISE``
    (additive constant, per weight), 8-bit DAC/ADC with the default output bound."""
    # optional dependency: only the aihwkit interpreter has it
    from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel
    from aihwkit.simulator.configs import InferenceRPUConfig
    from aihwkit.simulator.parameters.enums import WeightNoiseType

    rpu = InferenceRPUConfig()
    rpu.mapping.max_input_size = tile[0]
    rpu.mapping.max_output_size = tile[1] // 2
    rpu.mapping.weight_scaling_omega = 1.0
    rpu.forward.out_noise = 0.0
    rpu.forward.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    rpu.forward.w_noise = DEVICE_W_NOISE
    rpu.forward.inp_res = 1.0 / (2**IO_BITS - 2)
    rpu.forward.out_res = 1.0 / (2**IO_BITS - 2)
    rpu.noise_model = ReRamWan2022NoiseModel()
    rpu.drift_compensation = None
    return rpu


def wan2022_part(setup: dict[str, Any]) -> dict[str, Any]:
    """Top-1 per seed of every device workload under aihwkit's Wan2022 model, on the 5-bit
    model both tools get (``quantized``) and on the float model (``float``)."""
    from aihwkit.nn.conversion import convert_to_analog  # optional dependency (see above)

    out: dict[str, Any] = {}
    for wl in setup["device_workloads"]:
        x, y = wl["x_test"], wl["y_test"]
        entry = {}
        for kind in ("quantized", "float"):
            analog = convert_to_analog(copy.deepcopy(wl["model" if kind == "quantized"
                                                       else "float_model"]),
                                       _wan2022_rpu(setup["device_tile"])).eval()
            per_seed = []
            for seed in range(setup["device_seeds"]):
                torch.manual_seed(seed)
                per_seed.append(top1(_draws(analog, x, setup["draws"]), y))
            entry[kind] = per_seed
        out[wl["name"]] = entry
    return out

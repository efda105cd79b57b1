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
    raw["load_average_end"] = list(os.getloadavg())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(raw, indent=2) + "\n")
    return raw

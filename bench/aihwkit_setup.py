"""What both sides of ``bench/aihwkit_compare.py`` share: the plan, the paths, the metrics.

This module is imported by the project's interpreter and by the aihwkit interpreter, so it
needs nothing beyond torch (and ``bench.timing``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from bench.timing import median_time

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

DEVICE_PATH = RESULTS / "aihwkit_wan2022.json"
"""Device-preset comparison (aihwkit's own ``ReRamWan2022NoiseModel`` vs our presets)."""
DEVICE_TILE = (128, 128)
"""Tiles of the device-preset comparison (issue 12: 128x128 tiles, 8-bit DAC/ADC)."""
DEVICE_W_NOISE = 0.01
"""aihwkit ``forward.w_noise`` (additive constant, per weight, relative to the tile's largest
weight): the ~1 % short-term read noise the ``ReRamWan2022NoiseModel`` docstring asks for."""
DEVICE_WORKLOADS = ("digits-mlp", "digits-cnn")
DEVICE_SEEDS = 10
"""Seeds of the device-preset comparison; each seed is the mean over ``DRAWS`` chips."""
DEVICE_CASES: dict[str, dict[str, Any]] = {
    "generic-0.03": {"device": "generic", "prog_sigma": 0.03, "read_sigma": 0.01},
    "wan2022": {"device": "wan2022"},
}
"""Our configurations compared with aihwkit's Wan2022 model: the old default (constant 3 % /
1 % per cell) and the ``wan2022`` preset at its own defaults."""

Noise = tuple[float, float]
"""``(prog_sigma, read_sigma)``, fractions of ``g_on - g_off``."""
Chips = Callable[[int], Tensor]
"""``seed -> `S x N x out`-dim outputs`` of ``S`` chips programmed from that seed."""


def linear_model(weight: Tensor) -> nn.Module:
    """A bias-free ``nn.Linear`` holding the `out x in`-dim ``weight``, inside a Sequential
    (the root module of a model is never swapped for an analog layer)."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return nn.Sequential(layer).eval().requires_grad_(False)


def rel_rms(y: Tensor, ref: Tensor) -> list[float]:
    """Per-draw relative RMS error of `S x N x out` outputs against `N x out` references."""
    err = (y - ref).pow(2).flatten(1).sum(-1).sqrt() / ref.pow(2).sum().sqrt()
    return err.tolist()


def top1(logits: Tensor, y: Tensor) -> float:
    """Top-1 accuracy of `S x N x classes` logits against `N` labels, over all draws."""
    return float((logits.argmax(-1) == y).double().mean())


def case_key(periphery: str, noise: Noise) -> str:
    """Key of one accuracy cell, ``"periphery/prog_sigma/read_sigma"``."""
    return f"{periphery}/{noise[0]}/{noise[1]}"


def noise_sweep(setup: dict[str, Any], chips: Callable[[str, Noise], Chips],
                score: Callable[[Tensor], float]) -> dict[str, list[float]]:
    """Per-seed scores for every periphery and noise level of the plan.

    Args:
        setup: The shared setup (``peripheries``, ``noise_levels``, ``seeds``).
        chips: ``(periphery, noise) -> seed -> outputs``; called once per cell (it builds the
            analog model), its result once per seed.
        score: Outputs -> the cell's metric for that seed.
    """
    out: dict[str, list[float]] = {}
    for periphery in setup["peripheries"]:
        for noise in setup["noise_levels"]:
            outputs = chips(periphery, noise)
            out[case_key(periphery, noise)] = [score(outputs(s)) for s in range(setup["seeds"])]
    return out


def timing_by_draws(setup: dict[str, Any], run: Callable[[int], object]) -> dict[str, float]:
    """``{"S=s": median wall time of run(s) [s]}`` for every ``s`` of ``timing_draws``."""
    return {f"S={s}": median_time(lambda s=s: run(s), setup["repeats"])
            for s in setup["timing_draws"]}

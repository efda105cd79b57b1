r"""CorrectNet+-style error suppression and compensation.

Three parts, each a knob:

* **Lipschitz regularization** (``lipschitz_lambda``): the training loss gets
  ``λ Σ_l σ_max(W_l)²`` over the crossbar layers (``W_l`` unrolled to `out x in`), which
  bounds how much a weight or input error is amplified layer to layer. It is applied during
  the (noise-aware) fine-tuning of :mod:`simulator.mitigation.resna`.
* **Per-layer ADC bits** (:func:`choose_adc_bits`): starting from ``adc_bits`` everywhere, a
  greedy search lowers one layer's ADC by one bit at a time, taking the step that saves the
  most ADC energy (cost model) while the accuracy predicted by the analytic moment model
  stays above ``target`` times its value at full resolution.
* **Error compensation** (:class:`Compensator`, in
  :mod:`simulator.mitigation.compensation`, re-exported here): a digital residual correction
  ``y + A y + c`` after chosen crossbar layers, trained under injected crossbar noise with
  the network frozen; which layers get one is a subset search (:func:`select_compensation`).

References:
    .. [Eldebiky2023] A. Eldebiky et al., "CorrectNet+: Dealing with HW non-idealities in
       in-memory-computing platforms by error suppression and compensation", IEEE TCAD 2023
       (Lipschitz regularization, compensation layers chosen by reinforcement learning).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from simulator import cost
from simulator.config import CrossbarConfig
from simulator.estimators.moments import accuracy_from_moments, propagate_moments
from simulator.estimators.referral import layer_noise
from simulator.mapping import crossbar_layers, layer_shapes
from simulator.mitigation.compensation import (
    MAC_ENERGY_PJ_45NM,
    SEARCH_METHODS,
    CompensationSearch,
    Compensator,
    combine_compensators,
    compensation_overhead,
    insert_compensators,
    select_compensation,
    train_compensators,
    without_compensators,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MAC_ENERGY_PJ_45NM",
    "SEARCH_METHODS",
    "AdcPlan",
    "CompensationSearch",
    "Compensator",
    "apply_adc_bits",
    "combine_compensators",
    "choose_adc_bits",
    "compensation_overhead",
    "insert_compensators",
    "layer_spectral_norms",
    "lipschitz_penalty",
    "select_compensation",
    "train_compensators",
    "without_compensators",
]

# -- Lipschitz regularization ------------------------------------------------------------


def _unrolled(module: nn.Module) -> Tensor:
    return module.weight.reshape(module.weight.shape[0], -1)


def lipschitz_penalty(model: nn.Module) -> Tensor:
    r"""``Σ_l σ_max(W_l)²`` over the Linear/Conv2d layers (differentiable, scalar)."""
    terms = [torch.linalg.matrix_norm(_unrolled(m), ord=2) ** 2 for _, m in crossbar_layers(model)]
    return torch.stack(terms).sum()


def layer_spectral_norms(model: nn.Module) -> dict[str, float]:
    """Largest singular value of every crossbar layer's unrolled weight."""
    with torch.no_grad():
        return {
            name: float(torch.linalg.matrix_norm(_unrolled(m), ord=2))
            for name, m in crossbar_layers(model)
        }


# -- per-layer ADC resolution ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AdcPlan:
    """Result of :func:`choose_adc_bits`."""

    bits: dict[str, int]
    """ADC resolution per crossbar layer [bit]."""
    adc_energy_uj: float
    """ADC energy per inference with :attr:`bits` [µJ]."""
    baseline_adc_energy_uj: float
    """ADC energy per inference with ``config.adc_bits`` everywhere [µJ]."""
    predicted_accuracy: float
    """Analytic accuracy with :attr:`bits`."""
    baseline_predicted_accuracy: float
    """Analytic accuracy with ``config.adc_bits`` everywhere."""
    evaluations: int
    """Analytic evaluations spent by the search."""

    @property
    def adc_energy_saving(self) -> float:
        """Fractional ADC energy saved, in [0, 1)."""
        return 1.0 - self.adc_energy_uj / self.baseline_adc_energy_uj


def _adc_energy(config: CrossbarConfig, shape: Any, bits: int) -> float:
    hw = cost.estimate(config.replace(adc_bits=bits), [shape])
    return float(hw.breakdown["components"]["adc"]["energy_uj"])


def choose_adc_bits(
    config: CrossbarConfig,
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    target: float = 0.99,
    min_bits: int = 2,
    mode: str = "diag",
    seed: int = 0,
) -> AdcPlan:
    r"""Greedy per-layer ADC resolution for robustness vs ADC energy (module docstring).

    Args:
        config: The configuration; ``adc_bits`` is the starting (highest) resolution.
        model: The trained float model.
        x: A `N x *in_shape`-dim Tensor of inputs (calibration and analytic evaluation).
        y: A `N`-dim Tensor of their classes.
        target: Keep the predicted accuracy >= ``target`` x its full-resolution value.
        min_bits: Lowest resolution tried, >= 2.
        mode: Covariance mode of the analytic evaluations.
        seed: Seed of the logit draws.

    Returns:
        An :class:`AdcPlan`.

    Raises:
        ValueError: If ``target`` is not in (0, 1] or ``min_bits`` is out of range.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target!r}.")
    if not 2 <= min_bits <= config.adc_bits:
        raise ValueError(f"min_bits must be in [2, adc_bits={config.adc_bits}], got {min_bits!r}.")
    names = [n for n, _ in crossbar_layers(model)]
    shapes = dict(zip(names, layer_shapes(model, tuple(x.shape[1:])), strict=True))
    levels = range(min_bits, config.adc_bits + 1)
    noise = {b: layer_noise(config.replace(adc_bits=b), model, x) for b in levels}
    energy = {(n, b): _adc_energy(config, shapes[n], b) for n in names for b in levels}
    evaluations = 0

    def predicted(bits: dict[str, int]) -> float:
        nonlocal evaluations
        evaluations += 1
        spec = {n: noise[b][n] for n, b in bits.items()}
        trace = propagate_moments(model, x, spec, mode=mode)
        return accuracy_from_moments(trace.logit_mean, trace.logit_cov, y, seed=seed)[0]

    bits = dict.fromkeys(names, config.adc_bits)
    base_acc = predicted(bits)
    acc = base_acc
    floor = target * base_acc
    while True:
        best: tuple[float, float, str] | None = None
        for n in names:
            if bits[n] <= min_bits:
                continue
            trial = {**bits, n: bits[n] - 1}
            a = predicted(trial)
            saved = energy[(n, bits[n])] - energy[(n, bits[n] - 1)]
            if a >= floor and (best is None or (saved, a) > best[:2]):
                best = (saved, a, n)
        if best is None:
            break
        bits[best[2]] -= 1
        acc = best[1]
    base_energy = sum(energy[(n, config.adc_bits)] for n in names)
    return AdcPlan(
        bits=bits,
        adc_energy_uj=sum(energy[(n, b)] for n, b in bits.items()),
        baseline_adc_energy_uj=base_energy,
        predicted_accuracy=acc,
        baseline_predicted_accuracy=base_acc,
        evaluations=evaluations,
    )


def apply_adc_bits(analog: Any, bits: dict[str, int]) -> None:
    """Give every layer of a :class:`simulator.analog_model.AnalogModel` its own ADC resolution
    (call before ``calibrate``)."""
    for name, layer in analog.layers.items():
        if name in bits:
            layer.config = layer.config.replace(adc_bits=bits[name])

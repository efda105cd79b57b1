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
* **Error compensation** (:class:`Compensator`): a digital residual correction
  ``y + A y + c`` (a 1x1 convolution or a square linear map, zero-initialized) after chosen
  crossbar layers, trained under injected crossbar noise with the network frozen. Which
  layers get one is a subset search (:func:`select_compensation`): exhaustive for few layers,
  greedy forward selection, or a REINFORCE policy search as in the paper; the benchmark
  compares them on the same reward.

Compensators cost digital multiply-accumulates, charged at :data:`MAC_ENERGY_PJ_45NM`.

References:
    .. [Eldebiky2023] A. Eldebiky et al., "CorrectNet+: Dealing with HW non-idealities in
       in-memory-computing platforms by error suppression and compensation", IEEE TCAD 2023
       (Lipschitz regularization, compensation layers chosen by reinforcement learning).
    .. [Horowitz2014] M. Horowitz, "Computing's energy problem (and what we can do about
       it)", ISSCC 2014 (8-bit multiply 0.2 pJ + add 0.03 pJ at 45 nm).
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simulator import cost
from simulator.config import CrossbarConfig
from simulator.estimators.moments import accuracy_from_moments, propagate_moments
from simulator.estimators.referral import layer_noise
from simulator.mapping import DigitalModule, crossbar_layers, layer_shapes
from simulator.mitigation.resna import noise_aware_finetune

logger = logging.getLogger(__name__)

__all__ = [
    "MAC_ENERGY_PJ_45NM",
    "SEARCH_METHODS",
    "AdcPlan",
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

MAC_ENERGY_PJ_45NM = 0.23
"""Energy of one 8-bit digital multiply-accumulate at 45 nm [pJ] [Horowitz2014]_; scaled
linearly with the node (a first-order CV² assumption)."""

SEARCH_METHODS: tuple[str, ...] = ("exhaustive", "greedy", "reinforce")
"""Subset searches of :func:`select_compensation`."""


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


# -- error compensation ----------------------------------------------------------------


class Compensator(DigitalModule):
    r"""Digital residual correction ``y + A y + c`` of a crossbar layer's output.

    ``A`` is `C x C` (a 1x1 convolution for `N x C x H x W` outputs, a linear map for
    `N x C`), zero-initialized so that an untrained compensator is the identity. As a
    :class:`~simulator.mapping.DigitalModule` it stays in the digital periphery (the wrapped
    ``layer`` goes onto crossbars); after :meth:`freeze` ``A`` and ``c`` are buffers (fixed
    digital constants).
    """

    def __init__(self, layer: nn.Module, channels: int) -> None:
        super().__init__()
        self.layer = layer
        self.channels = channels
        self.a = nn.Parameter(torch.zeros(channels, channels))
        self.c = nn.Parameter(torch.zeros(channels))

    def freeze(self) -> None:
        """Turn the trained correction into buffers."""
        a, c = self.a.detach().clone(), self.c.detach().clone()
        del self.a, self.c
        self.register_buffer("a", a)
        self.register_buffer("c", c)

    def forward(self, x: Tensor) -> Tensor:
        y = self.layer(x)
        if y.dim() == 4:
            corr = F.conv2d(y, self.a.view(self.channels, self.channels, 1, 1), self.c)
        else:
            corr = F.linear(y, self.a, self.c)
        return y + corr


def insert_compensators(model: nn.Module, names: list[str]) -> nn.Module:
    """Wrap the named crossbar layers of ``model`` (in place) in :class:`Compensator`."""
    layers = dict(crossbar_layers(model))
    for name in names:
        if name not in layers:
            raise ValueError(f"no crossbar layer named {name!r} to compensate.")
        module = layers[name]
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, Compensator(module, module.weight.shape[0]))
    return model


def without_compensators(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every :class:`Compensator` replaced by the layer it wraps (the
    moment model and the per-layer ADC search see the network without them)."""
    plain = copy.deepcopy(model)
    for name, module in list(plain.named_modules()):
        if isinstance(module, Compensator):
            parent, _, child = name.rpartition(".")
            setattr(plain.get_submodule(parent) if parent else plain, child, module.layer)
    return plain


def compensation_overhead(
    model: nn.Module, names: list[str], input_shape: tuple[int, ...], tech_node_nm: int
) -> dict[str, float]:
    """Digital MACs and energy per inference of compensators at ``names`` [pJ -> µJ]."""
    shapes = {s.name: s for s in layer_shapes(model, input_shape)}
    macs = sum(shapes[n].positions * shapes[n].out_features ** 2 for n in names)
    energy_pj = macs * MAC_ENERGY_PJ_45NM * tech_node_nm / 45.0
    return {"macs": float(macs), "energy_uj": energy_pj * 1e-6}


@dataclass
class CompensationSearch:
    """Result of :func:`select_compensation`."""

    layers: list[str]
    """Chosen layers."""
    reward: float
    """Reward of the choice."""
    evaluations: int
    """Distinct subsets evaluated."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every evaluated subset with its reward."""


def select_compensation(
    names: list[str],
    reward: Callable[[tuple[str, ...]], float],
    *,
    method: str = "greedy",
    episodes: int = 40,
    lr: float = 0.5,
    seed: int = 0,
) -> CompensationSearch:
    r"""Choose the subset of layers to compensate that maximizes ``reward``.

    Args:
        names: Candidate layers.
        reward: Maps a sorted tuple of layer names to a scalar (e.g. accuracy under noise
            minus an overhead penalty); memoized here, so repeated subsets are free.
        method: ``"exhaustive"`` (all ``2**L`` subsets), ``"greedy"`` (forward selection,
            add the best layer while the reward improves) or ``"reinforce"`` (independent
            Bernoulli policy per layer, REINFORCE with a moving-average baseline).
        episodes: REINFORCE episodes.
        lr: REINFORCE step size on the logits.
        seed: Seed of the policy samples.

    Returns:
        A :class:`CompensationSearch`.

    Raises:
        ValueError: On an unknown ``method``.
    """
    if method not in SEARCH_METHODS:
        raise ValueError(f"method must be one of {SEARCH_METHODS}, got {method!r}.")
    cache: dict[tuple[str, ...], float] = {}
    history: list[dict[str, Any]] = []

    def score(subset: tuple[str, ...]) -> float:
        key = tuple(sorted(subset))
        if key not in cache:
            cache[key] = float(reward(key))
            history.append({"layers": list(key), "reward": cache[key]})
        return cache[key]

    if method == "exhaustive":
        subsets = [
            tuple(c) for r in range(len(names) + 1) for c in itertools.combinations(names, r)
        ]
        best = max(subsets, key=score)
    elif method == "greedy":
        best: tuple[str, ...] = ()
        current = score(best)
        while True:
            options = [tuple(sorted((*best, n))) for n in names if n not in best]
            if not options:
                break
            cand = max(options, key=score)
            if score(cand) <= current:
                break
            best, current = cand, score(cand)
    else:
        gen = torch.Generator().manual_seed(seed)
        logits = torch.zeros(len(names))
        baseline = None
        for _ in range(episodes):
            probs = torch.sigmoid(logits)
            pick = torch.rand(len(names), generator=gen) < probs
            r = score(tuple(n for n, k in zip(names, pick.tolist(), strict=True) if k))
            baseline = r if baseline is None else 0.8 * baseline + 0.2 * r
            logits += lr * (r - baseline) * (pick.float() - probs) / max(abs(baseline), 1e-6)
        greedy_policy = tuple(
            n for n, p in zip(names, torch.sigmoid(logits), strict=True) if p > 0.5
        )
        score(greedy_policy)
        best = max(cache, key=cache.__getitem__)
    return CompensationSearch(
        layers=list(best), reward=score(best), evaluations=len(cache), history=history
    )


def train_compensators(
    model: nn.Module,
    names: list[str],
    x: Tensor,
    y: Tensor,
    config: CrossbarConfig,
    *,
    epochs: int = 3,
    noise_scale: float = 1.0,
    lr: float = 1e-2,
    seed: int = 0,
) -> nn.Module:
    r"""A copy of ``model`` with trained, frozen compensators after the ``names`` layers.

    The network's own parameters stay fixed; only the compensators learn, under the crossbar
    noise of ``config`` injected as in :func:`~simulator.mitigation.resna.noise_aware_finetune`.

    Args:
        model: The trained float model (not modified).
        names: Crossbar layers to compensate.
        x: A `N x *in_shape`-dim Tensor of training inputs.
        y: A `N`-dim Tensor of their classes.
        config: Noise levels.
        epochs: Training epochs.
        noise_scale: Multiplier of the injected noise.
        lr: Adam learning rate.
        seed: Seed of shuffling and noise.

    Returns:
        The compensated model (eval mode).
    """
    base = insert_compensators(copy.deepcopy(model), names)
    if names:
        owners = {n for n, m in base.named_modules() if isinstance(m, Compensator)}
        base = noise_aware_finetune(
            base,
            x,
            y,
            config,
            epochs=epochs,
            noise_scale=noise_scale,
            lr=lr,
            seed=seed,
            trainable=lambda pname: (
                pname.rpartition(".")[0] in owners and pname.rpartition(".")[2] in ("a", "c")
            ),
        ).model
    for module in base.modules():
        if isinstance(module, Compensator):
            module.freeze()
    return base.eval()


def combine_compensators(model: nn.Module, trained: dict[str, nn.Module]) -> nn.Module:
    r"""A copy of ``model`` with the compensator of each ``trained[name]`` model (trained on
    its own by :func:`train_compensators`) installed at ``name``, frozen."""
    combined = insert_compensators(copy.deepcopy(model), list(trained))
    modules = dict(combined.named_modules())
    for name, source in trained.items():
        src = dict(source.named_modules())[name]
        dst = modules[name]
        with torch.no_grad():
            dst.a.copy_(src.a)
            dst.c.copy_(src.c)
        dst.freeze()
    return combined.eval()

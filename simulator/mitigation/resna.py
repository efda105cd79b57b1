r"""ReSNA-style stochastic-noise-aware training: fine-tune with the crossbar's noise injected.

Every training forward pass sees a freshly drawn noisy chip: each crossbar layer's weight is
mapped to a differential conductance pair ``G± = g_off + max(±w, 0)/w_max · (g_on - g_off)``
[µS], perturbed by the simulator's own :class:`~simulator.nonideal.ProgrammingVariation`, read
back as ``w_max (G+ - G-)/(g_on - g_off)``, and the layer output receives the simulator's
:class:`~simulator.nonideal.ReadNoise` on both columns of every pair (``σ_r ||x||`` per
output and read). The noise enters as a constant offset (straight-through): gradients flow to
the clean weights, so the network learns weights whose loss is low *under* noise. All σ are
scaled by the ``noise_scale`` knob, and by :func:`mapping_factor` so that the injected
weight error equals that of the config's bit-sliced mapping (the analytic referral of
:mod:`simulator.estimators.referral`).

Knobs (``CrossbarConfig`` fields, wired by :mod:`simulator.mitigation.apply`):
``resna_epochs`` (0 = off), ``resna_noise_scale``; lower fidelities train fewer
epochs (:func:`epochs_for_fidelity`), as in the CF-MESMO paper where fidelity is the number of
ReSNA epochs.

References:
    .. [Yang2022] S. Yang et al., "Multi-objective optimization of ReRAM crossbars for robust
       DNN inferencing under stochastic noise", ICCAD 2021 / arXiv:2109.05437 (ReSNA,
       CF-MESMO).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Generator, Tensor, nn
from torch.func import functional_call

from simulator.config import CrossbarConfig
from simulator.estimators.referral import noise_coefficient
from simulator.mapping import crossbar_layers
from simulator.nonideal import ProgrammingVariation, ReadNoise

__all__ = [
    "CrossbarNoiseInjector",
    "FinetuneResult",
    "NoiseInjector",
    "epochs_for_fidelity",
    "mapping_factor",
    "noise_aware_finetune",
    "noisy_weights",
    "read_noise_hooks",
]


class NoiseInjector(Protocol):
    """What noise-aware training needs from a noise model."""

    def weight(self, name: str, w: Tensor, generator: Generator) -> Tensor:
        """A noisy copy of weight ``w`` of layer ``name`` (same shape, detached noise)."""
        ...

    def output(
        self, name: str, y: Tensor, x: Tensor, module: nn.Module, generator: Generator
    ) -> Tensor:
        """Per-read output noise added to ``y`` (the layer's output for input ``x``)."""
        ...


def mapping_factor(config: CrossbarConfig) -> float:
    r"""Weight-error σ of the simulator's mapping relative to one analog differential pair.

    A pair spanning ``max|w|`` gives ``σ·sqrt(2)·max|w|``; the bit-sliced mapping gives
    ``s_w (L-1) σ sqrt(c)`` with ``s_w = max|w| / (2**(weight_bits-1) - 1)`` and ``c`` as in
    :mod:`simulator.estimators.referral`, so the factor is ``(L-1) sqrt(c/2) / (2**(b-1)-1)``.
    """
    q_max = 2 ** (config.weight_bits - 1) - 1
    return (config.levels - 1) * math.sqrt(noise_coefficient(config) / 2.0) / q_max


class CrossbarNoiseInjector:
    """Programming variation and read noise of a :class:`CrossbarConfig`, through the
    simulator's noise modules (see the module docstring)."""

    def __init__(
        self, config: CrossbarConfig, noise_scale: float = 1.0, *, match_mapping: bool = True
    ) -> None:
        """
        Args:
            config: Gives ``g_on_us``, ``g_off_us``, ``prog_sigma``, ``read_sigma`` and the
                mapping fields.
            noise_scale: Multiplier of both σ, >= 0.
            match_mapping: Scale σ so that the weight error equals that of the simulator's
                bit-sliced mapping of ``config`` (:func:`mapping_factor`); ``False``: one
                analog differential pair per weight.
        """
        if not (math.isfinite(noise_scale) and noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite value >= 0, got {noise_scale!r}.")
        self.window = config.g_on_us - config.g_off_us
        self.g_off = config.g_off_us
        scale = noise_scale * (mapping_factor(config) if match_mapping else 1.0)
        self.programming = ProgrammingVariation(scale * config.prog_sigma * self.window)
        self.read = ReadNoise(scale * config.read_sigma * self.window)

    def weight(self, name: str, w: Tensor, generator: Generator) -> Tensor:
        w_max = w.detach().abs().max().clamp_min(1e-12)
        scale = self.window / w_max
        pair = torch.stack([w.detach().clamp_min(0), (-w.detach()).clamp_min(0)]) * scale
        g = self.programming.apply_to_conductance(pair + self.g_off, generator) - self.g_off
        noisy = (g[0] - g[1]) / scale
        return w + (noisy - w.detach())

    def output(
        self, name: str, y: Tensor, x: Tensor, module: nn.Module, generator: Generator
    ) -> Tensor:
        if not self.read.active:
            return y
        w_max = float(module.weight.detach().abs().max().clamp_min(1e-12))
        if isinstance(module, nn.Conv2d):
            cols = F.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride)
            v_norm = cols.norm(dim=1)  # N x P
            currents = y.new_zeros(y.shape[0], y.shape[2] * y.shape[3], 2 * y.shape[1])
            noise = self.read.apply_to_currents(currents, v_norm, generator)
            diff = (noise[..., : y.shape[1]] - noise[..., y.shape[1] :]) * (w_max / self.window)
            return y + diff.transpose(1, 2).reshape(y.shape)
        v_norm = x.norm(dim=-1)
        currents = y.new_zeros(*y.shape[:-1], 2 * y.shape[-1])
        noise = self.read.apply_to_currents(currents, v_norm, generator)
        return y + (noise[..., : y.shape[-1]] - noise[..., y.shape[-1] :]) * (w_max / self.window)


@contextmanager
def read_noise_hooks(layers: dict[str, nn.Module], inj: NoiseInjector, gen: Generator
                     ) -> Iterator[None]:
    """While active, forward hooks add ``inj``'s read noise to the output of each of
    ``layers`` (name -> module), drawn from ``gen``."""
    def hook(name: str) -> Callable[..., Tensor]:
        def add_read_noise(module: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> Tensor:
            return inj.output(name, out, inputs[0], module, gen)

        return add_read_noise

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def noisy_weights(layers: dict[str, nn.Module], inj: NoiseInjector, gen: Generator
                  ) -> dict[str, Tensor]:
    """One draw of ``inj``'s programmed weights of ``layers``, keyed for ``functional_call``
    (``"<name>.weight"``)."""
    return {f"{n}.weight": inj.weight(n, m.weight, gen) for n, m in layers.items()}


@dataclass
class FinetuneResult:
    """Result of :func:`noise_aware_finetune`."""

    model: nn.Module
    """The fine-tuned copy (eval mode)."""
    epochs: int
    """Epochs run."""
    train_time_s: float
    """Wall time of the fine-tuning [s]."""
    losses: list[float] = field(default_factory=list)
    """Mean training loss per epoch (under noise)."""


def epochs_for_fidelity(fidelity: float, max_epochs: int) -> int:
    """ReSNA epochs at a fidelity in [0, 1]: ``round(fidelity · max_epochs)``.

    Raises:
        ValueError: If ``fidelity`` is outside [0, 1] or ``max_epochs < 0``.
    """
    if not 0.0 <= fidelity <= 1.0:
        raise ValueError(f"fidelity must be in [0, 1], got {fidelity!r}.")
    if max_epochs < 0:
        raise ValueError(f"resna_epochs must be >= 0, got {max_epochs!r}.")
    return int(round(fidelity * max_epochs))


def noise_aware_finetune(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    config: CrossbarConfig,
    *,
    epochs: int,
    noise_scale: float = 1.0,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    injector: NoiseInjector | None = None,
    extra_loss: object | None = None,
    trainable: Callable[[str], bool] | None = None,
) -> FinetuneResult:
    r"""Fine-tune a copy of ``model`` with crossbar noise injected in every forward pass.

    Args:
        model: The trained float model (not modified).
        x: A `N x *in_shape`-dim Tensor of training inputs.
        y: A `N`-dim Tensor of their classes.
        config: The crossbar configuration (noise levels).
        epochs: Passes over the data, >= 0 (0 returns an unchanged copy).
        noise_scale: Multiplier of the injected σ (the ``resna_noise_scale`` knob).
        lr: Adam learning rate.
        batch_size: Mini-batch size.
        seed: Seed of the shuffling and the noise.
        injector: Noise model (default: :class:`CrossbarNoiseInjector`).
        extra_loss: Optional callable ``model -> Tensor`` added to the loss (regularizers).
        trainable: Optional predicate on parameter names; only those it accepts are trained
            (default: all), e.g. compensators alone.

    Returns:
        A :class:`FinetuneResult`.

    Raises:
        ValueError: If ``epochs < 0`` or ``batch_size < 1``.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}.")
    start = time.perf_counter()
    tuned = copy.deepcopy(model)
    inj = injector if injector is not None else CrossbarNoiseInjector(config, noise_scale)
    layers = dict(crossbar_layers(tuned))
    gen = Generator().manual_seed(seed)
    params = []
    for pname, p in tuned.named_parameters():
        train = trainable is None or trainable(pname)
        p.requires_grad_(train)
        if train:
            params.append(p)
    opt = torch.optim.Adam(params, lr=lr)
    losses: list[float] = []

    with read_noise_hooks(layers, inj, gen):
        for _ in range(epochs):
            tuned.train()
            perm = torch.randperm(x.shape[0], generator=gen)
            total, count = 0.0, 0
            for i in range(0, x.shape[0], batch_size):
                idx = perm[i : i + batch_size]
                out = functional_call(tuned, noisy_weights(layers, inj, gen), (x[idx],),
                                      strict=False)
                loss = F.cross_entropy(out, y[idx])
                if extra_loss is not None:
                    loss = loss + extra_loss(tuned)  # type: ignore[operator]
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            losses.append(total / max(count, 1))
    tuned.eval()
    return FinetuneResult(tuned, epochs, time.perf_counter() - start, losses)

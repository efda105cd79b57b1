r"""Monte-Carlo sampling of the moment model's noise: the reference that
:func:`~simulator.estimators.moments.propagate_moments` is checked against.

Each draw programs the network once (programming error per weight, shared by every sample and
output position) and reads it with fresh read noise and ADC error, exactly the noise model of
:mod:`simulator.estimators.moments`; the empirical per-layer mean and variance over draws are
what the moment model predicts in closed form.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simulator.estimators.moment_maps import apply_affine, squared_weight_map, supported_leaves
from simulator.estimators.moments import LayerMoments, LayerNoise, NoiseSpec, noise_for

__all__ = ["monte_carlo_moments"]


def monte_carlo_moments(
    model: nn.Module,
    x: Tensor,
    noise: NoiseSpec | None,
    *,
    n_draws: int = 200,
    seed: int = 0,
    chunk: int = 64,
) -> dict[str, LayerMoments]:
    r"""Sample the same noise model and return the empirical per-layer moments.

    Each draw programs the network once (``E_p`` per weight, shared by all samples and
    positions) and adds, per output and read, the read-noise error (Gaussian with variance
    ``Σ_j s_r² ρ x_j²``) and a uniform ADC error of variance ``output_var``. The reference for
    :func:`~simulator.estimators.moments.propagate_moments` in tests and benchmarks.

    Args:
        model: As in :func:`~simulator.estimators.moments.propagate_moments`.
        x: A `batch x *in_shape`-dim Tensor of inputs.
        noise: As in :func:`~simulator.estimators.moments.propagate_moments`.
        n_draws: Number of noisy instances, >= 2.
        seed: Seed of the draws.
        chunk: Draws evaluated together (batched weights), >= 1.

    Returns:
        Empirical mean and variance over draws after every leaf module, keyed by name.
    """
    if n_draws < 2:
        raise ValueError(f"n_draws must be >= 2, got {n_draws!r}.")
    leaves = supported_leaves(model)
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, list[Tensor]] = {}
    batch = x.shape[0]
    with torch.no_grad():
        for start in range(0, n_draws, chunk):
            s = min(chunk, n_draws - start)
            h = (
                x.detach()
                .double()
                .unsqueeze(0)
                .expand(s, *x.shape)
                .reshape(s * batch, *x.shape[1:])
            )
            for name, module in leaves:
                h = _noisy_leaf(module, noise_for(noise, name, module), h, s, gen)
                hs = h.reshape(s, batch, *h.shape[1:])
                acc = sums.setdefault(name, [torch.zeros_like(hs[0]), torch.zeros_like(hs[0])])
                acc[0] += hs.sum(0)
                acc[1] += (hs * hs).sum(0)
    out = {}
    for name, (s1, s2) in sums.items():
        mean = s1 / n_draws
        var = (s2 / n_draws - mean * mean).clamp_min(0) * n_draws / (n_draws - 1)
        out[name] = LayerMoments(name, mean.float(), var.float())
    return out


def _noisy_leaf(
    module: nn.Module, noise: LayerNoise | None, h: Tensor, s: int, gen: torch.Generator
) -> Tensor:
    """One leaf on `s·batch x ...` inputs, draw-major, each draw with its own weights."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        weight = module.weight.double().unsqueeze(0).expand(s, *module.weight.shape)
        if noise is not None:
            std = noise.programming_var(module.weight).sqrt()
            eps = torch.randn(weight.shape, generator=gen, dtype=weight.dtype)
            weight = noise.mean_weight(module.weight) + std * eps
        bias = None if module.bias is None else module.bias.double()
        if isinstance(module, nn.Linear):
            hs = h.reshape(s, -1, h.shape[-1])
            y = torch.einsum("sbi,soi->sbo", hs, weight)
            y = (y if bias is None else y + bias).reshape(h.shape[0], -1)
        else:
            batch = h.shape[0] // s
            hs = h.reshape(s, batch, *h.shape[1:]).transpose(0, 1).reshape(batch, -1, *h.shape[2:])
            y = F.conv2d(
                hs,
                weight.reshape(-1, *weight.shape[2:]),
                None if bias is None else bias.repeat(s),
                module.stride,
                module.padding,
                module.dilation,
                groups=s,
            )
            y = (
                y.reshape(batch, s, -1, *y.shape[2:])
                .transpose(0, 1)
                .reshape(s * batch, -1, *y.shape[2:])
            )
        if noise is not None:
            y = noise.shift_output(y)
            read_var = squared_weight_map(
                module, h * h * noise.read_factor, torch.full_like(module.weight, noise.read_std**2)
            )
            y = y + read_var.sqrt() * torch.randn(y.shape, generator=gen, dtype=y.dtype)
            if noise.output_var > 0:
                u = torch.rand(y.shape, generator=gen, dtype=y.dtype) - 0.5
                y = y + math.sqrt(12.0 * noise.output_var) * u
        return y
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        return apply_affine(module, h)
    if isinstance(module, nn.Dropout | nn.Identity):
        return h
    return module(h)

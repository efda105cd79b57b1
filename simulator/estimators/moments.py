r"""Analytic moment propagation: mean and covariance of every layer's output under
conductance noise, without Monte-Carlo.

Noise model (per analog layer ``y = W x + b``, :class:`LayerNoise`):

* **programming** error ``E_p`` on every weight, i.i.d. ``N(0, s_p²)`` with
  ``s_p² = additive_std² + relative_std² · W²``, drawn once per programmed instance and so
  *shared* by every output position of a convolution;
* **read** error ``E_r`` with ``s_r = read_std``, drawn anew on every read (every sample and
  every output position), its variance scaled by ``read_factor`` (bit-serial inputs: each
  input-bit read carries its own noise, see
  :func:`simulator.estimators.referral.read_factor`);
* **ADC quantization**: an independent uniform error of variance ``output_var = Δ²/12`` on
  every output (summed over row tiles).

Second-order propagation, per sample (the layer input ``x`` has mean ``μ`` and covariance
``Σ`` from the layers before; noise and input are independent):

.. math::
    E[y] = W μ + b, \qquad
    Cov[y] = W Σ W^T + Cov_{E_p}[E_p x] + diag(Σ_j s_r² ρ E[x_j²]) + diag(q²/12)

where for a Linear layer ``Cov_{E_p}[E_p x]_{ik} = δ_ik Σ_j s_{ij}² E[x_j²]`` and for a
Conv2d (unrolled patches ``x_{j,p}``, channel ``o``, positions ``p, p'``) it is
``δ_{oo'} Σ_j s_{oj}² E[x_{j,p} x_{j,p'}]``: the same programmed kernel serves every position,
so a channel's errors are correlated across positions. Non-linear layers:

* ReLU: the exact rectified-Gaussian mean and variance per unit,
  ``E[relu] = μΦ(α) + σφ(α)``, ``E[relu²] = (μ²+σ²)Φ(α) + μσφ(α)``, ``α = μ/σ``; cross
  covariances to first order, ``Cov(relu a, relu b) ≈ Φ(α_a)Φ(α_b) Cov(a, b)``.
* MaxPool2d: linearized at the argmax of the mean (the selected unit passes its moments).
* BatchNorm (eval), AvgPool2d, Flatten, Dropout (eval): linear, exact.

``mode="full"`` carries the full `batch x units x units` covariance (exact for the linear
parts; affordable for small networks such as the digits workloads), ``mode="diag"`` only
the variances (ignores all correlations; any network size). The accuracy estimate draws
logits from the propagated Gaussian ``N(E[z], Cov[z])`` of each test sample and counts how
often the true class is the arg-max (:func:`accuracy_from_moments`).

The per-module maps are in :mod:`~simulator.estimators.moment_maps`; the same noise model,
sampled, is in :mod:`~simulator.estimators.moment_sampling` (the reference of the tests).

References:
    .. [Dupraz2023] E. Dupraz, L. R. Varshney, F. Leduc-Primeau, "Power-efficient deep neural
       networks with noisy memristor implementation", arXiv:2301.08780 (moment propagation
       through noisy layers; amplification/power optimization).
    .. [Frey1999] B. J. Frey, G. E. Hinton, "Variational learning in nonlinear Gaussian belief
       networks", Neural Computation 11(1), 1999 (rectified-Gaussian moments).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from simulator.estimators.moment_maps import (
    apply_affine,
    conv_programming_cov,
    linear_map,
    maxpool_moments,
    relu_moments,
    sandwich,
    squared_map,
    squared_weight_map,
    supported_leaves,
)

__all__ = [
    "MODES",
    "LayerMoments",
    "LayerNoise",
    "MomentTrace",
    "NoiseSpec",
    "accuracy_from_moments",
    "noise_for",
    "propagate_moments",
]

MODES: tuple[str, ...] = ("full", "diag")
"""Covariance representations of :func:`propagate_moments`."""


@dataclass(frozen=True, kw_only=True)
class LayerNoise:
    """The noise of one analog layer, referred to its weights and outputs."""

    additive_std: float = 0.0
    """Programming error σ of every weight [weight units], >= 0; fixed per programmed
    instance."""
    relative_std: float = 0.0
    """Programming error σ proportional to ``|w|`` [fraction of the weight], >= 0."""
    read_std: float = 0.0
    """Read-noise σ of every weight [weight units], >= 0; redrawn on every read."""
    read_factor: float = 1.0
    """Multiplier of the read-noise variance, > 0 (``< 1`` for bit-serial inputs, whose bit
    reads carry independent noise: see
    :func:`simulator.estimators.referral.read_factor`)."""
    output_var: float = 0.0
    """Additive variance of every output [output units²], >= 0 (ADC and input quantization
    referred to the output, see :func:`simulator.estimators.referral.layer_noise`)."""
    weight_var: Tensor | None = None
    """Optional extra per-weight programming variance [weight units²], shaped like the
    weight (stuck-at faults), fixed per programmed instance."""
    output_shift: Tensor | None = None
    """Optional `out_features`-dim mean error of every output channel [output units]
    (systematic errors: IR drop, clipping)."""
    weight_shift: Tensor | None = None
    """Optional per-weight mean error [weight units], shaped like the weight (stuck-at
    faults pull weights towards ``g_off``/``g_on``)."""

    def __post_init__(self) -> None:
        for name in ("additive_std", "relative_std", "read_std", "output_var"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite value >= 0, got {value!r}.")
        if not (math.isfinite(self.read_factor) and self.read_factor > 0):
            raise ValueError(f"read_factor must be a finite value > 0, got {self.read_factor!r}.")

    def programming_var(self, weight: Tensor) -> Tensor:
        """Per-weight programming variance, shaped like ``weight`` [weight units²]."""
        var = self.additive_std**2 + self.relative_std**2 * weight.detach().double() ** 2
        if self.weight_var is not None:
            var = var + self.weight_var.double().reshape(weight.shape)
        return var

    def mean_weight(self, weight: Tensor) -> Tensor:
        """The expected programmed weight (``weight + weight_shift``), float64."""
        w = weight.detach().double()
        if self.weight_shift is not None:
            w = w + self.weight_shift.double().reshape(weight.shape)
        return w

    def scaled(self, factor: float) -> LayerNoise:
        """The same noise with every σ multiplied by ``factor`` (variances by its square)."""
        return LayerNoise(
            additive_std=self.additive_std * factor,
            relative_std=self.relative_std * factor,
            read_std=self.read_std * factor,
            read_factor=self.read_factor,
            output_var=self.output_var * factor**2,
            weight_var=None if self.weight_var is None else self.weight_var * factor**2,
            weight_shift=self.weight_shift,
            output_shift=self.output_shift,
        )

    def shift_output(self, y: Tensor) -> Tensor:
        """Add :attr:`output_shift` to a `batch x out (x H x W)` output, if set."""
        if self.output_shift is None:
            return y
        view = (1, -1) + (1,) * (y.dim() - 2)
        return y + self.output_shift.to(y.dtype).view(view)


@dataclass
class LayerMoments:
    """Moments of one layer's output for a batch of inputs."""

    name: str
    """Qualified module name (``""`` for the input)."""
    mean: Tensor
    """A `batch x *shape`-dim Tensor, the mean output."""
    var: Tensor
    """A `batch x *shape`-dim Tensor, the output variance."""


@dataclass
class MomentTrace:
    """Result of :func:`propagate_moments`."""

    layers: list[LayerMoments] = field(default_factory=list)
    """Moments after every supported leaf module, in execution order."""
    logit_mean: Tensor | None = None
    """A `batch x K`-dim Tensor: mean of the network outputs."""
    logit_cov: Tensor | None = None
    """A `batch x K x K`-dim Tensor: covariance of the outputs (diagonal in ``"diag"``
    mode)."""

    def by_name(self) -> dict[str, LayerMoments]:
        """Layer moments keyed by module name."""
        return {m.name: m for m in self.layers}


NoiseSpec = Mapping[str, LayerNoise] | Callable[[str, nn.Module], LayerNoise | None]
"""Per-layer noise: a mapping keyed by qualified module name, or a callable
``(name, module) -> LayerNoise | None``."""


def noise_for(noise: NoiseSpec | None, name: str, module: nn.Module) -> LayerNoise | None:
    """The noise of layer ``name`` under ``noise`` (``None``: noiseless)."""
    if noise is None:
        return None
    if callable(noise) and not isinstance(noise, Mapping):
        return noise(name, module)
    return noise.get(name)


# -- propagation ----------------------------------------------------------------------------


def propagate_moments(
    model: nn.Module,
    x: Tensor,
    noise: NoiseSpec | None,
    *,
    mode: str = "full",
    input_var: Tensor | None = None,
) -> MomentTrace:
    r"""Propagate mean and covariance of every layer's output under analog noise.

    Args:
        model: A network whose leaf modules, in ``named_modules`` order, are its execution
            order (``nn.Sequential`` style) and are all of Linear, Conv2d (groups=1), ReLU,
            BatchNorm1d/2d, MaxPool2d, AvgPool2d, Flatten, Dropout, Identity. Used in eval
            semantics (BatchNorm running statistics, no dropout).
        x: A `batch x *in_shape`-dim Tensor of inputs (deterministic).
        noise: Per analog layer :class:`LayerNoise`, keyed by qualified module name, or a
            callable ``(name, module) -> LayerNoise | None``; ``None``: noiseless.
        mode: ``"full"`` (full covariance) or ``"diag"`` (variances only); see the module
            docstring.
        input_var: Optional `batch x *in_shape`-dim variance of the inputs.

    Returns:
        A :class:`MomentTrace` with the moments after every leaf module and the output
        (logit) mean and covariance.

    Raises:
        ValueError: If ``mode`` is unknown or a layer is not supported (named).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    leaves = supported_leaves(model)
    dtype = torch.float64
    mean = x.detach().to(dtype)
    batch, shape = mean.shape[0], tuple(mean.shape[1:])
    units = math.prod(shape)
    if input_var is None:
        var_in = torch.zeros_like(mean)
    else:
        var_in = input_var.detach().to(dtype)
    if mode == "full":
        cov = torch.diag_embed(var_in.reshape(batch, units))
    else:
        cov = var_in.reshape(batch, units)
    trace = MomentTrace()
    with torch.no_grad():
        for name, module in leaves:
            mean, cov, shape = _step(module, noise_for(noise, name, module), mean, cov, shape, mode)
            var = cov.diagonal(dim1=-2, dim2=-1) if mode == "full" else cov
            trace.layers.append(LayerMoments(name, mean.float(), var.reshape(mean.shape).float()))
    trace.logit_mean = mean.reshape(batch, -1).float()
    trace.logit_cov = (cov if mode == "full" else torch.diag_embed(cov)).float()
    return trace


def _step(
    module: nn.Module,
    noise: LayerNoise | None,
    mean: Tensor,
    cov: Tensor,
    shape: tuple[int, ...],
    mode: str,
) -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """One leaf: returns the new mean, covariance (full or diag) and unit shape."""
    batch = mean.shape[0]
    full = mode == "full"
    if isinstance(module, nn.ReLU):
        var = cov.diagonal(dim1=-2, dim2=-1) if full else cov
        m, v, slope = relu_moments(mean.reshape(batch, -1), var)
        if full:
            cov = cov * slope.unsqueeze(-1) * slope.unsqueeze(-2)
            cov.diagonal(dim1=-2, dim2=-1).copy_(v)
        else:
            cov = v
        return m.reshape(mean.shape), cov, shape
    if isinstance(module, nn.Dropout | nn.Identity):
        return mean, cov, shape
    if isinstance(module, nn.Flatten):
        new_shape = (math.prod(shape),)
        return mean.reshape(batch, -1), cov, new_shape
    if isinstance(module, nn.MaxPool2d):
        return maxpool_moments(module, mean, cov, shape, full)

    weight = None
    if noise is not None and isinstance(module, nn.Linear | nn.Conv2d):
        weight = noise.mean_weight(module.weight)
    linear = linear_map(module, weight)
    new_mean = apply_affine(module, mean, weight)
    if noise is not None and isinstance(module, nn.Linear | nn.Conv2d):
        new_mean = noise.shift_output(new_mean)
    new_shape = tuple(new_mean.shape[1:])
    if full:
        if bool((cov == 0).all()):
            n_out = math.prod(new_shape)
            new_cov = cov.new_zeros(batch, n_out, n_out)
        else:
            new_cov = sandwich(linear, cov, shape, new_shape)
    else:
        new_cov = squared_map(module, cov.reshape(batch, *shape), weight).reshape(batch, -1)
    if noise is not None and isinstance(module, nn.Linear | nn.Conv2d):
        var_in = cov.diagonal(dim1=-2, dim2=-1) if full else cov
        second = mean * mean + var_in.reshape(mean.shape)
        s2 = noise.programming_var(module.weight).to(mean.dtype)
        read_coeff = noise.read_factor * noise.read_std**2
        if full and isinstance(module, nn.Conv2d):
            read = squared_weight_map(module, second, torch.full_like(s2, read_coeff))
            diag_add = read.reshape(batch, -1) + noise.output_var
            m2 = mean.reshape(batch, -1).unsqueeze(-1) * mean.reshape(batch, -1).unsqueeze(-2) + cov
            block = conv_programming_cov(module, m2, shape, s2)  # batch x O x P x P
            o, p = block.shape[1], block.shape[2]
            view = new_cov.view(batch, o, p, o, p).diagonal(dim1=1, dim2=3)  # batch x P x P x O
            view.add_(block.permute(0, 2, 3, 1))
        else:  # read and programming variances on the diagonal: one product
            diag_add = squared_weight_map(module, second, s2 + read_coeff).reshape(batch, -1)
            diag_add = diag_add + noise.output_var
        if full:
            new_cov.diagonal(dim1=-2, dim2=-1).add_(diag_add)
        else:
            new_cov = new_cov + diag_add
    return new_mean, new_cov, new_shape


# -- accuracy -------------------------------------------------------------------------------


def accuracy_from_moments(
    logit_mean: Tensor,
    logit_cov: Tensor,
    labels: Tensor,
    *,
    n_samples: int = 256,
    seed: int = 0,
) -> tuple[float, float, Tensor]:
    r"""Expected accuracy from per-sample Gaussian logits.

    Args:
        logit_mean: A `batch x K`-dim Tensor of logit means.
        logit_cov: A `batch x K x K`-dim Tensor of logit covariances.
        labels: A `batch`-dim integer Tensor of true classes.
        n_samples: Logit draws per test sample, >= 1.
        seed: Seed of the draws.

    Returns:
        ``(accuracy, accuracy_std, p_correct)``: the mean over samples of the probability
        that the true logit is the largest; the standard deviation of the accuracy over
        independent noise draws, ``sqrt(Σ p(1-p)) / batch`` (a lower bound: programming noise
        shared across samples correlates their errors); and the `batch`-dim probabilities.

    Raises:
        ValueError: On mismatched shapes or ``n_samples < 1``.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}.")
    batch, k = logit_mean.shape
    if logit_cov.shape != (batch, k, k) or labels.shape != (batch,):
        raise ValueError(
            f"logit_cov must be {batch} x {k} x {k} and labels ({batch},); got "
            f"{tuple(logit_cov.shape)} and {tuple(labels.shape)}."
        )
    gen = torch.Generator().manual_seed(seed)
    cov = logit_cov.double()
    jitter = 1e-9 * cov.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)
    chol, info = torch.linalg.cholesky_ex(
        cov + jitter.view(-1, 1, 1) * torch.eye(k, dtype=cov.dtype)
    )
    if bool((info != 0).any()):
        evals, evecs = torch.linalg.eigh(cov)
        chol = evecs * evals.clamp_min(0).sqrt().unsqueeze(-2)
    eps = torch.randn(batch, n_samples, k, generator=gen, dtype=torch.float64)
    z = logit_mean.double().unsqueeze(1) + eps @ chol.transpose(-1, -2)
    p = (z.argmax(-1) == labels.view(-1, 1)).double().mean(-1)
    acc = float(p.mean())
    std = float((p * (1 - p)).sum().sqrt() / batch)
    return acc, std, p.float()

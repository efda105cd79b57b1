r"""Analytic moment propagation: mean and covariance of every layer's output under
conductance noise, without Monte-Carlo.

Noise model (per analog layer ``y = W x + b``, :class:`LayerNoise`):

* **programming** error ``E_p`` on every weight, i.i.d. ``N(0, s_p²)`` with
  ``s_p² = additive_std² + relative_std² · W²``, drawn once per programmed instance and so
  *shared* by every output position of a convolution;
* **read** error ``E_r`` with ``s_r = read_std``, drawn anew on every read (every sample and
  every output position), its variance scaled by ``read_factor`` (bit-serial inputs: each
  input-bit read carries its own noise, see :func:`layer_noise_from_config`);
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
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MODES",
    "LayerMoments",
    "LayerNoise",
    "MomentTrace",
    "accuracy_from_moments",
    "analog_layers",
    "monte_carlo_moments",
    "propagate_moments",
]

MODES: tuple[str, ...] = ("full", "diag")
"""Covariance representations of :func:`propagate_moments`."""

_SQRT2 = math.sqrt(2.0)
_DENSE_MAX = 1 << 22
"""Largest ``units_in x units_out`` linear map materialized as a dense matrix."""
_SUPPORTED = (
    nn.Linear,
    nn.Conv2d,
    nn.ReLU,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
)


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
    reads carry independent noise: see :func:`layer_noise_from_config`)."""
    output_var: float = 0.0
    """Additive variance of every output [output units²], >= 0 (ADC and input quantization
    referred to the output, see :func:`simulator.mitigation.analytic.layer_noise`)."""
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


def analog_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ``(name, module)`` pairs of every ``nn.Linear`` and ``nn.Conv2d``, in order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    for name, module in leaves:
        if not isinstance(module, _SUPPORTED):
            raise ValueError(
                f"moment propagation does not support layer {name!r} "
                f"({type(module).__name__}); supported: {[c.__name__ for c in _SUPPORTED]}."
            )
        if isinstance(module, nn.Conv2d) and (module.groups != 1 or module.padding_mode != "zeros"):
            raise ValueError(f"layer {name!r}: only groups=1, zero-padded Conv2d is supported.")
    return leaves


def _noise_for(noise: NoiseSpec | None, name: str, module: nn.Module) -> LayerNoise | None:
    if noise is None:
        return None
    if callable(noise) and not isinstance(noise, Mapping):
        return noise(name, module)
    return noise.get(name)


# -- Gaussian helpers ---------------------------------------------------------------------


def _phi(a: Tensor) -> Tensor:
    return torch.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)


def _cdf(a: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(a / _SQRT2))


def relu_moments(mean: Tensor, var: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Mean, variance and slope ``Φ(μ/σ)`` of ``relu(a)`` for ``a ~ N(mean, var)``.

    Args:
        mean: Any-shape Tensor of means.
        var: Tensor of variances, shaped like ``mean``, >= 0.

    Returns:
        ``(mean, var, slope)``, each shaped like ``mean``; for ``var == 0`` the exact
        deterministic values (``relu(mean)``, 0, step).
    """
    sigma = var.clamp_min(0).sqrt()
    safe = sigma.clamp_min(1e-30)
    alpha = mean / safe
    cdf, pdf = _cdf(alpha), _phi(alpha)
    m1 = mean * cdf + sigma * pdf
    m2 = (mean * mean + var) * cdf + mean * sigma * pdf
    v = (m2 - m1 * m1).clamp_min(0)
    zero = sigma <= 1e-30
    m1 = torch.where(zero, mean.clamp_min(0), m1)
    v = torch.where(zero, torch.zeros_like(v), v)
    slope = torch.where(zero, (mean > 0).to(mean.dtype), cdf)
    return m1, v, slope


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
    leaves = _leaves(model)
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
            mean, cov, shape = _step(
                module, _noise_for(noise, name, module), mean, cov, shape, mode
            )
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
        return _maxpool(module, mean, cov, shape, full)

    weight = None
    if noise is not None and isinstance(module, nn.Linear | nn.Conv2d):
        weight = noise.mean_weight(module.weight)
    linear = _linear_map(module, weight)
    new_mean = _apply_affine(module, mean, weight)
    if noise is not None and isinstance(module, nn.Linear | nn.Conv2d):
        new_mean = noise.shift_output(new_mean)
    new_shape = tuple(new_mean.shape[1:])
    if full:
        if bool((cov == 0).all()):
            n_out = math.prod(new_shape)
            new_cov = cov.new_zeros(batch, n_out, n_out)
        else:
            new_cov = _sandwich(linear, cov, shape, new_shape)
    else:
        new_cov = _squared_map(module, cov.reshape(batch, *shape), weight).reshape(batch, -1)
    if noise is not None and isinstance(module, nn.Linear | nn.Conv2d):
        var_in = cov.diagonal(dim1=-2, dim2=-1) if full else cov
        second = mean * mean + var_in.reshape(mean.shape)
        read = _squared_weight_map(
            module, second * noise.read_factor, torch.full_like(module.weight, noise.read_std**2)
        )
        diag_add = read.reshape(batch, -1) + noise.output_var
        s2 = noise.programming_var(module.weight).to(mean.dtype)
        if full and isinstance(module, nn.Conv2d):
            m2 = mean.reshape(batch, -1).unsqueeze(-1) * mean.reshape(batch, -1).unsqueeze(-2) + cov
            block = _conv_programming_cov(module, m2, shape, s2)  # batch x O x P x P
            o, p = block.shape[1], block.shape[2]
            view = new_cov.view(batch, o, p, o, p).diagonal(dim1=1, dim2=3)  # batch x P x P x O
            view.add_(block.permute(0, 2, 3, 1))
        else:
            diag_add = diag_add + _squared_weight_map(module, second, s2).reshape(batch, -1)
        if full:
            new_cov.diagonal(dim1=-2, dim2=-1).add_(diag_add)
        else:
            new_cov = new_cov + diag_add
    return new_mean, new_cov, new_shape


def _apply_affine(module: nn.Module, x: Tensor, weight: Tensor | None = None) -> Tensor:
    """The module's eval-mode output (float64), optionally with another ``weight``."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        weight = module.weight.double() if weight is None else weight.double()
    if isinstance(module, nn.Linear):
        return F.linear(x, weight, _opt(module.bias))
    if isinstance(module, nn.Conv2d):
        return F.conv2d(
            x,
            weight,
            _opt(module.bias),
            module.stride,
            module.padding,
            module.dilation,
        )
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        scale, shift = _bn_affine(module)
        view = (1, -1) + (1,) * (x.dim() - 2)
        return x * scale.view(view) + shift.view(view)
    if isinstance(module, nn.AvgPool2d):
        return module(x)
    raise AssertionError(type(module))  # pragma: no cover - guarded by _leaves


def _linear_map(module: nn.Module, weight: Tensor | None = None) -> Callable[[Tensor], Tensor]:
    """The module's linear part (no bias / shift) as a function of `n x *shape` tensors."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        w = module.weight.double() if weight is None else weight.double()
    if isinstance(module, nn.Linear):
        return lambda t: F.linear(t, w)
    if isinstance(module, nn.Conv2d):
        return lambda t: F.conv2d(t, w, None, module.stride, module.padding, module.dilation)
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        scale, _ = _bn_affine(module)
        return lambda t: t * scale.view((1, -1) + (1,) * (t.dim() - 2))
    if isinstance(module, nn.AvgPool2d):
        return module
    raise AssertionError(type(module))  # pragma: no cover


def _squared_map(module: nn.Module, var: Tensor, weight: Tensor | None = None) -> Tensor:
    """Variance through the linear part with independent inputs (squared coefficients)."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        w = module.weight.double() if weight is None else weight.double()
        return _squared_weight_map(module, var, w**2)
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        scale, _ = _bn_affine(module)
        return var * (scale**2).view((1, -1) + (1,) * (var.dim() - 2))
    if isinstance(module, nn.AvgPool2d):
        k = module.kernel_size
        area = k * k if isinstance(k, int) else k[0] * k[1]
        if module.padding not in (0, (0, 0)):
            raise ValueError("moment propagation supports AvgPool2d without padding only.")
        return module(var) / area
    raise AssertionError(type(module))  # pragma: no cover


def _squared_weight_map(module: nn.Module, second: Tensor, coeff: Tensor) -> Tensor:
    """``Σ_j coeff_ij · second_j`` per output (a Linear/Conv2d with ``coeff`` as weight)."""
    coeff = coeff.to(second.dtype)
    if isinstance(module, nn.Linear):
        return F.linear(second, coeff)
    return F.conv2d(second, coeff, None, module.stride, module.padding, module.dilation)


def _opt(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.double()


def _bn_affine(module: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    mean = module.running_mean.double()
    var = module.running_var.double()
    scale = 1.0 / torch.sqrt(var + module.eps)
    if module.weight is not None:
        scale = scale * module.weight.double()
    shift = -mean * scale
    if module.bias is not None:
        shift = shift + module.bias.double()
    return scale, shift


def _sandwich(
    linear: Callable[[Tensor], Tensor], cov: Tensor, shape: tuple[int, ...], out: tuple[int, ...]
) -> Tensor:
    """``A Σ Aᵀ`` for a `batch x U x U` covariance, applying ``A`` (``linear``) twice."""
    batch, units = cov.shape[0], cov.shape[1]
    n_out = math.prod(out)
    if units * n_out <= _DENSE_MAX:
        eye = torch.eye(units, dtype=cov.dtype, device=cov.device).reshape(units, *shape)
        a = linear(eye).reshape(units, n_out).transpose(0, 1)  # n_out x units
        return a @ cov @ a.transpose(0, 1)
    left = linear(cov.reshape(batch * units, *shape)).reshape(batch, units, n_out)
    right = linear(left.transpose(1, 2).reshape(batch * n_out, *shape))
    return right.reshape(batch, n_out, n_out)


def _maxpool(
    module: nn.MaxPool2d, mean: Tensor, cov: Tensor, shape: tuple[int, ...], full: bool
) -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """Max pooling linearized at the arg-max of the mean."""
    batch = mean.shape[0]
    pooled, idx = F.max_pool2d(
        mean,
        module.kernel_size,
        module.stride,
        module.padding,
        module.dilation,
        ceil_mode=module.ceil_mode,
        return_indices=True,
    )
    c, hw = shape[0], shape[1] * shape[2]
    flat = (idx + hw * torch.arange(c, device=idx.device).view(1, c, 1, 1)).reshape(batch, -1)
    if full:
        rows = torch.gather(cov, 1, flat.unsqueeze(-1).expand(-1, -1, cov.shape[-1]))
        new_cov = torch.gather(rows, 2, flat.unsqueeze(1).expand(-1, flat.shape[1], -1))
    else:
        new_cov = torch.gather(cov, 1, flat)
    return pooled, new_cov, tuple(pooled.shape[1:])


def _conv_programming_cov(
    module: nn.Conv2d, m2: Tensor, shape: tuple[int, ...], s2: Tensor
) -> Tensor:
    r"""``Σ_j s²_{oj} E[x_{j,p} x_{j,p'}]`` for a conv: a `batch x O x P x P`-dim Tensor.

    ``m2`` is the `batch x U x U` second-moment matrix of the input (``U = C·H·W``); a patch
    element ``j = (c, ky, kx)`` at output position ``p`` reads input unit
    ``(c, y_p·s + ky·d - pad, x_p·s + kx·d - pad)`` or zero padding.
    """
    batch = m2.shape[0]
    c, h, w = shape
    kh, kw = module.kernel_size
    sh, sw = module.stride
    ph, pw = module.padding
    dh, dw = module.dilation
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    oy = torch.arange(ho).view(ho, 1) * sh - ph
    ox = torch.arange(wo).view(1, wo) * sw - pw
    index = []
    for ky in range(kh):
        for kx in range(kw):
            yy, xx = oy + ky * dh, ox + kx * dw
            valid = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            index.append(
                torch.where(valid, yy * w + xx, torch.full_like(yy * xx, h * w)).reshape(-1)
            )
    idx = torch.stack(index)  # K x P, h*w marks padding
    blocks = m2.reshape(batch, c, h * w, c, h * w).diagonal(dim1=1, dim2=3)  # B x HW x HW x C
    blocks = F.pad(blocks.permute(0, 3, 1, 2), (0, 1, 0, 1))  # B x C x (HW+1) x (HW+1)
    gathered = blocks[:, :, idx.unsqueeze(-1), idx.unsqueeze(-2)]  # B x C x K x P x P
    coeff = s2.reshape(s2.shape[0], c, kh * kw)  # O x C x K
    return torch.einsum("ock,bckpq->bopq", coeff, gathered)


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


# -- Monte-Carlo reference ------------------------------------------------------------------


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
    :func:`propagate_moments` in tests and benchmarks.

    Args:
        model: As in :func:`propagate_moments`.
        x: A `batch x *in_shape`-dim Tensor of inputs.
        noise: As in :func:`propagate_moments`.
        n_draws: Number of noisy instances, >= 2.
        seed: Seed of the draws.
        chunk: Draws evaluated together (batched weights), >= 1.

    Returns:
        Empirical mean and variance over draws after every leaf module, keyed by name.
    """
    if n_draws < 2:
        raise ValueError(f"n_draws must be >= 2, got {n_draws!r}.")
    leaves = _leaves(model)
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
                h = _noisy_leaf(module, _noise_for(noise, name, module), h, s, gen)
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
        bias = _opt(module.bias)
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
            read_var = _squared_weight_map(
                module, h * h * noise.read_factor, torch.full_like(module.weight, noise.read_std**2)
            )
            y = y + read_var.sqrt() * torch.randn(y.shape, generator=gen, dtype=y.dtype)
            if noise.output_var > 0:
                u = torch.rand(y.shape, generator=gen, dtype=y.dtype) - 0.5
                y = y + math.sqrt(12.0 * noise.output_var) * u
        return y
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        return _apply_affine(module, h)
    if isinstance(module, nn.Dropout | nn.Identity):
        return h
    return module(h)

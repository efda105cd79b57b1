r"""Moments through one leaf module: how a Gaussian input's mean and covariance map to the
output's, for every module :func:`~simulator.estimators.moments.propagate_moments` supports.

* **Linear parts** (Linear, Conv2d, BatchNorm in eval, AvgPool2d): exact; the mean through
  :func:`apply_affine`, a full covariance through :func:`sandwich` (``A Σ Aᵀ``), variances
  of independent inputs through :func:`squared_map`.
* **ReLU**: the rectified-Gaussian mean and variance per unit (:func:`relu_moments`), cross
  covariances to first order through the slope ``Φ(μ/σ)``.
* **MaxPool2d**: linearized at the arg-max of the mean (:func:`maxpool_moments`).
* **Conv2d programming noise**: one programmed kernel serves every output position, so its
  error covariance couples positions (:func:`conv_programming_cov`).

References:
    .. [Frey1999] B. J. Frey, G. E. Hinton, "Variational learning in nonlinear Gaussian belief
       networks", Neural Computation 11(1), 1999 (rectified-Gaussian moments).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "SUPPORTED_MODULES",
    "apply_affine",
    "conv_programming_cov",
    "linear_map",
    "maxpool_moments",
    "relu_moments",
    "sandwich",
    "squared_map",
    "squared_weight_map",
    "supported_leaves",
]

_SQRT2 = math.sqrt(2.0)
_DENSE_MAX = 1 << 22
"""Largest ``units_in x units_out`` linear map materialized as a dense matrix."""
SUPPORTED_MODULES: tuple[type[nn.Module], ...] = (
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
"""Leaf modules the moment model handles."""


def supported_leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The leaf modules of ``model`` in ``named_modules`` order.

    Raises:
        ValueError: Naming the first leaf that is not one of :data:`SUPPORTED_MODULES` (or a
            grouped / non-zero-padded Conv2d), or for a model that declares
            ``sequential = False`` (its forward runs functions between the leaves, e.g. a
            converted ONNX graph that is not a chain of layers).
    """
    if getattr(model, "sequential", True) is False:
        raise ValueError(f"moment propagation needs a chain of layers; {type(model).__name__} "
                         "runs operators between its layers (evaluate it above the analytic "
                         "fidelity, fixed.analytic_below = 0).")
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    for name, module in leaves:
        if not isinstance(module, SUPPORTED_MODULES):
            raise ValueError(
                f"moment propagation does not support layer {name!r} "
                f"({type(module).__name__}); supported: "
                f"{[c.__name__ for c in SUPPORTED_MODULES]}."
            )
        if isinstance(module, nn.Conv2d) and (module.groups != 1 or module.padding_mode != "zeros"):
            raise ValueError(f"layer {name!r}: only groups=1, zero-padded Conv2d is supported.")
    return leaves


# -- ReLU ----------------------------------------------------------------------------------


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


# -- linear parts, pooling -----------------------------------------------------------------


def apply_affine(module: nn.Module, x: Tensor, weight: Tensor | None = None) -> Tensor:
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
    raise AssertionError(type(module))  # pragma: no cover - guarded by supported_leaves


def linear_map(module: nn.Module, weight: Tensor | None = None) -> Callable[[Tensor], Tensor]:
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


def squared_map(module: nn.Module, var: Tensor, weight: Tensor | None = None) -> Tensor:
    """Variance through the linear part with independent inputs (squared coefficients)."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        w = module.weight.double() if weight is None else weight.double()
        return squared_weight_map(module, var, w**2)
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


def squared_weight_map(module: nn.Module, second: Tensor, coeff: Tensor) -> Tensor:
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


def sandwich(
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


def maxpool_moments(
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


def conv_programming_cov(
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


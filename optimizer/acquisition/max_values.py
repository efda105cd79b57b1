r"""Samples of the Pareto front at the target fidelity and of each objective's maximum.

Output-space entropy search (MESMO [Belakaria2019]_, iMOCA/CF-MESMO [Belakaria2020]_) needs, for
``S`` posterior samples :math:`f^s` of the objectives at the target fidelity :math:`z^* = 1`,
the sampled Pareto front :math:`\mathcal{F}^{*s}` and its per-objective maxima

.. math::

    y^{*s}_j = \max_{y \in \mathcal{F}^{*s}} y_j = \max_x f^s_j(x, z^*),

(the two are equal: a maximizer of :math:`f^s_j` is weakly Pareto-optimal). The authors draw
:math:`f^s` with random Fourier features and run NSGA-II on them. Here :math:`f^s` are BoTorch
*pathwise* (Matheron) posterior samples [Wilson2020]_ (``get_matheron_path_model``, the same
sampler as ``sample_optimal_points``), evaluated on a scrambled Sobol set plus the observed
designs, all projected to :math:`z^*`. The front is the non-dominated subset of those
evaluations; each maximum is then refined by projected gradient ascent on the (differentiable)
path from the best candidate, which matters because an underestimated :math:`y^*` collapses
the entropy reduction.

Clamp: :math:`y^{*s}_j \leftarrow \max(y^{*s}_j,\ y^{\max}_j + \delta\,\mathrm{std}(y_j))`,
where :math:`y^{\max}_j` is the best value observed at :math:`z^*`: a sampled maximum below an
observed value would make that value "impossible". The margin is :math:`\delta =`
``CLAMP_MARGIN`` (0) by default. iMOCA's :math:`\delta = 5/\sqrt{\beta}`, :math:`\beta = 10^3`
(0.158) put every sample's maximum far above what the model believes possible when the
objective's spread over the box is much wider than near its maximum: on Branin-Currin (seed 0,
30 observations) all 8 sampled Branin maxima sat at the floor, 1.34, where the true maximum is
0.94 (unclamped samples 0.87-1.14), and the information gain, which then only sees the
posterior standard deviation, was 25x larger on the edges of the box than inside
(``bench/harness/cfmesmo_replay``, docs/decisions.md).

Discrete columns are rounded by the caller's ``round_fn`` after refinement. With the caller's
``feasible_fn`` (the space's linear constraints), candidates are the feasible ones and a
refined maximizer that leaves the feasible set falls back to its feasible starting point, so
:math:`y^*` and the sampled fronts are those of the constrained problem.

References:
    .. [Belakaria2019] S. Belakaria, A. Deshwal, J. R. Doppa. Max-value entropy search for
       multi-objective Bayesian optimization. NeurIPS 2019.
    .. [Belakaria2020] S. Belakaria, A. Deshwal, J. R. Doppa. Multi-fidelity multi-objective
       Bayesian optimization: an output space entropy search approach. AAAI 2020.
    .. [Wilson2020] J. T. Wilson, V. Borovitskiy, A. Terenin, P. Mostowsky, M. P. Deisenroth.
       Efficiently sampling functions from Gaussian process posteriors. ICML 2020.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.models.deterministic import MatheronPathModel
from botorch.models.model import Model, ModelList
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import OutcomeTransform
from botorch.sampling.pathwise import GeneralizedLinearPath, MatheronPath, get_matheron_path_model
from botorch.utils.multi_objective.pareto import is_non_dominated
from linear_operator.operators import LinearOperator
from torch import Tensor
from torch.quasirandom import SobolEngine

from optimizer.acquisition.front_truncation import front_boxes
from optimizer.errors import OptimizerError
from optimizer.space import UNIT_TARGET

logger = logging.getLogger(__name__)

IMOCA_BETA = 1e3
"""Noise precision of the iMOCA reference implementation, whose clamp margin is
``5 / sqrt(IMOCA_BETA)`` standard deviations of the observed values (not the default here)."""

CLAMP_MARGIN = 0.0
"""Default clamp margin above the best observed value [standard deviations of the observed
values] (see the module docstring; iMOCA: ``5 / sqrt(IMOCA_BETA)``)."""


@dataclass(frozen=True, kw_only=True)
class MaxValueSamples:
    """Sampled max values and Pareto fronts at the target fidelity.

    Attributes:
        max_values: ``S x m`` sampled maxima :math:`y^{*s}_j` (maximization form, clamped).
        pareto_fronts: ``S`` tensors ``P_s x m``: the non-dominated sampled values.
        pareto_sets: ``S`` tensors ``P_s x d``: their designs (unit cube, no fidelity column).
    """

    max_values: Tensor
    pareto_fronts: list[Tensor]
    pareto_sets: list[Tensor]


def _with_fidelity(X: Tensor, fidelity_dim: int | None) -> Tensor:
    """``X`` (``... x d``) with the unit-scaled target fidelity inserted as column
    ``fidelity_dim`` (``... x (d + 1)``)."""
    if fidelity_dim is None:
        return X
    target = torch.full((*X.shape[:-1], 1), UNIT_TARGET, dtype=X.dtype)
    return torch.cat([X[..., :fidelity_dim], target, X[..., fidelity_dim:]], dim=-1)


def sample_max_values(
    model: Model,
    *,
    dim: int,
    fidelity_dim: int | None,
    num_samples: int = 8,
    num_candidates: int = 1024,
    X_observed: Tensor | None = None,
    Y_best: Tensor | None = None,
    Y_std: Tensor | None = None,
    round_fn: Callable[[Tensor], Tensor] | None = None,
    feasible_fn: Callable[[Tensor], Tensor] | None = None,
    refine_steps: int = 30,
    seed: int = 0,
    margin: float = CLAMP_MARGIN,
    front_truncation: bool = False,
) -> MaxValueSamples:
    r"""Sample Pareto fronts and per-objective maxima at the target fidelity.

    Args:
        model: A fitted model over ``D = dim (+ 1)`` inputs with ``m`` outputs (maximization).
        dim: Number of design columns ``d``.
        fidelity_dim: Column of the unit fidelity in the model's inputs (``d``), or ``None``.
        num_samples: ``S``, number of posterior function samples.
        num_candidates: Size of the Sobol candidate set.
        X_observed: ``n x d`` observed designs, added to the candidates.
        Y_best: ``m`` best observed value per objective at the target fidelity (clamp).
        Y_std: ``m`` standard deviation of the observed values (clamp margin scale).
        margin: Clamp margin above ``Y_best`` [``Y_std`` units], ``>= 0``.
        round_fn: Maps a ``... x d`` tensor to representable designs (discrete columns).
        feasible_fn: Maps ``n x d`` designs to an ``n`` boolean mask of the feasible ones
            (constraints); ``None`` when every design is feasible. When no candidate is
            feasible the constraint is dropped for this draw (a warning is logged).
        refine_steps: Projected gradient-ascent steps per maximum (0 to skip).
        seed: Seed of the Sobol candidates (the path draw uses torch's global RNG).
        front_truncation: Attach ``front_boxes`` (``S x 2 x J x m``, the boxes of the regions
            the sampled fronts dominate) to the returned ``max_values`` tensor, which
            ``CFMESMO`` then truncates at (the ``cf-mesmo`` option ``truncation="front"``).

    Returns:
        ``MaxValueSamples`` with ``max_values`` of shape ``S x m``.
    """
    if num_samples < 1 or num_candidates < 1:
        raise OptimizerError("num_samples and num_candidates must be >= 1.")
    with torch.no_grad():  # the path weights are constants; only X is differentiated
        paths = get_matheron_path_model(model, sample_shape=torch.Size([num_samples]))
    cand = SobolEngine(dim, scramble=True, seed=seed % 2**31).draw(num_candidates,
                                                                    dtype=torch.double)
    if X_observed is not None and X_observed.numel():
        cand = torch.cat([cand, X_observed.double().reshape(-1, dim)])
    if round_fn is not None:
        cand = round_fn(cand)
    if feasible_fn is not None:
        ok = feasible_fn(cand)
        if ok.any():
            cand = cand[ok]
        else:
            logger.warning("max-value search: no feasible candidate among %d; constraints "
                           "ignored for this draw", cand.shape[0])
            feasible_fn = None
    with torch.no_grad():
        F = path_values(paths, _with_fidelity(cand, fidelity_dim))  # S x N x m
    S, _, m = F.shape
    best_idx = F.argmax(dim=1)  # S x m
    X0 = cand[best_idx]  # S x m x d
    X_ref = _refine(paths, X0, fidelity_dim, refine_steps) if refine_steps > 0 else X0
    if round_fn is not None:
        X_ref = round_fn(X_ref)
    if feasible_fn is not None:
        bad = ~feasible_fn(X_ref.reshape(-1, dim)).reshape(X_ref.shape[:-1])
        X_ref = torch.where(bad.unsqueeze(-1), X0, X_ref)
    with torch.no_grad():
        F_ref = paths(_with_fidelity(X_ref, fidelity_dim))  # S x m x m
    diag = torch.diagonal(F_ref, dim1=-2, dim2=-1)  # S x m
    y_star = torch.maximum(F.max(dim=1).values, diag)
    if Y_best is not None:
        std = Y_std if Y_std is not None else torch.ones(m, dtype=torch.double)
        floor = Y_best.double() + margin * std.double()
        y_star = torch.maximum(y_star, floor.expand_as(y_star))
    fronts, sets = [], []
    F_all = torch.cat([F, F_ref], dim=1)  # S x (N + m) x m
    masks = non_dominated(F_all)
    for s in range(S):
        Xs = torch.cat([cand, X_ref[s]])
        Fs, Xs = F_all[s][masks[s]], Xs[masks[s]]
        # the clamp raises a maximum: lift that objective's extreme point of the front to it
        top = Fs.argmax(dim=0)  # m
        Fs = Fs.clone()
        Fs[top, torch.arange(m)] = torch.maximum(Fs[top, torch.arange(m)], y_star[s])
        fronts.append(Fs.detach())
        sets.append(Xs)
    max_values = y_star.detach()
    if front_truncation:
        max_values.front_boxes = front_boxes(fronts)  # type: ignore[attr-defined]
    return MaxValueSamples(max_values=max_values, pareto_fronts=fronts, pareto_sets=sets)


def non_dominated(Y: Tensor) -> Tensor:
    """``is_non_dominated(Y)`` (maximization, duplicates after their first occurrence dropped)
    for finite ``... x N x m`` values, with the pairwise comparisons accumulated one objective
    at a time on ``... x N x N`` masks instead of reduced over an ``... x N x N x m`` one
    (8 fronts of 716 points, 4 objectives: 0.23 -> 0.03 s). Non-finite values go to BoTorch's
    ``is_non_dominated``.

    Returns:
        ``... x N`` boolean mask of the non-dominated points.
    """
    if not bool(torch.isfinite(Y).all()) or Y.shape[-2] == 0:
        return is_non_dominated(Y)
    N = Y.shape[-2]
    ge = torch.ones((*Y.shape[:-2], N, N), dtype=torch.bool)  # [i, k]: Y_k >= Y_i everywhere
    gt = torch.zeros_like(ge)  # [i, k]: Y_k > Y_i somewhere
    for j in range(Y.shape[-1]):
        col = Y[..., j]
        ge &= col.unsqueeze(-2) >= col.unsqueeze(-1)
        gt |= col.unsqueeze(-2) > col.unsqueeze(-1)
    dominated = (ge & gt).any(dim=-1)
    earlier = torch.ones(N, N, dtype=torch.bool).tril(diagonal=-1)  # k < i
    repeat = (ge & ~gt & earlier).any(dim=-1)  # equal to an earlier point
    return ~dominated & ~repeat


def _transformed(module: object, x: Tensor, which: str) -> Tensor:
    """``x`` through ``module``'s ``input_transform`` (``which = "input"``) or the untransform of
    its ``output_transform`` (``"output"``), as BoTorch's ``TransformedModuleMixin`` applies
    them around a path's ``forward``."""
    tf = getattr(module, f"{which}_transform", None)
    if tf is None:
        return x
    if which == "input":
        return tf.forward(x) if isinstance(tf, InputTransform) else tf(x)
    return tf.untransform(x)[0] if isinstance(tf, OutcomeTransform) else tf(x)


def path_values(paths: Model, X: Tensor) -> Tensor:
    r"""``paths(X)`` for ``N x D`` points ``X``: ``S x N x m`` values of ``S`` sample paths.

    For the Matheron paths of a batched multi-output GP (``get_matheron_path_model``),
    ``paths(X)`` multiplies the ``m x N x F`` features of ``X`` with the ``S x m x F`` path
    weights by a broadcast ``matmul``, which copies the features ``S`` times (1 GB of writes
    for 712 points, 8 samples, 4 outputs, 1024 + 200 features: 0.22 s); here each linear path
    is one ``m x N x F`` by ``m x F x S`` product instead (the same numbers, to rounding).
    Any other model is evaluated as ``paths(X)``.
    """
    path = getattr(paths, "_path", None)
    if (not isinstance(paths, MatheronPathModel) or not isinstance(path, MatheronPath)
            or isinstance(paths.model, ModelList) or paths.model.num_outputs < 2
            or X.dim() != 2 or len(paths.sample_shape) != 1):
        return paths(X)
    x = _transformed(path, X.unsqueeze(-3), "input")  # 1 x N x D
    outs = []
    for sub in path.paths.values():
        if not isinstance(sub, GeneralizedLinearPath) or sub.is_ensemble:
            outs.append(sub(x))
            continue
        xs = _transformed(sub, x, "input")
        feat = sub.feature_map(xs)  # m x N x F (batch over outputs)
        feat = feat.to_dense() if isinstance(feat, LinearOperator) else feat
        out = feat.matmul(sub.weight.movedim(0, -1)).movedim(-1, 0)  # S x m x N
        if sub.bias_module is not None:
            out = out + sub.bias_module(xs)
        outs.append(_transformed(sub, out, "output"))
    return _transformed(path, path.join(outs), "output").transpose(-1, -2)


def _diagonal_values(paths: Model, X: Tensor) -> Tensor:
    r"""``S x m`` values :math:`f^s_j(X_{s j})` of the ``S`` paths at ``S x m x D`` points:
    the diagonal of ``paths(X)`` (``S x m x m``), for Matheron paths of a batched multi-output
    GP evaluated without the off-diagonal outputs (each point against its own output's
    kernel batch; the gradient steps of ``_refine`` cost a third less)."""
    if (isinstance(paths, MatheronPathModel) and isinstance(paths._path, MatheronPath)
            and not isinstance(paths.model, ModelList) and paths.model.num_outputs > 1
            and X.dim() == 3 and X.shape[-2] == paths.model.num_outputs):
        return paths._path(X.unsqueeze(-2)).squeeze(-1)
    return torch.diagonal(paths(X), dim1=-2, dim2=-1)


def _refine(paths: Model, X0: Tensor, fidelity_dim: int | None, steps: int) -> Tensor:
    r"""Projected Adam ascent of :math:`f^s_j` from ``X0[s, j]`` (``S x m x d``), all at once."""
    X = X0.clone().requires_grad_(True)
    opt = torch.optim.Adam([X], lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        loss = -_diagonal_values(paths, _with_fidelity(X, fidelity_dim)).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            X.clamp_(0.0, 1.0)
    return X.detach()


__all__ = ["CLAMP_MARGIN", "IMOCA_BETA", "MaxValueSamples", "non_dominated", "path_values",
           "sample_max_values"]

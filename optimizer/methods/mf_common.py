r"""Shared parts of the multi-fidelity methods (``cf-mesmo``, ``momf``, ``mf-hvkg``).

- ``mf_data``: observations as ``(x, z)`` tensors, fidelity last (see ``optimizer.encoding``);
  ``pending_unit`` and ``reference_point`` encode the pending points and the reference point
  the same way for every method.
- ``needs_initial_design``: the shared ``n_init`` rule (``initial_design_size``: ``None`` means
  ``2 (D + 1)``, but at most a third of the study's evaluation budget and at least 2).
- ``initial_design``: the cost-aware initial design. Designs are the study's scrambled Sobol
  points (the ``sobol`` method's feasible sequence); the first ``n_full`` of them (default 1)
  are evaluated at the target fidelity, so the models see full evaluations and their cost and
  the study has a first front; the others get fidelities drawn with density
  :math:`p(z) \propto 1/C(z)` as in BoTorch's multi-objective multi-fidelity tutorial, with
  :math:`C(z) = e^{a + b z}` fitted by least squares to the measured costs (``b = 0``, i.e.
  uniform :math:`z`, until two distinct fidelities have been measured). In the *cheap-first*
  order (``size``; ``cf-mesmo`` under objective thresholds) the last ``n_full`` designs are
  the target-fidelity ones and the others are at the lowest fidelity.
- ``optimize_over_space``: maximizes a ``q = 1`` acquisition over the mixed space: feasible
  uniform raw candidates (half of them at the target fidelity, a quarter at the lowest, the
  rest with :math:`p(z) \propto 1/C(z)`), multi-start L-BFGS-B on the
  continuous relaxation from the best, then rounding of level columns and a feasibility check;
  the best feasible point among the rounded optima and the raw candidates wins.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.exceptions.warnings import OptimizationWarning
from botorch.generation.gen import gen_candidates_scipy
from torch import Tensor

from optimizer.context import SuggestContext
from optimizer.encoding import (
    TrainingData,
    encode_observations,
    encode_pending,
    ref_point_max,
)
from optimizer.methods.common import INIT_BUDGET_SHARE, budget_capped_init
from optimizer.methods.sobol import feasible_sobol
from optimizer.space import UNIT_TARGET, unit_at_target
from optimizer.surrogates import CostModel
from optimizer.types import Suggestion

_EVAL_CHUNK = 512


@dataclass(frozen=True, kw_only=True)
class MFData:
    """Training tensors of a multi-fidelity method.

    Attributes:
        data: Encoded observations; ``data.X`` is ``n x D`` with the unit fidelity last when
            the space has a fidelity range.
        d: Number of design columns.
        fidelity_dim: ``d`` when the fidelity is modelled, else ``None``.
    """

    data: TrainingData
    d: int
    fidelity_dim: int | None

    @property
    def D(self) -> int:
        return self.d + (1 if self.fidelity_dim is not None else 0)

    def full_fidelity_mask(self) -> Tensor:
        """``n`` mask of rows at the target fidelity."""
        if self.fidelity_dim is None:
            return torch.ones(self.data.n, dtype=torch.bool)
        return unit_at_target(self.data.X[:, self.fidelity_dim])


def mf_data(ctx: SuggestContext) -> MFData:
    """Encode the context's observations with the unit fidelity as the last column."""
    has_fid = ctx.space.has_fidelity
    data = encode_observations(ctx.space, ctx.objectives, ctx.observations,
                               with_fidelity=has_fid)
    d = ctx.space.dim
    return MFData(data=data, d=d, fidelity_dim=d if has_fid else None)


def trial_cost_model(ctx: SuggestContext, mf: MFData, proposal_overhead: str,
                     budget_pricing: str) -> CostModel:
    """The cost model of a cost-aware method under its ``proposal_overhead`` and
    ``budget_pricing`` options (``optimizer.methods.options``): the measured proposal time
    added to every evaluation (``"measured"``), no evaluation priced below the study's
    seconds per remaining trial (``"share"``, when the caller passed them)."""
    overhead = mf.data.overhead_s if proposal_overhead == "measured" else 0.0
    floor = ctx.budget_per_trial_s if budget_pricing == "share" else None
    return CostModel(mf.data.X, mf.data.cost_s, mf.fidelity_dim, overhead, floor or 0.0)


def pending_unit(ctx: SuggestContext, mf: MFData) -> Tensor:
    """The pending points as a ``p x D`` unit-cube tensor (fidelity last when modelled)."""
    return encode_pending(ctx.space, ctx.pending, with_fidelity=mf.fidelity_dim is not None)


def reference_point(ctx: SuggestContext, mf: MFData) -> Tensor:
    """``m`` reference point in maximization form (:func:`optimizer.encoding.ref_point_max`)
    over the target-fidelity observations, or over all of them while none is at the target."""
    full = mf.full_fidelity_mask()
    Y = mf.data.Y
    return ref_point_max(ctx.objectives, Y[full] if full.any() else Y)


def initial_design_size(ctx: SuggestContext, mf: MFData, n_init: int | None) -> int:
    """Observations the initial design holds: ``n_init`` when given, else ``2 (D + 1)`` (``D``
    the modelled dimensions) capped at ``max(2, floor(INIT_BUDGET_SHARE * budget))`` when the
    study has an evaluation budget (``ctx.max_evaluations``)."""
    if n_init is not None:
        return n_init
    return budget_capped_init(2 * (mf.D + 1), ctx.max_evaluations)


def needs_initial_design(ctx: SuggestContext, mf: MFData, n_init: int | None) -> bool:
    """Whether the method still answers with :func:`initial_design`: fewer observations than
    :func:`initial_design_size`, or a space without free parameters."""
    return mf.data.n < initial_design_size(ctx, mf, n_init) or ctx.space.dim == 0


def log_linear_cost_rate(fidelity_unit: Tensor, cost_s: Tensor) -> float:
    r"""Slope ``b`` of :math:`\log C = a + b z` fitted by least squares (0 when fewer than two
    distinct fidelities are known); ``z`` is the unit fidelity."""
    if fidelity_unit.numel() < 2 or float(fidelity_unit.max() - fidelity_unit.min()) < 1e-6:
        return 0.0
    z = fidelity_unit.double()
    y = cost_s.double().clamp_min(1e-9).log()
    zc = z - z.mean()
    return float((zc * (y - y.mean())).sum() / zc.pow(2).sum())


def inverse_cost_fidelity(u: Tensor, rate: float) -> Tensor:
    r"""Inverse CDF of :math:`p(z) \propto e^{-b z}` on ``[0, 1]`` at uniforms ``u``."""
    if abs(rate) < 1e-9:
        return u.clone()
    return -torch.log1p(-u * (1.0 - math.exp(-rate))) / rate


def initial_full_numbers(n_full: int, size: int | None) -> range:
    """Design numbers of an initial design at the target fidelity: the first ``n_full``, or,
    in the cheap-first order (``size``, the design's size), the last ``n_full`` of ``size``."""
    return range(n_full) if size is None else range(max(0, size - n_full), size)


def initial_design(ctx: SuggestContext, mf: MFData, phase: str = "initial-design",
                   n_full: int = 1, *, size: int | None = None) -> list[Suggestion]:
    r"""``ctx.n`` points of the cost-aware initial design (see the module docstring): design
    number ``i`` (counting observed and pending points) is at the target fidelity when it is
    in ``initial_full_numbers(n_full, size)``. Without ``size`` the others get fidelities from
    :math:`p(z) \propto 1/C(z)`; with it (the cheap-first order) they are at the lowest
    fidelity, the cheapest look at a design."""
    space = ctx.space
    start = len(ctx.observations) + len(ctx.pending)
    X = feasible_sobol(space, ctx.seed, start, ctx.n)
    params = space.from_unit_batch(X)
    if mf.fidelity_dim is None:
        return [ctx.suggestion(p, extras={"phase": phase}) for p in params]
    data = mf.data
    if size is None:
        rate = log_linear_cost_rate(data.X[:, mf.fidelity_dim], data.cost_s) if data.n else 0.0
        u = torch.rand(ctx.n, generator=ctx.generator(0x1D), dtype=torch.double)
        z = inverse_cost_fidelity(u, rate)
    else:
        z = torch.zeros(ctx.n, dtype=torch.double)
    full = initial_full_numbers(n_full, size)
    z[[k for k in range(ctx.n) if start + k in full]] = UNIT_TARGET
    fid = space.fidelity_from_unit(z)
    return [Suggestion(params=p, fidelity=float(f), extras={"phase": phase})
            for p, f in zip(params, fid.tolist(), strict=True)]


def _evaluate(acq: AcquisitionFunction, X: Tensor) -> Tensor:
    with torch.no_grad():
        return torch.cat([acq(X[i:i + _EVAL_CHUNK].unsqueeze(-2))
                          for i in range(0, X.shape[0], _EVAL_CHUNK)])


RAW_LOWEST_SHARE = 0.25
"""Share of ``raw_candidates`` at the lowest fidelity (unit ``z = 0``): on Branin-Currin
(seed 0, 8 observations) CF-MESMO's best value was 11.6 at ``z = 0`` (interior design), but
uniform-``z`` starts all lay in a basin at ``z ~ 0.2-0.4`` whose local optimum is a corner of
the box (value 4.1), which the method then picked (docs/decisions.md, 2026-12-02)."""


def raw_candidates(ctx: SuggestContext, mf: MFData, count: int, salt: int = 0) -> Tensor:
    r"""``count`` feasible candidates ``count x D``: uniform designs; half of them at the
    target fidelity, ``RAW_LOWEST_SHARE`` at the lowest fidelity, the rest with fidelities
    drawn from :math:`p(z) \propto 1/C(z)` (the fitted :math:`\log C = a + b z`, as in
    :func:`initial_design`), so the cheap end, where information per cost peaks, is searched
    (all at the target without a fidelity)."""
    g = ctx.generator(0xCA, salt)
    X = ctx.space.sample_unit(count, g)
    if mf.fidelity_dim is None:
        return X
    data = mf.data
    rate = log_linear_cost_rate(data.X[:, mf.fidelity_dim], data.cost_s) if data.n else 0.0
    z = inverse_cost_fidelity(torch.rand(count, 1, generator=g, dtype=torch.double), rate)
    n_low = math.floor(RAW_LOWEST_SHARE * count)
    z[:n_low] = 0.0
    z[count // 2:] = UNIT_TARGET
    return torch.cat([X, z], dim=-1)


def round_mf(ctx: SuggestContext, mf: MFData, X: Tensor) -> Tensor:
    """Round the design columns of ``... x D`` points to representable values."""
    out = X.clone()
    out[..., :mf.d] = ctx.space.round_unit(X[..., :mf.d])
    if mf.fidelity_dim is not None:
        out[..., mf.fidelity_dim] = out[..., mf.fidelity_dim].clamp(0.0, 1.0)
    return out


REPEAT_TOL = 1e-3
"""Points closer than this (largest unit-cube coordinate difference, fidelity included) to a
point in ``optimize_over_space``'s ``avoid`` are not chosen."""


def near_any(X: Tensor, avoid: Tensor | None, tol: float = REPEAT_TOL) -> Tensor:
    """``n`` mask of the rows of ``X`` (``n x D``) within ``tol`` (max-norm) of a row of
    ``avoid`` (``k x D``)."""
    if avoid is None or avoid.shape[0] == 0 or X.shape[0] == 0:
        return torch.zeros(X.shape[0], dtype=torch.bool)
    return ((X.unsqueeze(1) - avoid.unsqueeze(0)).abs().amax(-1) < tol).any(-1)


def optimize_over_space(acq: AcquisitionFunction, ctx: SuggestContext, mf: MFData, *,
                        raw_samples: int, num_restarts: int, maxiter: int = 60,
                        salt: int = 0, fidelity: float | None = None,
                        avoid: Tensor | None = None) -> tuple[Tensor, float]:
    """Maximize a ``q = 1`` acquisition over the mixed space (see the module docstring);
    with ``fidelity`` (a unit fidelity) only over designs at that fidelity. Points within
    ``REPEAT_TOL`` of a row of ``avoid`` (``k x D``: evaluated and pending points) are not
    chosen while any other candidate is left: the model's noise floor can make a cheap repeat
    look informative where the evaluation is deterministic.

    Returns:
        ``(x, value)``: the best feasible point (``D``, unit cube, fidelity last) and its
        acquisition value.
    """
    raw = raw_candidates(ctx, mf, raw_samples, salt)
    lower = torch.zeros(raw.shape[-1], dtype=torch.double)
    upper = torch.ones(raw.shape[-1], dtype=torch.double)
    if fidelity is not None and mf.fidelity_dim is not None:
        raw[:, mf.fidelity_dim] = fidelity
        lower[mf.fidelity_dim] = upper[mf.fidelity_dim] = fidelity
    vals = _evaluate(acq, raw)
    pool, pool_vals = [raw], [vals]
    has_continuous = mf.fidelity_dim is not None or len(ctx.space.discrete_levels) < mf.d
    if num_restarts > 0 and has_continuous:
        k = min(num_restarts, raw.shape[0])
        starts = raw[vals.topk(k).indices].unsqueeze(-2)  # k x 1 x D
        try:
            with warnings.catch_warnings():  # an early L-BFGS-B stop still improves the start
                warnings.simplefilter("ignore", category=OptimizationWarning)
                refined, _ = gen_candidates_scipy(
                    starts, acq, lower_bounds=lower, upper_bounds=upper,
                    options={"maxiter": maxiter},
                )
            refined = round_mf(ctx, mf, refined.detach().squeeze(-2))
            refined = refined[ctx.space.feasible_unit(refined[:, :mf.d])]
            if refined.shape[0]:
                pool.append(refined)
                pool_vals.append(_evaluate(acq, refined))
        except (RuntimeError, ValueError):  # numerical trouble: keep the raw candidates
            pass
    allX, allV = torch.cat(pool), torch.cat(pool_vals)
    allV = torch.where(torch.isfinite(allV), allV, torch.full_like(allV, -math.inf))
    repeat = near_any(allX, avoid)
    if not bool(repeat.all()):
        allV = torch.where(repeat, torch.full_like(allV, -math.inf), allV)
    i = int(allV.argmax())
    return allX[i], float(allV[i])


def suggestion_from_unit(ctx: SuggestContext, mf: MFData, x: Tensor, **kw: object
                         ) -> Suggestion:
    """A ``Suggestion`` for a ``D``-dim unit point (fidelity last when modelled)."""
    params = ctx.space.from_unit(x[:mf.d])
    if mf.fidelity_dim is None:
        fid = ctx.target_fidelity
    else:
        fid = float(ctx.space.fidelity_from_unit(x[mf.fidelity_dim]))
    return Suggestion(params=params, fidelity=fid, **kw)  # type: ignore[arg-type]


__all__ = [
    "MFData",
    "INIT_BUDGET_SHARE",
    "initial_design",
    "initial_design_size",
    "initial_full_numbers",
    "inverse_cost_fidelity",
    "log_linear_cost_rate",
    "REPEAT_TOL",
    "mf_data",
    "near_any",
    "needs_initial_design",
    "optimize_over_space",
    "pending_unit",
    "RAW_LOWEST_SHARE",
    "raw_candidates",
    "reference_point",
    "round_mf",
    "suggestion_from_unit",
]

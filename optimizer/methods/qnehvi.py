r"""``qnehvi``: single-fidelity Bayesian optimization with qLogNEHVI [Daulton2021]_ [Ament2023]_.

Each call fits an independent GP per objective (a batched multi-output ``SingleTaskGP``:
Matern-5/2 ARD kernel, learned homoskedastic noise, ``Normalize`` inputs, ``Standardize``
outputs, ``fit_gpytorch_mll``) to the *full-fidelity* observations only, builds
``qLogNoisyExpectedHypervolumeImprovement`` with the observed points as the noisy baseline and
the pending points as ``X_pending``, and maximizes it for a batch of ``n`` (sequential greedy).

- Purely continuous spaces: ``optimize_acqf`` on the unit cube; linear constraints over
  linear-scale float parameters become exact ``inequality_constraints``.
- Spaces with int/ordinal/categorical columns, or constraints on log/discrete parameters: the
  continuous relaxation is optimized without constraints and snapped to representable points,
  then ``optimize_acqf_discrete`` picks the batch from those points plus ``discrete_pool``
  feasible uniform draws, never repeating an observed or pending point.
- Fewer than ``n_init`` (default ``2 (d + 1)``, at most a third of the study's evaluation
  budget) full-fidelity observations: the study's Sobol points (as the ``sobol`` method), with
  the reason logged and stored in ``extras``.

From 4 objectives on, the hypervolume box decompositions are approximate (``alpha``, see
``AUTO_ALPHA_MANY``). The reference point is each objective's ``ref_point`` when given, else
``optimizer.pareto.default_ref_point`` of the observations (nadir minus 10% of the range).
Suggestions are always at the target fidelity.

References:
    .. [Daulton2021] S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian optimization of
       multiple noisy objectives with expected hypervolume improvement. NeurIPS 2021.
    .. [Ament2023] S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy. Unexpected
       improvements to expected improvement for Bayesian optimization. NeurIPS 2023.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf, optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from optimizer.context import SuggestContext
from optimizer.encoding import encode_observations, encode_pending, ref_point_max
from optimizer.methods.common import budget_capped_init
from optimizer.methods.options import (
    CONFIRM_OPTIONS,
    DeclaredOptions,
    FloatRange,
    IntRange,
    OptionSpec,
)
from optimizer.methods.sobol import feasible_sobol
from optimizer.space import FixedParam, FloatParam, SearchSpace
from optimizer.types import Suggestion

logger = logging.getLogger(__name__)

AUTO_ALPHA_MANY = 1e-2
"""Box-decomposition approximation level used by default from 4 objectives on. BoTorch's
``get_default_partitioning_alpha`` uses exact partitioning up to 4 objectives, 1e-3 for 5 and
1e-2 from 6; with 4 objectives and 50 observations the exact decompositions of the 64 MC samples
of the baseline took ~5x longer than with 1e-2 here, dominating the call."""


def fit_model_list(X: Tensor, Y: Tensor, bounds: Tensor) -> Any:
    """Fitted independent GPs, one per column of ``Y``.

    A multi-output ``SingleTaskGP`` is a batch of independent GPs (own kernel hyperparameters
    and noise per output) sharing the training inputs; fitting it as one batched model is the
    same maximum-likelihood problem as a ``ModelListGP`` of per-objective ``SingleTaskGP`` s,
    solved in one L-BFGS-B run with batched kernel algebra instead of ``m`` separate runs.

    Args:
        X: ``n x d`` training inputs.
        Y: ``n x m`` training targets.
        bounds: ``2 x d`` input bounds for ``Normalize``.
    """
    model = SingleTaskGP(X, Y, input_transform=Normalize(X.shape[-1], bounds=bounds),
                         outcome_transform=Standardize(m=Y.shape[-1]))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def linear_unit_constraints(space: SearchSpace) -> list[tuple[Tensor, Tensor, float]] | None:
    """The space's constraints as BoTorch ``inequality_constraints`` on the unit cube.

    Exact only when every constrained parameter is a linear-scale float (or fixed); returns
    ``None`` otherwise. Each ``(indices, coefficients, rhs)`` means ``sum coef * u >= rhs``.
    """
    cols = {p.name: i for i, p in enumerate(space.free_params)}
    out = []
    for c in space.constraints:
        idx, coef, offset = [], [], 0.0
        for name, a in c.coefficients.items():
            p = space.param(name)
            if isinstance(p, FixedParam):
                offset += a * float(p.value)
            elif isinstance(p, FloatParam) and not p.log:
                # value = low + u (high - low)
                offset += a * p.low
                idx.append(cols[name])
                coef.append(a * (p.high - p.low))
            else:
                return None
        t_idx = torch.tensor(idx, dtype=torch.long)
        t_coef = torch.tensor(coef, dtype=torch.double)
        if c.upper is not None:  # sum coef u <= upper - offset
            out.append((t_idx, -t_coef, float(offset - c.upper)))
        if c.lower is not None:  # sum coef u >= lower - offset
            out.append((t_idx, t_coef, float(c.lower - offset)))
    return out


@dataclass(frozen=True, kw_only=True)
class QNEHVI(DeclaredOptions):
    """qLogNEHVI at full fidelity (see the module docstring).

    Attributes:
        n_init: Full-fidelity observations needed before modelling; ``None`` means
            ``2 (d + 1)``, capped at a third of the study's evaluation budget
            (``optimizer.methods.common.budget_capped_init``) like cf-mesmo's.
        num_restarts: Multi-start L-BFGS-B restarts of ``optimize_acqf``.
        raw_samples: Raw samples for the restart heuristic.
        mc_samples: Quasi-MC samples of the acquisition function.
        maxiter: L-BFGS-B iterations per restart.
        discrete_pool: Uniform feasible candidates added to the pool for mixed spaces.
        alpha: Approximation level of the box decompositions (BoTorch ``alpha``; 0 = exact).
            ``None`` picks 0 for up to 3 objectives and ``AUTO_ALPHA_MANY`` for 4 or more.
        confirm_top_k: Confirmation trials at the end of a trial budget, ``>= 0``
            (``optimizer.methods.options.CONFIRM_OPTIONS``; read by the service).
    """

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "n_init": IntRange(1, nullable=True),
        "num_restarts": IntRange(1),
        "raw_samples": IntRange(1),
        "mc_samples": IntRange(1),
        "maxiter": IntRange(1),
        "discrete_pool": IntRange(1),
        "alpha": FloatRange(0.0, 1.0, high_open=True, nullable=True),
        **CONFIRM_OPTIONS,
    }

    n_init: int | None = None
    num_restarts: int = 4
    raw_samples: int = 128
    mc_samples: int = 64
    maxiter: int = 100
    discrete_pool: int = 256
    alpha: float | None = None
    confirm_top_k: int = 0

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        space = ctx.space
        data = encode_observations(space, ctx.objectives, ctx.observations,
                                   full_fidelity_only=True)
        n_init = self.n_init if self.n_init is not None \
            else budget_capped_init(2 * (space.dim + 1), ctx.max_evaluations)
        if data.n < max(n_init, 2) or space.dim == 0:
            reason = (f"{data.n} full-fidelity observations, fewer than n_init={n_init}"
                      if space.dim else "the space has no free parameters")
            logger.info("qnehvi: Sobol initial design (%s)", reason)
            X = feasible_sobol(space, ctx.seed, len(ctx.observations) + len(ctx.pending), ctx.n)
            return [ctx.suggestion(p, extras={"phase": "initial-sobol", "reason": reason})
                    for p in space.from_unit_batch(X)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X, values = self._optimize(ctx, data.X, data.Y)
        for w in caught:
            logger.debug("qnehvi: %s: %s", w.category.__name__, w.message)
        return [ctx.suggestion(p, extras={"phase": "qnehvi", "log_acq_value": float(v)})
                for p, v in zip(space.from_unit_batch(X), values, strict=True)]

    def acquisition(self, ctx: SuggestContext, X: Tensor, Y: Tensor) -> Any:
        """The fitted qLogNEHVI for maximization-form data ``X`` (``n x d``), ``Y`` (``n x m``)."""
        space = ctx.space
        model = fit_model_list(X, Y, space.bounds)
        pending = encode_pending(space, ctx.pending)
        return qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=ref_point_max(ctx.objectives, Y).tolist(),
            X_baseline=X,
            prune_baseline=True,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]),
                                          seed=ctx.rng_seed(1)),
            X_pending=pending if pending.shape[0] else None,
            alpha=self._alpha(Y.shape[-1]),
        )

    def _alpha(self, m: int) -> float:
        if self.alpha is not None:
            return float(self.alpha)
        return 0.0 if m <= 3 else AUTO_ALPHA_MANY

    def _optimize(self, ctx: SuggestContext, X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
        space = ctx.space
        acq = self.acquisition(ctx, X, Y)
        ineq = linear_unit_constraints(space)
        options = {"maxiter": self.maxiter, "batch_limit": self.num_restarts}
        if not space.discrete_levels and ineq is not None:
            cand, _ = optimize_acqf(
                acq, bounds=space.bounds, q=ctx.n, num_restarts=self.num_restarts,
                raw_samples=self.raw_samples, options=options, sequential=True,
                inequality_constraints=ineq or None, retry_on_optimization_warning=False,
            )
            cand = space.round_unit(cand.detach())
            return cand, self._values(acq, cand)
        relaxed, _ = optimize_acqf(
            acq, bounds=space.bounds, q=ctx.n, num_restarts=self.num_restarts,
            raw_samples=self.raw_samples, options=options, sequential=True,
            retry_on_optimization_warning=False,
        )
        pool = torch.cat([space.round_unit(relaxed.detach()),
                          space.sample_unit(self.discrete_pool, ctx.generator(2))])
        pool = pool[space.feasible_unit(pool)]
        known = torch.cat([X, encode_pending(space, ctx.pending)])
        is_new = (pool.unsqueeze(1) - known.unsqueeze(0)).abs().amax(dim=-1).min(dim=-1).values
        fresh = torch.unique(pool[is_new > 1e-9], dim=0)
        if fresh.shape[0] < ctx.n:
            fresh = torch.cat([fresh, space.sample_unit(ctx.n - fresh.shape[0], ctx.generator(3))])
        cand, _ = optimize_acqf_discrete(acq, q=ctx.n, choices=fresh, unique=True)
        return cand, self._values(acq, cand)

    @staticmethod
    def _values(acq: Any, cand: Tensor) -> Tensor:
        with torch.no_grad():
            return acq(cand.unsqueeze(1)).reshape(-1)

r"""``mf-hvkg``: BoTorch's multi-fidelity hypervolume knowledge gradient [Daulton2023]_.

MF-HVKG values an evaluation at ``(x, z)`` by the expected increase of the hypervolume of the
best ``num_pareto`` designs under the posterior mean *at the target fidelity* after fantasizing
that observation, divided by its predicted cost (``InverseCostWeightedUtility`` over the fitted
``CostModel``), following BoTorch's multi-objective multi-fidelity tutorial:

1. ``current_value``: the hypervolume of the best ``num_pareto`` designs under the current
   posterior mean at the target fidelity (``_get_hv_value_function`` behind a
   ``FixedFeatureAcquisitionFunction`` fixing the fidelity, optimized by ``optimize_acqf``);
2. ``qMultiFidelityHypervolumeKnowledgeGradient`` with ``project`` to the target fidelity,
   optimized one-shot by ``optimize_acqf`` (the fantasy solutions are extra decision variables).

The candidates' level columns are rounded afterwards; a candidate that then violates a linear
constraint gets a feasible uniform design at the same fidelity (rare; the one-shot search
itself is unconstrained). Without a fidelity range the
single-fidelity ``qHypervolumeKnowledgeGradient`` is used, without cost weighting. Batches are
optimized jointly (``q = n``) with pending points as ``X_pending``.

References:
    .. [Daulton2023] S. Daulton, M. Balandat, E. Bakshy. Hypervolume knowledge gradient: a
       lookahead approach for multi-objective Bayesian optimization with partial
       information. ICML 2023.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import ClassVar

import torch
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
from botorch.acquisition.multi_objective.hypervolume_knowledge_gradient import (
    _get_hv_value_function,
    qHypervolumeKnowledgeGradient,
    qMultiFidelityHypervolumeKnowledgeGradient,
)
from botorch.acquisition.utils import project_to_target_fidelity
from botorch.exceptions.warnings import BotorchWarning, OptimizationWarning
from botorch.optim.optimize import optimize_acqf
from botorch.sampling.normal import SobolQMCNormalSampler
from torch import Tensor

from optimizer.context import SuggestContext
from optimizer.methods.mf_common import (
    MFData,
    initial_design,
    mf_data,
    needs_initial_design,
    pending_unit,
    reference_point,
    round_mf,
    suggestion_from_unit,
    trial_cost_model,
)
from optimizer.methods.options import (
    CONFIRM_OPTIONS,
    OVERHEAD_OPTIONS,
    DeclaredOptions,
    IntRange,
    OptionSpec,
)
from optimizer.space import UNIT_TARGET
from optimizer.surrogates import fit_objective_model_list
from optimizer.types import Suggestion

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class MFHVKGMethod(DeclaredOptions):
    """The ``mf-hvkg`` method (see the module docstring).

    Attributes:
        num_fantasies: Fantasy observations per candidate, ``>= 1`` (tutorial: 8).
        num_pareto: Size of the Pareto set valued after the fantasy, ``>= 1`` (tutorial: 10).
        inner_mc_samples: MC samples of the current-value HV, ``>= 1`` (tutorial: 32).
        raw_samples: Raw samples of the one-shot search, ``>= 16``.
        num_restarts: Restarts of the one-shot search, ``>= 1`` (tutorial: 1).
        n_init: Initial design size; ``None`` for ``2 (D + 1)`` like ``cf-mesmo``.
        confirm_top_k: Confirmation trials at the end of a trial budget, ``>= 0``
            (``optimizer.methods.options.CONFIRM_OPTIONS``; read by the service).
        proposal_overhead: ``"measured"`` (default) or ``"none"``: whether the cost model
            adds the measured proposal time per trial (``Observation.overhead_s``) to every
            predicted cost (``optimizer.methods.options.OVERHEAD_OPTIONS``).
        budget_pricing: ``"share"`` (default) or ``"time"``: whether no evaluation is priced
            below the study's seconds per remaining trial (``SuggestContext.budget_per_trial_s``).
    """

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "num_fantasies": IntRange(1),
        "num_pareto": IntRange(1),
        "inner_mc_samples": IntRange(1),
        "raw_samples": IntRange(16),
        "num_restarts": IntRange(1),
        "n_init": IntRange(1, nullable=True),
        **CONFIRM_OPTIONS,
        **OVERHEAD_OPTIONS,
    }

    num_fantasies: int = 8
    num_pareto: int = 10
    inner_mc_samples: int = 32
    raw_samples: int = 256
    num_restarts: int = 1
    n_init: int | None = None
    confirm_top_k: int = 3
    proposal_overhead: str = "measured"
    budget_pricing: str = "share"

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        mf = mf_data(ctx)
        if needs_initial_design(ctx, mf, self.n_init):
            return initial_design(ctx, mf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=OptimizationWarning)
            warnings.simplefilter("ignore", category=BotorchWarning)
            X = self._candidates(ctx, mf)
        return [suggestion_from_unit(ctx, mf, x, extras={"phase": "mf-hvkg"}) for x in X]

    def _candidates(self, ctx: SuggestContext, mf: MFData) -> Tensor:
        X, Y = mf.data.X, mf.data.Y
        model = fit_objective_model_list(X, Y)  # HVKG needs a ModelList
        ref = reference_point(ctx, mf)
        D = mf.D
        bounds = torch.stack([torch.zeros(D, dtype=torch.double),
                              torch.ones(D, dtype=torch.double)])
        pending = pending_unit(ctx, mf)
        X_pending = pending if pending.shape[0] else None
        inner = SobolQMCNormalSampler(sample_shape=torch.Size([self.inner_mc_samples]),
                                      seed=ctx.rng_seed(3) % 2**31)
        value_fn = _get_hv_value_function(model=model, ref_point=ref, sampler=inner,
                                          use_posterior_mean=True)
        if mf.fidelity_dim is None:
            _, current = optimize_acqf(value_fn, bounds=bounds, q=self.num_pareto,
                                       num_restarts=1, raw_samples=self.raw_samples,
                                       options={"nonnegative": True, "batch_limit": 5})
            acq = qHypervolumeKnowledgeGradient(
                model=model, ref_point=ref, num_fantasies=self.num_fantasies,
                num_pareto=self.num_pareto, current_value=current, X_pending=X_pending)
        else:
            fdim = mf.fidelity_dim
            fixed = FixedFeatureAcquisitionFunction(acq_function=value_fn, d=D, columns=[fdim],
                                                    values=[UNIT_TARGET])
            _, current = optimize_acqf(fixed, bounds=bounds[:, :mf.d], q=self.num_pareto,
                                       num_restarts=1, raw_samples=self.raw_samples,
                                       options={"nonnegative": True, "batch_limit": 5})
            cost = trial_cost_model(ctx, mf, self.proposal_overhead, self.budget_pricing)
            utility = InverseCostWeightedUtility(cost_model=cost.as_deterministic_model())

            def project(Xp: Tensor) -> Tensor:
                return project_to_target_fidelity(X=Xp, d=D, target_fidelities={fdim: UNIT_TARGET})

            acq = qMultiFidelityHypervolumeKnowledgeGradient(
                model=model, ref_point=ref, target_fidelities={fdim: UNIT_TARGET},
                num_fantasies=self.num_fantasies, num_pareto=self.num_pareto,
                current_value=current, cost_aware_utility=utility, project=project,
                X_pending=X_pending)
        cand, _ = optimize_acqf(acq, bounds=bounds, q=ctx.n, num_restarts=self.num_restarts,
                                raw_samples=self.raw_samples, options={"batch_limit": 5})
        cand = round_mf(ctx, mf, cand.detach().reshape(ctx.n, D))
        ok = ctx.space.feasible_unit(cand[:, :mf.d])
        if not ok.all():
            logger.info("mf-hvkg: %d candidate(s) infeasible after rounding; replacing",
                        int((~ok).sum()))
            repl = ctx.space.sample_unit(int((~ok).sum()), ctx.generator(0x4B))
            cand[~ok, :mf.d] = repl
        return cand


__all__ = ["MFHVKGMethod"]

r"""``momf``: BoTorch's MOMF [Irshad2021]_, cost-weighted, behind ``suggest()``.

MOMF appends a *trust objective* equal to the unit fidelity :math:`z` to the ``m`` objectives
and maximizes the expected hypervolume improvement of the ``m + 1`` outputs divided by the
predicted cost (BoTorch ``MOMF``, which wraps ``InverseCostWeightedUtility``), as in BoTorch's
multi-objective multi-fidelity tutorial. Here the cost is the fitted ``CostModel`` (normalized:
one unit ~ one full evaluation) rather than a known formula, the GP is the same per-objective
``(x, z)`` model as ``cf-mesmo`` (with one more output for the trust objective), the reference
point is the objectives' (or the data-derived one) plus 0 for the trust objective, and the
initial design is the shared cost-aware one. Batches are greedy-sequential: each chosen point
becomes an ``X_pending`` of the next. As in the tutorial, a candidate whose acquisition value
is exactly 0 (BoTorch #2121: numerically zero EHVI) is sent to the lowest fidelity.

References:
    .. [Irshad2021] F. Irshad, S. Karsch, A. Döpp. Expected hypervolume improvement for
       simultaneous multi-objective and multi-fidelity optimization. arXiv:2112.13901, 2021.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from botorch.acquisition.multi_objective.multi_fidelity import MOMF
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.utils.multi_objective.box_decompositions.non_dominated import (
    FastNondominatedPartitioning,
)

from optimizer.context import SuggestContext
from optimizer.methods.mf_common import (
    initial_design,
    mf_data,
    needs_initial_design,
    optimize_over_space,
    pending_unit,
    reference_point,
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
from optimizer.surrogates import fit_objective_model
from optimizer.types import Suggestion


@dataclass(frozen=True, kw_only=True)
class MOMFMethod(DeclaredOptions):
    """The ``momf`` method (see the module docstring).

    Attributes:
        mc_samples: Quasi-MC samples of the EHVI, ``>= 8``.
        raw_samples: Raw candidates for the acquisition search, ``>= 16``.
        num_restarts: L-BFGS-B restarts, ``>= 0``.
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
        "mc_samples": IntRange(8),
        "raw_samples": IntRange(16),
        "num_restarts": IntRange(0),
        "n_init": IntRange(1, nullable=True),
        **CONFIRM_OPTIONS,
        **OVERHEAD_OPTIONS,
    }

    mc_samples: int = 64
    raw_samples: int = 512
    num_restarts: int = 4
    n_init: int | None = None
    confirm_top_k: int = 3
    proposal_overhead: str = "measured"
    budget_pricing: str = "share"

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        mf = mf_data(ctx)
        if needs_initial_design(ctx, mf, self.n_init):
            return initial_design(ctx, mf)
        X, Y = mf.data.X, mf.data.Y
        trust = (X[:, mf.fidelity_dim:mf.fidelity_dim + 1] if mf.fidelity_dim is not None
                 else torch.full((X.shape[0], 1), UNIT_TARGET, dtype=torch.double))
        Y_aug = torch.cat([Y, trust], dim=-1)
        model = fit_objective_model(X, Y_aug)
        cost = trial_cost_model(ctx, mf, self.proposal_overhead, self.budget_pricing)
        ref = torch.cat([reference_point(ctx, mf), torch.zeros(1, dtype=torch.double)])
        partitioning = FastNondominatedPartitioning(ref_point=ref, Y=Y_aug)
        pending = pending_unit(ctx, mf)
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]),
                                        seed=ctx.rng_seed(2) % 2**31)
        acq = MOMF(model=model, ref_point=ref, partitioning=partitioning, sampler=sampler,
                   X_pending=pending if pending.shape[0] else None,
                   cost_call=lambda Xq: cost(Xq).unsqueeze(-1))
        out: list[Suggestion] = []
        chosen: list[torch.Tensor] = []
        for i in range(ctx.n):
            x, value = optimize_over_space(acq, ctx, mf, raw_samples=self.raw_samples,
                                           num_restarts=self.num_restarts, salt=i)
            if value <= 0.0 and mf.fidelity_dim is not None:
                x = x.clone()
                x[mf.fidelity_dim] = 0.0
            chosen.append(x)
            out.append(suggestion_from_unit(ctx, mf, x, extras={"phase": "momf",
                                                                "acq_value": value}))
            if i + 1 < ctx.n:
                acq.set_X_pending(torch.cat([pending, torch.stack(chosen)]))
        return out


__all__ = ["MOMFMethod"]

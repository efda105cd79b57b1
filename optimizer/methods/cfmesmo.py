r"""``cf-mesmo``: cost-aware continuous-fidelity MESMO [Yang2021]_ behind ``suggest()``.

One call:

1. Fewer than ``n_init`` observations (default ``2 (D + 1)``, at most a third of the study's
   evaluation budget): the cost-aware initial design of ``optimizer.methods.mf_common``
   (Sobol designs, :math:`p(z) \propto 1/C(z)`) whose first ``initial_full_count`` designs
   are at the target fidelity (at least 2 and ``max(min_full_share, INIT_FULL_SHARE)`` of the
   design), so a first front and its reference point exist once the design is evaluated.
2. Otherwise fit the per-objective GP over ``(x, z)`` and the cost model
   (``optimizer.surrogates``), sample ``num_samples`` max values at the target fidelity
   (``optimizer.acquisition.max_values``), and condition the GP on the *kriging believer*
   fantasies of the pending points (their posterior mean), which shrinks the variance, hence
   the information gain, around points already in flight.
3. For each of the ``n`` suggestions, maximize ``CFMESMO`` (information gain per predicted
   cost) over the mixed space, then add the chosen point as another kriging-believer fantasy
   so the next one goes elsewhere. The max-value samples are kept fixed across the batch.

Each suggestion carries its fidelity and ``info_gain_per_cost`` [nats per normalized cost unit;
one unit ~ one full evaluation], and ``extras`` with the predicted information gain [nats] and
cost [s]. Without a fidelity range the method is cost-aware MESMO at full fidelity.

References:
    .. [Yang2021] S. Yang, S. Belakaria, ..., J. R. Doppa, H. Li. Multi-objective optimization
       of ReRAM crossbars for robust DNN inferencing under stochastic noise. ICCAD 2021,
       arXiv:2109.05437.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import torch
from botorch.models.model import Model
from gpytorch.utils.warnings import NumericalWarning
from torch import Tensor

from optimizer.acquisition.cf_mesmo import CFMESMO as CFMESMOAcquisition
from optimizer.acquisition.fidelity_filter import BOCAFilter
from optimizer.acquisition.max_values import CLAMP_MARGIN, sample_max_values
from optimizer.context import SuggestContext
from optimizer.known_noise import prospective_fixed_noise
from optimizer.methods.mf_common import (
    initial_design,
    initial_design_size,
    mf_data,
    needs_initial_design,
    optimize_over_space,
    pending_unit,
    suggestion_from_unit,
)
from optimizer.methods.options import (
    CONFIRM_OPTIONS,
    Choice,
    DeclaredOptions,
    FloatRange,
    IntRange,
    OptionSpec,
)
from optimizer.space import UNIT_TARGET, unit_at_target
from optimizer.surrogates import CostModel, fit_objective_model
from optimizer.types import Suggestion

logger = logging.getLogger(__name__)

INIT_FULL_SHARE = 0.25
"""Least share of CF-MESMO's initial design at the target fidelity (with ``min_full_share``,
the larger applies; at least 2 points): pure cost-aware sampling put 1 of 24 initial crossbar
trials at full fidelity, leaving the study without a front for tens of trials."""


def initial_full_count(size: int, min_full_share: float) -> int:
    """Target-fidelity points of an initial design of ``size``:
    ``min(size, max(2, ceil(max(min_full_share, INIT_FULL_SHARE) * size)))``."""
    return min(size, max(2, math.ceil(max(min_full_share, INIT_FULL_SHARE) * size)))


def kriging_believer(model: Model, X: Tensor) -> Model:
    """``model`` conditioned on its own posterior mean at ``X`` (``p x D``); ``p = 0`` returns
    ``model`` unchanged."""
    if X.shape[0] == 0:
        return model
    with torch.no_grad():
        mean = model.posterior(X).mean
    noise = prospective_fixed_noise(model, X)  # known noise: the fantasy's own, else None
    if noise is None:
        return model.condition_on_observations(X, mean)
    with warnings.catch_warnings():  # MIN_FIXED_NOISE, round-tripped through the scale
        warnings.simplefilter("ignore", category=NumericalWarning)
        return model.condition_on_observations(X, mean, noise=noise)


@dataclass(frozen=True, kw_only=True)
class CFMESMO(DeclaredOptions):
    """The ``cf-mesmo`` method (see the module docstring).

    Attributes:
        approx: ``"gibbon"`` (default; correlated closed form) or ``"tg"`` (iMOCA's truncated
            Gaussian at ``(x, z)``).
        num_samples: Max-value samples ``S`` per call, ``>= 1``.
        num_candidates: Sobol candidates for the max-value search, ``>= 16``.
        raw_samples: Raw candidates for the acquisition search, ``>= 16``.
        num_restarts: L-BFGS-B restarts from the best raw candidates, ``>= 0``.
        n_init: Size of the initial design; ``None`` for ``2 (D + 1)`` with ``D`` the number
            of design columns plus one for the fidelity, capped by the study's budget
            (``optimizer.methods.mf_common.initial_design_size``).
        fidelity_filter: ``"none"`` (default) or ``"boca"``: score 0 at lower fidelities the
            model is already confident about
            (``optimizer.acquisition.fidelity_filter.BOCAFilter``).
        min_full_share: In ``[0, 1)``; while fewer than this share of the observations and
            pending points are at the target fidelity, the next suggestion is searched at the
            target fidelity only (the design of most information gain there), so that the
            reported front, which holds full-fidelity results only, fills. 0 (default): pure
            CF-MESMO.
        confirm_top_k: Confirmation trials at the end of a trial budget, ``>= 0``
            (``optimizer.methods.options.CONFIRM_OPTIONS``; read by the service).
        clamp_margin: Margin of the max-value clamp above the best full-fidelity observation
            [standard deviations of the observed values], ``>= 0``; 0 (default,
            ``optimizer.acquisition.max_values.CLAMP_MARGIN``); iMOCA's is 0.158.
    """

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "approx": Choice(("gibbon", "tg")),
        "num_samples": IntRange(1),
        "num_candidates": IntRange(16),
        "raw_samples": IntRange(16),
        "num_restarts": IntRange(0),
        "n_init": IntRange(1, nullable=True),
        "fidelity_filter": Choice(("none", "boca")),
        "min_full_share": FloatRange(0.0, 1.0, high_open=True),
        "clamp_margin": FloatRange(0.0),
        **CONFIRM_OPTIONS,
    }

    approx: str = "gibbon"
    num_samples: int = 8
    num_candidates: int = 512
    raw_samples: int = 512
    num_restarts: int = 4
    n_init: int | None = None
    fidelity_filter: str = "none"
    min_full_share: float = 0.0
    confirm_top_k: int = 3
    clamp_margin: float = CLAMP_MARGIN

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        mf = mf_data(ctx)
        if needs_initial_design(ctx, mf, self.n_init):
            size = initial_design_size(ctx, mf, self.n_init)
            return initial_design(ctx, mf, n_full=initial_full_count(size, self.min_full_share))
        X, Y = mf.data.X, mf.data.Y
        model = fit_objective_model(X, Y, mf.data.Yvar, mf.fidelity_dim)
        cost = CostModel(X, mf.data.cost_s, mf.fidelity_dim)
        full = mf.full_fidelity_mask()
        samples = sample_max_values(
            model, dim=mf.d, fidelity_dim=mf.fidelity_dim, num_samples=self.num_samples,
            num_candidates=self.num_candidates, X_observed=X[:, :mf.d],
            Y_best=Y[full].max(0).values if full.any() else None,
            Y_std=Y.std(0) if Y.shape[0] > 1 else None,
            round_fn=ctx.space.round_unit,
            feasible_fn=ctx.space.feasible_unit if ctx.space.constraints else None,
            seed=ctx.rng_seed(1),
            margin=self.clamp_margin,
        )
        pending = pending_unit(ctx, mf)
        model = kriging_believer(model, pending)
        out: list[Suggestion] = []
        chosen: list[Tensor] = []
        n_full = int(full.sum()) + sum(1 for p in ctx.pending if ctx.space.is_target(p.fidelity))
        n_all = mf.data.n + len(ctx.pending)
        for i in range(ctx.n):
            at_target = (mf.fidelity_dim is not None
                         and n_full < self.min_full_share * (n_all + 1))
            filt = None
            if self.fidelity_filter == "boca" and mf.fidelity_dim is not None:
                filt = BOCAFilter.from_model(model, cost=cost, fidelity_dim=mf.fidelity_dim,
                                             dim=mf.d)
            acq = CFMESMOAcquisition(model, samples.max_values, cost=cost,
                                     fidelity_dim=mf.fidelity_dim, approx=self.approx,  # type: ignore[arg-type]
                                     fidelity_filter=filt)
            x, value = optimize_over_space(acq, ctx, mf, raw_samples=self.raw_samples,
                                           num_restarts=self.num_restarts, salt=i,
                                           fidelity=UNIT_TARGET if at_target else None,
                                           avoid=torch.cat([X, pending, *chosen]))
            chosen.append(x.unsqueeze(0))
            n_all += 1
            n_full += int(at_target or (mf.fidelity_dim is not None
                                        and bool(unit_at_target(x[mf.fidelity_dim]))))
            with torch.no_grad():
                c = float(cost(x.unsqueeze(0))[0])
            out.append(suggestion_from_unit(
                ctx, mf, x, info_gain_per_cost=value,
                extras={"phase": "cf-mesmo-full" if at_target else "cf-mesmo",
                        "approx": self.approx,
                        "info_gain_nats": value * c,
                        "predicted_cost_s": c * cost.scale},
            ))
            if i + 1 < ctx.n:
                model = kriging_believer(model, x.unsqueeze(0))
        return out


__all__ = ["CFMESMO", "INIT_FULL_SHARE", "initial_full_count", "kriging_believer"]

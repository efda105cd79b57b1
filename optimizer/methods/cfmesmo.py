r"""``cf-mesmo``: cost-aware continuous-fidelity MESMO [Yang2021]_ behind ``suggest()``.

One call:

1. Fewer than ``n_init`` observations (default ``2 (D + 1)``, at most a third of the study's
   evaluation budget): the cost-aware initial design of ``optimizer.methods.mf_common``
   (Sobol designs, :math:`p(z) \propto 1/C(z)`) of which ``initial_full_count`` designs are
   at the target fidelity (at least 2 and ``max(min_full_share, INIT_FULL_SHARE)`` of the
   design), so a first front and its reference point exist once the design is evaluated. By
   default (``init_order = "cheap-first"``, always under objective thresholds) they are its
   last designs, chosen by ``front_picks`` from a model of the cheap ones (*front first*
   below): in the optimizer benchmark (crossbar-digits, seed 0) the four blind Sobol designs
   at full fidelity of the ``"full-first"`` order cost 5.3 of a 12-unit budget for an
   evaluated hypervolume of 0.0022 where MOMF had 0.0043 by 5.6 units.
2. Otherwise fit the per-objective GP over ``(x, z)`` and the cost model
   (``optimizer.surrogates``), sample ``num_samples`` max values at the target fidelity
   (``optimizer.acquisition.max_values``), and condition the GP on the *kriging believer*
   fantasies of the pending points (their posterior mean), which shrinks the variance, hence
   the information gain, around points already in flight.
3. For each of the ``n`` suggestions, maximize ``CFMESMO`` (information gain per predicted
   cost) over the mixed space, then add the chosen point as another kriging-believer fantasy
   so the next one goes elsewhere. The max-value samples are kept fixed across the batch.

**Front first** (``seek_feasible``, default on; only where an objective has a ``threshold``
and the space a fidelity range). A study reports the front of its full-fidelity results that
meet the thresholds, so until one does it reports nothing, however much the model knows;
blind Sobol designs at full fidelity miss a threshold often (crossbar digits-cnn: 25 of 40
Sobol designs below 50 % accuracy at the analytic tier). So:

- The initial design runs in the *cheap-first* order: its ``size - initial_full_count``
  low-fidelity designs come first, at the lowest fidelity (the cheapest look at a design),
  and its last ``initial_full_count`` designs, at the target fidelity, are ``front_picks`` of
  a model fitted to what is observed by then (the Sobol designs with fewer than
  ``FRONT_MIN_OBSERVATIONS`` observations).
- After the initial design, while no full-fidelity result meets every threshold, the
  suggestions are ``front_picks`` (``extras.phase = "cf-mesmo-front"``): members predicted to
  meet them, or, when none is (a full-fidelity pick came out below a threshold and pulled the
  target-fidelity means down), the one design most likely to meet them, as long as that
  probability is at least ``FRONT_MIN_PROBABILITY``; the rest of a batch is CF-MESMO's
  (step 3), as is every suggestion once a full-fidelity result meets the thresholds.

``front_picks`` takes the members of the model's predicted front
(``optimizer.posterior_front.posterior_pareto_set``: the Pareto set of the posterior mean,
searched by NSGA-II, evaluated designs added) whose means meet the thresholds and that are
neither evaluated nor pending at the target fidelity, greedily by the hypervolume their means
add (``confirmation_picks``, as the study's confirmation trials do), after the pending
target-fidelity points predicted to meet them; fewer such members than wanted (all of the
initial design's slots, one after it) are filled up by the designs of highest probability of
meeting the thresholds under the posterior (among the front's members, Sobol designs and the
evaluated designs, the model conditioned on the pending full-fidelity points;
``optimizer.methods.front_first``). The means are taken at the target fidelity once a
target-fidelity result exists and at the highest fidelity observed before: with observations at
one fidelity only the fidelity lengthscale is unidentified (its prior makes the posterior at
the target nearly the prior), and the lower fidelity stands in for the target, the premise of
multi-fidelity optimization. Each pick carries ``extras.predicted`` (``{objective: {"mean",
"sd"}}``) and ``predicted_at_fidelity``; its ``info_gain_per_cost`` is ``None``. Without
thresholds only the initial design's cheap-first order applies (``init_order``).

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
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from botorch.models.model import Model
from torch import Tensor

from optimizer.acquisition.cf_mesmo import CFMESMO as CFMESMOAcquisition
from optimizer.acquisition.cf_mesmo import INFO_NOISE_FLOOR
from optimizer.acquisition.fidelity_filter import BOCAFilter
from optimizer.acquisition.max_values import CLAMP_MARGIN, sample_max_values
from optimizer.context import SuggestContext
from optimizer.methods.believer import kriging_believer
from optimizer.methods.front_first import (
    FRONT_MIN_OBSERVATIONS,
    FRONT_MIN_PROBABILITY,
    front_picks,
    has_feasible_full,
)
from optimizer.methods.front_gain import front_gain_pick
from optimizer.methods.mf_common import (
    MFData,
    initial_design,
    initial_design_size,
    initial_full_numbers,
    mf_data,
    needs_initial_design,
    optimize_over_space,
    pending_unit,
    suggestion_from_unit,
    trial_cost_model,
)
from optimizer.methods.options import (
    CONFIRM_OPTIONS,
    OVERHEAD_OPTIONS,
    Choice,
    DeclaredOptions,
    Flag,
    FloatRange,
    IntRange,
    OptionSpec,
)
from optimizer.posterior_front import thresholds_max
from optimizer.space import UNIT_TARGET, unit_at_target
from optimizer.surrogates import CostModel, fit_objective_model
from optimizer.types import Suggestion

logger = logging.getLogger(__name__)

INIT_FULL_SHARE = 0.25
"""Least share of CF-MESMO's initial design at the target fidelity (with ``min_full_share``,
the larger applies; at least 2 points): pure cost-aware sampling put 1 of 24 initial crossbar
trials at full fidelity, leaving the study without a front for tens of trials."""


def _without_thresholds(ctx: SuggestContext) -> SuggestContext:
    """``ctx`` with its objectives' thresholds dropped: the cheap-first initial design's picks
    when the front-first rules are off (``seek_feasible=False``) ignore them."""
    return replace(ctx, objectives=[replace(o, threshold=None) for o in ctx.objectives])


def initial_full_count(size: int, min_full_share: float) -> int:
    """Target-fidelity points of an initial design of ``size``:
    ``min(size, max(2, ceil(max(min_full_share, INIT_FULL_SHARE) * size)))``."""
    return min(size, max(2, math.ceil(max(min_full_share, INIT_FULL_SHARE) * size)))


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
        proposal_overhead: ``"measured"`` (default) or ``"none"``: whether the cost model
            adds the measured proposal time per trial (``Observation.overhead_s``) to every
            predicted cost (``optimizer.methods.options.OVERHEAD_OPTIONS``).
        budget_pricing: ``"share"`` (default) or ``"time"``: whether no evaluation is priced
            below the study's seconds per remaining trial (``SuggestContext.budget_per_trial_s``).
        clamp_margin: Margin of the max-value clamp above the best full-fidelity observation
            [standard deviations of the observed values], ``>= 0``; 0 (default,
            ``optimizer.acquisition.max_values.CLAMP_MARGIN``); iMOCA's is 0.158.
        seek_feasible: The front-first rules under objective thresholds (module docstring);
            ``True`` (default). ``False``, or objectives without thresholds: plain CF-MESMO
            (after an initial design in ``init_order``, whose picks then ignore thresholds).
        truncation: ``"max-values"`` (default; MESMO's per-objective maxima) or ``"front"``:
            the ``"gibbon"`` information gain truncates at the whole sampled Pareto front
            (``optimizer.acquisition.front_truncation``), which values designs inside the
            front; measured no better on Branin-Currin seed 0 (docs/decisions.md).
        info_noise_floor: Least observation noise variance of the ``"gibbon"`` information
            gain [share of each objective's variance], ``>= 0``
            (``optimizer.acquisition.cf_mesmo.INFO_NOISE_FLOOR``, the default).
        full_pick: What a ``min_full_share`` slot evaluates: ``"front-gain"`` (default) the
            predicted-front member adding the most to the evaluated front
            (``optimizer.methods.front_gain``), the information-gain search at the target
            fidelity where none adds any; ``"info-gain"``: always that search.
        init_order: Order of the initial design in a space with a fidelity range:
            ``"cheap-first"`` (default) its low-fidelity designs first, its target-fidelity
            designs then chosen as ``front_picks`` of a model of them; ``"full-first"``: its
            first ``initial_full_count`` Sobol designs at the target fidelity (objective
            thresholds always use the cheap-first order).
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
        "seek_feasible": Flag(),
        "truncation": Choice(("max-values", "front")),
        "info_noise_floor": FloatRange(0.0),
        "full_pick": Choice(("front-gain", "info-gain")),
        "init_order": Choice(("cheap-first", "full-first")),
        **CONFIRM_OPTIONS,
        **OVERHEAD_OPTIONS,
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
    proposal_overhead: str = "measured"
    budget_pricing: str = "share"
    clamp_margin: float = CLAMP_MARGIN
    seek_feasible: bool = True
    truncation: str = "max-values"
    info_noise_floor: float = INFO_NOISE_FLOOR
    full_pick: str = "front-gain"
    init_order: str = "cheap-first"

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        mf = mf_data(ctx)
        thresholded = self._front_first(ctx, mf)
        if needs_initial_design(ctx, mf, self.n_init):
            size = initial_design_size(ctx, mf, self.n_init)
            n_full = initial_full_count(size, self.min_full_share)
            if mf.fidelity_dim is None or not (thresholded or self.init_order == "cheap-first"):
                return initial_design(ctx, mf, n_full=n_full)
            return self._front_first_design(
                ctx if thresholded else _without_thresholds(ctx), mf, size, n_full)
        X, Y = mf.data.X, mf.data.Y
        model = fit_objective_model(X, Y, mf.data.Yvar, mf.fidelity_dim)
        pending = pending_unit(ctx, mf)
        picks: list[tuple[Tensor, dict[str, Any]]] = []
        if thresholded and not has_feasible_full(ctx, mf):
            picks = front_picks(model, ctx, mf, ctx.n, pending, fallback=1,
                                min_probability=FRONT_MIN_PROBABILITY)
        cost = trial_cost_model(ctx, mf, self.proposal_overhead, self.budget_pricing)
        full = mf.full_fidelity_mask()
        samples = None if len(picks) == ctx.n else sample_max_values(
            model, dim=mf.d, fidelity_dim=mf.fidelity_dim, num_samples=self.num_samples,
            num_candidates=self.num_candidates, X_observed=X[:, :mf.d],
            Y_best=Y[full].max(0).values if full.any() else None,
            Y_std=Y.std(0) if Y.shape[0] > 1 else None,
            round_fn=ctx.space.round_unit,
            feasible_fn=ctx.space.feasible_unit if ctx.space.constraints else None,
            seed=ctx.rng_seed(1),
            margin=self.clamp_margin,
            front_truncation=self.truncation == "front",
        )
        model = kriging_believer(model, pending)
        out: list[Suggestion] = []
        chosen: list[Tensor] = []
        n_full = int(full.sum()) + sum(1 for p in ctx.pending if ctx.space.is_target(p.fidelity))
        n_all = mf.data.n + len(ctx.pending)
        for i in range(ctx.n):
            if i < len(picks):
                x, extras = picks[i]
                out.append(suggestion_from_unit(ctx, mf, x, extras=extras))
            else:
                assert samples is not None
                at_target = (mf.fidelity_dim is not None
                             and n_full < self.min_full_share * (n_all + 1))
                gain = front_gain_pick(model, ctx, mf, torch.cat([pending, *chosen])) \
                    if at_target and self.full_pick == "front-gain" else None
                if gain is not None:
                    x = gain[0]
                    out.append(suggestion_from_unit(ctx, mf, x, extras=gain[1]))
                else:
                    x, s = self._acquire(model, samples.max_values, cost, ctx, mf, i,
                                         at_target, torch.cat([X, pending, *chosen]))
                    out.append(s)
            chosen.append(x.unsqueeze(0))
            n_all += 1
            n_full += int(mf.fidelity_dim is not None and bool(unit_at_target(x[mf.fidelity_dim])))
            if i + 1 < ctx.n:
                model = kriging_believer(model, x.unsqueeze(0))
        return out

    def _acquire(self, model: Model, max_values: Tensor, cost: CostModel, ctx: SuggestContext,
                 mf: MFData, i: int, at_target: bool, avoid: Tensor) -> tuple[Tensor, Suggestion]:
        """Suggestion ``i`` of a batch: the maximizer of ``CFMESMO`` (at the target fidelity
        only when ``at_target``), its unit point ``D`` and the ``Suggestion``."""
        filt = None
        if self.fidelity_filter == "boca" and mf.fidelity_dim is not None:
            filt = BOCAFilter.from_model(model, cost=cost, fidelity_dim=mf.fidelity_dim, dim=mf.d)
        acq = CFMESMOAcquisition(model, max_values, cost=cost, fidelity_dim=mf.fidelity_dim,
                                 approx=self.approx,  # type: ignore[arg-type]
                                 fidelity_filter=filt, info_noise_floor=self.info_noise_floor)
        x, value = optimize_over_space(acq, ctx, mf, raw_samples=self.raw_samples,
                                       num_restarts=self.num_restarts, salt=i,
                                       fidelity=UNIT_TARGET if at_target else None, avoid=avoid)
        with torch.no_grad():
            c = float(cost(x.unsqueeze(0))[0])
        return x, suggestion_from_unit(
            ctx, mf, x, info_gain_per_cost=value,
            extras={"phase": "cf-mesmo-full" if at_target else "cf-mesmo",
                    "approx": self.approx,
                    "info_gain_nats": value * c,
                    "predicted_cost_s": c * cost.scale},
        )

    def _front_first(self, ctx: SuggestContext, mf: MFData) -> bool:
        """Whether the front-first rules apply (module docstring): ``seek_feasible``, a
        fidelity range and at least one objective threshold."""
        return (self.seek_feasible and mf.fidelity_dim is not None
                and bool(torch.isfinite(thresholds_max(ctx.objectives)).any()))

    def _front_first_design(self, ctx: SuggestContext, mf: MFData, size: int, n_full: int
                            ) -> list[Suggestion]:
        """The initial design in the cheap-first order, its full-fidelity designs chosen by
        ``front_picks`` (module docstring)."""
        out = initial_design(ctx, mf, n_full=n_full, size=size)
        start = len(ctx.observations) + len(ctx.pending)
        numbers = initial_full_numbers(n_full, size)
        slots = [k for k in range(ctx.n) if start + k in numbers]
        if not slots or mf.data.n < FRONT_MIN_OBSERVATIONS:
            return out
        model = fit_objective_model(mf.data.X, mf.data.Y, mf.data.Yvar, mf.fidelity_dim)
        picks = front_picks(model, ctx, mf, len(slots), pending_unit(ctx, mf),
                            fallback=len(slots))
        for k, (x, extras) in zip(slots, picks, strict=False):
            out[k] = suggestion_from_unit(ctx, mf, x, extras={**extras,
                                                              "phase": "initial-front"})
        return out


__all__ = ["CFMESMO", "FRONT_MIN_OBSERVATIONS", "INIT_FULL_SHARE", "front_picks",
           "initial_full_count", "kriging_believer"]

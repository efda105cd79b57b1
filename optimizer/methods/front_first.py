r"""CF-MESMO's *front first* picks under objective thresholds (``optimizer.methods.cfmesmo``,
option ``seek_feasible``): full-fidelity designs most likely to enter the study's front while
no full-fidelity result meets every threshold.

A study reports the front of its full-fidelity results that meet the thresholds, so until one
does it reports nothing. ``front_picks`` takes members of the model's predicted front that are
predicted to meet the thresholds (greedily by the hypervolume their means add, as the study's
confirmation trials do) and fills a shortfall with the designs of highest probability of
meeting them under the posterior, :math:`\prod_j \Phi((\mu_j - t_j) / \sigma_j)`
(``optimizer.posterior_front.feasibility_probability``).
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.model import Model
from torch import Tensor
from torch.quasirandom import SobolEngine

from optimizer.context import SuggestContext
from optimizer.methods.believer import kriging_believer
from optimizer.methods.mf_common import MFData, near_any
from optimizer.posterior_front import (
    PredictedFront,
    confirmation_picks,
    feasibility_probability,
    meets_thresholds,
    posterior_pareto_set,
    thresholds_max,
    within_thresholds,
)
from optimizer.space import UNIT_TARGET, unit_at_target

FRONT_MIN_OBSERVATIONS = 2
"""Fewest observations the full-fidelity designs of the cheap-first initial design are chosen
from (``front_picks``); with fewer they are the design's own Sobol points."""


def has_feasible_full(ctx: SuggestContext, mf: MFData) -> bool:
    """Whether a full-fidelity observation meets every objective threshold."""
    full = mf.full_fidelity_mask()
    return bool(meets_thresholds(mf.data.Y[full], thresholds_max(ctx.objectives)).any())


def _predicted(ctx: SuggestContext, front: PredictedFront, i: int) -> dict[str, Any]:
    """Member ``i``'s posterior in the objectives' units: ``{name: {"mean", "sd"}}``."""
    return {o.name: {"mean": float(front.mean[i, j]) * o.sign, "sd": float(front.std[i, j])}
            for j, o in enumerate(ctx.objectives)}


FRONT_MIN_PROBABILITY = 0.05
"""Least probability of meeting every threshold (under the posterior) of a *likely feasible*
pick after the initial design (``front_picks(min_probability=...)``): below it no design is
worth a full-fidelity evaluation for the front's sake and CF-MESMO resumes, so thresholds that
no design meets do not spend the budget at the target fidelity."""

FEASIBLE_CANDIDATES = 512
"""Sobol designs among which the likely feasible picks are searched (beside the predicted
front's members and the evaluated designs)."""


def front_picks(model: Model, ctx: SuggestContext, mf: MFData, n: int, pending: Tensor, *,
                fallback: int = 0, min_probability: float = 0.0
                ) -> list[tuple[Tensor, dict[str, Any]]]:
    """Up to ``n`` full-fidelity designs most likely to enter the study's front (module
    docstring): members of ``model``'s predicted front at the target fidelity
    (``optimizer.posterior_front.posterior_pareto_set``, the evaluated designs added) whose
    posterior means meet every threshold and that are neither evaluated nor pending at the
    target fidelity, picked greedily by the hypervolume their means add to the means of the
    pending target-fidelity points that meet the thresholds
    (``optimizer.posterior_front.confirmation_picks``); with fewer than ``fallback`` such
    members, the *likely feasible* designs fill up to ``fallback`` (``_likely_feasible``).

    Args:
        model: The objective model over ``(x, z)`` (maximization form).
        ctx: The call's context (objectives and their thresholds, space, seed).
        mf: Its training tensors.
        n: Picks wanted.
        pending: ``p x D`` pending points (fidelity last).
        fallback: Least number of picks (at most ``n``): a shortfall of predicted-feasible
            members is filled by the designs of highest probability of meeting the
            thresholds, one after the other (the initial design: ``n``; after it: 1, so a
            failed full-fidelity pick is followed by the design most likely to succeed
            rather than by plain CF-MESMO).
        min_probability: Least probability of such a filling pick; none below it.

    Returns:
        ``(x, extras)`` per pick: ``x`` the ``D``-dim unit point at the target fidelity,
        ``extras`` with ``phase = "cf-mesmo-front"``, the posterior ``predicted``
        ``{objective: {"mean", "sd"}}`` at it and its ``feasibility_probability`` (for a
        filling pick, its score in ``_likely_feasible``); at most ``n``, possibly none.
    """
    assert mf.fidelity_dim is not None
    d = mf.d
    full = mf.full_fidelity_mask()
    z = UNIT_TARGET if full.any() else float(mf.data.X[:, mf.fidelity_dim].max())
    front = posterior_pareto_set(model, ctx.space, fidelity_dim=mf.fidelity_dim,
                                 X_extra=mf.data.X[:, :d], seed=ctx.rng_seed(0xF7), fidelity=z)
    t = thresholds_max(ctx.objectives)
    pend_full = pending[unit_at_target(pending[:, mf.fidelity_dim])] if pending.numel() \
        else pending.reshape(0, mf.D)
    taken = torch.cat([mf.data.X[full, :d], pend_full[:, :d]])
    with torch.no_grad():
        base = model.posterior(_target_points(pend_full[:, :d], z)).mean \
            if pend_full.shape[0] else torch.zeros(0, len(ctx.objectives), dtype=torch.double)
    base = base[meets_thresholds(base, t)]
    feasible = within_thresholds(front, t)
    chosen = confirmation_picks(feasible, n, objectives=ctx.objectives, Y_full=base,
                                skip=near_any(feasible.X, taken)) if feasible.X.shape[0] else []
    picks = [(feasible, i, float(p)) for i, p in zip(
        chosen, feasibility_probability(feasible, t)[chosen].tolist(), strict=True)]
    want = min(n, fallback) - len(picks)
    if want > 0:
        low = mf.data.X[~full, mf.fidelity_dim]
        fids = [z, float(low.max())] if full.any() and low.numel() else [z]
        picks += _likely_feasible(model, ctx, mf, want, fids, front,
                                  torch.cat([taken, feasible.X[chosen]]),
                                  torch.cat([pend_full[:, :d], feasible.X[chosen]]),
                                  min_probability)
    return [(_target_points(f.X[i:i + 1], UNIT_TARGET)[0],
             {"phase": "cf-mesmo-front", "predicted": _predicted(ctx, f, i),
              "predicted_at_fidelity": float(ctx.space.fidelity_from_unit(torch.tensor(z))),
              "feasibility_probability": p})
            for f, i, p in picks]


def _likely_feasible(model: Model, ctx: SuggestContext, mf: MFData, n: int,
                     fidelities: list[float], front: PredictedFront, taken: Tensor,
                     believed: Tensor, min_probability: float
                     ) -> list[tuple[PredictedFront, int, float]]:
    r"""Up to ``n`` designs of highest probability of meeting every threshold
    (``feasibility_probability``), greedily.

    The score of a design is the smallest of its probabilities at the unit ``fidelities``:
    the target and, once a target-fidelity result exists, the highest lower fidelity
    observed. With one or two target-fidelity results the fidelity lengthscale is hardly
    identified and the posterior at the target is near the prior away from them, so its
    probability alone favours the designs the model knows least (toy of the tests: a design
    whose cheap result missed the threshold by 0.55 scored 0.37 at the target); the lower
    fidelity, where the data are, must agree. Each pick is scored under ``model`` conditioned
    on the kriging-believer fantasies of ``believed`` (``k x d``: the pending target-fidelity
    designs and the picks before it) at the target, whose shrunk variance lowers the
    probability next to a design in flight whose mean misses the thresholds. Candidates: the
    predicted ``front``'s members, ``FEASIBLE_CANDIDATES`` Sobol designs and the evaluated
    designs, less those within ``REPEAT_TOL`` of ``taken`` (``k' x d``); none scoring below
    ``min_probability``.

    Returns:
        ``(member, 0, score)`` per pick: ``member`` a one-design ``PredictedFront`` (its
        posterior at ``fidelities[0]`` under the conditioned model).
    """
    d = mf.d
    sobol = SobolEngine(d, scramble=True, seed=ctx.rng_seed(0xFE) % 2**31).draw(
        FEASIBLE_CANDIDATES, dtype=torch.double)
    cand = torch.cat([front.X, ctx.space.round_unit(sobol), mf.data.X[:, :d]])
    if ctx.space.constraints:
        cand = cand[ctx.space.feasible_unit(cand)]
    t = thresholds_max(ctx.objectives)
    out: list[tuple[PredictedFront, int, float]] = []
    for _ in range(n):
        cand = cand[~near_any(cand, taken)]
        if not cand.shape[0]:
            break
        cond = kriging_believer(model, _target_points(believed, UNIT_TARGET))
        at: list[PredictedFront] = []
        with torch.no_grad():
            for fz in fidelities:
                post = cond.posterior(_target_points(cand, fz))
                at.append(PredictedFront(X=cand, mean=post.mean,
                                         std=post.variance.clamp_min(0.0).sqrt()))
        score = torch.stack([feasibility_probability(f, t) for f in at]).min(dim=0).values
        i = int(score.argmax())
        if float(score[i]) < min_probability:
            break
        out.append((PredictedFront(X=cand[i:i + 1], mean=at[0].mean[i:i + 1],
                                   std=at[0].std[i:i + 1]), 0, float(score[i])))
        taken = torch.cat([taken, cand[i:i + 1]])
        believed = torch.cat([believed, cand[i:i + 1]])
    return out


def _target_points(Xd: Tensor, z: float) -> Tensor:
    """``k x d`` designs as ``k x D`` unit points at the unit fidelity ``z``."""
    return torch.cat([Xd, torch.full((Xd.shape[0], 1), z, dtype=Xd.dtype)], dim=-1)


__all__ = ["FEASIBLE_CANDIDATES", "FRONT_MIN_OBSERVATIONS", "FRONT_MIN_PROBABILITY",
           "front_picks", "has_feasible_full"]

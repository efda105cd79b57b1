r"""CF-MESMO's ``min_full_share`` slots as *front-gain* picks: the full-fidelity evaluation goes
to the design the model predicts to add the most to the study's evaluated front.

The study reports only full-fidelity results, so what CF-MESMO learns at low fidelities reaches
the reported front only when a design it found is evaluated at the target. Confirmation trials
(``confirm_top_k``) do that at the end of a trial budget only; until then, or under a wall
budget that ends first, the front lags what the model knows (crossbar digits-cnn, seed 0,
docs/decisions.md: designs seen at the analytic tier at accuracy 0.91 and 0.0025 µJ waited for
the last three trials, while the two information-seeking full-fidelity picks in between came out
at accuracy 0.24 and at a dominated point). ``front_gain_pick`` takes the member of the
predicted front at the target fidelity (``optimizer.posterior_front.posterior_pareto_set``,
evaluated designs added) that meets the thresholds by its mean and whose mean adds the most
hypervolume to the evaluated full-fidelity results meeting them and the means of the target-
fidelity points in flight; ``None`` when no member adds any, and the slot stays CF-MESMO's
information-gain search at the target fidelity.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.model import Model
from torch import Tensor

from optimizer.context import SuggestContext
from optimizer.encoding import ref_point_max
from optimizer.methods.mf_common import MFData, near_any
from optimizer.pareto import hypervolume
from optimizer.posterior_front import (
    meets_thresholds,
    posterior_pareto_set,
    thresholds_max,
    within_thresholds,
)
from optimizer.space import UNIT_TARGET, unit_at_target

MIN_GAIN_SHARE = 1e-3
"""Least predicted hypervolume gain of a front-gain pick, as a share of the hypervolume of the
base it adds to (the evaluated front and the points in flight): below it a pick is a
rounding-level change and the slot goes to the information-gain search."""


def front_gain_pick(model: Model, ctx: SuggestContext, mf: MFData, in_flight: Tensor
                    ) -> tuple[Tensor, dict[str, Any]] | None:
    """The full-fidelity design whose posterior mean adds the most to the evaluated front
    (module docstring), or ``None``.

    Args:
        model: The objective model over ``(x, z)`` (maximization form), conditioned on the
            points in flight or not (their means are the same).
        ctx: The call's context (objectives, thresholds, space, seed).
        mf: Its training tensors (fidelity last).
        in_flight: ``p x D`` pending points and earlier picks of the batch (fidelity last).

    Returns:
        ``(x, extras)``: ``x`` the ``D``-dim unit point at the target fidelity, ``extras`` with
        ``phase = "cf-mesmo-front-gain"``, the posterior ``predicted`` ``{objective: {"mean",
        "sd"}}`` and the ``predicted_hv_gain`` (maximization form, the study's objectives'
        units); ``None`` when no member gains at least ``MIN_GAIN_SHARE``.
    """
    assert mf.fidelity_dim is not None
    d, m = mf.d, len(ctx.objectives)
    t = thresholds_max(ctx.objectives)
    full = mf.full_fidelity_mask()
    Y_full = mf.data.Y[full]
    flight = in_flight[unit_at_target(in_flight[:, mf.fidelity_dim])] if in_flight.numel() \
        else in_flight.reshape(0, mf.D)
    with torch.no_grad():
        believed = model.posterior(flight).mean if flight.shape[0] \
            else torch.zeros(0, m, dtype=torch.double)
    base = torch.cat([Y_full, believed])
    base = base[meets_thresholds(base, t)]
    front = within_thresholds(posterior_pareto_set(
        model, ctx.space, fidelity_dim=mf.fidelity_dim, X_extra=mf.data.X[:, :d],
        seed=ctx.rng_seed(0xF9)), t)
    taken = torch.cat([mf.data.X[full, :d], flight[:, :d]])
    left = ~near_any(front.X, taken)
    if not bool(left.any()):
        return None
    ref = ref_point_max(ctx.objectives, torch.cat([Y_full, front.mean])).tolist()
    maximize = ["maximize"] * m
    hv0 = hypervolume(base, maximize, ref) if base.shape[0] else 0.0
    gains = torch.tensor([hypervolume(torch.cat([base, front.mean[i:i + 1]]), maximize, ref)
                          - hv0 if bool(left[i]) else -1.0 for i in range(front.X.shape[0])])
    i = int(gains.argmax())
    if float(gains[i]) <= MIN_GAIN_SHARE * max(hv0, 1e-12):
        return None
    x = torch.cat([front.X[i], torch.tensor([UNIT_TARGET], dtype=front.X.dtype)])
    predicted = {o.name: {"mean": float(front.mean[i, j]) * o.sign,
                          "sd": float(front.std[i, j])} for j, o in enumerate(ctx.objectives)}
    return x, {"phase": "cf-mesmo-front-gain", "predicted": predicted,
               "predicted_hv_gain": float(gains[i])}


__all__ = ["MIN_GAIN_SHARE", "front_gain_pick"]

r"""The Pareto set a model predicts: NSGA-II on the posterior mean at the target fidelity.

What a multi-fidelity method *found* is the Pareto set of its model's posterior mean at the
target fidelity [Daulton2023]_, searched over the whole (continuous) design space, as BoTorch's
multi-fidelity tutorials do with NSGA-II, rather than ranked among a fixed candidate set (whose
own front can sit well below the true one). ``posterior_pareto_set`` runs pymoo's NSGA-II on
the mean over the continuous relaxation of the unit cube, rounds the final population to
representable designs (level columns), adds the caller's designs (e.g. the evaluated ones)
and keeps the subset that is non-dominated under the mean. A finite space of at most
``enumerate_up_to`` points is enumerated instead (exact).

``study_front`` is the service's entry point (``GET /studies/{id}/pareto?source=predicted`` and
the confirmation trials): it fits ``optimizer.surrogates.fit_objective_model`` to every
observation (any fidelity, the unit fidelity as the last input column, as ``cf-mesmo`` does),
searches its mean at the target fidelity with the evaluated designs added, and drops members
below an objective threshold. ``confirmation_picks`` ranks the members not evaluated yet by
the hypervolume their posterior means add, greedily, to the evaluated full-fidelity front.

References:
    .. [Daulton2023] S. Daulton, M. Balandat, E. Bakshy. Hypervolume knowledge gradient: a
       lookahead approach for multi-objective Bayesian optimization with partial
       information. ICML 2023.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from botorch.models.model import Model
from botorch.utils.multi_objective.pareto import is_non_dominated
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.problem import Problem
from pymoo.optimize import minimize
from torch import Tensor

from optimizer.encoding import encode_observations, ref_point_max
from optimizer.errors import OptimizerError
from optimizer.methods.mf_common import near_any
from optimizer.pareto import hypervolume
from optimizer.space import UNIT_TARGET, SearchSpace
from optimizer.surrogates import fit_objective_model
from optimizer.types import Objective, Observation

__all__ = ["PredictedFront", "all_designs", "confirmation_picks", "evaluated_mask",
           "feasibility_probability", "meets_thresholds", "posterior_pareto_set",
           "study_front", "thresholds_max", "within_thresholds"]


@dataclass(frozen=True, kw_only=True)
class PredictedFront:
    """A predicted Pareto set.

    Attributes:
        X: ``k x d`` unit-cube designs (no fidelity column).
        mean: ``k x m`` posterior means at the target fidelity (maximization form).
        std: ``k x m`` posterior standard deviations (latent, no observation noise).
    """

    X: Tensor
    mean: Tensor
    std: Tensor


def all_designs(space: SearchSpace) -> Tensor:
    """Every design of a finite space, ``N x d`` unit cube (level centres)."""
    levels = space.discrete_levels
    axes = [(torch.arange(levels[i], dtype=torch.double) + 0.5) / levels[i]
            for i in range(space.dim)]
    return torch.cartesian_prod(*axes).reshape(-1, space.dim)


def _at_target(X: Tensor, fidelity_dim: int | None, fidelity: float = UNIT_TARGET) -> Tensor:
    if fidelity_dim is None:
        return X
    return torch.cat([X, torch.full((X.shape[0], 1), fidelity, dtype=X.dtype)], dim=-1)


def _mean(model: Model, X: Tensor, fidelity_dim: int | None,
          fidelity: float = UNIT_TARGET) -> Tensor:
    with torch.no_grad():
        return model.posterior(_at_target(X, fidelity_dim, fidelity)).mean  # n x m


class _MeanProblem(Problem):
    """pymoo problem: minimize the negated posterior mean; infeasible designs violate ``G``."""

    def __init__(self, model: Model, space: SearchSpace, fidelity_dim: int | None,
                 m: int, fidelity: float = UNIT_TARGET) -> None:
        self.model, self.space, self.fidelity_dim = model, space, fidelity_dim
        self.fidelity = fidelity
        n_constr = 1 if space.constraints else 0
        super().__init__(n_var=space.dim, n_obj=m, n_ieq_constr=n_constr, xl=0.0, xu=1.0)

    def _evaluate(self, x: np.ndarray, out: dict, *args: object, **kwargs: object) -> None:
        X = self.space.round_unit(torch.as_tensor(x, dtype=torch.double))
        out["F"] = (-_mean(self.model, X, self.fidelity_dim, self.fidelity)).numpy()
        if self.space.constraints:
            out["G"] = (~self.space.feasible_unit(X)).double().numpy().reshape(-1, 1) - 0.5


def posterior_pareto_set(model: Model, space: SearchSpace, *, fidelity_dim: int | None,
                         X_extra: Tensor | None = None, seed: int = 0, pop_size: int = 64,
                         n_gen: int = 60, enumerate_up_to: int = 1024,
                         fidelity: float = UNIT_TARGET) -> PredictedFront:
    """The Pareto set of the posterior mean at the target fidelity (module docstring), or at
    the unit ``fidelity`` given.

    Args:
        model: A fitted model with ``m`` outputs in maximization form over ``d`` design
            columns (plus the unit fidelity as column ``fidelity_dim``).
        space: The search space (rounding, constraints, finite spaces).
        fidelity_dim: Column of the unit fidelity in the model's inputs, or ``None``.
        X_extra: ``n x d`` designs added to the search's result (e.g. the evaluated ones).
        seed: NSGA-II seed.
        pop_size, n_gen: NSGA-II population and generations (``pop_size * n_gen`` mean
            evaluations).
        enumerate_up_to: Finite spaces with at most this many designs are enumerated.
        fidelity: Unit fidelity the mean is searched at (default the target, 1).

    Returns:
        The non-dominated designs with their posterior means and standard deviations there.
    """
    m = model.num_outputs
    if space.cardinality is not None and space.cardinality <= enumerate_up_to:
        cand = all_designs(space)
    else:
        res = minimize(_MeanProblem(model, space, fidelity_dim, m, fidelity),
                       NSGA2(pop_size=pop_size), ("n_gen", n_gen), seed=seed % 2**31,
                       verbose=False)
        pop = np.atleast_2d(res.pop.get("X"))
        cand = space.round_unit(torch.as_tensor(pop, dtype=torch.double))
    if X_extra is not None and X_extra.numel():
        cand = torch.cat([cand, X_extra.double().reshape(-1, space.dim)])
    if space.constraints:
        ok = space.feasible_unit(cand)
        cand = cand[ok] if ok.any() else cand
    cand = torch.unique(cand, dim=0)
    with torch.no_grad():
        post = model.posterior(_at_target(cand, fidelity_dim, fidelity))
        mean, var = post.mean, post.variance
    keep = is_non_dominated(mean)
    return PredictedFront(X=cand[keep], mean=mean[keep], std=var[keep].clamp_min(0).sqrt())


def within_thresholds(front: PredictedFront, thresholds: Tensor) -> PredictedFront:
    """The members of ``front`` whose posterior mean meets every objective threshold.

    Args:
        front: A predicted front (means in maximization form).
        thresholds: ``m`` worst acceptable values in maximization form (a minimized
            objective's threshold negated); ``-inf`` where an objective has none.

    Returns:
        The subset (possibly empty) with ``mean >= thresholds`` in every objective; the
        removed designs were dominated by none of the kept ones, so the subset stays a front.
    """
    keep = (front.mean >= thresholds.to(front.mean)).all(dim=-1)
    return PredictedFront(X=front.X[keep], mean=front.mean[keep], std=front.std[keep])


def thresholds_max(objectives: Sequence[Objective]) -> Tensor:
    """``m`` objective thresholds in maximization form, ``-inf`` where an objective has none."""
    return torch.tensor([-math.inf if o.threshold is None else float(o.threshold) * o.sign
                         for o in objectives], dtype=torch.double)


def meets_thresholds(Y: Tensor, thresholds: Tensor) -> Tensor:
    """``n`` mask of the rows of ``Y`` (``n x m``, maximization form) that meet every
    threshold (``thresholds_max``; equal passes)."""
    return (Y >= thresholds.to(Y)).all(dim=-1)


def feasibility_probability(front: PredictedFront, thresholds: Tensor) -> Tensor:
    r"""``k`` probabilities that each member meets every threshold under its posterior,
    :math:`\prod_j \Phi((\mu_j - t_j) / \sigma_j)` over the thresholded objectives
    (independent outputs; a member with :math:`\sigma_j = 0` counts 1 or 0)."""
    t = thresholds.to(front.mean)
    has = torch.isfinite(t)
    if not bool(has.any()):
        return torch.ones(front.mean.shape[0], dtype=front.mean.dtype)
    mu, sd = front.mean[:, has], front.std[:, has]
    z = (mu - t[has]) / sd.clamp_min(1e-12)
    return torch.special.ndtr(z).prod(dim=-1)


def study_front(space: SearchSpace, objectives: Sequence[Objective],
                observations: Sequence[Observation], *, seed: int = 0
                ) -> tuple[PredictedFront, Model]:
    """The predicted Pareto set of a study (module docstring) and the model it comes from.

    Args:
        space: The study's search space.
        objectives: Its objectives (thresholds applied to the posterior mean).
        observations: Every completed evaluation, any fidelity.
        seed: NSGA-II seed.

    Returns:
        ``(front, model)``: ``front.mean``/``front.std`` (``k x m``, maximization form) are the
        posterior at the target fidelity of ``model``, whose inputs are the ``d`` unit-cube
        design columns plus the unit fidelity when the space has a fidelity range.

    Raises:
        OptimizerError: without a finite observation.
    """
    fidelity_dim = space.dim if space.has_fidelity else None
    data = encode_observations(space, objectives, observations,
                               with_fidelity=fidelity_dim is not None)
    if data.n == 0:
        raise OptimizerError("observations: the predicted front needs at least one finite "
                             "observation.")
    model = fit_objective_model(data.X, data.Y, data.Yvar, fidelity_dim)
    front = posterior_pareto_set(model, space, fidelity_dim=fidelity_dim,
                                 X_extra=data.X[:, :space.dim], seed=seed)
    return within_thresholds(front, thresholds_max(objectives)), model


def confirmation_picks(front: PredictedFront, n: int, *, objectives: Sequence[Objective],
                       Y_full: Tensor, skip: Tensor) -> list[int]:
    """Up to ``n`` members of ``front`` to evaluate at full fidelity, best first.

    Greedy: each pick is the member (not in ``skip``, not picked) whose posterior mean adds
    the most hypervolume to the evaluated full-fidelity values and the earlier picks' means;
    ties (e.g. no gain left) go to the largest summed standard deviation. The reference point
    is ``optimizer.encoding.ref_point_max`` over ``Y_full`` and the front's means.

    Args:
        front: The predicted front (maximization form).
        n: Picks wanted, ``>= 0``.
        objectives: The objectives (their ``ref_point`` where given).
        Y_full: ``f x m`` evaluated full-fidelity values, maximization form (``f`` may be 0).
        skip: ``k`` mask of members not to pick (evaluated or pending at full fidelity).

    Returns:
        Row indices into ``front``, at most ``n``, no member twice.
    """
    m = front.mean.shape[-1]
    maximize = ["maximize"] * m
    ref = ref_point_max(objectives, torch.cat([Y_full.reshape(-1, m), front.mean]))
    ref_list = ref.tolist()
    chosen: list[int] = []
    base = Y_full.reshape(-1, m)
    left = [i for i in range(front.X.shape[0]) if not bool(skip[i])]
    spread = front.std.sum(dim=-1)
    while left and len(chosen) < n:
        hv0 = hypervolume(base, maximize, ref_list)
        gains = [hypervolume(torch.cat([base, front.mean[i:i + 1]]), maximize, ref_list) - hv0
                 for i in left]
        best = max(range(len(left)), key=lambda j: (gains[j], float(spread[left[j]])))
        i = left.pop(best)
        chosen.append(i)
        base = torch.cat([base, front.mean[i:i + 1]])
    return chosen


def evaluated_mask(space: SearchSpace, front: PredictedFront,
                   params: Sequence[dict[str, object]]) -> Tensor:
    """``k`` mask of the members of ``front`` equal (``mf_common.REPEAT_TOL`` in the unit
    cube) to one of the designs ``params`` (e.g. those evaluated at full fidelity)."""
    if not params:
        return torch.zeros(front.X.shape[0], dtype=torch.bool)
    return near_any(front.X, space.to_unit_batch(list(params)))

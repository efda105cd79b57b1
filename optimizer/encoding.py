r"""Observations and pending suggestions as tensors for model-based methods.

Conventions (shared by every model-based method):

- ``X``: ``n x d`` double, the unit-cube encoding of ``SearchSpace`` (see ``optimizer.space``);
  with ``with_fidelity=True`` a last column holds the fidelity mapped to ``[0, 1]`` by
  ``space.fidelity_to_unit`` (so the target fidelity is ``optimizer.space.UNIT_TARGET``,
  1.0), giving ``n x (d + 1)``.
- ``Y``: ``n x m`` double in *maximization* form: each objective column multiplied by its
  ``Objective.sign`` (+1 maximize, -1 minimize), columns in ``objectives`` order.
- Rows with a non-finite objective value are dropped (logged), never imputed.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from optimizer.pareto import default_ref_point
from optimizer.space import SearchSpace
from optimizer.types import Objective, Observation, Suggestion

logger = logging.getLogger(__name__)

OVERHEAD_WINDOW = 8
"""Observations whose ``overhead_s`` make ``TrainingData.overhead_s`` (the latest ones: the
time of a ``suggest()`` call grows with the history, its model fits being cubic in it)."""


@dataclass(frozen=True, kw_only=True)
class TrainingData:
    """Tensors of the observations a model is fitted on.

    Attributes:
        X: ``n x d`` (or ``n x (d + 1)`` with the unit fidelity last) unit-cube inputs.
        Y: ``n x m`` objective values in maximization form.
        fidelity: ``n`` fidelities in the space's own scale (not unit-mapped).
        cost_s: ``n`` measured costs [s].
        Yvar: ``n x m`` known noise variances of ``Y`` (``Observation.variances``; NaN where
            not given), or ``None`` when no observation gives one.
        overhead_s: Per-evaluation overhead [s]: the median ``Observation.overhead_s`` of the
            last ``OVERHEAD_WINDOW`` observations that give one (0 when none does).
    """

    X: Tensor
    Y: Tensor
    fidelity: Tensor
    cost_s: Tensor
    Yvar: Tensor | None = None
    overhead_s: float = 0.0

    @property
    def n(self) -> int:
        return self.X.shape[0]


def objective_signs(objectives: Sequence[Objective]) -> Tensor:
    """``m`` tensor of +1 (maximize) / -1 (minimize)."""
    return torch.tensor([o.sign for o in objectives], dtype=torch.double)


def encode_observations(
    space: SearchSpace,
    objectives: Sequence[Objective],
    observations: Sequence[Observation],
    *,
    full_fidelity_only: bool = False,
    with_fidelity: bool = False,
) -> TrainingData:
    """Encode observations (see the module docstring for the conventions).

    Args:
        full_fidelity_only: Keep only observations at the space's target fidelity.
        with_fidelity: Append the unit fidelity as the last column of ``X``.
    """
    rows_x, rows_y, fids, costs, rows_var = [], [], [], [], []
    dropped = 0
    for ob in observations:
        if full_fidelity_only and not space.is_target(ob.fidelity):
            continue
        y = [float(ob.values[o.name]) * o.sign for o in objectives]
        if not all(math.isfinite(v) for v in y):
            dropped += 1
            continue
        rows_x.append(space.to_unit(ob.params))
        rows_y.append(y)
        fids.append(float(ob.fidelity))
        costs.append(float(ob.cost_s))
        var = ob.variances or {}
        rows_var.append([float(var.get(o.name, math.nan)) for o in objectives])
    if dropped:
        logger.warning("dropped %d observation(s) with non-finite objective values", dropped)
    d, m = space.dim, len(objectives)
    X = torch.stack(rows_x) if rows_x else torch.empty(0, d, dtype=torch.double)
    fidelity = torch.tensor(fids, dtype=torch.double)
    if with_fidelity:
        X = torch.cat([X, space.fidelity_to_unit(fidelity).unsqueeze(-1)], dim=-1)
    Y = torch.tensor(rows_y, dtype=torch.double).reshape(-1, m)
    Yvar = torch.tensor(rows_var, dtype=torch.double).reshape(-1, m)
    return TrainingData(X=X, Y=Y, fidelity=fidelity,
                        cost_s=torch.tensor(costs, dtype=torch.double),
                        Yvar=Yvar if bool(torch.isfinite(Yvar).any()) else None,
                        overhead_s=recent_overhead_s(observations))


def recent_overhead_s(observations: Sequence[Observation]) -> float:
    """Median ``overhead_s`` [s] of the last ``OVERHEAD_WINDOW`` observations that give one
    (``suggest()`` has checked them: finite, ``>= 0``); 0 when none does."""
    known = [float(o.overhead_s) for o in observations if o.overhead_s is not None]
    return statistics.median(known[-OVERHEAD_WINDOW:]) if known else 0.0


def encode_pending(space: SearchSpace, pending: Sequence[Suggestion], *,
                   with_fidelity: bool = False) -> Tensor:
    """``p x d`` (or ``p x (d + 1)``) unit-cube tensor of pending points."""
    X = space.to_unit_batch([p.params for p in pending])
    if with_fidelity:
        z = torch.tensor([float(p.fidelity) for p in pending], dtype=torch.double)
        X = torch.cat([X, space.fidelity_to_unit(z).reshape(-1, 1)], dim=-1)
    return X


def ref_point_max(objectives: Sequence[Objective], Y_max: Tensor) -> Tensor:
    """Reference point in maximization form, ``m``.

    Each objective's ``ref_point`` when given; otherwise that coordinate of
    ``optimizer.pareto.default_ref_point`` over ``Y_max`` (nadir minus 10% of the range).
    """
    auto: Tensor | None = None
    out = []
    for j, o in enumerate(objectives):
        if o.ref_point is not None:
            out.append(float(o.ref_point) * o.sign)
            continue
        if auto is None:
            auto = torch.tensor(
                default_ref_point(Y_max, ["maximize"] * len(objectives)), dtype=torch.double
            )
        out.append(float(auto[j]))
    return torch.tensor(out, dtype=torch.double)

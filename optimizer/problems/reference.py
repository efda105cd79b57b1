r"""Numerical estimates of a problem's maximum hypervolume at full fidelity.

BoTorch's stored ``_max_hv`` of the MOMF problems does not match their full-fidelity fronts:
for ``MOMFBraninCurrin`` it is 0.52355, while a 2001 x 2001 grid at s = 1 reaches only 0.50293
and NSGA-II 0.5037 (the value is not the all-fidelity front either: a grid over (x, s) gives
0.5295); for ``MOMFPark`` it is 0.08552 while NSGA-II at s = 1 reaches 0.08982 (so regret
against BoTorch's value would go negative). ``optimizer.problems`` therefore uses the estimates
below as ``max_hv`` and keeps BoTorch's constant as ``botorch_max_hv``.

``estimate_max_hv`` reproduces them: NSGA-II (pymoo) on the true function at the target
fidelity, several seeds, hypervolume of the union of the final populations. The result is a
lower bound of the true maximum that converges from below as population and generations grow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from optimizer.pareto import hypervolume

MOMF_MAX_HV: dict[str, float] = {
    "MOMFBraninCurrin": 0.5036740648388055,
    "MOMFPark": 0.08981946664291324,
}
"""``estimate_max_hv(..., seeds=3)`` of the negated (maximized) MOMF problems at s = 1 with
reference point (0, 0): Branin-Currin with ``pop_size=300, n_gen=400``, Park with
``pop_size=1000, n_gen=500``."""


def estimate_max_hv(
    function: Callable[[Tensor], Tensor],
    dim: int,
    directions: list[str],
    ref_point: list[float],
    *,
    pop_size: int = 1000,
    n_gen: int = 500,
    seeds: int = 3,
) -> float:
    """Hypervolume of the union of NSGA-II final populations on ``function``.

    Args:
        function: ``n x dim`` unit-cube points to ``n x m`` raw objective values.
        dim: Number of design dimensions.
        directions: Per objective ``"minimize"``/``"maximize"``.
        ref_point: Reference point in the objectives' own units.
        pop_size: NSGA-II population size.
        n_gen: Generations per run.
        seeds: Independent runs (seeds ``0 .. seeds - 1``).
    """
    # pymoo (~0.7 s to import) is needed only to re-estimate the stored values; every import of
    # optimizer.problems (the service's catalog) would pay for it at module level.
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    signs = np.array([1.0 if d == "maximize" else -1.0 for d in directions])

    class _Problem(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=dim, n_obj=len(directions), xl=np.zeros(dim),
                             xu=np.ones(dim))

        def _evaluate(self, X: np.ndarray, out: dict, *args: object, **kwargs: object) -> None:
            Y = function(torch.as_tensor(X, dtype=torch.double)).numpy()
            out["F"] = -Y * signs

    fronts = []
    for seed in range(seeds):
        res = minimize(_Problem(), NSGA2(pop_size=pop_size), ("n_gen", n_gen), seed=seed,
                       verbose=False)
        fronts.append(-res.F * signs)
    Y = torch.as_tensor(np.concatenate(fronts), dtype=torch.double)
    return hypervolume(Y, directions, ref_point)

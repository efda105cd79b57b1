r"""``nsga2``: NSGA-II [Deb2002]_ from pymoo, driven statelessly through ask/tell.

The optimizer keeps no state between calls, so every call rebuilds the population by
*replaying* the study's history into a fresh ``pymoo`` NSGA-II seeded with the study seed:

1. Take the full-fidelity observations in the order given (the service passes them in completion
   order). While fewer than ``pop_size`` exist, suggestions are the study's Sobol points (the
   initial population is a Sobol design, continued like the ``sobol`` method).
2. The first ``pop_size`` observations are told as the initial population; every following
   chunk of ``pop_size`` observations is told as one generation of offspring (merged with the
   population, then rank-and-crowding survival). A last partial chunk is told as a smaller
   generation. The population therefore depends on the observations only, never on how they
   were asked for, and the same history always gives the same population.
3. ``ask()`` then yields offspring (SBX crossover, polynomial mutation on the unit cube; level
   columns snapped to their bins and infeasible children replaced by feasible uniform draws by a
   repair operator). Offspring equal to an observed or a pending point are skipped, so points
   already handed out are never re-asked: with an unchanged history the offspring stream is the
   same as in the previous call and the pending points are exactly its first members.

Observations at a lower fidelity are ignored (single-fidelity method, always fidelity 1.0).

References:
    .. [Deb2002] K. Deb, A. Pratap, S. Agarwal, T. Meyarivan. A fast and elitist
       multiobjective genetic algorithm: NSGA-II. IEEE Trans. Evol. Comput. 6(2), 2002.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
from pymoo.core.evaluator import Evaluator
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.termination import NoTermination
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.problems.static import StaticProblem

from optimizer.context import SuggestContext
from optimizer.encoding import encode_observations, encode_pending
from optimizer.methods.options import DeclaredOptions, FloatRange, IntRange, OptionSpec
from optimizer.methods.sobol import feasible_sobol
from optimizer.space import SearchSpace
from optimizer.types import Suggestion

logger = logging.getLogger(__name__)

_MAX_ASKS = 50
_SAME_TOL = 1e-9


class SpaceRepair(Repair):
    """Snap level columns to bin centres; replace infeasible rows by feasible draws."""

    def __init__(self, space: SearchSpace, generator: torch.Generator) -> None:
        super().__init__()
        self.space = space
        self.generator = generator

    def _do(self, problem: Any, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        T = self.space.round_unit(torch.as_tensor(np.asarray(X, dtype=float)))
        bad = ~self.space.feasible_unit(T)
        if bad.any():
            T[bad] = self.space.sample_unit(int(bad.sum()), self.generator)
        return T.numpy()


@dataclass(frozen=True, kw_only=True)
class NSGA2(DeclaredOptions):
    """NSGA-II with the population replayed from the observations (see the module docstring).

    Attributes:
        pop_size: Population size and generation size, ``>= 4``.
        crossover_eta: SBX distribution index (pymoo default 15).
        mutation_eta: Polynomial-mutation distribution index (pymoo default 20).
    """

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "pop_size": IntRange(4),
        "crossover_eta": FloatRange(0.0, low_open=True),
        "mutation_eta": FloatRange(0.0, low_open=True),
    }

    pop_size: int = 20
    crossover_eta: float = 15.0
    mutation_eta: float = 20.0

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        space = ctx.space
        data = encode_observations(space, ctx.objectives, ctx.observations,
                                   full_fidelity_only=True)
        if data.n < self.pop_size or space.dim == 0:
            start = len(ctx.observations) + len(ctx.pending)
            X = feasible_sobol(space, ctx.seed, start, ctx.n)
            return [ctx.suggestion(p, extras={"phase": "initial-sobol"})
                    for p in space.from_unit_batch(X)]
        X = self._offspring(ctx, data.X.numpy(), (-data.Y).numpy())
        return [ctx.suggestion(p, extras={"phase": "nsga2"}) for p in space.from_unit_batch(X)]

    def _offspring(self, ctx: SuggestContext, X: np.ndarray, F: np.ndarray) -> torch.Tensor:
        space = ctx.space
        d, m = space.dim, len(ctx.objectives)
        problem = Problem(n_var=d, n_obj=m, xl=np.zeros(d), xu=np.ones(d))
        seed = ctx.seed % 2**32
        algo = PymooNSGA2(
            pop_size=self.pop_size,
            crossover=SBX(eta=self.crossover_eta, prob=0.9),
            mutation=PM(eta=self.mutation_eta),
            repair=SpaceRepair(space, torch.Generator().manual_seed(seed)),
            eliminate_duplicates=True,
        )
        algo.setup(problem, seed=seed, termination=NoTermination())

        def tell(lo: int, hi: int) -> None:
            pop = Population.new("X", X[lo:hi])
            Evaluator().eval(StaticProblem(problem, F=F[lo:hi]), pop)
            algo.tell(infills=pop)

        P = self.pop_size
        tell(0, P)
        for lo in range(P, X.shape[0], P):
            tell(lo, min(lo + P, X.shape[0]))

        taken = torch.cat([torch.as_tensor(X),
                           encode_pending(space, ctx.pending).reshape(-1, d)])
        picked: list[torch.Tensor] = []
        for _ in range(_MAX_ASKS):
            off = algo.ask()
            cand = torch.as_tensor(off.get("X"), dtype=torch.double)
            for x in space.round_unit(cand):
                pool = torch.cat([taken, *[p.unsqueeze(0) for p in picked]])
                if (pool - x).abs().amax(dim=-1).min() <= _SAME_TOL:
                    continue
                picked.append(x)
                if len(picked) == ctx.n:
                    return torch.stack(picked)
        logger.info("nsga2: offspring repeat known points; filling %d with uniform draws",
                    ctx.n - len(picked))
        fill = space.sample_unit(ctx.n - len(picked), ctx.generator())
        return torch.cat([torch.stack(picked).reshape(-1, d), fill])

r"""``optuna-tpe`` (alias ``optuna``) and ``optuna-nsga2``: Optuna samplers through ask/tell.

Each call builds an in-memory Optuna study with the objectives' directions, adds every
full-fidelity observation as a COMPLETE trial (``optuna.trial.create_trial`` with distributions
derived from the space) and every pending suggestion as a RUNNING trial, then calls
``study.ask()`` ``n`` times. Nothing is kept between calls.

Space mapping: ``float`` -> ``FloatDistribution(low, high, log)``, ``int`` ->
``IntDistribution(low, high)``, ``ordinal`` -> ``IntDistribution`` over the value *index* (so the
samplers see the order), ``categorical`` -> ``CategoricalDistribution``; ``fixed`` parameters
are added back afterwards. Asked points violating a linear constraint, or repeating a known
point of a finite space, are told as FAIL and asked again (up to ``max_retries``), then replaced
by a feasible uniform draw.

``optuna-nsga2`` replays generations like ``nsga2``: observation ``i`` (in the given order) gets
the generation ``i // population_size`` as the sampler's generation attribute.

Samplers are seeded from ``(seed, #observations, #pending)``. TPE runs with
``constant_liar=True`` so pending and just-asked trials push later asks elsewhere.

References:
    .. [Bergstra2011] J. Bergstra, R. Bardenet, Y. Bengio, B. Kégl. Algorithms for
       hyper-parameter optimization. NeurIPS 2011.
    .. [Akiba2019] T. Akiba, S. Sano, T. Yanase, T. Ohta, M. Koyama. Optuna: a next-generation
       hyperparameter optimization framework. KDD 2019.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from optimizer.context import SuggestContext
from optimizer.methods.options import DeclaredOptions, Flag, IntRange, OptionSpec
from optimizer.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Param,
    SearchSpace,
)
from optimizer.types import Suggestion

logger = logging.getLogger(__name__)


def _distribution(p: Param) -> Any:
    if isinstance(p, FloatParam):
        return FloatDistribution(p.low, p.high, log=p.log)
    if isinstance(p, IntParam):
        return IntDistribution(p.low, p.high)
    if isinstance(p, OrdinalParam):
        return IntDistribution(0, p.n_levels - 1)
    if isinstance(p, CategoricalParam):
        return CategoricalDistribution(list(p.choices))
    raise TypeError(f"no Optuna distribution for {type(p).__name__}")


def _to_optuna(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for p in space.free_params:
        out[p.name] = p.index(params[p.name]) if isinstance(p, OrdinalParam) else params[p.name]
    return out


def _from_optuna(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in space.params:
        if isinstance(p, FixedParam):
            out[p.name] = p.value
        elif isinstance(p, OrdinalParam):
            out[p.name] = p.values[int(params[p.name])]
        else:
            out[p.name] = params[p.name]
    return out


@dataclass(frozen=True, kw_only=True)
class _OptunaMethod(DeclaredOptions):
    max_retries: int = 20

    def _sampler(self, ctx: SuggestContext, seed: int) -> Any:
        raise NotImplementedError

    def _system_attrs(self, index: int) -> dict[str, Any]:
        return {}

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space = ctx.space
        dists = {p.name: _distribution(p) for p in space.free_params}
        study = optuna.create_study(
            directions=[o.direction for o in ctx.objectives],
            sampler=self._sampler(ctx, ctx.rng_seed() % 2**32),
        )
        full = ctx.full_fidelity_observations
        for i, ob in enumerate(full):
            study.add_trial(create_trial(
                params=_to_optuna(space, ob.params), distributions=dists,
                values=[float(ob.values[o.name]) for o in ctx.objectives],
                system_attrs=self._system_attrs(i),
            ))
        for pend in ctx.pending:
            study.add_trial(create_trial(params=_to_optuna(space, pend.params),
                                         distributions=dists, state=TrialState.RUNNING))
        avoid = space.cardinality is not None and ctx.can_avoid_duplicates()
        taken = ctx.taken_keys() if avoid else set()
        out: list[Suggestion] = []
        for _ in range(ctx.n):
            params = None
            for _ in range(self.max_retries + 1):
                trial = study.ask(dists)
                cand = space.validate_params(_from_optuna(space, trial.params),
                                             check_constraints=False)
                if space.feasible(cand) and not (avoid and space.key(cand) in taken):
                    params = cand
                    break
                study.tell(trial, state=TrialState.FAIL)
            if params is None:
                logger.info("%s: no feasible new point after %d asks; using a uniform draw",
                            ctx.method, self.max_retries + 1)
                params = space.sample(1, ctx.generator(len(out)))[0]
            taken.add(space.key(params))
            out.append(ctx.suggestion(params))
        return out


@dataclass(frozen=True, kw_only=True)
class OptunaTPE(_OptunaMethod):
    """Optuna's multi-objective TPE sampler.

    Attributes:
        n_startup_trials: Random trials before TPE takes over (Optuna default 10).
        multivariate: Model the parameters jointly (multivariate TPE; Optuna default off).
        max_retries: Re-asks when a point is infeasible or already known.
    """

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "max_retries": IntRange(0),
        "n_startup_trials": IntRange(0),
        "multivariate": Flag(),
    }

    n_startup_trials: int = 10
    multivariate: bool = False

    def _sampler(self, ctx: SuggestContext, seed: int) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=self.n_startup_trials,
                multivariate=self.multivariate, constant_liar=True,
            )


@dataclass(frozen=True, kw_only=True)
class OptunaNSGA2(_OptunaMethod):
    """Optuna's NSGA-II sampler with generations replayed from the observation order.

    Attributes:
        population_size: Individuals per generation (Optuna default 50; smaller suits
            expensive evaluations).
        max_retries: Re-asks when a point is infeasible or already known.
    """

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "max_retries": IntRange(0),
        "population_size": IntRange(2),
    }

    population_size: int = 20

    def _system_attrs(self, index: int) -> dict[str, Any]:
        key = optuna.samplers.NSGAIISampler._get_generation_key()
        return {key: index // self.population_size}

    def _sampler(self, ctx: SuggestContext, seed: int) -> Any:
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=self.population_size)

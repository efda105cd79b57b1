"""What the optimizer benchmark runs (``BenchSettings``) and what one run records
(``RunRecord``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MODEL_FREE = frozenset({"random", "sobol", "nsga2", "optuna", "optuna-tpe", "optuna-nsga2"})
"""Methods without a surrogate: their identified Pareto set is their evaluated points."""

MULTI_FIDELITY = frozenset({"momf", "mf-hvkg", "cf-mesmo"})
"""Methods that choose fidelities; every other method evaluates at the target fidelity only,
so its evaluation budget is the cost budget in full-evaluation units
(:func:`bench.harness.runs.evaluation_budget`)."""

ALL_METHODS = ("random", "sobol", "nsga2", "optuna-tpe", "qnehvi", "momf", "mf-hvkg",
               "cf-mesmo")
ALL_PROBLEMS = ("branin-currin", "momf-park", "crossbar-digits")
TARGET_FRACTION = 0.95
"""Fraction of the reference (maximum) hypervolume a method must reach."""
NSGA2_PAPER_FRACTION = 1.0 - 0.9091
"""CF-MESMO's reported cost relative to NSGA-II to reach NSGA-II's best (90.91% less)."""

DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "mf-hvkg": {"num_fantasies": 4, "num_pareto": 5, "inner_mc_samples": 16,
                "raw_samples": 32, "num_restarts": 1},
    "momf": {"mc_samples": 64, "raw_samples": 256, "num_restarts": 2},
    "cf-mesmo": {"num_samples": 8, "raw_samples": 512, "num_restarts": 4},
    "qnehvi": {},
}
"""Per-method options of the benchmark runs. MF-HVKG runs with half the tutorial's fantasies
and Pareto-set size and few raw samples (tutorial: 8, 10, 512), MOMF with half its raw samples,
to bound the run time on a 2-core machine; the timing uses the same options."""


@dataclass(frozen=True, kw_only=True)
class BenchSettings:
    """What to run.

    Attributes:
        problems: Problem names (``optimizer.problems``).
        methods: Method names (``optimizer.suggest.available_methods()``).
        seeds: Seeds per (problem, method), ``>= 1``.
        seeds_by_problem: Seeds of the problems named here instead of ``seeds`` (e.g. 10 on
            Branin-Currin and 3 elsewhere, to fit a time budget).
        budget_units: Cost budget of model-based methods [full-evaluation units].
        model_free_budget_units: Cost budget of model-free methods [full-evaluation units]
            (larger: NSGA-II needs many generations; its final HV is a goal's yardstick).
        max_evals: Evaluation cap of model-based runs.
        model_free_max_evals: Evaluation cap of model-free runs.
        regret_every: Inference-regret scoring period of model-based runs [evaluations].
        init_units: Cost of the shared initial design every method of a seed starts from
            [full-evaluation units] (BoTorch's MOMF tutorial: 2; ``bench.harness.runs``), or
            ``None`` (default) for each method's own initial design.
        run_time_limit_s: Wall-time cap of one run [s]; a run that hits it stops early
            (recorded as ``stopped_by="time"``).
        timing_sizes: Observation counts of the suggest() timing.
        timing_methods: Methods timed (default: all of ``methods``).
        timing_repeats: Calls timed per method and size (seeds 0, 1, ...); the median is
            reported, after one untimed warm-up call per method (imports, first-call caches).
        workers: Worker processes.
        options: Method options by method name (defaults: ``DEFAULT_OPTIONS``).
    """

    problems: Sequence[str] = ALL_PROBLEMS
    methods: Sequence[str] = ALL_METHODS
    seeds: int = 5
    seeds_by_problem: dict[str, int] = field(default_factory=dict)
    budget_units: float = 12.0
    model_free_budget_units: float = 60.0
    max_evals: int = 30
    model_free_max_evals: int = 60
    regret_every: int = 5
    init_units: float | None = None
    run_time_limit_s: float = 300.0
    timing_sizes: Sequence[int] = (50, 100, 200)
    timing_methods: Sequence[str] | None = None
    timing_repeats: int = 3
    workers: int = 2
    options: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_OPTIONS))

    def seeds_of(self, problem: str) -> int:
        """Seeds run on ``problem``."""
        return int(self.seeds_by_problem.get(problem, self.seeds))

    @classmethod
    def quick(cls, **kw: Any) -> BenchSettings:
        """A few-minute configuration: 2 seeds, small budgets (a few model-based steps after
        the initial design), timing at 50 observations."""
        base: dict[str, Any] = {
            "seeds": 2, "budget_units": 4.0, "model_free_budget_units": 20.0,
            "max_evals": 16, "model_free_max_evals": 20, "regret_every": 8,
            "run_time_limit_s": 60.0, "timing_sizes": (50,), "timing_repeats": 1,
            "options": {
                "mf-hvkg": {"num_fantasies": 4, "num_pareto": 4, "inner_mc_samples": 8,
                            "raw_samples": 32, "num_restarts": 1},
                "momf": {"mc_samples": 32, "raw_samples": 128, "num_restarts": 1},
                "cf-mesmo": {"num_samples": 4, "raw_samples": 256, "num_restarts": 2},
                "qnehvi": {},
            },
        }
        base.update(kw)
        return cls(**base)


@dataclass(kw_only=True)
class RunRecord:
    """The trace of one run.

    Attributes:
        problem, method, seed: What ran.
        cost: Cumulative cost after each evaluation [full-evaluation units].
        fidelity: Fidelity of each evaluation.
        design: Unit-cube design of each evaluation (4 decimals), for replays of the picks
            (edges, repeats).
        hv_evaluated: True HV of the full-fidelity points evaluated so far, after each one.
        checkpoints: ``[cumulative cost, inference HV]`` pairs.
        suggest_s: Wall time of each ``suggest()`` call [s].
        phase: ``extras["phase"]`` of each suggestion (initial designs vs model-based).
        stopped_by: ``"budget"``, ``"evals"`` or ``"time"``.
        init_units: Cost budget of the shared initial design it started from
            [full-evaluation units], ``None`` for the method's own.
        error: The exception text when the run failed, else ``None``.
    """

    problem: str
    method: str
    seed: int
    cost: list[float] = field(default_factory=list)
    fidelity: list[float] = field(default_factory=list)
    design: list[list[float]] = field(default_factory=list)
    hv_evaluated: list[float] = field(default_factory=list)
    checkpoints: list[list[float]] = field(default_factory=list)
    suggest_s: list[float] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    stopped_by: str = ""
    init_units: float | None = None
    error: str | None = None


__all__ = [
    "ALL_METHODS",
    "ALL_PROBLEMS",
    "DEFAULT_OPTIONS",
    "MODEL_FREE",
    "NSGA2_PAPER_FRACTION",
    "TARGET_FRACTION",
    "BenchSettings",
    "RunRecord",
]

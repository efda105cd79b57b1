"""Benchmark problems as study problems: the optimizer's closed-form and tabulated test
functions (``optimizer.problems``: branin-currin, momf-park, crossbar-digits, dtlz2, zdt1),
each with its fixed search space and objectives. Their options are bounded here
(:data:`BENCHMARK_OPTIONS`), so a request cannot build a 10-million-dimensional problem."""

from __future__ import annotations

from typing import Any

from app.problems.common import ProblemSpec, field_error
from app.schemas.study import ProblemIn
from optimizer.problems import available_problems, get_problem
from simulator.workloads import OptionSpec

__all__ = ["BENCHMARK", "BENCHMARK_OPTIONS", "names", "resolve_problem"]

BENCHMARK = "benchmark"
"""The ``kind`` of a benchmark problem's evaluator spec."""

MAX_DIM = 64
"""Most design dimensions of a scalable benchmark."""
MAX_OBJECTIVES = 10
"""Most objectives of a scalable benchmark."""

BENCHMARK_OPTIONS: dict[str, tuple[OptionSpec, ...]] = {
    "dtlz2": (
        OptionSpec(name="dim", type="int", default=6, low=2, high=MAX_DIM,
                   description="Design dimensions (> num_objectives)."),
        OptionSpec(name="num_objectives", type="int", default=2, low=2, high=MAX_OBJECTIVES,
                   description="Objectives."),
    ),
    "zdt1": (OptionSpec(name="dim", type="int", default=6, low=2, high=MAX_DIM,
                        description="Design dimensions."),),
}
"""The options each benchmark takes with their bounds (the others take none)."""


def names() -> list[str]:
    """The benchmark problem names a study can give as ``problem.name``."""
    return list(available_problems())


def resolve_problem(problem: ProblemIn, errors: list[dict[str, Any]]) -> ProblemSpec:
    """Check a benchmark ``problem``: no space, workload or ``fixed`` of its own, options the
    problem accepts. Problems are appended to ``errors``; the returned spec has no space (and
    no objectives) when the problem cannot be built."""
    if problem.search_space is not None:
        errors.append(field_error(["problem", "search_space"],
                                  "benchmark problems have a fixed search space"))
    if problem.workload is not None or problem.fixed or problem.workload_options:
        errors.append(field_error(["problem", "workload"],
                                  "only the crossbar problem has a workload"))
    declared = {o.name: o for o in BENCHMARK_OPTIONS.get(problem.name, ())}
    n_before = len(errors)
    for key, value in problem.options.items():
        spec = declared.get(key)
        msg = (f"{problem.name} has no option {key!r}; options: {', '.join(declared) or 'none'}"
               if spec is None else spec.check(value))
        if msg is not None:
            errors.append(field_error(["problem", "options", key], msg))
    if len(errors) > n_before:
        return ProblemSpec(None)
    try:
        bp = get_problem(problem.name, **problem.options)
    except (TypeError, ValueError) as e:
        errors.append(field_error(["problem", "options"], str(e)))
        return ProblemSpec(None)
    evaluator = {"kind": BENCHMARK, "name": problem.name, "options": problem.options}
    return ProblemSpec(bp.space.to_spec(), list(bp.objectives), evaluator)

"""Benchmark problems as study problems: the optimizer's closed-form and tabulated test
functions (``optimizer.problems``: branin-currin, momf-park, crossbar-digits, dtlz2, zdt1),
each with its fixed search space and objectives."""

from __future__ import annotations

from typing import Any

from app.problems.common import ProblemSpec, field_error
from app.schemas.study import ProblemIn
from optimizer.problems import available_problems, get_problem

__all__ = ["BENCHMARK", "names", "resolve_problem"]

BENCHMARK = "benchmark"
"""The ``kind`` of a benchmark problem's evaluator spec."""


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
    if problem.workload is not None or problem.fixed:
        errors.append(field_error(["problem", "workload"],
                                  "only the crossbar problem has a workload"))
    try:
        bp = get_problem(problem.name, **problem.options)
    except (TypeError, ValueError) as e:
        errors.append(field_error(["problem", "options"], str(e)))
        return ProblemSpec(None)
    evaluator = {"kind": BENCHMARK, "name": problem.name, "options": problem.options}
    return ProblemSpec(bp.space.to_spec(), list(bp.objectives), evaluator)

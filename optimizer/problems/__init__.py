"""Benchmark problems with known optima, for studies and for the optimizer benchmark.

``get_problem(name, **options)`` builds one; ``available_problems()`` lists the names.
"""

from __future__ import annotations

from optimizer.problems.base import BenchmarkProblem
from optimizer.problems.registry import available_problems, get_problem

__all__ = ["BenchmarkProblem", "available_problems", "get_problem"]

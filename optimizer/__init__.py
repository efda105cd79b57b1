"""Multi-objective, multi-fidelity optimization behind one stateless call, ``suggest()``.

Public surface: ``SearchSpace`` (``optimizer.space``), ``Objective``/``Observation``/
``Suggestion`` (``optimizer.types``), ``suggest``/``available_methods``/``register_method``
(``optimizer.suggest``), Pareto and hypervolume utilities (``optimizer.pareto``) and benchmark
problems (``optimizer.problems``). Methods live in ``optimizer.methods`` and are imported only
when asked for.
"""

from __future__ import annotations

from optimizer.errors import OptimizerError, SearchSpaceError, UnknownMethodError
from optimizer.space import SearchSpace
from optimizer.suggest import available_methods, register_method, suggest
from optimizer.types import Objective, Observation, Suggestion

__all__ = [
    "Objective",
    "Observation",
    "OptimizerError",
    "SearchSpace",
    "SearchSpaceError",
    "Suggestion",
    "UnknownMethodError",
    "available_methods",
    "register_method",
    "suggest",
]

"""Multi-objective, multi-fidelity optimization behind one stateless call, ``suggest()``.

Public surface: ``SearchSpace`` (``optimizer.space``), ``Objective``/``Observation``/
``Suggestion`` (``optimizer.types``), ``suggest``/``available_methods``/``register_method``/
``validate_options`` (``optimizer.suggest``), ``SuggestContext`` (``optimizer.context``),
Pareto and hypervolume utilities (``optimizer.pareto``) and benchmark problems
(``optimizer.problems``). Methods live in ``optimizer.methods`` and are imported only when
asked for.
"""

from __future__ import annotations

from optimizer.errors import (
    MethodOptionsError,
    OptimizerError,
    SearchSpaceError,
    UnknownMethodError,
)
from optimizer.space import SearchSpace
from optimizer.suggest import available_methods, register_method, suggest, validate_options
from optimizer.types import Objective, Observation, Suggestion

__all__ = [
    "MethodOptionsError",
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
    "validate_options",
]

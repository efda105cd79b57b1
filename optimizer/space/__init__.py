"""Search spaces: typed parameters (``params``), linear constraints (``constraints``), an
optional fidelity range and the unit-cube mapping (``search_space``), and the target-fidelity
rule (``fidelity``).

Every public name is re-exported here: ``from optimizer.space import SearchSpace``.
"""

from __future__ import annotations

from optimizer.errors import InfeasibleSpaceError, SearchSpaceError
from optimizer.space.constraints import CONSTRAINT_TOL, LinearConstraint
from optimizer.space.fidelity import FIDELITY_TOL, UNIT_TARGET, unit_at_target
from optimizer.space.params import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Param,
    Scalar,
    param_from_spec,
)
from optimizer.space.search_space import SearchSpace

__all__ = [
    "CONSTRAINT_TOL",
    "FIDELITY_TOL",
    "UNIT_TARGET",
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "InfeasibleSpaceError",
    "IntParam",
    "LinearConstraint",
    "OrdinalParam",
    "Param",
    "Scalar",
    "SearchSpace",
    "SearchSpaceError",
    "param_from_spec",
    "unit_at_target",
]

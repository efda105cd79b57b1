"""Number checks shared by the parameter, constraint and space modules of ``optimizer.space``."""

from __future__ import annotations

import math
from typing import Any

from optimizer.errors import SearchSpaceError

BOUND_RTOL = 1e-9
"""Relative tolerance of ``close``: a value this near a bound or a level counts as equal."""


def is_number(v: Any) -> bool:
    """Whether ``v`` is an int or float (``bool`` excluded)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def finite_number(v: Any, where: str) -> float:
    """``v`` as a float, or ``SearchSpaceError`` naming ``where`` when it is not finite."""
    if not is_number(v) or not math.isfinite(float(v)):
        raise SearchSpaceError(f"{where} must be a finite number, got {v!r}.")
    return float(v)


def close(a: float, b: float) -> bool:
    """``|a - b| <= BOUND_RTOL max(1, |a|, |b|)``."""
    return abs(a - b) <= BOUND_RTOL * max(1.0, abs(a), abs(b))

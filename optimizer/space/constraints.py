"""Linear constraints over the numeric parameters of a search space.

JSON spec: ``{"coefficients": {"x0": 1.0, "x1": 1.0}, "upper": 1.5}`` (``lower`` optional too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.errors import SearchSpaceError
from optimizer.space._checks import finite_number

CONSTRAINT_TOL = 1e-9
"""Absolute slack allowed on a linear constraint (rounding of float parameters)."""


@dataclass(frozen=True, kw_only=True)
class LinearConstraint:
    r"""``lower <= sum_i coefficients[i] * params[i] <= upper`` over numeric parameters.

    Attributes:
        coefficients: Coefficient per parameter name (in the parameters' own units).
        upper: Upper bound of the weighted sum, or ``None``.
        lower: Lower bound of the weighted sum, or ``None``; at least one bound is set.
    """

    coefficients: dict[str, float]
    upper: float | None = None
    lower: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.coefficients, Mapping) or not self.coefficients:
            raise SearchSpaceError("constraint.coefficients must be a non-empty object.")
        coefs = {}
        for k, v in self.coefficients.items():
            coefs[str(k)] = finite_number(v, f"constraint.coefficients[{k!r}]")
        object.__setattr__(self, "coefficients", coefs)
        if self.upper is None and self.lower is None:
            raise SearchSpaceError("constraint needs an upper and/or a lower bound.")
        for f in ("upper", "lower"):
            if getattr(self, f) is not None:
                object.__setattr__(self, f, finite_number(getattr(self, f), f"constraint.{f}"))
        if self.upper is not None and self.lower is not None and self.lower > self.upper:
            raise SearchSpaceError(
                f"constraint.lower ({self.lower}) exceeds constraint.upper ({self.upper})."
            )

    def to_spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"coefficients": dict(self.coefficients)}
        if self.upper is not None:
            out["upper"] = self.upper
        if self.lower is not None:
            out["lower"] = self.lower
        return out

    def value(self, params: Mapping[str, Any]) -> float:
        return sum(c * float(params[k]) for k, c in self.coefficients.items())

    def satisfied_by(self, total: float) -> bool:
        return (self.upper is None or total <= self.upper + CONSTRAINT_TOL) and (
            self.lower is None or total >= self.lower - CONSTRAINT_TOL
        )

    def describe(self) -> str:
        lhs = " + ".join(f"{c:g}*{k}" for k, c in self.coefficients.items())
        lo = f"{self.lower:g} <= " if self.lower is not None else ""
        hi = f" <= {self.upper:g}" if self.upper is not None else ""
        return f"{lo}{lhs}{hi}"


__all__ = ["CONSTRAINT_TOL", "LinearConstraint"]

r"""``SearchSpace``: typed parameters, linear constraints, an optional fidelity range, and the
mapping to and from the unit cube that every model-based method works in.

A whole space is either the list of parameters (``optimizer.space.params``) or a dict::

    {"params": [...],
     "constraints": [{"coefficients": {"x0": 1.0, "x1": 1.0}, "upper": 1.5}],
     "fidelity_range": [0.0, 1.0]}

Unit-cube encoding: ``d = dim`` columns, one per non-fixed parameter, in spec order (see
``optimizer.space.params`` for each kind). The fidelity is not a column of this encoding;
methods that model it append it themselves (see ``fidelity_to_unit``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from optimizer.errors import InfeasibleSpaceError, SearchSpaceError
from optimizer.space._checks import close, finite_number
from optimizer.space.constraints import CONSTRAINT_TOL, LinearConstraint
from optimizer.space.fidelity import FIDELITY_TOL
from optimizer.space.params import FixedParam, Param, param_from_spec


class SearchSpace:
    """Typed parameters, linear constraints and an optional fidelity range.

    Args:
        params: The parameters, names unique, at least one.
        constraints: Linear constraints over numeric parameters.
        fidelity_range: ``(z_min, z_max)`` with ``0 <= z_min < z_max <= 1`` for multi-fidelity
            problems; ``None`` when every evaluation is at full fidelity (1.0).

    Raises:
        SearchSpaceError: naming the offending parameter or field.
    """

    def __init__(
        self,
        params: Sequence[Param],
        constraints: Sequence[LinearConstraint] = (),
        fidelity_range: tuple[float, float] | Sequence[float] | None = None,
    ) -> None:
        params = list(params)
        if not params:
            raise SearchSpaceError("params: the search space has no parameters.")
        names = [p.name for p in params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SearchSpaceError(f"params: duplicate parameter name(s) {dup}.")
        self.params: list[Param] = params
        self._by_name = {p.name: p for p in params}
        self.constraints: list[LinearConstraint] = list(constraints)
        for i, c in enumerate(self.constraints):
            for k in c.coefficients:
                if k not in self._by_name:
                    raise SearchSpaceError(
                        f"constraints[{i}] names unknown parameter {k!r}."
                    )
                if not self._by_name[k].is_numeric:
                    raise SearchSpaceError(
                        f"constraints[{i}] names non-numeric parameter {k!r}."
                    )
        self.fidelity_range: tuple[float, float] | None = None
        if fidelity_range is not None:
            if isinstance(fidelity_range, str | bytes) or len(fidelity_range) != 2:
                raise SearchSpaceError("fidelity_range must be [z_min, z_max].")
            lo = finite_number(fidelity_range[0], "fidelity_range[0]")
            hi = finite_number(fidelity_range[1], "fidelity_range[1]")
            if not 0.0 <= lo < hi <= 1.0:
                raise SearchSpaceError(
                    f"fidelity_range must satisfy 0 <= z_min < z_max <= 1, got [{lo}, {hi}]."
                )
            self.fidelity_range = (lo, hi)
        self.free_params: list[Param] = [p for p in params if p.n_dims > 0]
        """Parameters with a unit-cube column, in column order."""

    # ---------------------------------------------------------------- spec
    @classmethod
    def from_spec(cls, spec: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> SearchSpace:
        """Build a space from its JSON spec (a list of params or the dict form).

        Raises:
            SearchSpaceError: naming the offending field, e.g. ``params[2] ('rows').values``.
        """
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"params", "constraints", "fidelity_range"})
            if unknown:
                raise SearchSpaceError(f"search space: unknown field(s) {unknown}.")
            raw_params = spec.get("params")
            raw_cons = spec.get("constraints") or []
            fid = spec.get("fidelity_range")
        elif isinstance(spec, Sequence) and not isinstance(spec, str | bytes):
            raw_params, raw_cons, fid = spec, [], None
        else:
            raise SearchSpaceError("search space must be a list of params or an object.")
        if not isinstance(raw_params, Sequence) or isinstance(raw_params, str | bytes):
            raise SearchSpaceError("params must be a list of parameter objects.")
        params = [param_from_spec(p, f"params[{i}]") for i, p in enumerate(raw_params)]
        if not isinstance(raw_cons, Sequence) or isinstance(raw_cons, str | bytes):
            raise SearchSpaceError("constraints must be a list.")
        cons = []
        for i, c in enumerate(raw_cons):
            if not isinstance(c, Mapping):
                raise SearchSpaceError(f"constraints[{i}] must be an object.")
            unknown = sorted(set(c) - {"coefficients", "upper", "lower"})
            if unknown:
                raise SearchSpaceError(f"constraints[{i}]: unknown field(s) {unknown}.")
            try:
                cons.append(LinearConstraint(
                    coefficients=c.get("coefficients"),  # type: ignore[arg-type]
                    upper=c.get("upper"), lower=c.get("lower"),
                ))
            except SearchSpaceError as e:
                raise SearchSpaceError(f"constraints[{i}]: {e}") from None
        return cls(params, cons, fid)

    def to_spec(self) -> dict[str, Any]:
        """The dict form of the JSON spec; ``from_spec(to_spec())`` equals this space."""
        return {
            "params": [p.to_spec() for p in self.params],
            "constraints": [c.to_spec() for c in self.constraints],
            "fidelity_range": list(self.fidelity_range) if self.fidelity_range else None,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_spec() == other.to_spec()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_spec()!r})"

    # ---------------------------------------------------------------- shape
    @property
    def names(self) -> list[str]:
        """All parameter names, in spec order."""
        return [p.name for p in self.params]

    @property
    def dim(self) -> int:
        """Number of unit-cube columns ``d`` (one per non-fixed parameter)."""
        return len(self.free_params)

    @property
    def column_names(self) -> list[str]:
        """Parameter name of each unit-cube column."""
        return [p.name for p in self.free_params]

    @property
    def bounds(self) -> Tensor:
        """``2 x d`` tensor (double) of unit-cube bounds: zeros then ones."""
        return torch.stack([torch.zeros(self.dim, dtype=torch.double),
                            torch.ones(self.dim, dtype=torch.double)])

    @property
    def discrete_levels(self) -> dict[int, int]:
        """Column index -> number of levels, for int, ordinal and categorical columns."""
        return {i: p.n_levels for i, p in enumerate(self.free_params) if p.n_levels is not None}

    @property
    def cardinality(self) -> int | None:
        """Number of distinct points when every column is discrete, else ``None``."""
        levels = self.discrete_levels
        if len(levels) < self.dim:
            return None
        return math.prod(levels.values())

    @property
    def has_fidelity(self) -> bool:
        return self.fidelity_range is not None

    @property
    def target_fidelity(self) -> float:
        """The fidelity of a full evaluation: the upper end of the range, or 1.0."""
        return self.fidelity_range[1] if self.fidelity_range else 1.0

    def is_target(self, z: float) -> bool:
        """Whether fidelity ``z`` (the space's own scale) is a full evaluation:
        ``z >= target_fidelity - FIDELITY_TOL``."""
        return float(z) >= self.target_fidelity - FIDELITY_TOL

    def param(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            raise SearchSpaceError(f"unknown parameter {name!r}.") from None

    # ---------------------------------------------------------------- fidelity
    def fidelity_to_unit(self, z: Tensor | float) -> Tensor:
        """Map fidelity ``z`` in ``fidelity_range`` affinely to ``[0, 1]``."""
        lo, hi = self.fidelity_range or (0.0, 1.0)
        return (torch.as_tensor(z, dtype=torch.double) - lo) / (hi - lo)

    def fidelity_from_unit(self, u: Tensor | float) -> Tensor:
        """Inverse of ``fidelity_to_unit``, clamped to the range."""
        lo, hi = self.fidelity_range or (0.0, 1.0)
        return (lo + torch.as_tensor(u, dtype=torch.double).clamp(0.0, 1.0) * (hi - lo))

    def check_fidelity(self, z: Any, where: str = "fidelity") -> float:
        """Validate a fidelity against the range (exactly the target when there is none)."""
        v = finite_number(z, where)
        lo, hi = self.fidelity_range or (1.0, 1.0)
        if (v < lo and not close(v, lo)) or (v > hi and not close(v, hi)):
            raise SearchSpaceError(f"{where}={v} is outside the fidelity range [{lo}, {hi}].")
        return min(max(v, lo), hi)

    # ---------------------------------------------------------------- params
    def validate_params(self, params: Mapping[str, Any], check_constraints: bool = True
                        ) -> dict[str, Any]:
        """Check a params dict and return its canonical form (fixed values filled in).

        Raises:
            SearchSpaceError: naming a missing, unknown or out-of-range parameter, or the
                violated constraint.
        """
        if not isinstance(params, Mapping):
            raise SearchSpaceError(f"params must be an object, got {type(params).__name__}.")
        unknown = sorted(set(params) - set(self._by_name))
        if unknown:
            raise SearchSpaceError(f"unknown parameter(s) {unknown}.")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in params:
                out[p.name] = p.check(params[p.name])
            elif isinstance(p, FixedParam):
                out[p.name] = p.value
            else:
                raise SearchSpaceError(f"parameter {p.name!r} is missing.")
        if check_constraints:
            for i, c in enumerate(self.constraints):
                if not c.satisfied_by(c.value(out)):
                    raise SearchSpaceError(
                        f"constraints[{i}] ({c.describe()}) is violated: "
                        f"the sum is {c.value(out):g}."
                    )
        return out

    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` is a valid point of the space, constraints included."""
        try:
            self.validate_params(params)
        except SearchSpaceError:
            return False
        return True

    def feasible(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` (valid values) satisfy every linear constraint."""
        full = {**{p.name: p.value for p in self.params if isinstance(p, FixedParam)}, **params}
        return all(c.satisfied_by(c.value(full)) for c in self.constraints)

    def key(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """Hashable identity of a point (its canonical values in spec order)."""
        canon = self.validate_params(params, check_constraints=False)
        return tuple(canon[n] for n in self.names)

    # ---------------------------------------------------------------- unit cube
    def to_unit(self, params: Mapping[str, Any]) -> Tensor:
        """Encode a params dict as a ``d``-dim double tensor in the unit cube."""
        canon = self.validate_params(params, check_constraints=False)
        return torch.tensor([p.encode(canon[p.name]) for p in self.free_params],
                            dtype=torch.double)

    def from_unit(self, x: Tensor | Sequence[float]) -> dict[str, Any]:
        """Decode a ``d``-dim unit-cube point (clamped, levels rounded); fixed values added."""
        x = torch.as_tensor(x, dtype=torch.double)
        if x.shape != torch.Size([self.dim]):
            raise SearchSpaceError(f"x must have shape ({self.dim},), got {tuple(x.shape)}.")
        vals = iter(x.tolist())
        out = {}
        for p in self.params:
            out[p.name] = p.value if isinstance(p, FixedParam) else p.decode(next(vals))
        return out

    def to_unit_batch(self, params: Sequence[Mapping[str, Any]]) -> Tensor:
        """Encode ``n`` params dicts as an ``n x d`` double tensor."""
        if not params:
            return torch.empty(0, self.dim, dtype=torch.double)
        return torch.stack([self.to_unit(p) for p in params])

    def from_unit_batch(self, X: Tensor) -> list[dict[str, Any]]:
        """Decode an ``n x d`` tensor into ``n`` params dicts."""
        if X.dim() != 2 or X.shape[-1] != self.dim:
            raise SearchSpaceError(f"X must have shape (n, {self.dim}), got {tuple(X.shape)}.")
        return [self.from_unit(x) for x in X]

    def round_unit(self, X: Tensor) -> Tensor:
        """Snap a ``batch x d`` tensor to representable points: clamp to ``[0, 1]`` and move
        each level column to its bin centre. ``round_unit(to_unit(p)) == to_unit(p)``."""
        X = X.clamp(0.0, 1.0).clone()
        for i, k in self.discrete_levels.items():
            X[..., i] = ((X[..., i] * k).floor().clamp(0, k - 1) + 0.5) / k
        return X

    def numeric_values(self, X: Tensor) -> dict[str, Tensor]:
        """Decoded values of numeric parameters for a ``batch x d`` tensor (``batch`` each)."""
        out: dict[str, Tensor] = {}
        col = 0
        for p in self.params:
            if isinstance(p, FixedParam):
                if p.is_numeric:
                    out[p.name] = torch.full(X.shape[:-1], float(p.value), dtype=X.dtype)
                continue
            if p.is_numeric:
                out[p.name] = p.decode_numeric(X[..., col])
            col += 1
        return out

    def feasible_unit(self, X: Tensor) -> Tensor:
        """Boolean ``batch`` mask: which unit-cube points (decoded) satisfy the constraints."""
        mask = torch.ones(X.shape[:-1], dtype=torch.bool)
        if not self.constraints:
            return mask
        vals = self.numeric_values(X)
        for c in self.constraints:
            total = sum(coef * vals[k] for k, coef in c.coefficients.items())
            if c.upper is not None:
                mask &= total <= c.upper + CONSTRAINT_TOL
            if c.lower is not None:
                mask &= total >= c.lower - CONSTRAINT_TOL
        return mask

    def sample_unit(self, n: int, generator: torch.Generator | None = None,
                    max_draws: int = 100_000) -> Tensor:
        """``n x d`` uniform feasible points, rounded to representable points.

        Rejection sampling against the linear constraints.

        Raises:
            InfeasibleSpaceError: when fewer than ``n`` of ``max_draws`` draws are feasible.
        """
        kept: list[Tensor] = []
        have, drawn = 0, 0
        while have < n:
            if drawn >= max_draws:
                raise InfeasibleSpaceError(
                    f"constraints: only {have} of {drawn} uniform draws satisfied the linear "
                    f"constraints ({'; '.join(c.describe() for c in self.constraints)}); "
                    f"the feasible region is empty or too small to sample."
                )
            batch = max(2 * (n - have), 64) if self.constraints else n - have
            batch = min(batch, max_draws - drawn)
            X = self.round_unit(torch.rand(batch, self.dim, generator=generator,
                                           dtype=torch.double))
            drawn += batch
            X = X[self.feasible_unit(X)]
            kept.append(X)
            have += X.shape[0]
        return torch.cat(kept)[:n]

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[dict[str, Any]]:
        """``n`` uniform feasible params dicts (see ``sample_unit``)."""
        return self.from_unit_batch(self.sample_unit(n, generator))


__all__ = ["SearchSpace"]

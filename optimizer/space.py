r"""Search spaces: typed parameters, linear constraints, an optional fidelity range, and the
mapping to and from the unit cube that every model-based method works in.

Parameter kinds and their JSON spec (the service stores exactly this form)::

    {"name": "x0", "type": "float", "low": 0.0, "high": 1.0, "log": false}
    {"name": "adc_bits", "type": "int", "low": 3, "high": 8}
    {"name": "rows", "type": "ordinal", "values": [64, 128, 256, 512]}
    {"name": "encoding", "type": "categorical", "choices": ["differential", "offset"]}
    {"name": "node", "type": "fixed", "value": 22}

A whole space is either the list of parameters or a dict::

    {"params": [...],
     "constraints": [{"coefficients": {"x0": 1.0, "x1": 1.0}, "upper": 1.5}],
     "fidelity_range": [0.0, 1.0]}

Unit-cube encoding (``d = dim`` columns, one per non-fixed parameter, in spec order):

- ``float``: affine map of ``[low, high]`` (of ``[log low, log high]`` when ``log``) to ``[0, 1]``.
- ``int``, ``ordinal``, ``categorical``: the ``k`` levels (integers ``low..high``, the sorted
  ordinal values, the choices in spec order) split ``[0, 1]`` into ``k`` equal bins; level ``i``
  encodes to the bin centre ``(i + 0.5) / k`` and ``u`` decodes to level
  ``min(floor(u k), k - 1)``. Uniform ``u`` therefore gives uniform levels, and decoding is the
  exact inverse of encoding. Categoricals use a single column (not one-hot) to keep ``d`` small;
  the order of ``choices`` is the order a GP sees.
- ``fixed``: no column; ``from_unit`` always adds its value.

The fidelity is not a column of this encoding; methods that model it append it themselves
(see ``fidelity_to_unit``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from optimizer.errors import InfeasibleSpaceError, SearchSpaceError

Scalar = str | int | float | bool
"""A JSON scalar: the type of categorical choices and fixed values."""

CONSTRAINT_TOL = 1e-9
"""Absolute slack allowed on a linear constraint (rounding of float parameters)."""

_BOUND_RTOL = 1e-9


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _finite_number(v: Any, where: str) -> float:
    if not _is_number(v) or not math.isfinite(float(v)):
        raise SearchSpaceError(f"{where} must be a finite number, got {v!r}.")
    return float(v)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _BOUND_RTOL * max(1.0, abs(a), abs(b))


@dataclass(frozen=True, kw_only=True)
class Param:
    """Base class of a search-space parameter.

    Attributes:
        name: Key of the parameter in a params dict; unique within a space.
    """

    name: str
    kind: ClassVar[str] = ""

    @property
    def n_dims(self) -> int:
        """Number of unit-cube columns (1, or 0 for fixed parameters)."""
        return 1

    @property
    def n_levels(self) -> int | None:
        """Number of distinct values, or ``None`` for continuous parameters."""
        return None

    @property
    def is_numeric(self) -> bool:
        """Whether values are numbers that may appear in a linear constraint."""
        return True

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """Return the canonical form of ``value`` or raise ``SearchSpaceError`` naming it."""
        raise NotImplementedError

    def encode(self, value: Any) -> float:
        """Unit-cube coordinate of a canonical value."""
        raise NotImplementedError

    def decode(self, u: float) -> Any:
        """Value for a unit-cube coordinate (clamped to ``[0, 1]``, rounded for levels)."""
        raise NotImplementedError

    def decode_numeric(self, u: Tensor) -> Tensor:
        """Numeric values for a tensor of unit coordinates (same shape); numeric kinds only."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class FloatParam(Param):
    """A real parameter in ``[low, high]``.

    Attributes:
        low: Lower bound, in the parameter's own units.
        high: Upper bound, ``> low``.
        log: Map ``log(value)`` linearly to the unit interval; needs ``low > 0``.
    """

    low: float
    high: float
    log: bool = False
    kind: ClassVar[str] = "float"

    def __post_init__(self) -> None:
        lo = _finite_number(self.low, f"Parameter {self.name!r}: low")
        hi = _finite_number(self.high, f"Parameter {self.name!r}: high")
        if lo >= hi:
            raise SearchSpaceError(
                f"Parameter {self.name!r}: low ({lo}) must be less than high ({hi})."
            )
        if not isinstance(self.log, bool):
            raise SearchSpaceError(f"Parameter {self.name!r}: log must be true or false.")
        if self.log and lo <= 0:
            raise SearchSpaceError(
                f"Parameter {self.name!r}: log scale needs low > 0, got low={lo}."
            )
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "float", "low": self.low, "high": self.high,
                "log": self.log}

    def check(self, value: Any) -> float:
        if not _is_number(value) or not math.isfinite(float(value)):
            raise SearchSpaceError(f"Parameter {self.name!r} must be a finite number, got "
                                   f"{value!r}.")
        v = float(value)
        if (v < self.low and not _close(v, self.low)) or (v > self.high
                                                         and not _close(v, self.high)):
            raise SearchSpaceError(
                f"Parameter {self.name!r}={v} is outside [{self.low}, {self.high}]."
            )
        return min(max(v, self.low), self.high)

    def _ends(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low), math.log(self.high)
        return self.low, self.high

    def encode(self, value: Any) -> float:
        a, b = self._ends()
        v = math.log(value) if self.log else float(value)
        return (v - a) / (b - a)

    def decode(self, u: float) -> float:
        a, b = self._ends()
        v = a + min(max(float(u), 0.0), 1.0) * (b - a)
        v = math.exp(v) if self.log else v
        return min(max(v, self.low), self.high)

    def decode_numeric(self, u: Tensor) -> Tensor:
        a, b = self._ends()
        v = a + u.clamp(0.0, 1.0) * (b - a)
        return v.exp() if self.log else v


@dataclass(frozen=True, kw_only=True)
class _LevelParam(Param):
    """Shared binning of parameters with finitely many levels."""

    @property
    def levels(self) -> tuple[Any, ...]:
        raise NotImplementedError

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def index(self, value: Any) -> int:
        raise NotImplementedError

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / self.n_levels

    def level_index(self, u: float) -> int:
        k = self.n_levels
        return min(max(int(math.floor(float(u) * k)), 0), k - 1)

    def decode(self, u: float) -> Any:
        return self.levels[self.level_index(u)]

    def level_indices(self, u: Tensor) -> Tensor:
        """Level index for each unit coordinate (same shape, ``long``)."""
        k = self.n_levels
        return (u * k).floor().clamp(0, k - 1).long()


@dataclass(frozen=True, kw_only=True)
class IntParam(_LevelParam):
    """An integer parameter in ``low..high`` (both included).

    Attributes:
        low: Smallest value.
        high: Largest value, ``> low``.
    """

    low: int
    high: int
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        for f in ("low", "high"):
            v = getattr(self, f)
            if not _is_number(v) or not float(v).is_integer():
                raise SearchSpaceError(
                    f"Parameter {self.name!r}: {f} must be an integer, got {v!r}."
                )
            object.__setattr__(self, f, int(v))
        if self.low >= self.high:
            raise SearchSpaceError(
                f"Parameter {self.name!r}: low ({self.low}) must be less than high "
                f"({self.high})."
            )

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(range(self.low, self.high + 1))

    @property
    def n_levels(self) -> int:
        return self.high - self.low + 1

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "int", "low": self.low, "high": self.high}

    def check(self, value: Any) -> int:
        if not _is_number(value) or not math.isfinite(float(value)) or not float(
            value
        ).is_integer():
            raise SearchSpaceError(f"Parameter {self.name!r} must be an integer, got {value!r}.")
        v = int(value)
        if not self.low <= v <= self.high:
            raise SearchSpaceError(
                f"Parameter {self.name!r}={v} is outside {self.low}..{self.high}."
            )
        return v

    def index(self, value: Any) -> int:
        return int(value) - self.low

    def decode(self, u: float) -> int:
        return self.low + self.level_index(u)

    def decode_numeric(self, u: Tensor) -> Tensor:
        return (self.low + self.level_indices(u)).to(u.dtype)


@dataclass(frozen=True, kw_only=True)
class OrdinalParam(_LevelParam):
    """A numeric parameter restricted to sorted values, e.g. rows in {64, 128, 256, 512}.

    Attributes:
        values: Allowed values, strictly increasing numbers (ints stay ints).
    """

    values: tuple[int | float, ...]
    kind: ClassVar[str] = "ordinal"

    def __post_init__(self) -> None:
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Sequence):
            raise SearchSpaceError(f"Parameter {self.name!r}: values must be a list of numbers.")
        vals = tuple(self.values)
        if not vals:
            raise SearchSpaceError(f"Parameter {self.name!r}: values must not be empty.")
        for v in vals:
            _finite_number(v, f"Parameter {self.name!r}: each of values")
        if any(float(b) <= float(a) for a, b in zip(vals, vals[1:], strict=False)):
            raise SearchSpaceError(
                f"Parameter {self.name!r}: values must be strictly increasing, got {list(vals)}."
            )
        object.__setattr__(self, "values", vals)

    @property
    def levels(self) -> tuple[int | float, ...]:
        return self.values

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "ordinal", "values": list(self.values)}

    def index(self, value: Any) -> int:
        for i, v in enumerate(self.values):
            if _close(float(value), float(v)):
                return i
        raise SearchSpaceError(
            f"Parameter {self.name!r}={value!r} is not one of {list(self.values)}."
        )

    def check(self, value: Any) -> int | float:
        if not _is_number(value):
            raise SearchSpaceError(f"Parameter {self.name!r} must be a number, got {value!r}.")
        return self.values[self.index(value)]

    def decode_numeric(self, u: Tensor) -> Tensor:
        table = torch.tensor([float(v) for v in self.values], dtype=u.dtype, device=u.device)
        return table[self.level_indices(u)]


@dataclass(frozen=True, kw_only=True)
class CategoricalParam(_LevelParam):
    """An unordered choice among JSON scalars.

    Attributes:
        choices: Allowed values, distinct; their order is the order of the unit-cube bins.
    """

    choices: tuple[Scalar, ...]
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if isinstance(self.choices, str | bytes) or not isinstance(self.choices, Sequence):
            raise SearchSpaceError(f"Parameter {self.name!r}: choices must be a list.")
        ch = tuple(self.choices)
        if not ch:
            raise SearchSpaceError(f"Parameter {self.name!r}: choices must not be empty.")
        for c in ch:
            if not isinstance(c, str | int | float | bool):
                raise SearchSpaceError(
                    f"Parameter {self.name!r}: choices must be strings, numbers or booleans, "
                    f"got {c!r}."
                )
        keys = [(type(c).__name__, c) for c in ch]
        if len(set(keys)) != len(keys):
            raise SearchSpaceError(f"Parameter {self.name!r}: choices contain duplicates.")
        object.__setattr__(self, "choices", ch)

    @property
    def levels(self) -> tuple[Scalar, ...]:
        return self.choices

    @property
    def is_numeric(self) -> bool:
        return False

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "categorical", "choices": list(self.choices)}

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                return i
        raise SearchSpaceError(
            f"Parameter {self.name!r}={value!r} is not one of {list(self.choices)}."
        )

    def check(self, value: Any) -> Scalar:
        return self.choices[self.index(value)]


@dataclass(frozen=True, kw_only=True)
class FixedParam(Param):
    """A constant carried along with every suggestion (no unit-cube column).

    Attributes:
        value: The constant, a JSON scalar.
    """

    value: Scalar
    kind: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        if not isinstance(self.value, str | int | float | bool):
            raise SearchSpaceError(
                f"Parameter {self.name!r}: value must be a string, number or boolean."
            )

    @property
    def n_dims(self) -> int:
        return 0

    @property
    def is_numeric(self) -> bool:
        return _is_number(self.value)

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "fixed", "value": self.value}

    def check(self, value: Any) -> Scalar:
        same = (
            _close(float(value), float(self.value))
            if _is_number(value) and _is_number(self.value)
            else (type(value) is type(self.value) and value == self.value)
        )
        if not same:
            raise SearchSpaceError(
                f"Parameter {self.name!r} is fixed to {self.value!r}, got {value!r}."
            )
        return self.value


_PARAM_FIELDS: dict[str, tuple[type[Param], set[str], set[str]]] = {
    # type -> (class, required fields, optional fields)
    "float": (FloatParam, {"low", "high"}, {"log"}),
    "int": (IntParam, {"low", "high"}, set()),
    "ordinal": (OrdinalParam, {"values"}, set()),
    "categorical": (CategoricalParam, {"choices"}, set()),
    "fixed": (FixedParam, {"value"}, set()),
}


def param_from_spec(spec: Mapping[str, Any], where: str = "param") -> Param:
    """Build one parameter from its JSON spec.

    Raises:
        SearchSpaceError: naming ``where`` and the bad field.
    """
    if not isinstance(spec, Mapping):
        raise SearchSpaceError(f"{where} must be an object, got {type(spec).__name__}.")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(f"{where}.name must be a non-empty string, got {name!r}.")
    kind = spec.get("type")
    if kind not in _PARAM_FIELDS:
        raise SearchSpaceError(
            f"{where} ({name!r}).type must be one of {sorted(_PARAM_FIELDS)}, got {kind!r}."
        )
    cls, required, optional = _PARAM_FIELDS[kind]
    keys = set(spec) - {"name", "type"}
    if missing := sorted(required - keys):
        raise SearchSpaceError(f"{where} ({name!r}): missing field(s) {missing} for a {kind}.")
    if unknown := sorted(keys - required - optional):
        raise SearchSpaceError(f"{where} ({name!r}): unknown field(s) {unknown} for a {kind}.")
    kwargs = {k: spec[k] for k in keys}
    try:
        return cls(name=name, **kwargs)
    except SearchSpaceError as e:
        raise SearchSpaceError(f"{where}: {e}") from None


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
            coefs[str(k)] = _finite_number(v, f"constraint.coefficients[{k!r}]")
        object.__setattr__(self, "coefficients", coefs)
        if self.upper is None and self.lower is None:
            raise SearchSpaceError("constraint needs an upper and/or a lower bound.")
        for f in ("upper", "lower"):
            if getattr(self, f) is not None:
                object.__setattr__(self, f, _finite_number(getattr(self, f), f"constraint.{f}"))
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
            lo = _finite_number(fidelity_range[0], "fidelity_range[0]")
            hi = _finite_number(fidelity_range[1], "fidelity_range[1]")
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
        v = _finite_number(z, where)
        lo, hi = self.fidelity_range or (1.0, 1.0)
        if (v < lo and not _close(v, lo)) or (v > hi and not _close(v, hi)):
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


__all__ = [
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "LinearConstraint",
    "OrdinalParam",
    "Param",
    "Scalar",
    "SearchSpace",
    "param_from_spec",
]

r"""Typed search-space parameters and their JSON spec.

Parameter kinds and their JSON spec (the service stores exactly this form)::

    {"name": "x0", "type": "float", "low": 0.0, "high": 1.0, "log": false}
    {"name": "adc_bits", "type": "int", "low": 3, "high": 8}
    {"name": "rows", "type": "ordinal", "values": [64, 128, 256, 512]}
    {"name": "encoding", "type": "categorical", "choices": ["differential", "offset"]}
    {"name": "node", "type": "fixed", "value": 22}

Unit-cube encoding of one parameter (one column, none for ``fixed``):

- ``float``: affine map of ``[low, high]`` (of ``[log low, log high]`` when ``log``) to ``[0, 1]``.
- ``int``, ``ordinal``, ``categorical``: the ``k`` levels (integers ``low..high``, the sorted
  ordinal values, the choices in spec order) split ``[0, 1]`` into ``k`` equal bins; level ``i``
  encodes to the bin centre ``(i + 0.5) / k`` and ``u`` decodes to level
  ``min(floor(u k), k - 1)``. Uniform ``u`` therefore gives uniform levels, and decoding is the
  exact inverse of encoding. Categoricals use a single column (not one-hot) to keep ``d`` small;
  the order of ``choices`` is the order a GP sees.
- ``fixed``: no column; ``SearchSpace.from_unit`` always adds its value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from optimizer.errors import SearchSpaceError
from optimizer.space._checks import close, finite_number, is_number

Scalar = str | int | float | bool
"""A JSON scalar: the type of categorical choices and fixed values."""



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
        lo = finite_number(self.low, f"Parameter {self.name!r}: low")
        hi = finite_number(self.high, f"Parameter {self.name!r}: high")
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
        if not is_number(value) or not math.isfinite(float(value)):
            raise SearchSpaceError(f"Parameter {self.name!r} must be a finite number, got "
                                   f"{value!r}.")
        v = float(value)
        if (v < self.low and not close(v, self.low)) or (v > self.high
                                                         and not close(v, self.high)):
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

    def _nonempty_tuple(self, field: str, value: Any, what: str) -> tuple[Any, ...]:
        """``value`` (the ``field`` of the spec, a list of ``what``) as a non-empty tuple."""
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise SearchSpaceError(f"Parameter {self.name!r}: {field} must be a list{what}.")
        out = tuple(value)
        if not out:
            raise SearchSpaceError(f"Parameter {self.name!r}: {field} must not be empty.")
        return out


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
            if not is_number(v) or not float(v).is_integer():
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
        if not is_number(value) or not math.isfinite(float(value)) or not float(
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
        vals = self._nonempty_tuple("values", self.values, " of numbers")
        for v in vals:
            finite_number(v, f"Parameter {self.name!r}: each of values")
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
            if close(float(value), float(v)):
                return i
        raise SearchSpaceError(
            f"Parameter {self.name!r}={value!r} is not one of {list(self.values)}."
        )

    def check(self, value: Any) -> int | float:
        if not is_number(value):
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
        ch = self._nonempty_tuple("choices", self.choices, "")
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
        return is_number(self.value)

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "fixed", "value": self.value}

    def check(self, value: Any) -> Scalar:
        same = (
            close(float(value), float(self.value))
            if is_number(value) and is_number(self.value)
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


__all__ = [
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "OrdinalParam",
    "Param",
    "Scalar",
    "param_from_spec",
]

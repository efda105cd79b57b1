"""Declared method options: one constraint table per method, checked by one function.

A method class lists its options once, as ``OPTIONS: ClassVar[dict[str, OptionSpec]]`` next
to its dataclass fields (the defaults), in the style of ``simulator.config.FIELD_CONSTRAINTS``::

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {
        "num_samples": IntRange(1),
        "approx": Choice(("gibbon", "tg")),
        "n_init": IntRange(1, nullable=True),
    }

``check_options`` reports every unknown name and every bad value at once
(``MethodOptionsError.errors``); ``DeclaredOptions.__post_init__`` applies it when a method is
constructed directly, and ``optimizer.suggest.validate_options`` before ``suggest()`` builds one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from optimizer.errors import MethodOptionsError


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class IntRange:
    """An integer in ``[low, high]`` (``high=None``: unbounded); ``nullable`` also allows
    ``None`` (JSON ``null``)."""

    low: int
    high: int | None = None
    nullable: bool = False

    def error(self, name: str, value: Any) -> str | None:
        """``None`` when ``value`` is allowed, else the message naming ``name``."""
        if value is None and self.nullable:
            return None
        if _is_int(value) and value >= self.low and (self.high is None or value <= self.high):
            return None
        rng = f">= {self.low}" if self.high is None else f"in [{self.low}, {self.high}]"
        null = "null or " if self.nullable else ""
        return f"{name}={value!r} must be {null}an integer {rng}"


@dataclass(frozen=True)
class FloatRange:
    """A finite real in ``[low, high]``; ``low_open``/``high_open`` exclude the ends;
    ``nullable`` also allows ``None``."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False

    def error(self, name: str, value: Any) -> str | None:
        """``None`` when ``value`` is allowed, else the message naming ``name``."""
        if value is None and self.nullable:
            return None
        if _is_number(value) and math.isfinite(value):
            above = value > self.low if self.low_open else value >= self.low
            below = value < self.high if self.high_open else value <= self.high
            if above and below:
                return None
        null = "null or " if self.nullable else ""
        if math.isinf(self.high):
            rng = f"{'>' if self.low_open else '>='} {self.low:g}"
        else:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            rng = f"in {left}{self.low:g}, {self.high:g}{right}"
        return f"{name}={value!r} must be {null}a finite number {rng}"


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def error(self, name: str, value: Any) -> str | None:
        """``None`` when ``value`` is allowed, else the message naming ``name``."""
        if isinstance(value, str) and value in self.values:
            return None
        return f"{name}={value!r} must be one of {list(self.values)}"


@dataclass(frozen=True)
class Flag:
    """``True`` or ``False``."""

    def error(self, name: str, value: Any) -> str | None:
        """``None`` when ``value`` is allowed, else the message naming ``name``."""
        return None if isinstance(value, bool) else f"{name}={value!r} must be true or false"


OptionSpec = IntRange | FloatRange | Choice | Flag
"""The constraint of one option."""

CONFIRM_OPTIONS: dict[str, OptionSpec] = {"confirm_top_k": IntRange(0)}
"""The option every model-based method declares (``OPTIONS = {..., **CONFIRM_OPTIONS}`` with a
``confirm_top_k`` field): the study's last ``confirm_top_k`` trials evaluate, at the target
fidelity, designs of the model's predicted front not evaluated there yet
(``app.execution.confirm``). The service reads it; the method ignores it. Declaring it is
what makes a method *model-based* to the service (``GET /pareto?source=predicted``)."""

OVERHEAD_POLICIES: tuple[str, ...] = ("measured", "none")
"""Values of ``proposal_overhead``, the option of the cost-aware multi-fidelity methods
(cf-mesmo, momf, mf-hvkg): ``"measured"`` (default) adds the observations' measured proposal
time (``TrainingData.overhead_s``) to every predicted cost; ``"none"`` prices evaluations by
their own time alone."""

BUDGET_PRICING: tuple[str, ...] = ("share", "time")
"""Values of ``budget_pricing``, the other cost option of those methods: ``"share"`` (default)
prices no evaluation below the seconds the study's time budget affords per trial it has left
(``SuggestContext.budget_per_trial_s``), since a short evaluation still uses up a trial;
``"time"`` prices evaluations by time alone even when the trial budget binds first."""

OVERHEAD_OPTIONS: dict[str, OptionSpec] = {"proposal_overhead": Choice(OVERHEAD_POLICIES),
                                           "budget_pricing": Choice(BUDGET_PRICING)}
"""The cost options (``OPTIONS = {..., **OVERHEAD_OPTIONS}`` with ``proposal_overhead`` and
``budget_pricing`` fields; read through ``mf_common.trial_cost_model``)."""


def check_options(method: str, table: Mapping[str, OptionSpec],
                  options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``options`` against a method's table.

    Args:
        method: Name used in the messages, e.g. ``"cf-mesmo"``.
        table: The method's declared options.
        options: Option values by name, as given.

    Returns:
        ``dict(options)``, unchanged (every value already allowed).

    Raises:
        MethodOptionsError: listing every bad value (table order) and every unknown name.
    """
    errors: list[tuple[str, str]] = []
    for name, spec in table.items():
        if name in options and (msg := spec.error(name, options[name])) is not None:
            errors.append((name, msg))
    for name in options:
        if name not in table:
            errors.append((str(name), f"unknown option {name!r}"))
    if errors:
        raise MethodOptionsError(method, errors)
    return dict(options)


def option_defaults(cls: type) -> dict[str, Any]:
    """Default value of each option of a dataclass method (its fields' defaults)."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return {f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}


class DeclaredOptions:
    """Mixin of a dataclass method whose fields are its options, declared in ``OPTIONS``:
    construction checks them (``MethodOptionsError`` naming each bad one)."""

    OPTIONS: ClassVar[dict[str, OptionSpec]] = {}

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name)
                  for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        check_options(type(self).__name__, self.OPTIONS, values)


__all__ = [
    "CONFIRM_OPTIONS",
    "OVERHEAD_OPTIONS",
    "OVERHEAD_POLICIES",
    "Choice",
    "DeclaredOptions",
    "Flag",
    "FloatRange",
    "IntRange",
    "OptionSpec",
    "check_options",
    "option_defaults",
]

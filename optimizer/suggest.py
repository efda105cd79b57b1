"""``suggest()``: the optimizer's one entry point, and the registry of methods behind it.

The optimizer is stateless. Every call receives the space, the objectives, every completed
observation and every pending (suggested, not yet completed) point, and returns ``n`` new
suggestions. A *method* is a small object with ``suggest(ctx) -> list[Suggestion]``; a *factory*
turns the study's method options into one.

Guarantees of ``suggest()`` whatever the method:

- inputs are validated (``ValueError`` subclasses naming the field);
- the method runs with ``XBAR_OPTIMIZER_THREADS`` (default 1) torch threads, restored after;
- the method runs under a torch RNG seeded from ``(seed, #observations, #pending)`` and forked
  from the caller's, so the same inputs give the same suggestions and the caller's global RNG
  is untouched;
- exactly ``n`` suggestions come back, each a valid, constraint-satisfying point of the space in
  canonical form (fixed parameters included) with a fidelity inside ``space.fidelity_range``
  (exactly 1.0 when the space has no fidelity range).

Adding a method: write a class with ``suggest(self, ctx: SuggestContext) -> list[Suggestion]``
whose keyword-only constructor arguments are its options, and add it to
``optimizer.methods.BUILTIN_METHODS`` (lazy, by import path) or call ``register_method``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from optimizer.errors import (
    ObservationError,
    OptimizerError,
    SearchSpaceError,
    UnknownMethodError,
)
from optimizer.space import SearchSpace
from optimizer.types import Objective, Observation, Suggestion

logger = logging.getLogger(__name__)


class Method(Protocol):
    """What a registered method provides."""

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        """Return ``ctx.n`` suggestions (``suggest()`` validates and canonicalizes them)."""
        ...


MethodFactory = Callable[[dict[str, Any]], Method]
"""Builds a method from the study's options dict; raises ``ValueError`` naming a bad option."""


@dataclass(frozen=True, kw_only=True)
class SuggestContext:
    """Everything one ``suggest()`` call knows; methods read it, never mutate it.

    Attributes:
        space: The search space.
        objectives: Objectives, in the order of the ``m`` columns of every objective tensor.
        observations: Completed evaluations, params in canonical form.
        pending: Points suggested earlier and not completed yet, params in canonical form.
        n: Number of suggestions to return, ``>= 1``.
        seed: The caller's seed.
        method: The method name the call asked for.
        options: The method options as passed (already consumed by the factory).
    """

    space: SearchSpace
    objectives: list[Objective]
    observations: list[Observation]
    pending: list[Suggestion]
    n: int
    seed: int
    method: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def target_fidelity(self) -> float:
        """Fidelity of a full evaluation (upper end of the range, or 1.0)."""
        return self.space.target_fidelity

    def is_full_fidelity(self, fidelity: float) -> bool:
        return fidelity >= self.target_fidelity - 1e-9

    @property
    def full_fidelity_observations(self) -> list[Observation]:
        return [o for o in self.observations if self.is_full_fidelity(o.fidelity)]

    def rng_seed(self, *salt: int) -> int:
        """A 63-bit seed derived from ``(seed, #observations, #pending, *salt)``."""
        entropy = [self.seed % 2**63, len(self.observations), len(self.pending),
                   *(int(s) % 2**63 for s in salt)]
        return int(np.random.SeedSequence(entropy).generate_state(2, np.uint64)[0] >> 1)

    def generator(self, *salt: int) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with ``rng_seed(*salt)``."""
        return torch.Generator().manual_seed(self.rng_seed(*salt))

    def taken_keys(self) -> set[tuple[Any, ...]]:
        """Keys (``space.key``) of every observed or pending point."""
        return {self.space.key(o.params) for o in self.observations} | {
            self.space.key(p.params) for p in self.pending
        }

    def can_avoid_duplicates(self, extra: int = 0) -> bool:
        """Whether enough unseen points remain to suggest ``n + extra`` new ones."""
        card = self.space.cardinality
        if card is None:
            return True
        return card >= len(self.taken_keys()) + self.n + extra

    def suggestion(self, params: dict[str, Any], **kw: Any) -> Suggestion:
        """A full-fidelity suggestion for a single-fidelity method."""
        return Suggestion(params=params, fidelity=self.target_fidelity, **kw)


_REGISTRY: dict[str, MethodFactory | str] = {}

THREADS_ENV = "XBAR_OPTIMIZER_THREADS"
"""Environment variable: torch intra-op threads while a method runs (default 1). The models are
small (hundreds of points), so extra threads buy little, while OpenMP threads spinning on a
shared, busy machine can slow a call tenfold."""


def _thread_limit() -> int:
    raw = os.environ.get(THREADS_ENV, "1")
    try:
        value = int(raw)
    except ValueError:
        raise OptimizerError(f"{THREADS_ENV} must be an integer, got {raw!r}.") from None
    return max(value, 1)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def register_method(name: str, factory: MethodFactory | str, *, replace: bool = False) -> None:
    """Register a method under ``name``.

    Args:
        name: Method name as studies spell it (e.g. ``"qnehvi"``).
        factory: A callable ``options -> Method``, or a lazy ``"module:attr"`` path to one
            (``attr`` is usually the method class, called with the options as keywords).
        replace: Allow replacing an existing registration.

    Raises:
        OptimizerError: if ``name`` is taken and ``replace`` is false.
    """
    if not isinstance(name, str) or not name:
        raise OptimizerError("method name must be a non-empty string.")
    if name in _REGISTRY and not replace:
        raise OptimizerError(f"method {name!r} is already registered.")
    _REGISTRY[name] = factory


def _ensure_builtins() -> None:
    from optimizer.methods import BUILTIN_METHODS

    for name, path in BUILTIN_METHODS.items():
        _REGISTRY.setdefault(name, path)


def _module_exists(path: str) -> bool:
    module = path.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available_methods() -> list[str]:
    """Registered method names whose implementation is importable, sorted."""
    _ensure_builtins()
    return sorted(
        name for name, f in _REGISTRY.items() if not isinstance(f, str) or _module_exists(f)
    )


def _resolve(name: str) -> MethodFactory:
    _ensure_builtins()
    if name not in available_methods():
        raise UnknownMethodError(
            f"method: unknown method {name!r}; available: {', '.join(available_methods())}."
        )
    entry = _REGISTRY[name]
    if not isinstance(entry, str):
        return entry
    module, _, attr = entry.partition(":")
    target = getattr(importlib.import_module(module), attr)

    def factory(options: dict[str, Any]) -> Method:
        try:
            return target(**options)
        except TypeError as e:
            raise OptimizerError(f"options for method {name!r}: {e}") from None

    return factory


def make_method(name: str, options: Mapping[str, Any] | None = None) -> Method:
    """Build the method ``name`` from its options.

    Raises:
        UnknownMethodError: for an unregistered or unimportable name.
        OptimizerError: for options the method rejects, naming them.
    """
    if options is not None and not isinstance(options, Mapping):
        raise OptimizerError(f"options must be an object, got {type(options).__name__}.")
    return _resolve(name)(dict(options or {}))


def _check_objectives(objectives: Sequence[Objective]) -> list[Objective]:
    if not isinstance(objectives, Sequence) or not objectives:
        raise OptimizerError("objectives: need at least one objective.")
    names = []
    for i, o in enumerate(objectives):
        if not isinstance(o, Objective):
            raise OptimizerError(f"objectives[{i}] must be an Objective.")
        names.append(o.name)
        if o.ref_point is not None and not math.isfinite(float(o.ref_point)):
            raise OptimizerError(f"objectives[{i}].ref_point must be finite.")
    if len(set(names)) != len(names):
        raise OptimizerError(f"objectives: duplicate names in {names}.")
    return list(objectives)


def _check_observations(space: SearchSpace, objectives: list[Objective],
                        observations: Sequence[Observation]) -> list[Observation]:
    out = []
    for i, ob in enumerate(observations):
        if not isinstance(ob, Observation):
            raise ObservationError(f"observations[{i}] must be an Observation.")
        try:
            params = space.validate_params(ob.params, check_constraints=False)
            fid = space.check_fidelity(ob.fidelity, "fidelity")
        except SearchSpaceError as e:
            raise ObservationError(f"observations[{i}]: {e}") from None
        for o in objectives:
            if o.name not in ob.values:
                raise ObservationError(
                    f"observations[{i}].values has no value for objective {o.name!r}."
                )
            v = ob.values[o.name]
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise ObservationError(
                    f"observations[{i}].values[{o.name!r}] must be a number, got {v!r}."
                )
        if not isinstance(ob.cost_s, int | float) or not ob.cost_s >= 0:
            raise ObservationError(f"observations[{i}].cost_s must be a number >= 0.")
        out.append(Observation(params=params, fidelity=fid, values=dict(ob.values),
                               cost_s=float(ob.cost_s)))
    return out


def _check_pending(space: SearchSpace, pending: Sequence[Suggestion]) -> list[Suggestion]:
    out = []
    for i, p in enumerate(pending):
        if not isinstance(p, Suggestion):
            raise ObservationError(f"pending[{i}] must be a Suggestion.")
        try:
            params = space.validate_params(p.params, check_constraints=False)
            fid = space.check_fidelity(p.fidelity, "fidelity")
        except SearchSpaceError as e:
            raise ObservationError(f"pending[{i}]: {e}") from None
        out.append(Suggestion(params=params, fidelity=fid,
                              info_gain_per_cost=p.info_gain_per_cost, extras=dict(p.extras)))
    return out


def suggest(
    space: SearchSpace,
    objectives: list[Objective],
    observations: list[Observation],
    pending: list[Suggestion],
    n: int,
    method: str,
    seed: int,
    options: dict[str, Any] | None = None,
) -> list[Suggestion]:
    """Propose ``n`` points (and fidelities) to evaluate next.

    Args:
        space: The search space.
        objectives: The objectives; observation values are looked up by their names.
        observations: Every completed evaluation so far (any fidelity).
        pending: Every point suggested earlier and not completed yet.
        n: Number of suggestions, ``>= 1``.
        method: A name from ``available_methods()``.
        seed: Seed; the same inputs and seed give the same suggestions.
        options: Method options (see ``docs/optimizer.md``); ``None`` for the defaults.

    Returns:
        ``n`` suggestions, params in canonical form, fidelity within the space's range.

    Raises:
        UnknownMethodError: for an unknown method.
        SearchSpaceError, ObservationError, OptimizerError: for bad inputs, naming the field.
    """
    if not isinstance(space, SearchSpace):
        raise OptimizerError("space must be a SearchSpace (use SearchSpace.from_spec).")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise OptimizerError(f"n must be an integer >= 1, got {n!r}.")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise OptimizerError(f"seed must be an integer, got {seed!r}.")
    if not isinstance(method, str):
        raise UnknownMethodError(f"method must be a string, got {method!r}.")
    objectives = _check_objectives(objectives)
    obs = _check_observations(space, objectives, observations)
    pend = _check_pending(space, pending)
    impl = make_method(method, options)
    ctx = SuggestContext(space=space, objectives=objectives, observations=obs, pending=pend,
                         n=n, seed=seed, method=method, options=dict(options or {}))
    with torch.random.fork_rng(devices=[]), _torch_threads(_thread_limit()):
        torch.manual_seed(ctx.rng_seed(0x5EED))
        raw = impl.suggest(ctx)
    if len(raw) != n:
        raise RuntimeError(f"method {method!r} returned {len(raw)} suggestions, expected {n}.")
    out = []
    for s in raw:
        params = space.validate_params(s.params)
        fid = space.check_fidelity(s.fidelity)
        out.append(Suggestion(params=params, fidelity=fid,
                              info_gain_per_cost=s.info_gain_per_cost, extras=dict(s.extras)))
    return out


__all__ = [
    "Method",
    "MethodFactory",
    "SuggestContext",
    "UnknownMethodError",
    "available_methods",
    "make_method",
    "register_method",
    "suggest",
]

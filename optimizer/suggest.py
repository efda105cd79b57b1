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

Adding a method: write a dataclass with ``suggest(self, ctx: SuggestContext) ->
list[Suggestion]`` (``optimizer.context``) whose keyword-only fields are its options, declared
in an ``OPTIONS`` table (``optimizer.methods.options``), and add it to
``optimizer.methods.BUILTIN_METHODS`` (lazy, by import path) or call ``register_method``.
``validate_options(method, options)`` checks a study's options without running the method.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import torch

from optimizer.context import SuggestContext
from optimizer.errors import (
    MethodOptionsError,
    ObservationError,
    OptimizerError,
    SearchSpaceError,
    UnknownMethodError,
)
from optimizer.methods import BUILTIN_METHODS
from optimizer.methods.options import check_options, option_defaults
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


@contextmanager
def optimizer_threads() -> Iterator[None]:
    """Run the block with ``XBAR_OPTIMIZER_THREADS`` torch threads, as ``suggest()`` runs a
    method (e.g. the service's predicted-front search, ``app.execution.confirm``)."""
    with _torch_threads(_thread_limit()):
        yield


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


def _entry(name: str) -> MethodFactory | str:
    _ensure_builtins()
    entry = _REGISTRY.get(name)  # only this name's module is looked up: once per call
    if entry is None or (isinstance(entry, str) and not _module_exists(entry)):
        raise UnknownMethodError(
            f"method: unknown method {name!r}; available: {', '.join(available_methods())}."
        )
    return entry


def _target(entry: MethodFactory | str) -> Any:
    """The object a registry entry names: the ``attr`` of a lazy ``"module:attr"`` path (the
    module is imported now), or the registered factory itself."""
    if not isinstance(entry, str):
        return entry
    module, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module), attr)


def _check_mapping(options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is not None and not isinstance(options, Mapping):
        raise OptimizerError(f"options must be an object, got {type(options).__name__}.")
    return dict(options or {})


def validate_options(method: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a method's options without running it (e.g. when a study is created).

    Methods that declare their options (an ``OPTIONS`` table, see
    ``optimizer.methods.options``; every built-in does) are checked against it; a registered
    factory without one is passed the options only when ``suggest()`` builds it.

    Args:
        method: A name from ``available_methods()``.
        options: The study's method options; ``None`` for the defaults.

    Returns:
        The complete options: every declared option with its default, overridden by the given
        values (unchanged). For a method without a table, the given options as a dict.

    Raises:
        UnknownMethodError: for an unregistered or unimportable method.
        MethodOptionsError: listing every unknown or out-of-range option in ``.errors`` as
            ``(option name, message)`` pairs, e.g. ``("foo", "unknown option 'foo'")``.
        OptimizerError: if ``options`` is not a mapping.
    """
    if not isinstance(method, str):
        raise UnknownMethodError(f"method must be a string, got {method!r}.")
    given = _check_mapping(options)
    target = _target(_entry(method))
    table = getattr(target, "OPTIONS", None)
    if not isinstance(table, Mapping):
        return given
    return {**option_defaults(target), **check_options(method, table, given)}


def declared_options(method: str) -> Mapping[str, Any] | None:
    """The ``OPTIONS`` table :func:`validate_options` checks ``method``'s options against, or
    ``None`` for a method that declares none (e.g. to publish them as a JSON Schema).

    Raises:
        UnknownMethodError: for an unregistered or unimportable method.
    """
    table = getattr(_target(_entry(method)), "OPTIONS", None)
    return table if isinstance(table, Mapping) else None


def _resolve(name: str) -> MethodFactory:
    entry = _entry(name)
    if not isinstance(entry, str) and not isinstance(getattr(entry, "OPTIONS", None), Mapping):
        return entry
    target = _target(entry)

    def factory(options: dict[str, Any]) -> Method:
        validate_options(name, options)
        try:
            return target(**options)
        except TypeError as e:
            raise OptimizerError(f"options for method {name!r}: {e}") from None

    return factory


def make_method(name: str, options: Mapping[str, Any] | None = None) -> Method:
    """Build the method ``name`` from its options.

    Raises:
        UnknownMethodError: for an unregistered or unimportable name.
        MethodOptionsError: for declared options the method rejects, naming each.
        OptimizerError: for options an undeclared method rejects.
    """
    opts = _check_mapping(options)
    return _resolve(name)(opts)


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


def _check_point(space: SearchSpace, point: Observation | Suggestion, where: str
                 ) -> tuple[dict[str, Any], float]:
    """Canonical ``(params, fidelity)`` of an observed or pending point; constraints are not
    checked (a point evaluated earlier stays valid). Errors name ``where``."""
    try:
        params = space.validate_params(point.params, check_constraints=False)
        fid = space.check_fidelity(point.fidelity, "fidelity")
    except SearchSpaceError as e:
        raise ObservationError(f"{where}: {e}") from None
    return params, fid


def _check_observations(space: SearchSpace, objectives: list[Objective],
                        observations: Sequence[Observation]) -> list[Observation]:
    out = []
    for i, ob in enumerate(observations):
        if not isinstance(ob, Observation):
            raise ObservationError(f"observations[{i}] must be an Observation.")
        params, fid = _check_point(space, ob, f"observations[{i}]")
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
        overhead = ob.overhead_s
        if overhead is not None and (not isinstance(overhead, int | float)
                                     or isinstance(overhead, bool)
                                     or not math.isfinite(overhead) or overhead < 0):
            raise ObservationError(
                f"observations[{i}].overhead_s must be a finite number >= 0 or null, "
                f"got {overhead!r}.")
        out.append(Observation(params=params, fidelity=fid, values=dict(ob.values),
                               cost_s=float(ob.cost_s),
                               variances=_check_variances(objectives, ob.variances, i),
                               overhead_s=None if overhead is None else float(overhead)))
    return out


def _check_variances(objectives: list[Objective], variances: Any, i: int
                     ) -> dict[str, float] | None:
    """``variances`` of ``observations[i]`` as floats: a mapping from objective names to
    finite numbers ``>= 0``, or ``None``."""
    if variances is None:
        return None
    where = f"observations[{i}].variances"
    if not isinstance(variances, Mapping):
        raise ObservationError(f"{where} must be an object or null.")
    names = {o.name for o in objectives}
    out = {}
    for k, v in variances.items():
        if k not in names:
            raise ObservationError(f"{where} names {k!r}, which is not an objective.")
        if (not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v)
                or v < 0):
            raise ObservationError(f"{where}[{k!r}] must be a finite number >= 0, got {v!r}.")
        out[k] = float(v)
    return out


def _check_pending(space: SearchSpace, pending: Sequence[Suggestion]) -> list[Suggestion]:
    out = []
    for i, p in enumerate(pending):
        if not isinstance(p, Suggestion):
            raise ObservationError(f"pending[{i}] must be a Suggestion.")
        params, fid = _check_point(space, p, f"pending[{i}]")
        out.append(Suggestion(params=params, fidelity=fid,
                              info_gain_per_cost=p.info_gain_per_cost, extras=dict(p.extras)))
    return out


def _check_unlisted(impl: Method, method: str, space: SearchSpace, count: Any) -> None:
    """Reject an ``n_unlisted_pending`` the method or the space cannot honour."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise OptimizerError(f"n_unlisted_pending must be an integer >= 0, got {count!r}.")
    if count == 0:
        return
    if not getattr(impl, "COUNTS_PENDING_ONLY", False):
        raise OptimizerError(f"method {method!r} needs every pending point listed; "
                             "n_unlisted_pending must be 0.")
    if space.cardinality is not None:
        raise OptimizerError("a finite space skips taken points: list every pending point "
                             "(n_unlisted_pending must be 0).")


def suggest(
    space: SearchSpace,
    objectives: list[Objective],
    observations: list[Observation],
    pending: list[Suggestion],
    n: int,
    method: str,
    seed: int,
    options: dict[str, Any] | None = None,
    *,
    max_evaluations: int | None = None,
    n_unlisted_pending: int = 0,
    budget_per_trial_s: float | None = None,
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
        max_evaluations: The study's evaluation budget (all trials, whatever their state), or
            ``None``; the multi-fidelity methods size their initial design by it.
        n_unlisted_pending: Pending points counted, not listed (``SuggestContext``); only for
            a method declaring ``COUNTS_PENDING_ONLY`` over a space without finite cardinality
            (a finite space skips taken points, so it needs them).
        budget_per_trial_s: Seconds of the study's time budget per trial it has left
            (``SuggestContext.budget_per_trial_s``), or ``None`` when it has no time budget or
            no trial budget; cost-aware methods price no evaluation below it.

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
    if max_evaluations is not None and (not isinstance(max_evaluations, int)
                                        or isinstance(max_evaluations, bool)
                                        or max_evaluations < 1):
        raise OptimizerError(
            f"max_evaluations must be null or an integer >= 1, got {max_evaluations!r}.")
    if budget_per_trial_s is not None and (
            not isinstance(budget_per_trial_s, int | float) or isinstance(budget_per_trial_s, bool)
            or not math.isfinite(budget_per_trial_s) or budget_per_trial_s < 0):
        raise OptimizerError("budget_per_trial_s must be null or a finite number >= 0, "
                             f"got {budget_per_trial_s!r}.")
    if not isinstance(method, str):
        raise UnknownMethodError(f"method must be a string, got {method!r}.")
    objectives = _check_objectives(objectives)
    obs = _check_observations(space, objectives, observations)
    pend = _check_pending(space, pending)
    impl = make_method(method, options)
    _check_unlisted(impl, method, space, n_unlisted_pending)
    ctx = SuggestContext(space=space, objectives=objectives, observations=obs, pending=pend,
                         n=n, seed=seed, method=method, options=dict(options or {}),
                         max_evaluations=max_evaluations, n_unlisted_pending=n_unlisted_pending,
                         budget_per_trial_s=(None if budget_per_trial_s is None
                                             else float(budget_per_trial_s)))
    with torch.random.fork_rng(devices=[]), _torch_threads(_thread_limit()):
        torch.default_generator.manual_seed(ctx.rng_seed(0x5EED))  # the CPU RNG fork_rng saves
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
    "MethodOptionsError",
    "SuggestContext",
    "UnknownMethodError",
    "available_methods",
    "declared_options",
    "make_method",
    "optimizer_threads",
    "register_method",
    "suggest",
    "validate_options",
]

r"""The ``crossbar`` problem: a DNN workload on ReRAM crossbar tiles, evaluated by the simulator.

This module is the one definition of the problem the service offers: its default search space
(in the optimizer's JSON spec format), fidelity range, objectives, the config fields and
optimizer options a study holds by default, and the request checks.

Default search space: design choices (array geometry, precisions, ADC sharing, encoding, node)
are searched; device facts (conductance window, programming/read noise, stuck-at rates, wire
resistance, read voltage, clock) stay at the :class:`~simulator.config.CrossbarConfig`
defaults of :mod:`simulator.params`, since a designer picks a device rather than tuning its
noise. A study can add any of them to its space (every spec name is a config field) or pin
them with ``fixed``. Domains come from :data:`simulator.config.FIELD_CONSTRAINTS` (choices, and
int bounds the design range shares with the config); the narrower design ranges are stated
here. Every combination of the values is a valid config: ``cols_per_adc`` values divide every
``cols`` value and ``dac_bits <= input_bits`` always holds.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from app.problems.common import ProblemSpec, field_error
from app.problems.config_rules import pair_violations, param_values
from app.problems.workloads import FILES_KEY, WorkloadFiles, builtin_names, workload_errors
from app.schemas.study import ProblemIn
from optimizer.errors import SearchSpaceError
from optimizer.space.params import param_from_spec
from optimizer.types import Objective
from simulator import CrossbarConfig
from simulator.config import FIELD_CONSTRAINTS, Choice, FloatRange, IntRange
from simulator.errors import ConfigError

__all__ = [
    "CROSSBAR",
    "CROSSBAR_CFMESMO_OPTIONS",
    "CROSSBAR_DEFAULTS",
    "DEFAULT_SEARCH_SPACE",
    "DEFAULT_WORKLOAD",
    "FIDELITY_RANGE",
    "OBJECTIVES",
    "OBJECTIVE_NAMES",
    "default_params",
    "default_space_spec",
    "objectives_public",
    "resolve_problem",
]

CROSSBAR = "crossbar"
"""The problem name, and the ``kind`` of its evaluator spec."""

DEFAULT_WORKLOAD = "digits-cnn"
"""Workload of a study whose ``problem.workload`` is omitted."""

FIDELITY_RANGE: tuple[float, float] = (0.0, 1.0)
"""Fidelities the simulator evaluates (the scale of :func:`simulator.fidelity_plan`); a
study's search space gets this range unless it states its own."""

OBJECTIVES: tuple[Objective, ...] = (
    Objective(name="accuracy", direction="maximize"),
    Objective(name="area_mm2", direction="minimize"),
    Objective(name="latency_us", direction="minimize"),
    Objective(name="energy_uj", direction="minimize"),
)
"""Objectives of a crossbar study, named as :class:`simulator.Evaluation` fields (accuracy as a
fraction, area [mm²], latency [µs] and energy [µJ] per inference), with no default reference
point (the service derives one from data)."""

OBJECTIVE_NAMES: tuple[str, ...] = tuple(o.name for o in OBJECTIVES)
"""The objective names, in order: the keys of a crossbar trial's ``values``."""

CROSSBAR_CFMESMO_OPTIONS: dict[str, Any] = {"min_full_share": 0.2}
"""``cf-mesmo`` options a crossbar study holds unless its ``optimizer.options`` say otherwise:
pure CF-MESMO evaluated only 3-9% of its points at full fidelity in the optimizer benchmark,
which left the reported front (full-fidelity results only) empty for tens of trials; with at
least 20% at full fidelity the front fills (benchmark: evaluated HV 0 -> 0.22 on Branin-Currin)
at the price of more cost early (docs/optimizer.md)."""

CROSSBAR_DEFAULTS: dict[str, Any] = {"analytic_below": 0.05}
"""CrossbarConfig fields a crossbar study holds unless its ``problem.fixed`` says otherwise:
fidelities below 0.05 use the analytic moment model (about a second per design) as the
cheapest tier the multi-fidelity optimizer can buy."""


def _int(name: str, low: int | None = None, high: int | None = None) -> dict[str, Any]:
    """An ``int`` spec for config field ``name``; omitted bounds are the config's own."""
    constraint = FIELD_CONSTRAINTS[name]
    assert isinstance(constraint, IntRange) and constraint.high is not None, name
    return {"name": name, "type": "int",
            "low": constraint.low if low is None else low,
            "high": constraint.high if high is None else high}


def _choices(name: str, kind: str) -> dict[str, Any]:
    """An ``ordinal`` (``values``) or ``categorical`` (``choices``) spec over every value the
    config allows for ``name``."""
    constraint = FIELD_CONSTRAINTS[name]
    assert isinstance(constraint, Choice), name
    key = "values" if kind == "ordinal" else "choices"
    return {"name": name, "type": kind, key: list(constraint.values)}


_ARRAY_SIZES = [64, 128, 256, 512]
"""Rows and columns per array searched (powers of two)."""
_DAC_BITS = [1, 2, 4]
"""Input bits per read cycle searched; ``input_bits`` starts at the largest, so
``dac_bits <= input_bits`` holds for every combination."""
_COLS_PER_ADC = [1, 2, 4, 8, 16, 32]
"""Columns sharing an ADC searched: powers of two up to ``min(_ARRAY_SIZES) / 2``, so each
divides every column count."""

DEFAULT_SEARCH_SPACE: list[dict[str, Any]] = [
    {"name": "rows", "type": "ordinal", "values": _ARRAY_SIZES},
    {"name": "cols", "type": "ordinal", "values": _ARRAY_SIZES},
    _int("cell_bits"),
    _int("weight_bits", low=3),
    _int("input_bits", low=max(_DAC_BITS)),
    {"name": "dac_bits", "type": "ordinal", "values": _DAC_BITS},
    _int("adc_bits", low=3, high=8),
    {"name": "cols_per_adc", "type": "ordinal", "values": _COLS_PER_ADC},
    _choices("tech_node_nm", "ordinal"),
    _choices("encoding", "categorical"),
]
"""Parameter specs of the default crossbar search space (read-only: use
:func:`default_params` for a copy)."""


def default_params() -> list[dict[str, Any]]:
    """A fresh copy of :data:`DEFAULT_SEARCH_SPACE` (callers may mutate it)."""
    return copy.deepcopy(DEFAULT_SEARCH_SPACE)


def default_space_spec() -> dict[str, Any]:
    """The space a crossbar study searches when its request has no ``search_space``:
    ``{"params": [...], "fidelity_range": [low, high]}``."""
    return {"params": default_params(), "fidelity_range": list(FIDELITY_RANGE)}


def objectives_public() -> list[dict[str, Any]]:
    """:data:`OBJECTIVES` as JSON: ``name``, ``direction`` and, when set, ``ref_point``."""
    out: list[dict[str, Any]] = []
    for o in OBJECTIVES:
        d: dict[str, Any] = {"name": o.name, "direction": o.direction}
        if o.ref_point is not None:
            d["ref_point"] = o.ref_point
        out.append(d)
    return out


def resolve_problem(problem: ProblemIn, errors: list[dict[str, Any]],
                    files: Mapping[str, WorkloadFiles] | None = None) -> ProblemSpec:
    """Check a crossbar ``problem``: its workload, options and data
    (:func:`app.problems.workloads.workload_errors`; ``files``: the file workloads the caller
    may name, whose blob digests go into the evaluator spec), every ``fixed`` value and every
    value and range of its search space against :data:`~simulator.config.FIELD_CONSTRAINTS`.

    Every problem found is appended to ``errors`` (:func:`field_error` entries, one per bad
    field); the space is returned even then, so that the objectives can still be checked.
    """
    workload = problem.workload or DEFAULT_WORKLOAD
    for loc, msg in workload_errors(workload, problem.workload_options, files):
        errors.append(field_error(["problem", *loc], msg))
    if problem.options:
        errors.append(field_error(["problem", "options"],
                                  "crossbar takes workload_options, not options"))
    raw = problem.search_space if problem.search_space is not None else default_params()
    spec = dict(raw) if isinstance(raw, dict) else {"params": list(raw)}
    spec.setdefault("fidelity_range", list(FIDELITY_RANGE))
    base: list[str | int] = ["problem", "search_space"]
    if isinstance(raw, dict):
        base.append("params")
    params = spec.get("params") or []
    if not isinstance(params, list) or not params:
        errors.append(field_error(["problem", "search_space"],
                                  "the search space has no parameters"))
        params = []
    n_before = len(errors)
    _check_params(params, base, errors)
    _check_fixed(problem.fixed, errors)
    fixed = {**CROSSBAR_DEFAULTS, **problem.fixed}
    file = files.get(workload) if files and workload not in builtin_names() else None
    if file is not None and file.analytic_tier is False:
        _no_analytic_tier(workload, problem.fixed, params, base, fixed, errors)
    if len(errors) == n_before:  # each value is fine alone: now every pair the space makes
        _check_pairs(params, base, fixed, spec.get("constraints") or [], errors)
    evaluator = {"kind": CROSSBAR, "workload": workload,
                 "workload_options": problem.workload_options, "fixed": fixed}
    if file is not None:
        evaluator[FILES_KEY] = file.spec()
    return ProblemSpec(spec, list(OBJECTIVES), evaluator)


def _no_analytic_tier(workload: str, requested: Mapping[str, Any], params: list[Any],
                      base: list[str | int], fixed: dict[str, Any],
                      errors: list[dict[str, Any]]) -> None:
    """For a file workload whose model the analytic moment tier cannot evaluate (recorded at
    upload, :func:`app.problems.workloads.analytic_tier_error`): the default
    ``analytic_below`` becomes 0 (every fidelity runs Monte-Carlo), and an ``analytic_below``
    the request asks for, fixed above 0 or searched, is refused, since each trial below it
    would fail."""
    why = (f"workload {workload!r} cannot use the analytic moment tier (its model is not a "
           "chain of layers the moment model handles); set analytic_below to 0")
    value = requested.get("analytic_below", 0)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        errors.append(field_error(["problem", "fixed", "analytic_below"], why))
    for i, p in enumerate(params):
        if isinstance(p, dict) and p.get("name") == "analytic_below":
            errors.append(field_error([*base, i], why))
    if "analytic_below" not in requested:
        fixed["analytic_below"] = 0.0


_FIELDS = frozenset(CrossbarConfig.__dataclass_fields__)
_MAX_INT_LEVELS = 4096
"""Largest int range searched over a field that allows only a set of values."""


def _value_error(name: str, value: Any) -> str | None:
    """Why ``value`` is not allowed for config field ``name`` (its own constraint), or
    ``None``. Numbers must be JSON numbers (an integral float counts as an int)."""
    constraint = FIELD_CONSTRAINTS.get(name)
    if constraint is None:
        return None
    numeric = not isinstance(constraint, Choice) or all(
        isinstance(v, int) and not isinstance(v, bool) for v in constraint.values)
    if numeric and isinstance(value, str):
        return f"{name} must be a number, got a string"
    if numeric and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    try:
        constraint.check(name, value)
    except ConfigError as e:
        return str(e).rstrip(".")
    return None


def _check_params(params: list[Any], base: list[str | int],
                  errors: list[dict[str, Any]]) -> None:
    """Append an entry for every bad parameter spec (its name, and each bound or value the
    config refuses); the structural checks of a well-named spec are the optimizer's, reported
    at ``problem.search_space``."""
    names: set[str] = set()
    for i, p in enumerate(params):
        loc = [*base, i]
        if not isinstance(p, dict):
            errors.append(field_error(loc, "a parameter must be an object"))
            continue
        name = p.get("name")
        if not isinstance(name, str) or name not in _FIELDS:
            errors.append(field_error([*loc, "name"],
                                      f"{name!r} is not a CrossbarConfig field"))
            continue
        if name in names:
            errors.append(field_error([*loc, "name"], f"{name!r} is searched twice"))
            continue
        names.add(name)
        try:
            param_from_spec(p, f"params[{i}]")
        except SearchSpaceError as e:
            errors.append(field_error(["problem", "search_space"], str(e)))
            continue
        _check_domain(name, p, loc, errors)


def _check_domain(name: str, p: dict[str, Any], loc: list[str | int],
                  errors: list[dict[str, Any]]) -> None:
    """Check every bound or listed value of a structurally valid parameter spec ``p``."""
    kind = p["type"]
    constraint = FIELD_CONSTRAINTS.get(name)
    if kind in ("int", "float"):
        if kind == "float" and not isinstance(constraint, FloatRange | None):
            allowed = "integers" if isinstance(constraint, IntRange) else "its choices"
            errors.append(field_error([*loc, "type"], f"{name} takes only {allowed}; search "
                                      "it as int, ordinal or categorical"))
            return
        if kind == "int" and isinstance(constraint, Choice):
            if p["high"] - p["low"] > _MAX_INT_LEVELS:
                errors.append(field_error([*loc, "high"], f"{name} allows only "
                                          f"{list(constraint.values)}"))
                return
            for v in range(p["low"], p["high"] + 1):
                if (msg := _value_error(name, v)) is not None:
                    errors.append(field_error(loc, msg))
                    return
            return
        for key in ("low", "high"):
            if (msg := _value_error(name, p[key])) is not None:
                errors.append(field_error([*loc, key], msg))
        return
    key = {"ordinal": "values", "categorical": "choices", "fixed": "value"}[kind]
    values = [p[key]] if kind == "fixed" else list(p[key])
    for j, v in enumerate(values):
        if (msg := _value_error(name, v)) is not None:
            errors.append(field_error([*loc, key] if kind == "fixed" else [*loc, key, j], msg))


def _check_pairs(params: list[dict[str, Any]], base: list[str | int], fixed: dict[str, Any],
                 constraints: list[Any], errors: list[dict[str, Any]]) -> None:
    """Append an entry per parameter (searched or fixed) of each cross-field rule that some
    combination of the space breaks (:func:`app.problems.config_rules.pair_violations`); the
    message names both fields and the first bad combination."""
    searched = {p["name"]: param_values(p) for p in params}
    locs: dict[str, list[str | int]] = {p["name"]: [*base, i] for i, p in enumerate(params)}
    locs.update({k: ["problem", "fixed", k] for k in fixed if k not in searched})
    defaults = {**CrossbarConfig().to_dict(), **fixed}
    for a, b, msg in pair_violations(searched, defaults, constraints):
        for name in (a, b):
            if name in locs:
                errors.append(field_error(locs[name], msg))


def _check_fixed(fixed: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    """Append an entry per bad ``fixed`` field (unknown, or a refused value), then,
    when each is fine on its own, the config's cross-field rules at ``problem.fixed``."""
    n_before = len(errors)
    for key, value in fixed.items():
        loc: list[str | int] = ["problem", "fixed", key]
        if key not in _FIELDS:
            errors.append(field_error(loc, f"unknown CrossbarConfig field {key!r}"))
        elif (msg := _value_error(key, value)) is not None:
            errors.append(field_error(loc, msg))
    if len(errors) > n_before:
        return
    try:
        CrossbarConfig.from_params({**CROSSBAR_DEFAULTS, **fixed})
    except ValueError as e:
        errors.append(field_error(["problem", "fixed"], str(e)))

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
from typing import Any

from app.problems.common import ProblemSpec, field_error
from app.schemas.study import ProblemIn
from optimizer.types import Objective
from simulator import CrossbarConfig, list_workloads
from simulator.config import FIELD_CONSTRAINTS, Choice, IntRange

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


def resolve_problem(problem: ProblemIn, errors: list[dict[str, Any]]) -> ProblemSpec:
    """Check a crossbar ``problem`` (workload, ``fixed`` fields, space parameter names).

    Every problem found is appended to ``errors`` (:func:`field_error` entries); the space is
    returned even then, so that the objectives can still be checked.
    """
    workload = problem.workload or DEFAULT_WORKLOAD
    names = [w["name"] for w in list_workloads()]
    if workload not in names:
        errors.append(field_error(["problem", "workload"],
                                  f"unknown workload {workload!r}; available: {', '.join(names)}"))
    if problem.options:
        errors.append(field_error(["problem", "options"],
                                  "crossbar takes workload_options, not options"))
    fixed = {**CROSSBAR_DEFAULTS, **problem.fixed}
    try:
        CrossbarConfig.from_params(fixed)
    except ValueError as e:
        errors.append(field_error(["problem", "fixed"], str(e)))
    raw = problem.search_space if problem.search_space is not None else default_params()
    spec = dict(raw) if isinstance(raw, dict) else {"params": list(raw)}
    spec.setdefault("fidelity_range", list(FIDELITY_RANGE))
    params = spec.get("params") or []
    if not params:
        errors.append(field_error(["problem", "search_space"],
                                  "the search space has no parameters"))
    fields = set(CrossbarConfig.__dataclass_fields__)
    for i, p in enumerate(params):
        name = p.get("name") if isinstance(p, dict) else None
        if name not in fields:
            errors.append(field_error(["problem", "search_space", i, "name"],
                                      f"{name!r} is not a CrossbarConfig field"))
    evaluator = {"kind": CROSSBAR, "workload": workload,
                 "workload_options": problem.workload_options, "fixed": fixed}
    return ProblemSpec(spec, list(OBJECTIVES), evaluator)

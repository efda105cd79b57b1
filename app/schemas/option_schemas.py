"""JSON Schemas of declared options, written from the declarations the validators apply (one
home for the numbers): optimizer method options (:mod:`optimizer.methods.options` specs, checked
by :func:`optimizer.suggest.validate_options`) and workload or benchmark options
(:class:`simulator.workloads.OptionSpec`, checked by ``OptionSpec.check``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from optimizer.methods import options as method_options
from simulator.workloads import OptionSpec

NULL = {"type": "null"}

_JSON_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}
"""``OptionSpec.type`` -> JSON Schema type."""
_STR_MAX = 200
"""Longest string option (``OptionSpec.check``)."""


def nullable(schema: dict[str, Any], allowed: bool = True) -> dict[str, Any]:
    """``schema``, or ``null`` too when ``allowed``."""
    return {"anyOf": [schema, NULL]} if allowed else schema


def bounds(low: float | None, high: float | None, *, low_open: bool = False,
           high_open: bool = False) -> dict[str, Any]:
    """``minimum``/``exclusiveMinimum`` and ``maximum``/``exclusiveMaximum`` for the finite
    ends of ``[low, high]`` (``None`` or an infinite end: unbounded)."""
    out: dict[str, Any] = {}
    if low is not None and math.isfinite(low):
        out["exclusiveMinimum" if low_open else "minimum"] = low
    if high is not None and math.isfinite(high):
        out["exclusiveMaximum" if high_open else "maximum"] = high
    return out


def method_option_schema(spec: method_options.OptionSpec) -> dict[str, Any]:
    """The schema of one declared method option (``IntRange``, ``FloatRange``, ``Choice``,
    ``Flag``)."""
    if isinstance(spec, method_options.IntRange):
        return nullable({"type": "integer", **bounds(spec.low, spec.high)}, spec.nullable)
    if isinstance(spec, method_options.FloatRange):
        return nullable({"type": "number", **bounds(spec.low, spec.high, low_open=spec.low_open,
                                                    high_open=spec.high_open)}, spec.nullable)
    if isinstance(spec, method_options.Choice):
        return {"enum": list(spec.values)}
    if isinstance(spec, method_options.Flag):
        return {"type": "boolean"}
    raise TypeError(f"no JSON Schema for method option spec {spec!r}")


def method_options_schema(table: Mapping[str, method_options.OptionSpec] | None,
                          ) -> dict[str, Any]:
    """``optimizer.options`` of a method with this ``OPTIONS`` table: only its options, each
    in its domain; any object when the method declares none (``None``)."""
    if table is None:
        return {"type": "object", "maxProperties": 64}
    return {"type": "object", "additionalProperties": False,
            "properties": {name: method_option_schema(spec) for name, spec in table.items()}}


def option_spec_schema(spec: OptionSpec) -> dict[str, Any]:
    """The schema of one declared workload or benchmark option."""
    schema: dict[str, Any] = {"type": _JSON_TYPES[spec.type]}
    if spec.choices is not None:
        schema = {"enum": list(spec.choices)}
    elif spec.type in ("int", "float"):
        schema.update(bounds(spec.low, spec.high))
    elif spec.type == "str":
        schema["maxLength"] = _STR_MAX
    if spec.description:
        schema["description"] = spec.description
    return nullable(schema, spec.nullable)


def declared_options_schema(specs: Iterable[OptionSpec] | None) -> dict[str, Any]:
    """An options object holding only the declared options (none declared: ``{}`` only);
    ``None`` (a factory that declares nothing): any object."""
    if specs is None:
        return {"type": "object", "maxProperties": 64}
    return {"type": "object", "additionalProperties": False,
            "properties": {o.name: option_spec_schema(o) for o in specs}}

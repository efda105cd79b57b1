r"""The published JSON Schema of a crossbar study's ``problem.search_space`` and ``problem.fixed``,
written from :data:`simulator.config.FIELD_CONSTRAINTS` (the constraints
:mod:`app.problems.crossbar` checks each spec against), so the numbers have one home.

Each parameter spec is one variant per (config field, kind) that the field's constraint admits:
``int``/``float`` ranges, ``ordinal`` values, ``categorical`` choices and ``fixed`` values within
the field's domain; no ``float`` for integer or choice fields, no ``ordinal`` of strings. Where
a domain is small the cross-field rule of a spec is stated exactly too: an ``int`` range over at
most :data:`ENUMERATED_LEVELS` values lists one variant per ``low`` (so ``low < high``), and the
``ordinal`` values of at most :data:`ENUMERATED_SUBSETS_OF` levels are the enum of their
increasing subsets. What JSON Schema cannot state stays a creation check only, named in
:data:`UNSTATED_RULES`.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from app.schemas.option_schemas import NULL, bounds
from app.schemas.space import SPACE_MAX_PARAMS
from simulator import CrossbarConfig
from simulator.config import FIELD_CONSTRAINTS, Choice, FloatRange, IntRange

__all__ = ["ENUMERATED_LEVELS", "ENUMERATED_SUBSETS_OF", "UNSTATED_RULES", "field_schema",
           "fixed_schema", "param_schema", "params_schema", "search_space_schema"]

ENUMERATED_LEVELS = 16
"""Widest integer domain whose ``int`` ranges are listed one variant per ``low``."""
ENUMERATED_SUBSETS_OF = 6
"""Most levels of a domain whose strictly increasing ``ordinal`` lists are enumerated."""

UNSTATED_RULES: dict[str, str] = {
    "low must be less than high": "an int/float range over a wide domain: low < high",
    "strictly increasing": "ordinal values over a wide domain",
    "searched twice": "a config field searched by two specs",
    "duplicate parameter name": "a config field searched by two specs",
    "fidelity_range must satisfy": "fidelity_range: z_min < z_max",
    "names unknown parameter": "a linear constraint over a field the space does not search",
    "names non-numeric parameter": "a linear constraint over a categorical or fixed spec",
    "exceeds constraint.upper": "a linear constraint with lower > upper",
    "must be <= input_bits": "CrossbarConfig: dac_bits <= input_bits over the space",
    "must divide cols": "CrossbarConfig: cols_per_adc divides cols over the space",
    "must be greater than g_off_us": "CrossbarConfig: g_on_us > g_off_us over the space",
    "saf_sa0 + saf_sa1 must be <= 1": "CrossbarConfig: saf_sa0 + saf_sa1 <= 1 over the space",
    "value pairs, more than the": "a related pair of fields with too many value pairs to check",
}
"""Cross-field rules of a crossbar space that no JSON Schema states, by a fragment of the
message that refuses them (:mod:`app.problems.crossbar`, :mod:`app.problems.config_rules`,
:mod:`optimizer.space`): a schema-valid body may still get a 422 naming one of these."""

_FIELDS = tuple(CrossbarConfig.__dataclass_fields__)
Constraint = IntRange | FloatRange | Choice


def field_schema(constraint: Constraint | None) -> dict[str, Any]:
    """The values a config field allows: its constraint as a JSON Schema (no constraint: any
    JSON scalar)."""
    if isinstance(constraint, IntRange):
        return {"type": "integer", **bounds(constraint.low, constraint.high)}
    if isinstance(constraint, FloatRange):
        return {"type": "number", **bounds(constraint.low, constraint.high,
                                           low_open=constraint.low_open)}
    if isinstance(constraint, Choice):
        return {"enum": list(constraint.values)}
    return {"type": ["string", "number", "boolean"]}


def _levels(constraint: Constraint | None) -> list[Any] | None:
    """Every value of a finite numeric domain, in order (``None``: unbounded or not numeric)."""
    if isinstance(constraint, Choice):
        numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in constraint.values)
        return sorted(constraint.values) if numeric else None
    if isinstance(constraint, IntRange) and constraint.high is not None:
        return list(range(constraint.low, constraint.high + 1))
    if isinstance(constraint, FloatRange) and math.isfinite(constraint.high):
        low = math.floor(constraint.low) + 1 if constraint.low_open else math.ceil(constraint.low)
        return list(range(low, math.floor(constraint.high) + 1))
    return None


def _spec(name: str, kind: str, fields: dict[str, Any], required: tuple[str, ...],
          title: str | None = None) -> dict[str, Any]:
    return {"type": "object", "title": title or f"{name}: {kind}",
            "properties": {"name": {"const": name}, "type": {"const": kind}, **fields},
            "required": ["name", "type", *required], "additionalProperties": False}


def _int_variants(name: str, constraint: Constraint | None) -> list[dict[str, Any]]:
    """``int`` specs: integer ends in the domain; per ``low`` when the domain is small."""
    if isinstance(constraint, Choice):
        levels = _levels(constraint) or []
        runs = [(a, b) for a, b in itertools.pairwise(levels) if b == a + 1]
        return [_spec(name, "int", {"low": {"const": a}, "high": {"const": b}}, ("low", "high"))
                for a, b in runs]  # every integer of the range must be a choice
    levels = _levels(constraint)
    whole = field_schema(constraint)
    if isinstance(constraint, FloatRange):
        whole = {"type": "integer", **bounds(constraint.low, constraint.high,
                                             low_open=constraint.low_open)}
    if levels is None or len(levels) > ENUMERATED_LEVELS:
        return [_spec(name, "int", {"low": whole, "high": whole}, ("low", "high"))]
    return [_spec(name, "int", {"low": {"const": low},
                                "high": {"type": "integer", "minimum": low + 1,
                                         "maximum": levels[-1]}},
                  ("low", "high"), f"{name}: int from {low}")
            for low in levels[:-1]]


def _float_variants(name: str, constraint: FloatRange | None) -> list[dict[str, Any]]:
    """``float`` specs of a real-valued field: linear, and log-scaled with ``low > 0``."""
    end = field_schema(constraint)
    positive = {**end, "exclusiveMinimum": max(0.0, constraint.low if constraint else 0.0)}
    positive.pop("minimum", None)
    return [_spec(name, "float", {"low": end, "high": end, "log": {"const": False}},
                  ("low", "high")),
            _spec(name, "float", {"low": positive, "high": positive, "log": {"const": True}},
                  ("low", "high", "log"), f"{name}: float (log)")]


def _ordinal_variant(name: str, constraint: Constraint | None) -> list[dict[str, Any]]:
    """``ordinal`` specs of a numeric field: strictly increasing values of its domain."""
    levels = None if isinstance(constraint, FloatRange) else _levels(constraint)
    if levels is not None and len(levels) <= ENUMERATED_SUBSETS_OF:
        values: dict[str, Any] = {"enum": [list(c) for n in range(1, len(levels) + 1)
                                           for c in itertools.combinations(levels, n)]}
    else:
        values = {"type": "array", "items": field_schema(constraint), "minItems": 1,
                  "uniqueItems": True}
    return [_spec(name, "ordinal", {"values": values}, ("values",))]


def param_schema(name: str) -> list[dict[str, Any]]:
    """Every spec variant config field ``name`` may be searched with."""
    constraint = FIELD_CONSTRAINTS.get(name)
    value = field_schema(constraint)
    choices = {"type": "array", "items": value, "minItems": 1, "uniqueItems": True}
    strings = isinstance(constraint, Choice) and _levels(constraint) is None
    variants: list[dict[str, Any]] = []
    if not strings:
        variants += _int_variants(name, constraint)
        if isinstance(constraint, FloatRange):
            variants += _float_variants(name, constraint)
        variants += _ordinal_variant(name, constraint)
    variants.append(_spec(name, "categorical", {"choices": choices}, ("choices",)))
    variants.append(_spec(name, "fixed", {"value": value}, ("value",)))
    return variants


def params_schema() -> dict[str, Any]:
    """One parameter spec of a crossbar space: any variant of any config field, the fields
    whose variants are alike (the same domain) sharing one variant with a ``name`` enum."""
    grouped: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for name in _FIELDS:
        for variant in param_schema(name):
            rest = {**variant, "properties": {**variant["properties"], "name": None},
                    "title": None}
            key = json.dumps(rest, sort_keys=True)
            grouped.setdefault(key, (variant, []))[1].append(name)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for variant, names in grouped.values():
        kind = variant["properties"]["type"]["const"]
        by_kind.setdefault(kind, []).append(
            {**variant, "title": f"{kind}: {', '.join(names)}",
             "properties": {**variant["properties"], "name": {"enum": names}}})
    # nested by kind: one flat anyOf of every variant is past what generators canonicalize
    return {"anyOf": [{"title": f"{kind} parameter", "anyOf": variants}
                      for kind, variants in by_kind.items()]}


def search_space_schema(param_ref: str) -> dict[str, Any]:
    """``null`` (the default space), a list of parameter specs (``param_ref``: the schema of
    one), or the object form with ``params``, ``constraints`` and ``fidelity_range``."""
    params = {"type": "array", "items": {"$ref": param_ref}, "minItems": 1,
              "maxItems": SPACE_MAX_PARAMS}
    numeric = [n for n in _FIELDS
               if not (isinstance(FIELD_CONSTRAINTS.get(n), Choice)
                       and _levels(FIELD_CONSTRAINTS.get(n)) is None)]
    constraint = {
        "type": "object",
        "properties": {"coefficients": {"type": "object", "minProperties": 1,
                                        "propertyNames": {"enum": numeric},
                                        "additionalProperties": {"type": "number"}},
                       "upper": {"type": "number"}, "lower": {"type": "number"}},
        "required": ["coefficients"], "additionalProperties": False,
        "anyOf": [{"required": ["upper"]}, {"required": ["lower"]}],
    }
    unit = {"type": "number", "minimum": 0.0, "maximum": 1.0}
    whole = {
        "type": "object",
        "properties": {"params": params,
                       "constraints": {"anyOf": [{"type": "array", "items": constraint}, NULL]},
                       "fidelity_range": {"anyOf": [{"type": "array", "items": unit,
                                                     "minItems": 2, "maxItems": 2}, NULL]}},
        "required": ["params"], "additionalProperties": False,
    }
    return {"anyOf": [params, whole, NULL],
            "description": "CrossbarConfig fields to search, each within its domain (a list "
                           "of specs, or an object with 'params'); the default space when "
                           "omitted. Also checked at creation: "
                           + "; ".join(sorted(set(UNSTATED_RULES.values()))) + "."}


def fixed_schema() -> dict[str, Any]:
    """``problem.fixed``: CrossbarConfig fields held fixed, each within its domain."""
    return {"type": "object", "additionalProperties": False,
            "properties": {n: field_schema(FIELD_CONSTRAINTS.get(n)) for n in _FIELDS},
            "description": "CrossbarConfig fields held fixed (each within its domain; the "
                           "config's cross-field rules are checked at creation)."}

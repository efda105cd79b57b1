r"""The published JSON Schema of a crossbar study's ``problem.search_space`` and ``problem.fixed``,
written from :data:`simulator.config.FIELD_CONSTRAINTS` (the constraints
:mod:`app.problems.crossbar` checks each spec against), so the numbers have one home.

The schema admits only definitions that creation accepts (every body it admits is accepted),
and states each rule exactly where it publishes a field or kind; what it leaves out is still
accepted at creation and listed in :data:`UNSTATED_RULES`. That is:

- the fields of a cross-field rule (:data:`app.problems.config_rules.CONFIG_PAIRS`) are not
  published, except one of a pair whose every value holds with the other's default
  (``input_bits``: any value holds with ``dac_bits`` 1);
- parameter specs: ``categorical`` for string choices; ``ordinal`` over a domain of at most
  :data:`ENUMERATED_SUBSETS_OF` levels, its strictly increasing lists as an enum; ``int`` over
  a domain of at most :data:`ENUMERATED_LEVELS` levels, one variant per ``low`` (so
  ``low < high``); each field searched once (``maxContains``). Float ranges, ``fixed`` specs
  (``problem.fixed`` holds a field fixed), wide int domains, linear constraints and
  ``fidelity_range`` are not published.

Few, plain variants on purpose: generators canonicalize an ``anyOf`` of object variants in time
growing with about the cube of their number (24 variants 1 s, 33 over 5 s; past 50 they give
up), see docs/decisions.md.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from app.problems.config_rules import CONFIG_PAIRS
from app.schemas.option_schemas import NULL, bounds
from simulator import CrossbarConfig
from simulator.config import FIELD_CONSTRAINTS, Choice, FloatRange, IntRange
from simulator.errors import ConfigError

__all__ = ["ENUMERATED_LEVELS", "ENUMERATED_SUBSETS_OF", "UNSTATED_RULES", "field_schema",
           "fixed_schema", "params_schema", "published_fields", "search_space_schema"]

ENUMERATED_LEVELS = 4
"""Widest integer domain whose ``int`` ranges are published (one variant per ``low``)."""
ENUMERATED_SUBSETS_OF = 9
"""Most levels of a domain whose strictly increasing ``ordinal`` lists are published."""

UNSTATED_RULES: dict[str, str] = {
    "cross-field": "fields of a CrossbarConfig cross-field rule (dac_bits <= input_bits, "
                   "cols_per_adc divides cols, g_on_us > g_off_us, saf_sa0 + saf_sa1 <= 1), "
                   "searched or fixed, with the rule holding over the whole space",
    "float": "float ranges (low < high; log-scaled with low > 0) and int ranges over wide "
             "domains",
    "fixed spec": "'fixed' parameter specs, and categorical specs of numeric fields",
    "ordinal": "ordinal values (strictly increasing) over a domain of more than "
               f"{ENUMERATED_SUBSETS_OF} levels",
    "object form": "the object form of a space ({params, constraints, fidelity_range}: "
                   "linear constraints, z_min < z_max)",
}
"""What a crossbar space may hold beyond the published schema (checked at creation only), by
topic."""

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
    """Every value of a finite domain, in order (``None``: unbounded or real-valued)."""
    if isinstance(constraint, Choice):
        numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in constraint.values)
        return sorted(constraint.values) if numeric else list(constraint.values)
    if isinstance(constraint, IntRange) and constraint.high is not None:
        return list(range(constraint.low, constraint.high + 1))
    return None


def _holds_with_defaults(name: str) -> bool:
    """Whether every value of field ``name`` (each level, or both ends of a real range) makes
    a valid config with every other field at its default."""
    constraint = FIELD_CONSTRAINTS.get(name)
    values = _levels(constraint)
    if values is None and isinstance(constraint, FloatRange):
        low = constraint.low if not constraint.low_open else math.nextafter(constraint.low, 1)
        values = [low, constraint.high if math.isfinite(constraint.high) else 1e300]
    for value in values or []:
        try:
            CrossbarConfig.from_params({name: value})
        except ConfigError:
            return False
    return values is not None


def published_fields() -> tuple[str, ...]:
    """The config fields the schema publishes: every field but those of a cross-field rule,
    of which at most one per pair (the second whose every value holds with the other's
    default) is kept."""
    left_out: set[str] = set()
    for a, b in CONFIG_PAIRS:
        keep = next((n for n in (b, a) if _holds_with_defaults(n)), None)
        left_out.update(n for n in (a, b) if n != keep)
    return tuple(n for n in _FIELDS if n not in left_out)


def _spec(names: list[str], kind: str, fields: dict[str, Any], required: tuple[str, ...],
          title: str) -> dict[str, Any]:
    return {"type": "object", "title": title,
            "properties": {"name": {"enum": names}, "type": {"const": kind}, **fields},
            "required": ["name", "type", *required], "additionalProperties": False}


def _variants(name: str) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """``(kind, fields, required)`` of every spec published for field ``name``."""
    constraint = FIELD_CONSTRAINTS.get(name)
    levels = _levels(constraint)
    if levels is None:
        return []
    if isinstance(constraint, Choice) and not isinstance(levels[0], int):
        return [("categorical", {"choices": {"type": "array", "items": field_schema(constraint),
                                             "minItems": 1, "uniqueItems": True}}, ("choices",))]
    out: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
    if isinstance(constraint, IntRange) and len(levels) <= ENUMERATED_LEVELS:
        out += [("int", {"low": {"const": low}, "high": {"type": "integer", "minimum": low + 1,
                                                        "maximum": levels[-1]}}, ("low", "high"))
                for low in levels[:-1]]
    if len(levels) <= ENUMERATED_SUBSETS_OF:
        subsets = [list(c) for n in range(1, len(levels) + 1)
                   for c in itertools.combinations(levels, n)]
        out.append(("ordinal", {"values": {"enum": subsets}}, ("values",)))
    return out


def params_schema() -> dict[str, Any]:
    """One parameter spec of a crossbar space: a variant per (kind, domain), the fields of one
    domain sharing it through a ``name`` enum."""
    grouped: dict[str, tuple[str, dict[str, Any], tuple[str, ...], list[str]]] = {}
    for name in published_fields():
        for kind, fields, required in _variants(name):
            key = repr((kind, fields))
            grouped.setdefault(key, (kind, fields, required, []))[3].append(name)
    return {"anyOf": [_spec(names, kind, fields, required,
                            f"{kind}: {', '.join(names)}"
                            + (f" from {fields['low']['const']}" if kind == "int" else ""))
                      for kind, fields, required, names in grouped.values()]}


def searchable_fields() -> list[str]:
    """The fields some published parameter spec searches."""
    return [n for n in published_fields() if _variants(n)]


def search_space_schema(param_ref: str) -> dict[str, Any]:
    """``null`` (the default space) or a list of parameter specs (``param_ref``: the schema of
    one), each field at most once. The object form (``params`` with ``constraints`` and
    ``fidelity_range``) is accepted at creation but not published: it would double what a
    generator's coverage phase walks for the same parameter specs."""
    once = [{"contains": {"properties": {"name": {"const": n}}}, "minContains": 0,
             "maxContains": 1} for n in searchable_fields()]
    params = {"type": "array", "items": {"$ref": param_ref}, "minItems": 1,
              "maxItems": len(once), "allOf": once}
    return {"anyOf": [params, NULL],
            "description": "CrossbarConfig fields to search, each within its domain and at "
                           "most once (a list of specs); the default space when "
                           "omitted. Also accepted at creation, not "
                           "stated here: " + "; ".join(UNSTATED_RULES.values()) + "."}


def fixed_schema() -> dict[str, Any]:
    """``problem.fixed``: CrossbarConfig fields held fixed, each within its domain (the fields
    of a cross-field rule left out, see :func:`published_fields`)."""
    return {"type": "object", "additionalProperties": False,
            "properties": {n: field_schema(FIELD_CONSTRAINTS.get(n))
                           for n in published_fields()},
            "description": "CrossbarConfig fields held fixed, each within its domain (also "
                           "accepted at creation: " + UNSTATED_RULES["cross-field"] + ")."}

"""The published JSON Schema of a study's ``problem.search_space``: the optimizer's spec
format (:mod:`optimizer.space.params`, :mod:`optimizer.space.search_space`) as a list of
parameter specs discriminated by ``type``, or the object form with ``params``,
``constraints`` and ``fidelity_range``.

The schema states structure and JSON types; what depends on the problem (which names a
crossbar space may search, each field's domain, ``low < high``, increasing ordinal values,
cross-field rules) is checked at creation (:mod:`app.problems.crossbar`).
"""

from __future__ import annotations

from typing import Any

SPACE_MAX_PARAMS = 64
"""Most parameters a search space lists."""

_NAME = {"type": "string", "minLength": 1}
_NUMBER = {"type": "number"}
_SCALAR = {"type": ["string", "number", "boolean"]}

_KIND_FIELDS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    # type -> (its fields' schemas, the required ones): optimizer.space.params._PARAM_FIELDS
    "float": ({"low": _NUMBER, "high": _NUMBER, "log": {"type": "boolean"}}, ("low", "high")),
    "int": ({"low": {"type": "integer"}, "high": {"type": "integer"}}, ("low", "high")),
    "ordinal": ({"values": {"type": "array", "items": _NUMBER, "minItems": 1}}, ("values",)),
    "categorical": ({"choices": {"type": "array", "items": _SCALAR, "minItems": 1}},
                    ("choices",)),
    "fixed": ({"value": _SCALAR}, ("value",)),
}


def param_spec_schema() -> dict[str, Any]:
    """One parameter spec: ``{"name", "type", ...}`` with the fields of its ``type``."""
    variants = []
    for kind, (fields, required) in _KIND_FIELDS.items():
        variants.append({
            "type": "object", "title": f"{kind} parameter",
            "properties": {"name": _NAME, "type": {"const": kind}, **fields},
            "required": ["name", "type", *required], "additionalProperties": False,
        })
    return {"oneOf": variants}


def search_space_schema() -> dict[str, Any]:
    """``null`` (the problem's default space), a list of parameter specs, or the object form."""
    params = {"type": "array", "items": param_spec_schema(), "minItems": 1,
              "maxItems": SPACE_MAX_PARAMS}
    constraint = {
        "type": "object",
        "properties": {"coefficients": {"type": "object", "additionalProperties": _NUMBER,
                                        "minProperties": 1},
                       "upper": _NUMBER, "lower": _NUMBER},
        "required": ["coefficients"], "additionalProperties": False,
        "anyOf": [{"required": ["upper"]}, {"required": ["lower"]}],
    }
    whole = {
        "type": "object",
        "properties": {"params": params,
                       "constraints": {"anyOf": [{"type": "array", "items": constraint},
                                                 {"type": "null"}]},
                       "fidelity_range": {"anyOf": [{"type": "array", "items": _NUMBER,
                                                     "minItems": 2, "maxItems": 2},
                                                    {"type": "null"}]}},
        "required": ["params"], "additionalProperties": False,
    }
    return {"anyOf": [params, whole, {"type": "null"}],
            "description": "Parameter specs (a list, or an object with 'params'); the "
                           "problem's default space when omitted."}

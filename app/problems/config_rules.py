r"""Cross-field rules of :class:`~simulator.config.CrossbarConfig` checked over a whole search
space at creation: every combination the space can produce must satisfy them.

:data:`CONFIG_PAIRS` names the pairs of fields that :func:`simulator.config._check_relations`
relates (``dac_bits <= input_bits``, ``cols_per_adc`` divides ``cols``, ``g_on_us > g_off_us``,
``saf_sa0 + saf_sa1 <= 1``); the config itself stays the judge of each combination (this module
builds configs, it restates no rule). ``tests/app/test_config_rules.py`` probes the config for
every pair of fields so that a new pairwise rule cannot be missed here.

The values a parameter can take: every level of an ``int``, ``ordinal`` or ``categorical``, the
value of a ``fixed``, and both ends of a ``float`` range (the float rules are orderings and
sums, so their extremes decide). A combination that a linear constraint of the space over
only the pair's parameters excludes is never produced, and is not checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from optimizer.errors import SearchSpaceError
from optimizer.space import LinearConstraint
from simulator import CrossbarConfig
from simulator.errors import ConfigError

__all__ = ["CONFIG_PAIRS", "MAX_PAIR_COMBINATIONS", "pair_violations", "param_values"]

CONFIG_PAIRS: tuple[tuple[str, str], ...] = (
    ("dac_bits", "input_bits"),
    ("cols_per_adc", "cols"),
    ("g_on_us", "g_off_us"),
    ("saf_sa0", "saf_sa1"),
)
"""Pairs of CrossbarConfig fields one cross-field rule relates."""

MAX_PAIR_COMBINATIONS = 200_000
"""Most value pairs checked for one rule (two int ranges of the widest config bounds are
about 10⁶); a space needing more is refused rather than checked in part."""


def param_values(spec: Mapping[str, Any]) -> list[Any]:
    """The values a structurally valid parameter spec can produce (floats: both ends)."""
    kind = spec["type"]
    if kind == "int":
        return list(range(int(spec["low"]), int(spec["high"]) + 1))
    if kind == "float":
        return [spec["low"], spec["high"]]
    if kind == "ordinal":
        return list(spec["values"])
    if kind == "categorical":
        return list(spec["choices"])
    return [spec["value"]]


def _pair_constraints(raw: Iterable[Any], pair: tuple[str, str]) -> list[LinearConstraint]:
    """The space's linear constraints that name only parameters of ``pair``."""
    out = []
    for c in raw:
        try:
            con = LinearConstraint(**c)
        except (SearchSpaceError, TypeError):
            continue  # the whole-space check reports it
        if set(con.coefficients) <= set(pair):
            out.append(con)
    return out


def pair_violations(searched: Mapping[str, list[Any]], base: Mapping[str, Any],
                    constraints: Iterable[Any] = ()) -> list[tuple[str, str, str]]:
    """``(a, b, reason)`` for each pair of :data:`CONFIG_PAIRS` with a searched member and a
    combination of values the config refuses: the first such combination, e.g.
    ``dac_bits=4 with input_bits=2: dac_bits must be <= input_bits...``.

    Args:
        searched: the values each searched field can take (:func:`param_values`).
        base: every other field's value (the study's ``fixed`` over the defaults); a valid
            config on its own.
        constraints: the space's linear constraint specs.
    """
    out: list[tuple[str, str, str]] = []
    constraints = list(constraints)
    for a, b in CONFIG_PAIRS:
        if a not in searched and b not in searched:
            continue
        values_a = searched.get(a, [base.get(a)])
        values_b = searched.get(b, [base.get(b)])
        if len(values_a) * len(values_b) > MAX_PAIR_COMBINATIONS:
            out.append((a, b, f"{a} and {b} have {len(values_a) * len(values_b)} value pairs, "
                              f"more than the {MAX_PAIR_COMBINATIONS} checked; narrow them"))
            continue
        cons = _pair_constraints(constraints, (a, b))
        for va, vb in itertools.product(values_a, values_b):
            if any(not c.satisfied_by(c.value({a: va, b: vb})) for c in cons):
                continue
            try:
                CrossbarConfig.from_params({**base, a: va, b: vb})
            except ConfigError as e:
                out.append((a, b, f"{a}={va!r} with {b}={vb!r}: {str(e).rstrip('.')}"))
                break
    return out

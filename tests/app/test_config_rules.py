"""``app.problems.config_rules``: the pairwise CrossbarConfig rules a search space is checked
against, and a probe of the config that keeps :data:`CONFIG_PAIRS` complete."""

from __future__ import annotations

import itertools
import math
from typing import Any

from app.problems.config_rules import CONFIG_PAIRS, pair_violations, param_values
from simulator import CrossbarConfig
from simulator.config import FIELD_CONSTRAINTS, Choice, FloatRange, IntRange
from simulator.errors import ConfigError

DEFAULTS = CrossbarConfig().to_dict()


def _probe_values(name: str) -> list[Any]:
    """A few values of field ``name`` its own constraint allows: ends, neighbours, default."""
    c, d = FIELD_CONSTRAINTS[name], DEFAULTS[name]
    if isinstance(c, Choice):
        return list(c.values)
    if isinstance(c, IntRange):
        high = c.high if c.high is not None else 4 * d
        return sorted({c.low, c.low + 1, c.low + 2, 3, d, high - 1, high} & set(
            range(c.low, high + 1)))
    assert isinstance(c, FloatRange)
    high = c.high if c.high is not None and math.isfinite(c.high) else 4 * d
    low = c.low + (1e-3 * high if c.low_open else 0.0)
    return sorted({low, d / 2, d, min(2 * d, high), high})


def _valid(values: dict[str, Any]) -> bool:
    try:
        CrossbarConfig.from_params(values)
    except ConfigError:
        return False
    return True


def test_every_interacting_pair_of_fields_is_declared() -> None:
    """Two fields interact when the validity of their values (others at the defaults) is not
    "a's value is fine and b's value is fine": some va, vb are each valid with some value of
    the other field, yet refused together. Every pair the probe finds is in CONFIG_PAIRS,
    and every declared pair is found."""
    probes = {name: _probe_values(name) for name in FIELD_CONSTRAINTS if name in DEFAULTS}
    found = set()
    for a, b in itertools.combinations(sorted(probes), 2):
        ok = [[_valid({a: va, b: vb}) for vb in probes[b]] for va in probes[a]]
        rows = [any(r) for r in ok]
        cols = [any(c) for c in zip(*ok, strict=True)]
        if any(ok[i][j] != (rows[i] and cols[j]) for i in range(len(rows))
               for j in range(len(cols))):
            found.add(frozenset((a, b)))
    assert found == {frozenset(p) for p in CONFIG_PAIRS}


def test_param_values_covers_each_kind() -> None:
    assert param_values({"name": "x", "type": "int", "low": 2, "high": 4}) == [2, 3, 4]
    assert param_values({"name": "x", "type": "float", "low": 0.5, "high": 2.0}) == [0.5, 2.0]
    assert param_values({"name": "x", "type": "ordinal", "values": [1, 4]}) == [1, 4]
    assert param_values({"name": "x", "type": "categorical", "choices": ["a"]}) == ["a"]
    assert param_values({"name": "x", "type": "fixed", "value": 3}) == [3]


def test_pair_violations_names_the_first_bad_combination() -> None:
    out = pair_violations({"dac_bits": [1, 2, 4], "input_bits": [2, 8]}, DEFAULTS)
    assert [(a, b) for a, b, _ in out] == [("dac_bits", "input_bits")]
    assert out[0][2].startswith("dac_bits=4 with input_bits=2: dac_bits must be <= input_bits")
    assert pair_violations({"dac_bits": [1, 2], "input_bits": [2, 8]}, DEFAULTS) == []


def test_a_constraint_over_the_pair_excludes_its_combinations() -> None:
    cons = [{"coefficients": {"dac_bits": 1.0, "input_bits": -1.0}, "upper": 0.0}]
    space = {"dac_bits": [1, 2, 4], "input_bits": [2, 8]}
    assert pair_violations(space, DEFAULTS, cons) == []
    other = [{"coefficients": {"dac_bits": 1.0, "rows": -1.0}, "upper": 0.0}]
    assert len(pair_violations(space, DEFAULTS, other)) == 1  # names a third field: ignored


def test_pairs_too_large_to_check_are_refused() -> None:
    out = pair_violations({"cols": list(range(32, 1025)), "cols_per_adc":
                           list(range(1, 1025))}, DEFAULTS)
    assert out and "value pairs" in out[0][2]

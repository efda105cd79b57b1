"""Default search space: format, field names, and every combination is a valid config."""

from __future__ import annotations

import itertools

from simulator import DEFAULT_OBJECTIVES, CrossbarConfig, default_search_space


def _levels(spec: dict) -> list:
    kind = spec["type"]
    if kind == "ordinal":
        return spec["values"]
    if kind == "categorical":
        return spec["choices"]
    if kind == "int":
        return [spec["low"], spec["high"]]
    if kind == "fixed":
        return [spec["value"]]
    return [spec["low"], spec["high"]]


def test_spec_format_and_names() -> None:
    """Each spec has the optimizer's keys for its type and names a CrossbarConfig field."""
    space = default_search_space()
    fields = set(CrossbarConfig.__dataclass_fields__)
    required = {"ordinal": {"values"}, "int": {"low", "high"}, "categorical": {"choices"},
                "float": {"low", "high", "log"}, "fixed": {"value"}}
    names = [s["name"] for s in space]
    assert len(names) == len(set(names)) and set(names) <= fields
    assert {"rows", "cols", "cell_bits", "weight_bits", "adc_bits", "cols_per_adc", "dac_bits",
            "tech_node_nm", "encoding"} <= set(names)
    for spec in space:
        assert set(spec) == {"name", "type"} | required[spec["type"]], spec


INTERACTING = {"cols", "cols_per_adc", "cell_bits", "weight_bits", "input_bits", "dac_bits",
               "encoding"}
"""Fields tied by cross-field rules (ADC sharing divides cols, DAC <= input bits, a weight's
cells fit in a row); the others are checked one at a time."""


def test_every_corner_is_a_valid_config() -> None:
    """Every combination of the interacting fields' values (int ranges at their ends) builds
    a config, and so does every value of the other fields."""
    space = default_search_space()
    tied = [s for s in space if s["name"] in INTERACTING]
    count = 0
    for values in itertools.product(*[_levels(s) for s in tied]):
        CrossbarConfig.from_params({s["name"]: v for s, v in zip(tied, values, strict=True)})
        count += 1
    assert count == 4 * 6 * 2 * 2 * 2 * 3 * 2
    for spec in space:
        for value in _levels(spec):
            CrossbarConfig.from_params({spec["name"]: value})


def test_copies_are_independent() -> None:
    """Mutating a returned space does not change the next one."""
    a = default_search_space()
    a[0]["values"].append(1024)
    assert 1024 not in default_search_space()[0]["values"]


def test_default_objectives() -> None:
    """Objectives name Evaluation fields with the expected directions."""
    assert DEFAULT_OBJECTIVES == [
        {"name": "accuracy", "direction": "maximize"},
        {"name": "area_mm2", "direction": "minimize"},
        {"name": "latency_us", "direction": "minimize"},
        {"name": "energy_uj", "direction": "minimize"},
    ]

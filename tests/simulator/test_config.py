"""CrossbarConfig: defaults, validation naming the field, round trips."""

from __future__ import annotations

import json

import pytest

from simulator import ConfigError, CrossbarConfig
from simulator import params as P


def test_defaults_come_from_params() -> None:
    """Every default equals the sourced constant in simulator.params."""
    c = CrossbarConfig()
    assert (c.rows, c.cols, c.cell_bits, c.adc_bits, c.cols_per_adc) == (
        P.ROWS, P.COLS, P.CELL_BITS, P.ADC_BITS, P.COLS_PER_ADC
    )
    assert c.g_on_us == P.G_ON_US and c.g_off_us == pytest.approx(1 / 1.7)
    assert c.prog_sigma == P.PROG_SIGMA and c.read_sigma == P.READ_SIGMA
    assert c.saf_sa0 == P.SAF_SA0 and c.wire_r_ohm == P.WIRE_R_OHM
    assert c.tech_node_nm == 22 and c.encoding == "differential"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rows": 0}, "rows"),
        ({"rows": 2048}, "rows"),
        ({"cols": 16}, "cols"),
        ({"adc_bits": 1}, "adc_bits"),
        ({"adc_bits": 11}, "adc_bits"),
        ({"cell_bits": 5}, "cell_bits"),
        ({"weight_bits": 1}, "weight_bits"),
        ({"input_bits": 4, "dac_bits": 5}, "dac_bits"),
        ({"cols_per_adc": 3}, "cols_per_adc"),
        ({"saf_sa0": 0.6, "saf_sa1": 0.5}, "saf_sa0 + saf_sa1"),
        ({"saf_sa1": -0.1}, "saf_sa1"),
        ({"g_off_us": 20.0}, "g_on_us"),
        ({"g_off_us": 0.0}, "g_off_us"),
        ({"prog_sigma": float("nan")}, "prog_sigma"),
        ({"tech_node_nm": 28}, "tech_node_nm"),
        ({"encoding": "twos"}, "encoding"),
        ({"rows": 128.5}, "rows"),
        ({"rows": True}, "rows"),
        ({"clock_ghz": 0}, "clock_ghz"),
        ({"wire_r_ohm": -1.0}, "wire_r_ohm"),
    ],
)
def test_invalid_values_name_the_field(changes: dict, field: str) -> None:
    """Out-of-range, ill-typed or inconsistent values raise a ValueError naming the field."""
    with pytest.raises(ValueError, match=field.replace("+", r"\+")) as info:
        CrossbarConfig.from_params(changes)
    assert isinstance(info.value, ConfigError)


def test_unknown_key_is_named() -> None:
    """from_params rejects a key that is not a field, naming it."""
    with pytest.raises(ValueError, match="'row_count'"):
        CrossbarConfig.from_params({"row_count": 64})


def test_from_params_coerces_integral_floats_and_round_trips() -> None:
    """Optimizer-style floats for int fields are accepted; to_dict/from_params round-trip."""
    c = CrossbarConfig.from_params({"rows": 256.0, "tech_node_nm": 45.0, "read_sigma": 0})
    assert c.rows == 256 and isinstance(c.rows, int) and c.tech_node_nm == 45
    assert isinstance(c.read_sigma, float)
    again = CrossbarConfig.from_params(json.loads(json.dumps(c.to_dict())))
    assert again == c


def test_from_params_over_base() -> None:
    """Keys override ``base``; others keep the base's values."""
    base = CrossbarConfig(rows=64, adc_bits=7)
    c = CrossbarConfig.from_params({"adc_bits": 4}, base=base)
    assert (c.rows, c.adc_bits) == (64, 4)


def test_derived_quantities() -> None:
    """Slices use weight_bits-1 magnitude bits for a differential pair, weight_bits for offset."""
    d = CrossbarConfig(weight_bits=8, cell_bits=2, input_bits=8, dac_bits=3)
    assert (d.magnitude_bits, d.slices, d.input_cycles, d.levels) == (7, 4, 3, 4)
    o = d.replace(encoding="offset")
    assert (o.magnitude_bits, o.slices) == (8, 4)


def test_frozen_and_keyword_only() -> None:
    """Configs are immutable and keyword-only."""
    c = CrossbarConfig()
    with pytest.raises(AttributeError):
        c.rows = 64  # type: ignore[misc]
    with pytest.raises(TypeError):
        CrossbarConfig(128)  # type: ignore[misc]
